"""What an oracle is: a verdict on one candidate tree."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Outcome(enum.Enum):
    """PASS keeps a candidate; FAIL rejects it; UNRESOLVED means the harness broke (never accepted)."""

    PASS = "pass"
    FAIL = "fail"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One oracle's judgement of one candidate.

    ``opened`` lists the tree-relative POSIX paths the run read (imports, shared libraries, data),
    when the oracle traces; passes use it to propose what else can go.
    """

    outcome: Outcome
    reason: str = ""
    seconds: float = 0.0
    opened: frozenset[str] | None = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


def union_opened(verdicts: Iterable[Verdict]) -> frozenset[str] | None:
    """Everything the verdicts' runs opened; None when none of them traced (nothing is known)."""
    traces = [v.opened for v in verdicts if v.opened is not None]
    return frozenset().union(*traces) if traces else None


class Oracle(Protocol):
    """Judges a candidate: an importable tree laid out like site-packages."""

    @property
    def name(self) -> str: ...

    def reference(self, tree: Path) -> Verdict:
        """Record what the original tree does; raise OracleError if it does not work at all."""
        ...

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        """Compare a candidate with the reference."""
        ...

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        """The final check, against what ``pip install`` put into a fresh venv."""
        ...
