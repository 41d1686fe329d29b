"""Interruption at any moment: exit 130, one line, no partial files, no wheel or a complete one.

The SIGTERM tests are deterministic: a small driver runs the CLI in a subprocess and sends the
signal to itself when the run reaches a named stage (the progress callback hears of each), so no
test waits on a clock.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minimizer import Progress, minimize
from minimizer.api import INTERRUPTED
from minimizer.errors import InputError, WheelDdminWarning
from minimizer.journal import FILENAME as JOURNAL
from minimizer.wheelfile import read_wheel
from oracles import harness
from oracles.pip import install_venv
from oracles.target import probe
from oracles.venv import fresh_venv
from tests.conftest import REPO
from tests.test_integration import CHECK, ENTRY_POINTS, TOY

# A bigger toy: more files, so the search takes enough runs to be cut half-way.
FILES = {**TOY, **{f"toypkg/extra/m{i}.py": f"X = {i}\n" for i in range(12)}}

# Sends SIGTERM to its own process when the run reaches the stage named in argv[1] (a stage of
# minimizer.progress.LABELS, a pass's name, or "report"), then runs the CLI with the rest of argv.
DRIVER = """
import os, signal, sys
from minimizer import cli, progress, report

stage = sys.argv[1]
update = progress.ProgressBar.update

def spy(self, event):
    if event.last is None and stage in (event.stage, event.pass_name):
        os.kill(os.getpid(), signal.SIGTERM)
    update(self, event)

def report_spy(path, data, write=report.write_json):
    os.kill(os.getpid(), signal.SIGTERM)
    write(path, data)

progress.ProgressBar.update = spy
report.write_json = report_spy
sys.exit(cli.main(sys.argv[2:]))
"""

# (stage, whether a wheel is written): before the original passed its reference run there is no
# "best so far"; from then on the best wheel so far is written whatever the moment.
STAGES = [
    ("reading", False),
    ("unpacking", False),
    ("reference", False),
    ("empty check", True),
    ("files", True),
    ("statements", True),
    ("writing", True),
    ("verifying", True),
    ("report", True),
]


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(FILES, entry_points=ENTRY_POINTS)


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One venv for the module, with pip: each written wheel is pip installed into it and run."""
    target = probe()
    with fresh_venv(target, tmp_path_factory.mktemp("venv")) as python:
        install_venv(target, python, [Path(target.pip_wheel)])
        yield python


def _interrupt_after(runs: int) -> Callable[[Progress], None]:
    def progress(event: Progress) -> None:
        if event.runs >= runs:
            raise KeyboardInterrupt

    return progress


def _installs_and_works(wheel: Path, python: Path) -> None:
    read_wheel(wheel)  # a complete wheel: a valid zip whose RECORD matches every member
    argv = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)]
    assert harness.run(argv, timeout=300, env=harness.python_env()).returncode == 0
    check = [str(python), "-c", "import toypkg; print(toypkg.answer())"]
    assert harness.run(check, timeout=300, env=harness.python_env()).stdout == b"42\n"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
@pytest.mark.parametrize("stage, writes", STAGES, ids=[s for s, _ in STAGES])
def test_sigterm_at_every_stage(
    stage: str, writes: bool, toy_wheel: Path, tmp_path: Path, private_tmp: Path, venv_python: Path
) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    argv = [str(toy_wheel), "--check", CHECK, "-o", str(out), "--report", str(report), "--jobs", "1"]
    done = subprocess.run(
        [sys.executable, str(driver), stage, *argv], capture_output=True, cwd=REPO, timeout=600, check=False
    )
    err = done.stderr.decode()
    assert done.returncode == 130, err
    assert len(err.splitlines()) == 1 and err.startswith("wheel-ddmin: interrupted"), err
    assert "Traceback" not in err
    left = {p.name for p in out.iterdir()} if out.exists() else set()
    wheel = out / toy_wheel.name
    assert left <= {wheel.name, JOURNAL}, f"partial files left: {left}"
    assert list(private_tmp.iterdir()) == [], "temporary folders left behind"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary report left behind"
    assert wheel.exists() == writes
    if writes:
        _installs_and_works(wheel, venv_python)
    assert report.exists() == (writes and stage != "report"), "a report describes every wheel written"
    if stage not in ("reading", "unpacking", "reference", "report"):
        assert (out / JOURNAL).exists(), "the journal must stay for --resume"


def test_interrupted_run_resumes_to_the_same_wheel_without_repeating_runs(
    toy_wheel: Path, tmp_path: Path
) -> None:
    common = {"checks": [CHECK], "jobs": 1, "verify": False, "passes": ["files"]}
    whole = minimize([toy_wheel], output_dir=tmp_path / "whole", **common)  # type: ignore[arg-type]
    assert whole.complete and whole.oracle_runs > 2

    cut = minimize([toy_wheel], output_dir=tmp_path / "cut", progress=_interrupt_after(2), **common)  # type: ignore[arg-type]
    assert cut.stop_reason == INTERRUPTED and not cut.complete
    cut_output = cut.wheels[0].output
    assert cut_output is not None and cut_output.exists(), "the best wheel so far must be written"

    resumed = minimize([toy_wheel], output_dir=tmp_path / "cut", resume=True, **common)  # type: ignore[arg-type]
    assert resumed.complete and resumed.resumed == cut.oracle_runs
    assert cut.oracle_runs + resumed.oracle_runs == whole.oracle_runs
    assert resumed.wheels[0].output is not None and whole.wheels[0].output is not None
    assert resumed.wheels[0].output.read_bytes() == whole.wheels[0].output.read_bytes()
    assert not list((tmp_path / "cut").glob(".*")), "the journal must go once the run completes"


def test_a_journal_cut_mid_line_still_resumes_after_a_second_interruption(
    toy_wheel: Path, tmp_path: Path
) -> None:
    """A line half-written by the interruption must not swallow the verdicts appended after it."""
    common = {"checks": [CHECK], "jobs": 1, "verify": False, "passes": ["files"]}
    out = tmp_path / "o"
    first = minimize([toy_wheel], output_dir=out, progress=_interrupt_after(2), **common)  # type: ignore[arg-type]
    with open(out / JOURNAL, "a", encoding="utf-8") as journal:
        journal.write('{"state": "cut sho')
    second = minimize([toy_wheel], output_dir=out, resume=True, progress=_interrupt_after(2), **common)  # type: ignore[arg-type]
    third = minimize([toy_wheel], output_dir=out, resume=True, **common)  # type: ignore[arg-type]
    assert third.resumed == first.oracle_runs + second.oracle_runs


def test_resume_refuses_another_jobs_journal_and_says_what_to_do(toy_wheel: Path, tmp_path: Path) -> None:
    common = {"jobs": 1, "verify": False, "passes": ["files"]}
    minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / "o", progress=_interrupt_after(2), **common)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"another job \(other checks\).*without --resume.*another -o"):
        minimize([toy_wheel], checks=[CHECK + " "], output_dir=tmp_path / "o", resume=True, **common)  # type: ignore[arg-type]


def test_journal_header_holds_what_changes_verdicts(toy_wheel: Path) -> None:
    """A verdict judged with another timeout or runtime must not be reused by --resume."""
    from minimizer import options
    from minimizer.passes import by_name
    from oracles.runtime import Runtime

    wheel = read_wheel(toy_wheel)
    litert = Runtime("ai-edge-litert", "2.3.0", "m", Path("ai_edge_litert-2.3.0-x.whl"), Path("t"))
    tflite = Runtime("tflite-runtime", "2.14.0", "m", Path("tflite_runtime-2.14.0-x.whl"), Path("t"))

    def header(runtime: Runtime, timeout: float | None) -> dict[str, object]:
        return options.job_header([wheel], [], [CHECK], by_name(["files"]), [], runtime, timeout, probe())

    assert header(litert, None) == header(litert, None)
    assert header(litert, None) != header(tflite, None)
    assert header(litert, None) != header(litert, 30.0)


def test_resume_without_a_journal_says_so(toy_wheel: Path, tmp_path: Path) -> None:
    with pytest.warns(WheelDdminWarning, match="no journal .* starting from the beginning"):
        result = minimize(
            [toy_wheel], checks=[CHECK], output_dir=tmp_path / "o", jobs=1, verify=False, resume=True
        )
    assert result.complete


def test_a_run_that_finds_a_journal_says_it_starts_over(toy_wheel: Path, tmp_path: Path) -> None:
    common = {"checks": [CHECK], "jobs": 1, "verify": False, "passes": ["files"]}
    minimize([toy_wheel], output_dir=tmp_path / "o", progress=_interrupt_after(2), **common)  # type: ignore[arg-type]
    with pytest.warns(WheelDdminWarning, match="journal of an interrupted run: starting over.*--resume"):
        result = minimize([toy_wheel], output_dir=tmp_path / "o", **common)  # type: ignore[arg-type]
    assert result.resumed == 0


@pytest.mark.parametrize("stage", ["reading", "unpacking", "reference"])
def test_library_interrupt_before_the_reference_passed_writes_nothing(
    stage: str, toy_wheel: Path, tmp_path: Path, private_tmp: Path
) -> None:
    def progress(event: Progress) -> None:
        if event.stage == stage:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / "o", jobs=1, progress=progress)
    assert not (tmp_path / "o").exists(), "the output folder the run made must go again"
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("stage", ["empty check", "files", "writing"])
def test_library_interrupt_after_the_reference_writes_a_wheel(
    stage: str, toy_wheel: Path, tmp_path: Path
) -> None:
    def progress(event: Progress) -> None:
        if event.last is None and stage in (event.stage, event.pass_name):
            raise KeyboardInterrupt

    result = minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / "o", jobs=1, progress=progress)
    assert result.stop_reason == INTERRUPTED and not result.complete and not result.verified
    output = result.wheels[0].output
    assert output is not None and zipfile.is_zipfile(output)
    read_wheel(output)
