"""Host side of a traced run: wrap an oracle's command in the ptrace supervisor, read what it hit."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from oracles.protocol import Outcome, Traps, Verdict

TRACER = Path(__file__).with_name("_code_tracer.py")


def env_key(env: Mapping[str, str | None]) -> str:
    """A name for an added environment, under which an oracle keeps that environment's reference."""
    return json.dumps(sorted(env.items()))


class TracedRun:
    """One supervised run: the argv and environment to use, then the verdict with what it entered."""

    def __init__(self, tree: Path, traps: Traps, folder: Path) -> None:
        self._traps = traps
        self._spec = folder / "code-trace.json"
        self._out = folder / "entered.json"
        self._relative = {os.path.realpath(tree / path): path for path in traps.sites}
        sites = {
            str(tree / path): {str(offset): original.hex() for offset, original in found.items()}
            for path, found in traps.sites.items()
        }
        self._spec.write_text(json.dumps({"sites": sites, "out": str(self._out)}), encoding="utf-8")

    @property
    def planted(self) -> bool:
        return self._traps.planted

    def argv(self, argv: list[str]) -> list[str]:
        return [sys.executable, "-I", str(TRACER), str(self._spec), "--", *argv]

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        merged = {**env, **self._traps.env}
        return {name: value for name, value in merged.items() if value is not None}

    def verdict(self, judged: Verdict) -> Verdict:
        """``judged`` (the oracle's usual verdict on the run) with the traps it hit added.

        A failing verdict keeps them too: they say which trap stopped the run. A run the tracer
        could not start is UNRESOLVED: nothing is known about the candidate.
        """
        try:
            result = json.loads(self._out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        if "unavailable" in result:
            return Verdict(Outcome.UNRESOLVED, f"trace unavailable: {result['unavailable']}", judged.seconds)
        if "entered" not in result:
            return judged if not judged.passed else Verdict(Outcome.UNRESOLVED, "no trace", judged.seconds)
        if result.get("signal") and judged.passed:
            # Killed once its outputs were out (at exit, say): a user's program would die too.
            judged = Verdict(Outcome.FAIL, f"killed by signal {result['signal']}", judged.seconds)
        entered = frozenset(
            (self._relative[path], offset)
            for path, offsets in result["entered"].items()
            if path in self._relative
            for offset in offsets
        )
        return dataclasses.replace(judged, entered=entered)


@contextmanager
def traced_run(tree: Path, traps: Traps, scratch: Path) -> Iterator[TracedRun]:
    folder = Path(tempfile.mkdtemp(prefix="code-trace-", dir=scratch))
    try:
        yield TracedRun(tree, traps, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
