"""Interruption: the best wheel so far is written, exit 130, and --resume repeats no oracle run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import Progress, minimize
from minimizer.api import INTERRUPTED
from tests.test_integration import CHECK, ENTRY_POINTS, TOY

# A bigger toy: more files, so the search takes enough runs to be cut half-way.
FILES = {**TOY, **{f"toypkg/extra/m{i}.py": f"X = {i}\n" for i in range(12)}}


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(FILES, entry_points=ENTRY_POINTS)


def _interrupt_after(runs: int) -> Callable[[Progress], None]:
    def progress(event: Progress) -> None:
        if event.runs >= runs:
            raise KeyboardInterrupt

    return progress


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


def test_resume_refuses_another_jobs_journal(toy_wheel: Path, tmp_path: Path) -> None:
    common = {"jobs": 1, "verify": False, "passes": ["files"]}
    minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / "o", progress=_interrupt_after(2), **common)  # type: ignore[arg-type]
    from minimizer.errors import InputError

    with pytest.raises(InputError, match="another job"):
        minimize([toy_wheel], checks=[CHECK + " "], output_dir=tmp_path / "o", resume=True, **common)  # type: ignore[arg-type]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_sigterm_writes_best_so_far_and_exits_130(toy_wheel: Path, tmp_path: Path) -> None:
    slow_check = 'python -c "import time, toypkg; time.sleep(0.5); print(toypkg.answer())"'
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minimizer.cli",
            str(toy_wheel),
            "--check",
            slow_check,
            "-o",
            str(out),
            "--jobs",
            "1",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob(".wheel-ddmin-journal.jsonl")):
        time.sleep(0.2)
    time.sleep(2.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    assert (out / toy_wheel.name).exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    assert os.access(out / toy_wheel.name, os.R_OK)
