"""What a pass may ask of the search: test candidates, see what a passing run used, what is protected.

Every question goes to the ``Checker`` (``minimizer.checker``), the one door to the oracles.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from minimizer.checker import Budget, Checker, PassStats, Progress
from minimizer.ddmin import FirstPassing
from minimizer.state import Key, State
from minimizer.wheelfile import is_license
from minimizer.workspace import Workspace
from oracles.cpu import NumpyCpu
from oracles.protocol import Coverage, Traps, Verdict
from oracles.target import Target

# Re-exported: ``minimizer.search.Budget`` and ``Progress`` are where users and tests found them.
__all__ = ["Budget", "Checker", "PassStats", "Progress", "Search"]

T = TypeVar("T")


@dataclass(slots=True)
class Search:
    """What a pass may ask: test candidates, see what a passing run used, know what is protected,
    and what the candidates run on."""

    checker: Checker
    target: Target  # what the candidates run on
    keep: tuple[str, ...] = ()
    # The passing states the passes chose, in order (the same for any --jobs): where the search
    # can go back to when new inputs fail its result.
    trail: list[State] = field(default_factory=list)

    @property
    def system(self) -> str:
        """The target's operating system, as ``platform.system()`` names it there."""
        return self.target.system

    @property
    def machine(self) -> str:
        """The target's machine, as ``platform.machine()`` names it there: x86_64, aarch64."""
        return self.target.machine

    @property
    def workspace(self) -> Workspace:
        return self.checker.workspace

    def test(self, state: State) -> bool:
        passed = self.checker.consider(state).passed
        if passed:
            self.trail.append(state)
        return passed

    def first_passing(self, states: Sequence[State]) -> int | None:
        index = self.checker.first_passing(states)
        if index is not None:
            self.trail.append(states[index])
        return index

    def trace(self, state: State, traps: Traps) -> Verdict:
        return self.checker.trace(state, traps)

    def numpy_cpu(self, state: State) -> NumpyCpu | None:
        return self.checker.numpy_cpu(state, self.target)

    def adapter(self, build: Callable[[tuple[T, ...]], State]) -> FirstPassing[T]:
        """Turn a pass's ``items -> State`` into the ddmin core's ``first_passing``."""

        def first_passing(configs: Sequence[tuple[T, ...]]) -> int | None:
            return self.first_passing([build(config) for config in configs])

        return first_passing

    def opened(self, state: State) -> frozenset[Key] | None:
        """Members a passing run of ``state`` read, or None when unknown or not passing."""
        verdict = self.checker.cached(state)
        if verdict is None or not verdict.passed or verdict.opened is None:
            return None
        keys = (self.workspace.key_of(path) for path in verdict.opened)
        return frozenset(key for key in keys if key is not None)

    def coverage(self, state: State) -> Coverage | None:
        """What Python code a passing run of ``state`` ran and read, or None when unknown."""
        verdict = self.checker.cached(state)
        return verdict.coverage if verdict is not None and verdict.passed else None

    def namespace_folders(self, state: State) -> frozenset[str]:
        """Folders a passing run imported as namespace packages (tree paths, no trailing slash)."""
        verdict = self.checker.cached(state)
        opened = verdict.opened if verdict is not None and verdict.passed else None
        return frozenset(p.rstrip("/") for p in opened or () if p.endswith("/"))

    def protected(self, key: Key) -> bool:
        """Metadata, licenses and ``--keep`` patterns stay whatever a pass thinks."""
        if self.workspace.is_metadata(key) or is_license(key.path):
            return True
        return any(fnmatch.fnmatchcase(key.path, pattern) for pattern in self.keep)
