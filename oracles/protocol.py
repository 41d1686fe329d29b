"""What an oracle is: a verdict on one candidate tree."""

from __future__ import annotations

import enum
import functools
import hashlib
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# How long a run of the original may take when the user gives no --timeout: a hang, past this.
REFERENCE_TIMEOUT = 300.0


class Outcome(enum.Enum):
    """PASS keeps a candidate; FAIL rejects it; UNRESOLVED means the harness broke (never accepted)."""

    PASS = "pass"
    FAIL = "fail"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class Coverage:
    """What Python code a run executed, as tree-relative paths.

    ``ran``: ``(path, first line, name)`` of every code object that started (functions, methods,
    class and module bodies; ``first line`` is a decorated def's first decorator line, as in
    ``co_firstlineno``). ``reads``: ``(module path, name, reader path, reader line, origin)`` for
    every name read from a module of the tree as an attribute; the reader is ``("", 0)`` when the
    reading code lies outside the tree (the user's code, the runtime, the standard library), and
    ``origin`` names where the value was made (a function's code, a class), or is "" when unknown:
    two reads with one origin read one object.
    """

    ran: frozenset[tuple[str, int, str]] = frozenset()
    reads: frozenset[tuple[str, str, str, int, str]] = frozenset()

    def __or__(self, other: Coverage) -> Coverage:
        return Coverage(self.ran | other.ran, self.reads | other.reads)

    def to_json(self) -> dict[str, Any]:
        return {"ran": sorted(self.ran), "reads": sorted(self.reads)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Coverage:
        ran = frozenset((str(p), int(line), str(n)) for p, line, n in data["ran"])
        reads = frozenset((str(m), str(n), str(r), int(line), str(o)) for m, n, r, line, o in data["reads"])
        return cls(ran, reads)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One oracle's judgement of one candidate.

    ``opened`` lists the tree-relative POSIX paths the run read (imports, shared libraries, data),
    when the oracle traces; passes use it to propose what else can go. ``coverage`` says which
    Python code ran and which module names were read, when the oracle traces that too. ``entered``
    lists the entry traps a traced run hit, as (tree-relative path, file offset), after
    ``CodeTracing.trace``.
    """

    outcome: Outcome
    reason: str = ""
    seconds: float = 0.0
    opened: frozenset[str] | None = field(default=None, compare=False)
    coverage: Coverage | None = field(default=None, compare=False)
    entered: frozenset[tuple[str, int]] | None = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


def union_opened(verdicts: Iterable[Verdict]) -> frozenset[str] | None:
    """Everything the verdicts' runs opened; None when none of them traced (nothing is known)."""
    traces = [v.opened for v in verdicts if v.opened is not None]
    return frozenset().union(*traces) if traces else None


def union_coverage(verdicts: Iterable[Verdict]) -> Coverage | None:
    """What the verdicts' runs executed; None unless every one of them traced it (a part is not enough)."""
    found = [v.coverage for v in verdicts]
    if not found or any(c is None for c in found):
        return None
    return functools.reduce(operator.or_, (c for c in found if c is not None))


class Oracle(Protocol):
    """Judges a candidate: an importable tree laid out like site-packages."""

    @property
    def name(self) -> str: ...

    def reference(self, tree: Path, *, timeout: float = REFERENCE_TIMEOUT) -> Verdict:
        """Record what the original tree does; raise OracleError if it does not work at all.

        ReferenceTimeout when a run of the original takes longer than ``timeout``.
        """
        ...

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        """Compare a candidate with the reference."""
        ...

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        """The final check, against what ``pip install`` put into a fresh venv."""
        ...


@dataclass(frozen=True, slots=True)
class Traps:
    """Entry traps planted in a candidate, for a traced run.

    ``sites`` maps a tree-relative path to {file offset: the original bytes a trap replaced}; a
    path with no sites is watched: a trap it holds that the run hits is reported, not lifted.
    ``env`` adds to the run's environment (numpy's CPU dispatch disabled, say); None unsets.
    """

    sites: Mapping[str, Mapping[int, bytes]]
    env: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def planted(self) -> bool:
        """False when no trap is planted: the files are only watched for traps of their own."""
        return any(self.sites.values())

    def digest(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.sites):
            digest.update(f"{path}\0".encode())
            for offset, original in sorted(self.sites[path].items()):
                digest.update(f"{offset}:{original.hex()},".encode())
        for name, value in sorted(self.env.items()):
            digest.update(
                f"env\0{name}={value}\0".encode() if value is not None else f"unset\0{name}\0".encode()
            )
        return digest.hexdigest()


@runtime_checkable
class CodeTracing(Protocol):
    """An oracle that can run a candidate with entry traps planted, under a tracer."""

    def reference_env(self, tree: Path, env: Mapping[str, str | None]) -> None:
        """Record the original's results with ``env`` added; raise OracleError if it fails."""
        ...

    def trace(self, tree: Path, traps: Traps, *, timeout: float) -> Verdict:
        """Judge the candidate like ``check``; a passing verdict says which traps it hit."""
        ...
