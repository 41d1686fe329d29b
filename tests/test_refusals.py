"""Unusable input is refused up front: one line, exit 2, before any oracle run; nothing not ours is replaced.

Each case runs the CLI with a check that logs every run it makes, so "before any oracle run" is
seen, not assumed: the log stays empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import cli
from minimizer.outdir import OutputFolder
from tests.conftest import FIXTURES
from tests.test_integration import ENTRY_POINTS, TOY

MODEL = FIXTURES / "tiny_fc.tflite"


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(TOY, entry_points=ENTRY_POINTS)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "runs.log"


@pytest.fixture
def check(log: Path) -> str:
    """A check that appends a line to ``log`` each time it runs."""
    return f"python -c \"import toypkg; open(r'{log}', 'a').write('run\\n'); print(toypkg.answer())\""


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], log: Path, *, runs: int = 0) -> str:
    """Run the CLI, expect exit 2 with one line and ``runs`` oracle runs; return the line."""
    code = cli.main([*argv, "--quiet"])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    ran = len(log.read_text().splitlines()) if log.exists() else 0
    assert ran == runs, f"{ran} oracle runs before the refusal"
    return lines[0]


def npz(path: Path, **arrays: object) -> Path:
    np = pytest.importorskip("numpy")
    np.savez(path, **arrays)
    return path


# Nothing that is not the tool's is overwritten -------------------------------------------------


@pytest.mark.parametrize("option", ["--report", "--summary"])
def test_an_output_file_naming_the_input_wheel_is_refused(
    option: str, toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = toy_wheel.read_bytes()
    line = refused(
        [str(toy_wheel), "--check", check, "-o", str(tmp_path / "o"), option, str(toy_wheel)], capsys, log
    )
    assert "input wheel" in line and "never overwritten" in line
    assert toy_wheel.read_bytes() == before


def test_an_output_file_naming_a_model_or_samples_is_refused(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.tflite"
    model.write_bytes(MODEL.read_bytes())
    argv = [str(toy_wheel), "--check", check, "--oracle", str(model), "-o", str(tmp_path / "o")]
    assert "is a model" in refused([*argv, "--report", str(model)], capsys, log)
    assert model.read_bytes() == MODEL.read_bytes()


def test_a_report_that_is_a_folder_is_refused_up_front(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    line = refused(
        [str(toy_wheel), "--check", check, "-o", str(tmp_path / "o"), "--report", str(folder)], capsys, log
    )
    assert "is a folder" in line


def test_a_report_over_the_output_wheel_is_refused(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    argv = [str(toy_wheel), "--check", check, "-o", str(out), "--report", str(out / toy_wheel.name)]
    assert "output wheel" in refused(argv, capsys, log)


def test_a_summary_named_like_its_picture_is_refused(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(toy_wheel), "--check", check, "-o", str(tmp_path / "o"), "--summary", str(tmp_path / "s.svg")]
    assert ".md" in refused(argv, capsys, log)


def test_an_output_folder_in_use_is_refused(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    with OutputFolder(out):  # another run holds it
        line = refused([str(toy_wheel), "--check", check, "-o", str(out)], capsys, log)
    assert "in use by another wheel-ddmin run" in line and "another -o folder" in line
    assert cli.main([str(toy_wheel), "--check", check, "-o", str(out), "--quiet", "--no-verify"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [toy_wheel.name], "the lock must go with its run"


def test_an_output_folder_that_cannot_be_made_is_refused_up_front(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = refused([str(toy_wheel), "--check", check, "-o", str(blocker / "out")], capsys, log)
    assert "cannot create the output folder" in line


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_output_folder_that_cannot_be_written_is_refused_up_front(
    toy_wheel: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """/proc/self is a folder nobody can create files in, root included (chmod would not stop root)."""
    line = refused([str(toy_wheel), "--check", check, "-o", "/proc/self"], capsys, log)
    assert "cannot write into the output folder /proc/self" in line


# Numbers and lists that would make the run meaningless -----------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--timeout", "nan"], "--timeout"),
        (["--timeout", "inf"], "--timeout"),
        (["--timeout=-1"], "--timeout: must be a positive number"),
        (["--max-seconds", "nan"], "--max-seconds"),
        (["--tolerance=-1%"], "--tolerance wants a percentage of 0 or more"),
        (["--tolerance", "nan"], "--tolerance wants a percentage of 0 or more"),
        (["--passes", "files,files"], "listed twice"),
        (["--keep", "toypkg/no-such-*"], "matches no member"),
        (["--budget", "three megs"], "not a size"),
    ],
)
def test_meaningless_settings_are_refused(
    extra: list[str],
    message: str,
    toy_wheel: Path,
    tmp_path: Path,
    check: str,
    log: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert message in refused(
        [str(toy_wheel), "--check", check, "-o", str(tmp_path / "o"), *extra], capsys, log
    )


def test_the_same_wheel_twice_is_refused(
    toy_wheel: Path, tmp_path: Path, check: str, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(toy_wheel), str(toy_wheel), "--check", check, "-o", str(tmp_path / "o")]
    assert "given twice" in refused(argv, capsys, log)


def test_a_timeout_shorter_than_the_reference_run_is_refused_at_its_first_run(
    toy_wheel: Path, tmp_path: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A check that hangs on the original: --timeout bounds the reference run too, and the first
    # run that does not finish ends it (the second is never started, no candidate runs).
    hangs = f"python -c \"import time, toypkg; open(r'{log}', 'a').write('run\\n'); time.sleep(600)\""
    argv = [str(toy_wheel), "--check", hangs, "-o", str(tmp_path / "o"), "--timeout", "4"]
    line = refused(argv, capsys, log, runs=1)
    assert "a timeout of 4 s is shorter than one run of the original" in line
    assert "did not finish in 4 s" in line


# Baselines -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema_version": 1}', "not a wheel-ddmin report"),
        ("[]", "not a wheel-ddmin report"),
        ("null", "not a wheel-ddmin report"),
        ('{"schema_version": 7, "wheels": []}', "schema_version"),
        ("{not json", "cannot read baseline"),
        (
            json.dumps(
                {
                    "schema_version": 1,
                    "wheels": [
                        {"input": {"path": "other-1.0-py3-none-any.whl"}, "output": {"size_bytes": 5}}
                    ],
                }
            ),
            "describes other-1.0-py3-none-any.whl",
        ),
    ],
)
def test_an_unusable_baseline_is_refused_before_the_run(
    content: str,
    message: str,
    toy_wheel: Path,
    tmp_path: Path,
    check: str,
    log: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content)
    argv = [str(toy_wheel), "--check", check, "-o", str(tmp_path / "o"), "--baseline", str(baseline)]
    assert message in refused(argv, capsys, log)


# Models, samples and runtimes: the user's input at fault is named, not the wheel ---------------


def test_a_garbage_model_is_refused_before_the_wheels_are_read(
    tmp_path: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        str(tmp_path / "never-read.whl"),
        "--oracle",
        str(FIXTURES / "garbage.tflite"),
        "-o",
        str(tmp_path / "o"),
    ]
    assert "not a TensorFlow Lite model" in refused(argv, capsys, log)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"y": [[0.0] * 8]}, "no array for input 'x'"),
        ({"x": [[0.0] * 8], "y": [[0.0] * 8]}, "holds arrays no input takes: y"),
        ({"x": [[0.0] * 7]}, "array 'x' is float32[1, 7], but tiny_fc.tflite takes x float32[1, 8]"),
        ({"x": [[0] * 8]}, "array 'x' is int64[1, 8], but tiny_fc.tflite takes x float32[1, 8]"),
    ],
)
def test_samples_are_used_exactly_or_refused_naming_what_the_model_takes(
    arrays: dict[str, list[list[float]]],
    message: str,
    tmp_path: Path,
    log: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    np = pytest.importorskip("numpy")
    typed = {
        k: np.array(v, dtype=np.float32 if isinstance(v[0][0], float) else np.int64)
        for k, v in arrays.items()
    }
    samples = npz(tmp_path / "s.npz", **typed)
    argv = [str(tmp_path / "never-read.whl"), "--oracle", str(MODEL), "--inputs", f"{MODEL}={samples}"]
    line = refused([*argv, "-o", str(tmp_path / "o")], capsys, log)
    assert str(samples) in line and message in line


def test_samples_by_position_are_accepted(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    from minimizer import options

    samples = npz(tmp_path / "s.npz", arr_0=np.zeros((1, 8), dtype=np.float32))
    (model,) = options.models([MODEL], {str(MODEL): [samples]}, use_default=False)
    assert list(model.samples[0]) == ["x"] and model.samples[0]["x"].shape == (1, 8)


@pytest.mark.parametrize(
    "wheels, extra, message",
    [
        ([("numpy", "2.0.0")], ["--runtime", "tflite-runtime"], "built for numpy 1.x"),
        ([("numpy", "2.0.0"), ("tflite_runtime", "2.14.0")], [], "built for numpy 1.x"),
        ([("tflite_runtime", "2.14.0")], [], "needs numpy: give the numpy wheel too"),
        ([("toypkg", "1.0")], [], "needs numpy"),
    ],
)
def test_runtime_pairings_that_cannot_import_are_the_users_to_fix(
    wheels: list[tuple[str, str]],
    extra: list[str],
    message: str,
    wheel_factory: Callable[..., Path],
    tmp_path: Path,
    log: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [
        str(wheel_factory({f"{name}/__init__.py": ""}, name=name, version=version))
        for name, version in wheels
    ]
    argv = [*paths, "--oracle", str(MODEL), "-o", str(tmp_path / "o"), *extra]
    line = refused(argv, capsys, log)
    assert message in line and "original wheel" not in line
    assert not (tmp_path / "o").exists()
