"""The real numpy 1.26.4 wheel and tflite-runtime 2.14.0, end to end (downloaded once, then cached)."""

from __future__ import annotations

import json
import platform
import sys
import zipfile
from pathlib import Path

import pytest

from minimizer import cli
from oracles import runtime as runtimes
from oracles.target import probe
from tests.conftest import FIXTURES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64" or sys.platform != "linux",
        reason="numpy 1.26.4 + tflite-runtime 2.14.0 are pinned for CPython 3.11 on x86_64 Linux",
    ),
]
NUMPY = "numpy==1.26.4"


@pytest.fixture(scope="module")
def numpy_wheel() -> Path:
    return runtimes.cached_download(NUMPY, runtimes.cache_root() / "wheels", probe())


def test_files_pass_on_real_numpy(numpy_wheel: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    models = ["tiny_fc.tflite", "multi_dtype.tflite", "embedding.tflite"]
    argv = [str(numpy_wheel), "-o", str(out), "--report", str(report), "--passes", "files", "--quiet"]
    for model in models:
        argv += ["--oracle", str(FIXTURES / model)]
    assert cli.main(argv) == 0
    data = json.loads(report.read_text())
    assert data["verified"] is True and data["complete"] is True
    assert data["output"]["size_bytes"] <= 15_500_000 < data["input"]["size_bytes"]
    held = data["holdout"]
    assert held["sets"] == 18 and held["passed"] is True
    # The embedding refuses ids outside [0, 16): its wide and extreme sets are dropped, not blamed.
    assert [s.split(":")[0] for s in held["dropped_sets"]] == [
        "embedding.tflite wide",
        "embedding.tflite extremes",
        "embedding.tflite wide",
    ]
    assert "gather index out of bounds" in held["dropped_sets"][0]
    result = out / numpy_wheel.name
    with zipfile.ZipFile(result) as archive:
        names = set(archive.namelist())
        entry_points = archive.read("numpy-1.26.4.dist-info/entry_points.txt").decode()
    assert "numpy-1.26.4.dist-info/LICENSE.txt" in names
    assert "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so" in names
    assert not any(n.startswith("numpy/f2py/") for n in names)
    assert "f2py" not in entry_points, "a console script pointing at a removed module survived"


@pytest.mark.parametrize(
    "model, message",
    [
        ("fc_v12.tflite", "needs an operator tflite-runtime 2.14.0 does not have (the model's fault"),
        ("garbage.tflite", "not a TensorFlow Lite model"),
        ("missing.tflite", "model not found"),
    ],
)
def test_unusable_models_are_one_line_input_errors(
    numpy_wheel: Path, tmp_path: Path, model: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([str(numpy_wheel), "--oracle", str(FIXTURES / model), "-o", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_user_inputs_are_fed_to_the_model(
    numpy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Token ids out of the embedding table's range must reach the runtime, which then refuses them."""
    np = pytest.importorskip("numpy")
    model = FIXTURES / "embedding.tflite"
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    np.savez(good, token_ids=np.array([[0, 1, 2, 3, 15]], dtype=np.int32))
    np.savez(bad, token_ids=np.array([[0, 1, 2, 3, 16]], dtype=np.int32))
    base = [str(numpy_wheel), "--oracle", str(model), "--passes", "files", "--max-runs", "3", "--no-verify"]
    assert cli.main([*base, "--inputs", f"{model}={good}", "-o", str(tmp_path / "g"), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main([*base, "--inputs", f"{model}={bad}", "-o", str(tmp_path / "b"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "check the model and its --inputs" in err and "gather index out of bounds" in err


def test_numpy_2_with_ai_edge_litert(tmp_path: Path) -> None:
    """numpy 2.x (numpy/_core, scipy-openblas) picks ai-edge-litert by default and minimizes."""
    wheel = runtimes.cached_download("numpy==2.4.6", runtimes.cache_root() / "wheels", probe())
    out, report = tmp_path / "out", tmp_path / "report.json"
    argv = [
        str(wheel),
        "--oracle",
        str(FIXTURES / "tiny_fc.tflite"),
        "--oracle",
        str(FIXTURES / "multi_dtype.tflite"),
    ]
    assert cli.main([*argv, "-o", str(out), "--report", str(report), "--passes", "files", "--quiet"]) == 0
    data = json.loads(report.read_text())
    assert data["environment"]["runtime"].startswith("ai-edge-litert==")
    assert data["verified"] is True
    assert data["output"]["size_bytes"] < data["input"]["size_bytes"]


def test_machine_pass_on_real_numpy(numpy_wheel: Path, tmp_path: Path) -> None:
    """Traps instead of most of numpy's machine code; the result is still verified by a pip install."""
    out, report = tmp_path / "out", tmp_path / "report.json"
    argv = [str(numpy_wheel), "--oracle", str(FIXTURES / "tiny_fc.tflite"), "--passes", "machine"]
    assert cli.main([*argv, "-o", str(out), "--report", str(report), "--quiet"]) == 0
    data = json.loads(report.read_text())
    assert data["verified"] is True
    cpu = data["machine_code"]["cpu"]
    assert cpu["traced_with"][0] == "native" and cpu["traced_with"][1].startswith("NPY_DISABLE_CPU_FEATURES=")
    objects = {o["wheel_path"]: o for o in data["machine_code"]["objects"]}
    umath = objects["numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"]
    assert umath["how"] == "trace" and umath["function_table"] == "symtab"
    assert 0 < umath["kept"] < umath["functions"] // 4
    assert umath["bytes_saved"] > 1_000_000
    machine = next(p for p in data["passes"] if p["name"] == "machine")
    assert machine["runs"] <= 6  # numpy's CPU tables, two traced runs, the proposal natively and at baseline
