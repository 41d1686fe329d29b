"""The time-left estimate: runs a pass has queued, at the mean cost of a run so far."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from minimizer import minimize
from minimizer.progress import time_left
from minimizer.search import Progress
from oracles.protocol import Outcome
from tests.test_integration import CHECK, TOY


def _progress(queued: int, mean: float, jobs: int) -> Progress:
    return Progress("files", 10, 0, 1000, 5, Outcome.FAIL, queued=queued, mean_seconds=mean, jobs=jobs)


def test_the_text() -> None:
    assert time_left(_progress(10, 3.0, 2)) == ", 3.0 s/run, >= 15s left in files (10 runs queued)"
    assert time_left(_progress(41, 3.0, 2)) == ", 3.0 s/run, >= 1m03s left in files (41 runs queued)"
    assert time_left(_progress(0, 2.5, 1)) == ", 2.5 s/run"
    assert time_left(_progress(5, 0.0, 1)) == ""
    assert _progress(3000, 2.0, 1).queued_seconds == 6000.0


def test_queued_runs_are_a_floor_for_the_pass(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """Whatever a pass had queued at a run, at least as many runs of that pass followed it."""
    events: list[Progress] = []
    extras = {f"toypkg/extra{i}.py": f"X = {i}\n" for i in range(12)}
    init = TOY["toypkg/__init__.py"] + "".join(f"from . import extra{i}\n" for i in range(12))
    wheel = wheel_factory({**TOY, **extras, "toypkg/__init__.py": init})
    minimize(
        [wheel], checks=[CHECK], output_dir=tmp_path / "out", jobs=1, verify=False, progress=events.append
    )
    runs = [e for e in events if e.last is not None]  # the others announce a stage or a pass
    assert any(e.queued > 1 for e in runs) and all(e.mean_seconds > 0 for e in runs)
    for _, segment in groupby(runs, key=lambda e: e.pass_name):
        made = list(segment)
        for event in made:
            assert made[-1].runs - event.runs >= event.queued, (event.pass_name, event.runs, event.queued)
