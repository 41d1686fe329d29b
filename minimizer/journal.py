"""A log of every oracle verdict, so an interrupted run can resume without repeating a run.

One JSON object a line: a header naming what the run was (input wheels, models, checks), then one
verdict per candidate, keyed by a digest of the candidate's state. The search is deterministic, so
a resumed run asks the same questions in the same order and finds its answers here.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from minimizer.errors import InputError
from minimizer.state import State, content_digest
from oracles.protocol import Outcome, Verdict

FILENAME = ".wheel-ddmin-journal.jsonl"


def state_digest(state: State) -> str:
    digest = hashlib.sha256()
    for key in sorted(state.files):
        digest.update(f"{key.wheel}\0{key.path}\0".encode())
    for key, data in state.edits:
        digest.update(f"edit\0{key.wheel}\0{key.path}\0".encode())
        digest.update(content_digest(data).encode())
    return digest.hexdigest()


class Journal:
    """Appends verdicts as they come; ``known`` holds what an earlier run of the same job found."""

    def __init__(self, path: Path, header: dict[str, Any], *, resume: bool) -> None:
        self.path = path
        self.known: dict[str, Verdict] = {}
        if resume and path.exists():
            self.known = _load(path, header)
        elif not resume and path.exists():
            path.unlink()
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None
        self._header = header

    def __enter__(self) -> Journal:
        fresh = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")
        if fresh:
            self._write({"header": self._header})
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def record(self, digest: str, verdict: Verdict) -> None:
        opened = sorted(verdict.opened) if verdict.opened is not None else None
        line = {
            "state": digest,
            "outcome": verdict.outcome.value,
            "reason": verdict.reason,
            "seconds": verdict.seconds,
            "opened": opened,
        }
        with self._lock:
            self._write(line)

    def discard(self) -> None:
        """The run finished: nothing is left to resume."""
        self.path.unlink(missing_ok=True)

    def _write(self, line: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(line) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())


def _load(path: Path, header: dict[str, Any]) -> dict[str, Verdict]:
    known: dict[str, Verdict] = {}
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    try:
        first = json.loads(lines[0])["header"] if lines else None
    except (ValueError, KeyError, TypeError):
        first = None
    if first != header:
        raise InputError(f"{path} belongs to another job (other wheels, models or checks): not resuming")
    for text in lines[1:]:
        try:
            line = json.loads(text)
            opened = frozenset(line["opened"]) if line["opened"] is not None else None
            verdict = Verdict(Outcome(line["outcome"]), line["reason"], line["seconds"], opened)
        except (ValueError, KeyError, TypeError):
            break  # a line cut short by the interruption: everything before it stands
        known[line["state"]] = verdict
    return known
