"""Held-out inputs: the inference oracle's models on input sets the search never saw.

The reference runs the original twice on every planned set; a set is usable only when both runs
succeed and agree (integer inputs are often indices, and the original may well refuse an id out of
range, or give NaN-dependent noise): an unusable set is dropped and counted, never blamed on a
candidate. A check then compares a candidate's outputs with the original's on the usable sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minimizer.errors import OracleError
from oracles import _inputs
from oracles.inference import InferenceOracle
from oracles.protocol import REFERENCE_TIMEOUT, Outcome, Verdict

_PROBLEM_CHARS = 240


@dataclass(frozen=True, slots=True)
class HeldOutSet:
    """One held-out set of one model, as the original ran it."""

    model: int
    kind: str
    seed: int
    expected: Any = None  # the original's output digests; None when the set is not usable
    problem: str = ""  # why it is not usable

    @property
    def spec(self) -> dict[str, Any]:
        return _inputs.descriptor(self.kind, self.seed)

    @property
    def usable(self) -> bool:
        return not self.problem

    def label(self, models: Sequence[Path]) -> str:
        return f"{models[self.model].name} {_inputs.label(self.spec)}"


class HeldOutOracle:
    """Judges a candidate on held-out sets: ``per_model`` planned for each model, the usable ones compared."""

    name = "held-out inputs"

    def __init__(self, inference: InferenceOracle, per_model: int) -> None:
        self.inference = inference
        count = len(inference.model_paths)
        self.planned = [
            HeldOutSet(m, s["kind"], s["seed"])
            for m in range(count)
            for s in _inputs.holdout_sets(m, per_model)
        ]
        self.sets: tuple[HeldOutSet, ...] = ()  # after reference(): every planned set, screened
        self.screening_runs = 0

    @property
    def usable(self) -> tuple[HeldOutSet, ...]:
        return tuple(s for s in self.sets if s.usable)

    def only(self, chosen: Sequence[HeldOutSet]) -> HeldOutOracle:
        """The same check on some of the usable sets (to name which ones a candidate fails)."""
        narrow = HeldOutOracle(self.inference, 0)
        narrow.sets = tuple(chosen)
        return narrow

    def reference(self, tree: Path, *, timeout: float = REFERENCE_TIMEOUT) -> Verdict:
        """Screen every planned set on the original: twice, all at once, or set by set if that crashes.

        A set the original cannot run within ``timeout`` is unusable, not an error.
        """
        together = self._twice(tree, self.planned, timeout)
        if not isinstance(together, str):
            outputs = [self._per_set(r, self.planned) for r in together]
            self.sets = tuple(_screened(s, a, b) for s, a, b in zip(self.planned, *outputs, strict=True))
        else:
            self.sets = tuple(self._screen_alone(tree, s, timeout) for s in self.planned)
        return Verdict(Outcome.PASS, "reference")

    def _screen_alone(self, tree: Path, held: HeldOutSet, timeout: float) -> HeldOutSet:
        runs = self._twice(tree, [held], timeout)
        if isinstance(runs, str):
            return _unusable(held, f"the original fails: {runs}")
        first, second = (self._per_set(r, [held])[0] for r in runs)
        return _screened(held, first, second)

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        result = self.inference.run_sets(tree, self._specs(self.usable), timeout=timeout)
        return self._judge(result)

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        sets = self._specs(self.usable)
        return self._judge(self.inference.run_sets(None, sets, timeout=timeout, python=str(venv_python)))

    def _judge(self, result: dict[str, Any]) -> Verdict:
        seconds = float(result.get("seconds", 0.0))
        if result.get("unresolved"):
            return Verdict(Outcome.UNRESOLVED, result["error"], seconds)
        if not result.get("ok"):
            return Verdict(Outcome.FAIL, result.get("error", "failed"), seconds)
        if self._per_set(result, self.usable) != [s.expected for s in self.usable]:
            return Verdict(Outcome.FAIL, "outputs differ from the original on a held-out set", seconds)
        return Verdict(Outcome.PASS, "", seconds)

    def _twice(
        self, tree: Path, sets: Sequence[HeldOutSet], timeout: float
    ) -> tuple[dict[str, Any], dict[str, Any]] | str:
        """Two runs of ``sets`` on the original, or the error of the first that failed (it settles it)."""
        first = self._run(tree, sets, timeout)
        if not first.get("ok"):
            return str(first.get("error"))
        second = self._run(tree, sets, timeout)
        if not second.get("ok"):
            return str(second.get("error"))
        return first, second

    def _run(self, tree: Path, sets: Sequence[HeldOutSet], timeout: float) -> dict[str, Any]:
        self.screening_runs += 1
        return self.inference.run_sets(tree, self._specs(sets), timeout=timeout, keep_going=True)

    def _specs(self, sets: Sequence[HeldOutSet]) -> list[list[dict[str, Any]]]:
        by_model: list[list[dict[str, Any]]] = [[] for _ in self.inference.model_paths]
        for held in sets:
            by_model[held.model].append(held.spec)
        return by_model

    @staticmethod
    def _per_set(result: dict[str, Any], sets: Sequence[HeldOutSet]) -> list[Any]:
        """The probe's outputs, one entry per set in the order of ``sets``."""
        remaining = [list(outputs) for outputs in result["outputs"]]
        try:
            return [remaining[held.model].pop(0) for held in sets]
        except IndexError as error:
            raise OracleError("the probe returned fewer held-out results than sets") from error


def _screened(held: HeldOutSet, first: Any, second: Any) -> HeldOutSet:
    if isinstance(first, dict) or isinstance(second, dict):
        error = (first if isinstance(first, dict) else second)["error"]
        return _unusable(held, f"the original fails: {error}")
    if first != second:
        return _unusable(held, "the original gives different outputs on two runs")
    return HeldOutSet(held.model, held.kind, held.seed, first)


def _unusable(held: HeldOutSet, problem: str) -> HeldOutSet:
    # A runtime's error reporter may repeat earlier sets' messages: one is enough for a report.
    short = problem if len(problem) <= _PROBLEM_CHARS else problem[: _PROBLEM_CHARS - 3] + "..."
    return HeldOutSet(held.model, held.kind, held.seed, None, short)
