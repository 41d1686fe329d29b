"""What a check sees besides the candidate: the runtime.

A local package folder stands in for the package index: tiny wheels built at test time, with a fake
numpy and a fake runtime, so no test here needs the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from minimizer import cli
from tests.conftest import build_wheel

# The fake numpy, both as the wheel being minimized and as the index's copy: byte for byte the same,
# so a numpy left in the side tree would stand in for whatever the candidate lost.
NUMPY = {
    "numpy/__init__.py": "from numpy.core import VALUE\n__version__ = 'fake'\n",
    "numpy/core.py": "VALUE = 7\n",
    "numpy/unused.py": "X = 1\n",
}
RUNTIME = {"tflite_runtime/__init__.py": "", "tflite_runtime/interpreter.py": "NAME = 'fake runtime'\n"}


def _toydep(version: str) -> dict[str, str]:
    return {"toydep/__init__.py": f"VERSION = {version!r}\n\ndef shout(text):\n    return text.upper()\n"}


@pytest.fixture
def index(tmp_path: Path) -> Path:
    """A find-links folder: toydep 1.0 (numpy 1.x) and 2.0 (numpy 2), numpy 1.26.4 and 2.0.0, a runtime."""
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(
        folder, _toydep("1.0"), name="toydep", version="1.0", metadata="Requires-Dist: numpy>=1.20,<2\n"
    )
    build_wheel(folder, _toydep("2.0"), name="toydep", version="2.0", metadata="Requires-Dist: numpy>=2\n")
    build_wheel(folder, NUMPY, name="numpy", version="1.26.4")
    build_wheel(folder, NUMPY, name="numpy", version="2.0.0")
    build_wheel(folder, RUNTIME, name="tflite_runtime", version="2.14.0")
    return folder


@pytest.fixture
def local_index(index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees only the local folder, and wheel-ddmin caches into the test's own folder."""
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("WHEEL_DDMIN_CACHE", str(tmp_path / "cache"))
    return index


def test_a_check_alone_sees_the_runtime(local_index: Path, tmp_path: Path) -> None:
    """No --oracle: the check still gets the runtime (here the one given), and so does the final venv."""
    numpy = build_wheel(tmp_path, NUMPY, name="numpy", version="1.26.4")
    runtime_wheel = local_index / "tflite_runtime-2.14.0-py3-none-any.whl"
    check = 'python -c "import numpy, tflite_runtime.interpreter as rt; print(numpy.VALUE, rt.NAME)"'
    argv = [str(numpy), "--runtime", str(runtime_wheel), "--check", check, "--jobs", "1", "--quiet"]
    result = tmp_path / "out" / numpy.name
    assert cli.main([*argv, "-o", str(tmp_path / "out")]) == 0
    assert result.is_file()
