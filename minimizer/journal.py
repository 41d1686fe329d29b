"""A log of every oracle verdict, so an interrupted run can resume without repeating a run.

One JSON object a line: a header naming what the run was (input wheels, models, checks), then one
verdict per candidate, keyed by a digest of the candidate's state. The search is deterministic, so
a resumed run asks the same questions in the same order and finds its answers here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from minimizer.errors import InputError, WheelDdminWarning
from minimizer.state import State, content_digest
from oracles.protocol import Coverage, Outcome, Traps, Verdict

FILENAME = ".wheel-ddmin-journal.jsonl"


def trace_digest(state: State, traps: Traps) -> str:
    """A traced run's key: the planted candidate and the traps (with the run's environment)."""
    return hashlib.sha256(f"trace\0{state_digest(state)}\0{traps.digest()}".encode()).hexdigest()


def state_digest(state: State) -> str:
    digest = hashlib.sha256()
    for key in sorted(state.files):
        digest.update(f"{key.wheel}\0{key.path}\0".encode())
    for key, data in state.edits:
        digest.update(f"edit\0{key.wheel}\0{key.path}\0".encode())
        digest.update(content_digest(data).encode())
    return digest.hexdigest()


class Journal:
    """Appends verdicts as they come; ``known`` holds what an earlier run of the same job found.

    Made before the run starts, it only reads: a journal of another job is refused and any other
    surprise is said (a warning) before the first oracle run. Entered, it starts writing: a fresh
    journal replaces an old one, a resumed one is rewritten clean (a line the interruption cut
    short would otherwise swallow the next one).
    """

    def __init__(self, path: Path, header: dict[str, Any], *, resume: bool) -> None:
        self.path = path
        self.known: dict[str, Verdict] = {}
        self.notes: dict[str, Any] = {}  # facts an earlier run learned besides verdicts (CPU tables)
        self._lines: list[str] = []
        if resume and path.exists():
            self.known, self.notes, self._lines = _load(path, header)
        elif resume:
            _warn(f"--resume: no journal in {path.parent} to resume from: starting from the beginning")
        elif path.exists():
            _warn(
                f"{path.parent} holds the journal of an interrupted run: starting over, which replaces it "
                "(--resume continues it instead)"
            )
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None
        self._header = header

    def __enter__(self) -> Journal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{self.path.name}.", suffix=".part", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(
                    "".join(f"{line}\n" for line in [json.dumps({"header": self._header}), *self._lines])
                )
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._handle = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def record(self, digest: str, verdict: Verdict) -> None:
        opened = sorted(verdict.opened) if verdict.opened is not None else None
        line: dict[str, Any] = {
            "state": digest,
            "outcome": verdict.outcome.value,
            "reason": verdict.reason,
            "seconds": verdict.seconds,
            "opened": opened,
            "coverage": verdict.coverage.to_json() if verdict.coverage is not None else None,
        }
        if verdict.entered is not None:
            line["entered"] = sorted(verdict.entered)
        with self._lock:
            self._write(line)

    def note(self, key: str, value: Any) -> None:
        """Record a fact learned by a run that is not a verdict, so a resumed run need not repeat it."""
        with self._lock:
            self._write({"note": key, "value": value})

    def discard(self) -> None:
        """The run finished: nothing is left to resume."""
        self.path.unlink(missing_ok=True)

    def _write(self, line: dict[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(line) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())


def _warn(message: str) -> None:
    warnings.warn(message, WheelDdminWarning, stacklevel=3)


def _load(path: Path, header: dict[str, Any]) -> tuple[dict[str, Verdict], dict[str, Any], list[str]]:
    """The verdicts and notes of an interrupted run of this job, and their lines as written."""
    known: dict[str, Verdict] = {}
    notes: dict[str, Any] = {}
    lines: list[str] = []
    with open(path, encoding="utf-8") as handle:
        texts = handle.read().splitlines()
    try:
        first = json.loads(texts[0])["header"] if texts else None
    except (ValueError, KeyError, TypeError):
        first = None
    if first != header:
        raise InputError(
            f"the journal in {path.parent} belongs to another job ({_differences(first, header)}): "
            "run without --resume to start over, or choose another -o folder"
        )
    for text in texts[1:]:
        try:
            line = json.loads(text)
            if "note" in line:
                notes[str(line["note"])] = line["value"]
                lines.append(text)
                continue
            opened = frozenset(line["opened"]) if line["opened"] is not None else None
            traced = line.get("coverage")
            coverage = Coverage.from_json(traced) if traced is not None else None
            entered = line.get("entered")
            traps = frozenset((path, offset) for path, offset in entered) if entered is not None else None
            verdict = Verdict(
                Outcome(line["outcome"]), line["reason"], line["seconds"], opened, coverage, entered=traps
            )
        except (ValueError, KeyError, TypeError):
            break  # a line cut short by the interruption: everything before it stands
        known[line["state"]] = verdict
        lines.append(text)
    return known, notes, lines


def _differences(old: object, new: dict[str, Any]) -> str:
    if not isinstance(old, dict):
        return "its header is unreadable"
    differ = [key for key in new if old.get(key) != new[key]] + [key for key in old if key not in new]
    return f"other {', '.join(differ)}" if differ else "another header"
