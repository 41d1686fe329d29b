"""The user's own check: a command that must exit 0 and print what it printed with the original."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minimizer.errors import OracleError
from oracles import harness
from oracles._trace import relative, relative_coverage
from oracles.protocol import Coverage, Outcome, Verdict

REFERENCE_TIMEOUT = 300.0
BOOT = Path(__file__).with_name("_check_boot.py")


class CommandOracle:
    """Runs ``command`` through the shell with the candidate and the runtime importable.

    ``python`` (and ``$WHEEL_DDMIN_PYTHON``) in the command is this interpreter without its
    site-packages, so a numpy installed on the host can never stand in for the candidate's.
    """

    def __init__(
        self, command: str, runtime_paths: Sequence[Path], scratch: Path, *, cwd: Path | None = None
    ) -> None:
        self.command = command
        self.name = f"check {command!r}"
        self._runtime_paths = [str(p) for p in runtime_paths]
        self._cwd = cwd
        self._expected: bytes | None = None
        self._scratch = scratch
        self._python = _isolated_python(scratch)

    def _run(
        self,
        paths: Sequence[str],
        timeout: float,
        python: str | None = None,
        trace: tuple[Path, Path] | None = None,
    ) -> harness.Completed:
        python = python or str(self._python)
        extra = {
            "PYTHONPATH": os.pathsep.join(paths),
            "WHEEL_DDMIN_PYTHON": python,
            # This python first on PATH, so a plain `python` in the command is that one.
            "PATH": str(Path(python).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
        if trace is not None:
            extra["WHEEL_DDMIN_TRACE_ROOT"], extra["WHEEL_DDMIN_TRACE_DIR"] = map(str, trace)
        env = harness.python_env(extra)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        shell = ["cmd", "/c"] if sys.platform == "win32" else ["/bin/sh", "-c"]
        return harness.run([*shell, self.command], timeout=timeout, env=env, cwd=self._cwd)

    def reference(self, tree: Path) -> Verdict:
        """Run the check twice on the original: it must pass, and print the same both times."""
        runs = [self._traced(tree, REFERENCE_TIMEOUT) for _ in range(2)]
        for done, _ in runs:
            if done.returncode != 0:
                detail = done.last_error_line() or f"exit code {done.returncode}"
                raise OracleError(f"check {self.command!r} fails with the original wheel: {detail}")
        (first, (opened, coverage)), (second, _) = runs
        if first.stdout != second.stdout:
            raise OracleError(
                f"check {self.command!r} prints different output on two runs of the original "
                "(nondeterministic): nothing could be compared"
            )
        self._expected = first.stdout
        return Verdict(Outcome.PASS, "reference", first.seconds, opened, coverage)

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        done, (opened, coverage) = self._traced(tree, timeout)
        verdict = self._judge(done)
        if not verdict.passed:
            return verdict
        return Verdict(verdict.outcome, verdict.reason, verdict.seconds, opened, coverage)

    def _traced(
        self, tree: Path, timeout: float
    ) -> tuple[harness.Completed, tuple[frozenset[str], Coverage | None]]:
        """One run against the candidate tree, and what it used there.

        Coverage is None when no python of the check traced itself (an interpreter flag the boot
        script does not play): then nothing is known of what ran, not that nothing ran.
        """
        with tempfile.TemporaryDirectory(prefix="trace-", dir=self._scratch) as folder:
            done = self._run([str(tree), *self._runtime_paths], timeout, trace=(tree, Path(folder)))
            collected = [_load(f) for f in sorted(Path(folder).glob("*.json"))]
        opened = relative((p for data in collected for p in data.get("opened", [])), tree)
        known = collected and all(data.get("ran") is not None for data in collected)
        coverage = Coverage(*relative_coverage(collected, tree)) if known else None
        return done, (opened, coverage)

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        return self._judge(self._run([], timeout, python=str(venv_python)))

    def _judge(self, done: harness.Completed) -> Verdict:
        if done.timed_out:
            return Verdict(Outcome.FAIL, f"timed out after {done.seconds:.1f} s", done.seconds)
        if done.returncode != 0:
            return Verdict(Outcome.FAIL, f"exit code {done.returncode}", done.seconds)
        if done.stdout != self._expected:
            return Verdict(Outcome.FAIL, "output differs from the original", done.seconds)
        return Verdict(Outcome.PASS, "", done.seconds)


def _load(trace: Path) -> dict[str, Any]:
    try:
        data = json.loads(trace.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # cut short (the check was killed): it tells nothing
    return data if isinstance(data, dict) else {}


def _isolated_python(scratch: Path) -> Path:
    """A ``python`` launcher: this interpreter with ``-S`` (no site-packages), traced by the boot script."""
    folder = scratch / "check-bin"
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        launcher = folder / "python.bat"
        launcher.write_text(f'@"{sys.executable}" -S "{BOOT}" %*\r\n', encoding="utf-8")
    else:
        launcher = folder / "python"
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{BOOT}" "$@"\n', encoding="utf-8")
        launcher.chmod(0o755)
    return launcher
