"""The one door to the oracles: every candidate goes through ``Checker.consider``.

It owns the cache (no configuration runs twice), the counters, the budget, the progress callback
and the best result so far. Passes reach it through ``minimizer.search.Search``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from minimizer.errors import BudgetExhausted, OracleError
from minimizer.journal import Journal, state_digest, trace_digest
from minimizer.state import State
from minimizer.workspace import Workspace
from oracles.code_trace import env_key
from oracles.cpu import NumpyCpu, numpy_cpu
from oracles.protocol import (
    CodeTracing,
    Oracle,
    Outcome,
    Traps,
    Verdict,
    union_coverage,
    union_opened,
)
from oracles.target import Target

_UNRESOLVED_LIMIT = 3  # in a row: beyond that the harness is broken, not the candidates


@dataclass(frozen=True, slots=True)
class Progress:
    """What the progress callback is told: when a stage or pass begins, and after every oracle run.

    The stages are those ``minimizer.progress.LABELS`` names, and in the search each pass's name.
    """

    pass_name: str  # the pass running; outside the search, the stage
    runs: int
    cache_hits: int
    best_bytes: int  # 0 until the original has passed its reference run
    best_files: int
    last: Outcome | None  # None: a stage or pass begins, no oracle run behind this event
    stage: str = "search"
    queued: int = 0  # runs the current pass has asked for and not yet had; it may ask for more
    mean_seconds: float = 0.0  # one oracle run, on average so far
    jobs: int = 1

    @property
    def queued_seconds(self) -> float:
        """What the queued runs cost at the mean so far, ``jobs`` at a time: a floor for this pass."""
        return -(-self.queued // max(self.jobs, 1)) * self.mean_seconds


@dataclass(slots=True)
class PassStats:
    """Counters of one pass, summed over the fixpoint iterations."""

    runs: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    bytes_saved: int = 0


@dataclass(slots=True)
class Budget:
    """Stop after this many oracle runs or seconds (None: no limit)."""

    runs: int | None = None
    seconds: float | None = None


@dataclass(slots=True)
class Checker:
    """Cache, statistics, budget, progress and the best passing state, around the oracles."""

    workspace: Workspace
    oracles: Sequence[Oracle]
    timeout: float
    jobs: int = 1
    budget: Budget = field(default_factory=Budget)
    progress: Callable[[Progress], None] | None = None
    runs: int = 0
    cache_hits: int = 0
    pass_name: str = "reference"
    stage: str = "reference"
    per_pass: dict[str, PassStats] = field(default_factory=dict)
    best: State | None = None
    journal: Journal | None = None
    resumed: int = 0  # verdicts taken from the journal of an interrupted run
    # Names the inputs the oracles judge with ("" for the search's own): a verdict is served, from
    # the cache or the journal, only under the tag it was judged with.
    tag: str = ""
    _cache: dict[tuple[str, State], Verdict] = field(default_factory=dict)
    _started: float | None = None
    _claimed: int = 0  # runs begun, counted before they run so that parallel runs respect the budget
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _traces: dict[str, Verdict] = field(default_factory=dict)
    _notes: dict[str, Any] = field(default_factory=dict)
    _env_references: dict[str, str] = field(default_factory=dict)  # env_key -> why not ("": done)
    original: State | None = None
    _unresolved_in_a_row: int = 0
    _run_seconds: float = 0.0
    _queued: int = 0

    @property
    def elapsed(self) -> float:
        """Seconds since the search began: the time budget counts the search, not the setup."""
        return 0.0 if self._started is None else time.monotonic() - self._started

    def start_clock(self) -> None:
        self._started = time.monotonic()

    def begin(self, stage: str, pass_name: str = "") -> None:
        """A stage (or, in the search, a pass) begins: its runs count under its name."""
        self.stage, self.pass_name = stage, pass_name or stage
        self._report(None)

    def stats(self) -> PassStats:
        return self.per_pass.setdefault(self.pass_name, PassStats())

    def accept(self, state: State, verdict: Verdict) -> None:
        """Seed the cache with a state known to pass (the original, after the reference run)."""
        if self.original is None:
            self.original = state
        self._cache[(self.tag, state)] = verdict
        self._consider_best(state)

    def cached(self, state: State) -> Verdict | None:
        """The verdict already known for ``state``, without running or counting anything."""
        return self._cache.get((self.tag, state))

    def retag(self, tag: str) -> None:
        """The oracles' inputs changed: no earlier verdict counts, and no state is known to pass."""
        self.tag = tag
        self.best = None

    # Candidates: one at a time, or the first passing one of a list, ``jobs`` at once.

    def consider(self, state: State) -> Verdict:
        return self.judge(state, self.oracles, self.tag, track_best=True)

    def judge(
        self, state: State, oracles: Sequence[Oracle], tag: str, *, track_best: bool = False
    ) -> Verdict:
        """``state`` judged by ``oracles``, whose inputs ``tag`` names: cached, journaled, counted."""
        cached = self._cache.get((tag, state))
        if cached is not None:
            self.cache_hits += 1
            self.stats().cache_hits += 1
            return cached
        digest = journal_key(tag, state) if self.journal is not None else ""
        resumed = self._from_journal(digest)
        if resumed is not None:
            self._cache[(tag, state)] = resumed
            if resumed.passed and track_best:
                self._consider_best(state)
            return resumed
        self._claim()
        verdict = self._run(state, oracles)
        self._cache[(tag, state)] = verdict
        self._record(digest, verdict)
        with self._lock:
            self._count_run(verdict.seconds)
            self._queued = max(self._queued - 1, 0)
        self._note_unresolved(verdict)
        if verdict.passed and track_best:
            self._consider_best(state)
        self._report(verdict.outcome)
        return verdict

    def first_passing(self, states: Sequence[State]) -> int | None:
        """Index of the first passing state, testing up to ``jobs`` at once, in order."""
        # Runs after a passing one are not made, but a pass then asks for about as many again.
        self._queued = sum(1 for s in states if not self._known(s))
        try:
            return self._first_passing(states)
        finally:
            self._queued = 0

    def _first_passing(self, states: Sequence[State]) -> int | None:
        if self.jobs <= 1:
            return next((i for i, s in enumerate(states) if self.consider(s).passed), None)
        start = 0
        with ThreadPoolExecutor(self.jobs) as pool:
            while start < len(states):
                window = self._affordable(states[start : start + self.jobs])
                verdicts = list(pool.map(self.consider, window))
                for offset, verdict in enumerate(verdicts):
                    if verdict.passed:
                        return start + offset
                start += len(window)
        return None

    def _affordable(self, window: Sequence[State]) -> Sequence[State]:
        """The window cut before the first run the run budget cannot pay for.

        Parallel runs would otherwise all pass the budget check at once and overshoot it; cut here,
        the state that cannot be paid for comes first in the next window and ends the search in order.
        """
        if self.budget.runs is None:
            return window
        left = self.budget.runs - self._claimed
        for index, state in enumerate(window):
            if not self._known(state):
                if left == 0:
                    return window[: max(index, 1)]
                left -= 1
        return window

    def _known(self, state: State) -> bool:
        if (self.tag, state) in self._cache:
            return True
        return self.journal is not None and journal_key(self.tag, state) in self.journal.known

    def _run(self, state: State, oracles: Sequence[Oracle]) -> Verdict:
        passed: list[Verdict] = []
        with self.workspace.materialize(state) as tree:
            for oracle in oracles:
                verdict = oracle.check(tree, timeout=self.timeout)
                seconds = sum(v.seconds for v in passed) + verdict.seconds
                if not verdict.passed:
                    return Verdict(verdict.outcome, f"{oracle.name}: {verdict.reason}", seconds)
                passed.append(verdict)
        seconds = sum(v.seconds for v in passed)
        return Verdict(Outcome.PASS, "", seconds, union_opened(passed), union_coverage(passed))

    # Runs that learn about a state rather than judge it: traced runs, numpy's CPU tables.

    def trace(self, state: State, traps: Traps) -> Verdict:
        """A run of every oracle on ``state`` (entry traps planted) under the code tracer.

        Counted, budgeted, cached and journaled like any oracle run, but never a candidate result.
        A passing verdict's ``entered`` is the union over the oracles; UNRESOLVED when one of them
        cannot trace or the tracer could not run (nothing is known then).
        """
        digest = _tagged(self.tag, trace_digest(state, traps))
        cached = self._cache.get((self.tag, state)) if _as_oracle(traps) else None
        known = cached if cached is not None and cached.passed else self._traces.get(digest)
        if known is None:
            known = self._from_journal(digest)
            if known is not None:
                self._traces[digest] = known
                self._watched(state, traps, known)
        if known is not None:
            return known
        if not all(isinstance(oracle, CodeTracing) for oracle in self.oracles):
            return Verdict(Outcome.UNRESOLVED, "an oracle cannot trace")
        self._claim()
        verdict = self._run_traced(state, traps)
        self._traces[digest] = verdict
        self._record(digest, verdict)
        with self._lock:
            self._count_run(verdict.seconds)
        self._watched(state, traps, verdict)
        self._report(verdict.outcome)
        return verdict

    def _watched(self, state: State, traps: Traps, verdict: Verdict) -> None:
        """Without planted traps the run was one of the candidate itself: a passing one counts as such."""
        if _as_oracle(traps) and verdict.passed:
            self._cache[(self.tag, state)] = verdict
            self._consider_best(state)

    def _run_traced(self, state: State, traps: Traps) -> Verdict:
        if traps.env and (problem := self._references(traps.env)):
            return Verdict(Outcome.UNRESOLVED, problem)
        passed: list[Verdict] = []
        with self.workspace.materialize(state) as tree:
            for oracle in self.oracles:
                assert isinstance(oracle, CodeTracing)
                verdict = oracle.trace(tree, traps, timeout=self.timeout)
                seconds = sum(v.seconds for v in passed) + verdict.seconds
                if not verdict.passed or verdict.entered is None:
                    reason = f"{oracle.name}: {verdict.reason}"
                    return Verdict(verdict.outcome, reason, seconds, entered=verdict.entered)
                passed.append(verdict)
        entered = frozenset().union(*(v.entered or () for v in passed))
        seconds = sum(v.seconds for v in passed)
        return Verdict(Outcome.PASS, "", seconds, union_opened(passed), union_coverage(passed), entered)

    def _references(self, env: Mapping[str, str | None]) -> str:
        """Make every oracle record the original's results under ``env``; the reason if it cannot.

        Like the first reference run, these runs of the original are not counted as oracle runs.
        """
        key = f"{self.tag}\0{env_key(env)}"  # new inputs (held-out sets fed back) need a new reference
        if key not in self._env_references:
            if self.original is None:
                return "no original to run"
            try:
                with self.workspace.materialize(self.original) as tree:
                    for oracle in self.oracles:
                        assert isinstance(oracle, CodeTracing)
                        oracle.reference_env(tree, env)
            except OracleError as error:
                self._env_references[key] = str(error)
            else:
                self._env_references[key] = ""
        return self._env_references[key]

    def numpy_cpu(self, state: State, target: Target) -> NumpyCpu | None:
        """numpy's CPU tables as ``state``'s numpy sees them on ``target``: one run, counted, journaled."""
        key = f"numpy-cpu:{state_digest(state)}"
        if key not in self._notes:
            if self.journal is not None and key in self.journal.notes:
                self._notes[key] = self.journal.notes[key]
                self.resumed += 1
            else:
                self._notes[key] = self._probe_numpy_cpu(state, target)
                if self.journal is not None:
                    self.journal.note(key, self._notes[key])
        value = self._notes[key]
        return NumpyCpu.from_dict(value) if value is not None else None

    def _probe_numpy_cpu(self, state: State, target: Target) -> dict[str, list[str]] | None:
        self._claim()
        started = time.monotonic()
        with self.workspace.materialize(state) as tree:
            found = numpy_cpu([tree], timeout=self.timeout, python=target.argv())
        with self._lock:
            self._count_run(time.monotonic() - started)
        return found.as_dict() if found is not None else None

    # Bookkeeping shared by every kind of run.

    def _from_journal(self, digest: str) -> Verdict | None:
        """The verdict an interrupted run of this job journaled under ``digest``, if any."""
        if self.journal is None or digest not in self.journal.known:
            return None
        self.resumed += 1
        return self.journal.known[digest]

    def _record(self, digest: str, verdict: Verdict) -> None:
        if self.journal is not None:
            self.journal.record(digest, verdict)

    def _claim(self) -> None:
        """Count a run before it starts, or end the search when the budget cannot pay for it."""
        with self._lock:
            if self.budget.runs is not None and self._claimed >= self.budget.runs:
                raise BudgetExhausted(f"oracle-run budget of {self.budget.runs} used up")
            if self.budget.seconds is not None and self.elapsed >= self.budget.seconds:
                raise BudgetExhausted(f"time budget of {self.budget.seconds:g} s used up")
            self._claimed += 1

    def _count_run(self, seconds: float) -> None:
        """A run ended (the caller holds the lock): it counts for the search, for its pass, and for
        the mean run time the progress bar's estimate of the time left is made of."""
        self.runs += 1
        self.stats().runs += 1
        self._run_seconds += seconds

    def _note_unresolved(self, verdict: Verdict) -> None:
        if verdict.outcome is not Outcome.UNRESOLVED:
            self._unresolved_in_a_row = 0
            return
        self._unresolved_in_a_row += 1
        if self._unresolved_in_a_row >= _UNRESOLVED_LIMIT:
            raise OracleError(f"the oracle harness keeps breaking: {verdict.reason}")

    def _consider_best(self, state: State) -> None:
        size = self.workspace.compressed_bytes
        if self.best is None or size(state) < size(self.best):
            self.best = state

    def _report(self, outcome: Outcome | None) -> None:
        if self.progress is None:
            return
        best = self.best
        self.progress(
            Progress(
                self.pass_name,
                self.runs,
                self.cache_hits,
                best_bytes=self.workspace.compressed_bytes(best) if best is not None else 0,
                best_files=len(best.files) if best is not None else 0,
                last=outcome,
                stage=self.stage,
                queued=self._queued,
                mean_seconds=self._run_seconds / self.runs if self.runs else 0.0,
                jobs=self.jobs,
            )
        )


def journal_key(tag: str, state: State) -> str:
    """The journal's key of a verdict: the state's digest, and the inputs it was judged with."""
    return _tagged(tag, state_digest(state))


def _tagged(tag: str, digest: str) -> str:
    return digest if not tag else hashlib.sha256(f"{tag}\0{digest}".encode()).hexdigest()


def _as_oracle(traps: Traps) -> bool:
    """A traced run is the oracle's own run of the candidate when it plants nothing and adds no env."""
    return not traps.planted and not traps.env
