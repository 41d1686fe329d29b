"""Held-out inputs: check the search's result on input sets it never saw, and feed mismatches back.

After the passes reach their fixpoint, the result runs every usable held-out set (see
``oracles.holdout``). A set it fails is a counterexample: it joins the inference oracle's inputs
for the rest of the run (every later check and the final pip-install check feed it), the checker
starts a new cache generation (``Checker.retag``: no verdict judged without it is served, and the
journal keys name it, so ``--resume`` replays the same course), and the search goes on from the
smallest state of its trail that passes the new inputs, to a new fixpoint. Then the held-out check
repeats. Every round adopts at least one usable set that the oracle did not have yet, so there are
at most as many rounds as usable sets, plus the last one that finds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from minimizer.checker import Checker
from minimizer.driver import reduce_to_fixpoint
from minimizer.passes.base import Pass
from minimizer.search import Search
from minimizer.state import State
from oracles.holdout import HeldOutOracle, HeldOutSet
from oracles.protocol import Verdict

PASS_NAME = "holdout"
DEFAULT_SETS = 6  # per model: one of each kind (wide, zeros, extremes, nonfinite, small), one more wide


@dataclass(frozen=True, slots=True)
class HoldoutReport:
    """What the held-out check planned, could use, and found."""

    per_model: int
    sets: int
    usable: int  # 0 until the sets are screened, after the search
    dropped: tuple[str, ...]  # "model.tflite kind:seed: why", one per unusable set
    counterexamples: tuple[str, ...]  # "model.tflite kind:seed", in the order they were found
    rounds: int  # held-out checks of a search result
    runs: int  # oracle runs spent on them, on naming counterexamples and on finding where to go on
    screening_runs: int  # runs of the original that screened the sets (like the reference runs)
    passed: bool  # the written result matched the original on every usable set

    def as_dict(self) -> dict[str, Any]:
        """The report's ``holdout`` object."""
        return {
            "per_model": self.per_model,
            "sets": self.sets,
            "usable": self.usable,
            "dropped": len(self.dropped),
            "dropped_sets": list(self.dropped),
            "counterexamples": len(self.counterexamples),
            "counterexample_sets": list(self.counterexamples),
            "rounds": self.rounds,
            "runs": self.runs,
            "screening_runs": self.screening_runs,
            "passed": self.passed,
        }


class Holdout:
    """The held-out check of one run, and what it has found so far."""

    def __init__(self, oracle: HeldOutOracle, checker: Checker) -> None:
        self.oracle = oracle
        self.checker = checker
        self.found: list[HeldOutSet] = []
        self.rounds = 0
        self.passed = False

    def screen(self, original: State) -> None:
        self.checker.begin("held-out screening", PASS_NAME)
        with self.checker.workspace.materialize(original) as tree:
            self.oracle.reference(tree)

    def check(self, state: State) -> tuple[bool, list[HeldOutSet]]:
        """Whether ``state`` passes every usable set; if not, the sets not yet fed back that it fails.

        One run for all sets, then, on a mismatch, one per set to name them.
        """
        self.checker.begin("held-out check", PASS_NAME)
        self.rounds += 1
        usable = self.oracle.usable
        if not usable or self._judge(state, usable).passed:
            return True, []
        fresh = [s for s in usable if s not in self.found]
        return False, [s for s in fresh if not self._judge(state, [s]).passed]

    def _judge(self, state: State, sets: Sequence[HeldOutSet]) -> Verdict:
        return self.checker.judge(state, [self.oracle.only(sets)], _tag("held-out", sets))

    def adopt(self, found: Sequence[HeldOutSet], search: Search, original: State, failed: State) -> State:
        """Feed ``found`` to the oracle from now on; return the smallest trail state that passes it."""
        reference = self.checker.cached(original)
        for held in found:
            self.oracle.inference.add_inputs(held.model, held.spec, held.expected)
        self.found += found
        self.checker.retag(_tag("inputs", self.found))
        if reference is not None:  # the screening showed the original gives these outputs too
            self.checker.accept(original, reference)
        trail = list(search.trail)
        while trail and trail[-1] == failed:
            trail.pop()
        index = last_passing(len(trail), lambda i: self.checker.consider(trail[i]).passed)
        del search.trail[0 if index is None else index + 1 :]
        return original if index is None else trail[index]

    def report(self) -> HoldoutReport:
        models = self.oracle.inference.model_paths
        stats = self.checker.per_pass.get(PASS_NAME)
        return HoldoutReport(
            per_model=len(self.oracle.planned) // max(len(models), 1),
            sets=len(self.oracle.planned),
            usable=len(self.oracle.usable),
            dropped=tuple(f"{s.label(models)}: {s.problem}" for s in self.oracle.sets if not s.usable),
            counterexamples=tuple(s.label(models) for s in self.found),
            rounds=self.rounds,
            runs=stats.runs if stats is not None else 0,
            screening_runs=self.oracle.screening_runs,
            passed=self.passed,
        )


def reduce_with_holdout(
    original: State, passes: Sequence[Pass], search: Search, holdout: Holdout | None
) -> State:
    """The passes' fixpoint, checked on held-out sets; every counterexample found is fed back."""
    state = reduce_to_fixpoint(original, passes, search)
    if holdout is None:
        return state
    holdout.screen(original)
    while True:
        passed, found = holdout.check(state)
        if passed or not found:  # not found: it fails them together, but none alone (see README)
            holdout.passed = passed
            return state
        start = holdout.adopt(found, search, original, state)
        state = reduce_to_fixpoint(start, passes, search)


def last_passing(count: int, test: Callable[[int], bool]) -> int | None:
    """An index in ``range(count)`` that passes ``test``, searched from the end: gallop, then bisect.

    Indices are a trail of ever smaller states; the last one failed. When passing is monotone
    (everything before a passing index passes) this is the last passing index, found in about
    2 log2(count) tests; otherwise it still passes. None when no tested index passes.
    """
    failing, step = count, 1  # failing: the lowest index known to fail (count: none yet)
    while failing > 0:
        index = max(failing - step, 0)
        if test(index):
            break
        failing, step = index, step * 2
    else:
        return None
    low, high = index, failing
    while high - low > 1:
        middle = (low + high) // 2
        if test(middle):
            low = middle
        else:
            high = middle
    return low


def _tag(kind: str, sets: Sequence[HeldOutSet]) -> str:
    names = sorted(f"{s.model}:{s.kind}:{s.seed}" for s in sets)
    return f"{kind}:" + hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
