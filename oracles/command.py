"""The user's own check: a command that must exit 0 and print what it printed with the original."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from minimizer.errors import OracleError
from oracles import harness
from oracles.protocol import Outcome, Verdict

REFERENCE_TIMEOUT = 300.0


class CommandOracle:
    """Runs ``command`` through the shell with the candidate and the runtime importable."""

    def __init__(self, command: str, runtime_paths: Sequence[Path], *, cwd: Path | None = None) -> None:
        self.command = command
        self.name = f"check {command!r}"
        self._runtime_paths = [str(p) for p in runtime_paths]
        self._cwd = cwd
        self._expected: bytes | None = None

    def _run(self, paths: Sequence[str], timeout: float, python: str | None = None) -> harness.Completed:
        extra = {"PYTHONPATH": os.pathsep.join(paths), "WHEEL_DDMIN_PYTHON": python or sys.executable}
        if python is not None:
            # The venv's python first on PATH, so a plain `python` in the command is that one.
            extra["PATH"] = str(Path(python).parent) + os.pathsep + os.environ.get("PATH", "")
        env = harness.python_env(extra)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        shell = ["cmd", "/c"] if sys.platform == "win32" else ["/bin/sh", "-c"]
        return harness.run([*shell, self.command], timeout=timeout, env=env, cwd=self._cwd)

    def reference(self, tree: Path) -> Verdict:
        done = self._run([str(tree), *self._runtime_paths], REFERENCE_TIMEOUT)
        if done.returncode != 0:
            detail = done.last_error_line() or f"exit code {done.returncode}"
            raise OracleError(f"check {self.command!r} fails with the original wheel: {detail}")
        self._expected = done.stdout
        return Verdict(Outcome.PASS, "reference", done.seconds)

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        return self._judge(self._run([str(tree), *self._runtime_paths], timeout))

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
