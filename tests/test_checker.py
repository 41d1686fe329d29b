"""The Checker: the first passing candidate in order for any --jobs, exact run budgets, the search's clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer import Budget, minimize
from minimizer.errors import BudgetExhausted
from minimizer.search import Checker, Progress
from minimizer.state import State
from minimizer.wheelfile import read_wheel
from minimizer.workspace import Workspace
from oracles.protocol import Outcome, Traps, Verdict
from tests.conftest import build_wheel
from tests.test_integration import CHECK, ENTRY_POINTS, TOY

ITEMS = [f"pkg/m{i}.py" for i in range(8)]


class Marked:
    """An oracle that passes a candidate tree holding ``pkg/m{i}.py`` exactly when ``i`` is passing."""

    name = "marked"

    def __init__(self, passing: set[int]) -> None:
        self.passing = passing
        self.calls = 0
        self.ran: list[int] = []

    def reference(self, tree: Path) -> Verdict:
        return Verdict(Outcome.PASS)

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        self.calls += 1
        present = {i for i in range(len(ITEMS)) if (tree / ITEMS[i]).exists()}
        self.ran.extend(sorted(present))
        return Verdict(Outcome.PASS if present <= self.passing and present else Outcome.FAIL)

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        return Verdict(Outcome.PASS)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    wheel = build_wheel(tmp_path_factory.mktemp("w"), {path: "" for path in ITEMS}, name="pkg")
    with Workspace([read_wheel(wheel)]) as space:
        yield space


def singles(space: Workspace) -> list[State]:
    """One candidate per module: the dist-info plus ``pkg/m{i}.py``."""
    original = space.original()
    meta = [k for k in original.files if space.is_metadata(k)]
    return [original.keeping([*meta, k]) for k in sorted(original.files) if k.path in ITEMS]


@settings(max_examples=40, deadline=None)
@given(passing=st.sets(st.integers(0, len(ITEMS) - 1)), jobs=st.integers(1, 4))
def test_first_passing_is_the_first_in_order_for_any_jobs(
    workspace: Workspace, passing: set[int], jobs: int
) -> None:
    checker = Checker(workspace, [Marked(passing)], timeout=10.0, jobs=jobs)
    expected = min(passing) if passing else None
    assert checker.first_passing(singles(workspace)) == expected


def test_first_passing_never_takes_a_later_pass_of_the_same_window(workspace: Workspace) -> None:
    """Both candidates of the window pass: the first wins, or the result depends on --jobs."""
    checker = Checker(workspace, [Marked({1, 2})], timeout=10.0, jobs=4)
    assert checker.first_passing(singles(workspace)) == 1


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_run_budget_is_spent_exactly(workspace: Workspace, jobs: int) -> None:
    oracle = Marked(set())
    checker = Checker(workspace, [oracle], timeout=10.0, jobs=jobs, budget=Budget(runs=3))
    with pytest.raises(BudgetExhausted):
        checker.first_passing(singles(workspace))
    assert checker.runs == oracle.calls == 3
    assert sorted(oracle.ran) == [0, 1, 2], "the budget pays for the first runs in order, whatever --jobs"


def test_a_window_is_cut_before_the_run_the_budget_cannot_pay_for(workspace: Workspace) -> None:
    """Parallel runs race for the last paid run; cut in order, the same candidates run every time."""
    checker = Checker(workspace, [Marked(set())], timeout=10.0, jobs=4, budget=Budget(runs=2))
    states = singles(workspace)
    checker.consider(states[0])  # known now: it costs nothing again
    assert list(checker._affordable(states[:4])) == states[:2]  # states[0] known, states[1] the last paid
    assert list(checker._affordable(states[2:6])) == states[2:3]  # nothing left: the first, to end in order


def test_the_time_budget_counts_from_the_search(workspace: Workspace) -> None:
    checker = Checker(workspace, [Marked({0})], timeout=10.0, budget=Budget(seconds=0.0))
    assert checker.elapsed == 0.0
    checker.start_clock()
    with pytest.raises(BudgetExhausted, match="time budget"):
        checker.consider(singles(workspace)[0])


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(TOY, entry_points=ENTRY_POINTS)


@pytest.mark.parametrize("jobs", [1, 2])
def test_max_runs_reports_exactly_that_many_runs(toy_wheel: Path, tmp_path: Path, jobs: int) -> None:
    result = minimize(
        [toy_wheel], checks=[CHECK], output_dir=tmp_path / "o", jobs=jobs, verify=False, budget=Budget(runs=3)
    )
    assert result.oracle_runs == 3 and not result.complete
    assert sum(stats.runs for stats in result.passes.values()) == 3


def test_a_slow_setup_does_not_eat_the_time_budget(
    toy_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reference run that takes an hour must not use up --max-seconds: the budget is the search's."""
    import minimizer.checker

    now = [0.0]

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    monkeypatch.setattr(minimizer.checker, "time", Clock)

    def progress(event: object) -> None:
        if getattr(event, "stage", "") == "reference" and getattr(event, "last", 0) is None:
            now[0] += 3600.0

    result = minimize(
        [toy_wheel],
        checks=[CHECK],
        output_dir=tmp_path / "o",
        jobs=1,
        verify=False,
        budget=Budget(seconds=60.0),
        progress=progress,
    )
    assert result.complete, result.stop_reason


class Timed:
    """An oracle whose candidate runs take 1 s and whose traced runs take 3 s (as verdicts say)."""

    name = "timed"

    def reference(self, tree: Path, *, timeout: float = 300.0) -> Verdict:
        return Verdict(Outcome.PASS)

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        return Verdict(Outcome.PASS, "", 1.0)

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        return Verdict(Outcome.PASS)

    def reference_env(self, tree: Path, env: object) -> None:
        return None

    def trace(self, tree: Path, traps: Traps, *, timeout: float) -> Verdict:
        return Verdict(Outcome.PASS, "", 3.0, entered=frozenset())


def test_the_mean_run_time_counts_traced_runs_too(workspace: Workspace) -> None:
    """The time-left estimate is made of this mean: every counted run adds its time to it."""
    events: list[Progress] = []
    checker = Checker(workspace, [Timed()], timeout=10.0, jobs=1, progress=events.append)
    first, second = singles(workspace)[:2]
    checker.consider(first)
    checker.trace(second, Traps({}))
    assert checker.runs == 2
    assert events[-1].mean_seconds == 2.0
