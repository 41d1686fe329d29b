"""What README promises the CLI does at its edges: exit codes, what is written with them, what is said."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import cli, minimize
from minimizer.errors import VerificationError
from minimizer.progress import ProgressBar
from minimizer.search import Progress
from minimizer.wheelfile import read_wheel
from oracles.protocol import Outcome
from tests.test_integration import CHECK, ENTRY_POINTS, TOY


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(TOY, entry_points=ENTRY_POINTS)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from minimizer import __version__

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"wheel-ddmin {__version__}"


def test_a_time_budget_writes_the_best_wheel_so_far_marked_incomplete(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, report = tmp_path / "o", tmp_path / "r.json"
    code = cli.main(
        [str(toy_wheel), "--check", CHECK, "-o", str(out), "--report", str(report), "--max-seconds", "0.01"]
    )
    assert code == 0, capsys.readouterr().err
    read_wheel(out / toy_wheel.name)
    data = json.loads(report.read_text())
    assert data["complete"] is False and "time budget" in data["stop_reason"] and data["verified"] is False
    assert "search stopped early" in capsys.readouterr().out


def test_a_final_pip_install_that_fails_exits_1_and_writes_nothing(
    wheel_factory: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pip refuses this wheel (Requires-Python), though its tree runs: the result fails its final check."""
    wheel = wheel_factory(TOY, metadata="Requires-Python: <3\n")
    out = tmp_path / "o"
    assert cli.main([str(wheel), "--check", CHECK, "-o", str(out), "--quiet", "--jobs", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "final check failed" in err[0] and "pip install failed" in err[0], err
    assert not out.exists() or not any(out.iterdir())


def test_the_library_raises_verification_error_for_a_failed_install(
    wheel_factory: Callable[..., Path], tmp_path: Path
) -> None:
    wheel = wheel_factory(TOY, metadata="Requires-Python: <3\n")
    with pytest.raises(VerificationError):
        minimize([wheel], checks=[CHECK], output_dir=tmp_path / "o", jobs=1)


def test_entry_points_that_repeat_a_name_are_no_error(
    wheel_factory: Callable[..., Path], tmp_path: Path
) -> None:
    """pip installs such a wheel; so must the tool handle it, pruning the dead script."""
    repeated = "[console_scripts]\ntoy = toypkg.unused:main\ntoy = toypkg.core:answer\n"
    wheel = wheel_factory(TOY, entry_points=repeated)
    result = minimize([wheel], checks=[CHECK], output_dir=tmp_path / "o", jobs=1)
    assert result.verified and result.wheels[0].output is not None
    with zipfile.ZipFile(result.wheels[0].output) as archive:
        text = archive.read("toypkg-1.0.dist-info/entry_points.txt").decode()
    assert text == "[console_scripts]\ntoy = toypkg.core:answer\n"


def test_warnings_are_one_line_each(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert (
        cli.main([str(toy_wheel), "--check", CHECK, "-o", str(out), "--quiet", "--no-verify", "--resume"])
        == 0
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wheel-ddmin: warning: --resume: no journal"), err


def test_a_baseline_missing_one_of_the_wheels_says_so(
    toy_wheel: Path, wheel_factory: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = wheel_factory({"other/__init__.py": ""}, name="other")
    baseline = tmp_path / "b.json"
    entry = {"input": {"path": toy_wheel.name}, "output": {"size_bytes": 10**6}}
    baseline.write_text(json.dumps({"schema_version": 1, "wheels": [entry], "removed": []}))
    argv = [str(toy_wheel), str(other), "--check", CHECK, "-o", str(tmp_path / "o"), "--quiet", "--no-verify"]
    assert cli.main([*argv, "--baseline", str(baseline)]) == 0
    assert "has no other-1.0-py3-none-any.whl: its size is not compared" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_names_the_stage_and_the_runs() -> None:
    screen = _Terminal()
    with ProgressBar(enabled=True, file=screen) as bar:
        bar.update(Progress("files", 0, 0, 900_000, 40, None, "search"))
        bar.update(Progress("files", 47, 3, 900_000, 40, Outcome.PASS, "search"))
        bar.update(Progress("verifying", 47, 3, 900_000, 40, None, "verifying"))
    text = screen.getvalue()
    assert "files: 0 oracle runs" in text and "files: :" not in text
    assert "verifying: pip install into a fresh venv: 47 oracle runs" in text
    assert "best 0.90 MB, 40 files" in text


def test_a_venv_cut_short_leaves_nothing_in_the_temp_folder(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip killed half-way in the fresh venv (as an interrupt of the final check does) leaks no folder."""
    from minimizer.errors import OracleError
    from oracles import harness, pip, venv
    from oracles.target import probe

    run = harness.run

    def cut_short(argv: list[str], **kwargs: object) -> harness.Completed:
        return run(argv, **{**kwargs, "timeout": 0.3})  # type: ignore[arg-type]

    target = probe()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with venv.fresh_venv(target, scratch) as python:
        monkeypatch.setattr(harness, "run", cut_short)
        with pytest.raises(OracleError, match="pip install failed"):
            pip.install_venv(target, python, [Path(target.pip_wheel)])
    assert list(private_tmp.iterdir()) == [] and list(scratch.iterdir()) == []
