"""Real apps as the only check: Pillow, and Pillow with OpenCV, beside the real numpy 1.26.4.

The slow tests download Pillow and OpenCV once into the cache (``--with``); the check alone, without
any ``--oracle``, must see the default runtime and the app's packages, and the result must pass a
real pip install with them.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from minimizer import cli
from tests.conftest import FIXTURES, REPO

REAL = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64" or sys.platform != "linux",
    reason="numpy 1.26.4 + tflite-runtime 2.14.0 are pinned for CPython 3.11 on x86_64 Linux",
)
MODEL = FIXTURES / "tiny_fc.tflite"


def test_the_committed_image_is_what_its_script_makes() -> None:
    spec = importlib.util.spec_from_file_location("make_image", FIXTURES / "make_image.py")
    assert spec is not None and spec.loader is not None
    make_image = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_image)
    assert make_image.decoded((FIXTURES / "frame.png").read_bytes()) == make_image.scanlines()


def _run_app(app: str, packages: list[str], tmp_path: Path) -> dict[str, object]:
    out, report = tmp_path / "out", tmp_path / "report.json"
    argv = ["numpy==1.26.4", "--check", f"python {REPO / 'examples' / app} {MODEL}"]
    for package in packages:
        argv += ["--with", package]
    argv += ["--passes", "files", "-o", str(out), "--report", str(report), "--quiet"]
    assert cli.main(argv) == 0
    data: dict[str, object] = json.loads(report.read_text())
    return data


@pytest.mark.slow
@REAL
def test_a_pillow_app_alone_as_the_check(tmp_path: Path) -> None:
    data = _run_app("pillow_app.py", ["pillow"], tmp_path)
    environment = data["environment"]
    assert isinstance(environment, dict)
    assert environment["runtime"] == "tflite-runtime==2.14.0", "the check alone gets the default runtime"
    assert environment["with"].startswith("pillow==")
    assert data["verified"] is True and data["complete"] is True


@pytest.mark.slow
@REAL
def test_an_opencv_app_gets_an_opencv_built_for_numpy_1(tmp_path: Path) -> None:
    data = _run_app("opencv_app.py", ["pillow", "opencv-python-headless"], tmp_path)
    environment = data["environment"]
    assert isinstance(environment, dict)
    versions = dict(p.split("==") for p in environment["with"].split())
    # From 4.12 on, OpenCV's wheels need numpy 2: pip must have picked an older one.
    assert Version(versions["opencv-python-headless"]) < Version("4.12")
    assert "numpy" not in versions and "pillow" in versions
    assert data["verified"] is True and data["complete"] is True
