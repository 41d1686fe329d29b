"""The user's own check: a command that must exit 0 and print what it printed with the original."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minimizer.errors import OracleError, ReferenceTimeout
from oracles import harness
from oracles._trace import relative, relative_coverage
from oracles.code_trace import env_key
from oracles.codetrace import TracedRun, traced_run_for
from oracles.protocol import REFERENCE_TIMEOUT, Coverage, Outcome, Traps, Verdict
from oracles.target import Target

BOOT = Path(__file__).with_name("_check_boot.py")


class CommandOracle:
    """Runs ``command`` through the shell with the candidate and the runtime importable.

    ``python`` (and ``$WHEEL_DDMIN_PYTHON``) in the command is the target interpreter (behind its
    emulator, if any) without its site-packages, so a numpy installed on the host can never stand
    in for the candidate's.
    """

    def __init__(
        self,
        command: str,
        runtime_paths: Sequence[Path],
        scratch: Path,
        target: Target,
        *,
        cwd: Path | None = None,
    ) -> None:
        self.command = command
        self.name = f"check {command!r}"
        self._runtime_paths = [str(p) for p in runtime_paths]
        self._cwd = cwd
        self._expected: bytes | None = None
        self._variants: dict[str, bytes] = {}  # what it printed under an added environment, by env_key
        self._scratch = scratch
        self._target = target
        self._python = _launcher(scratch / "check-bin", target.argv("-S", BOOT))

    def _run(
        self,
        paths: Sequence[str],
        timeout: float,
        python: str | None = None,
        trace: tuple[Path, Path] | None = None,
        run: TracedRun | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> harness.Completed:
        python = python or str(self._python)
        extra = {
            **(env or {}),
            "PYTHONPATH": os.pathsep.join(paths),
            "WHEEL_DDMIN_PYTHON": python,
            # What the boot script runs for interpreter flags it cannot play itself.
            "WHEEL_DDMIN_TARGET_ARGV": json.dumps(self._target.argv()),
            # This python first on PATH, so a plain `python` in the command is that one.
            "PATH": str(Path(python).parent) + os.pathsep + os.environ.get("PATH", ""),
            # The user's command runs with Python's own default here, not the oracles' no-bytecode one.
            "PYTHONDONTWRITEBYTECODE": None,
        }
        if trace is not None:
            extra["WHEEL_DDMIN_TRACE_ROOT"], extra["WHEEL_DDMIN_TRACE_DIR"] = map(str, trace)
        environ = harness.python_env(extra)
        shell = ["cmd", "/c"] if sys.platform == "win32" else ["/bin/sh", "-c"]
        argv = [*shell, self.command]
        if run is not None:
            argv, environ = run.argv(argv), run.env(environ)
        return harness.run(argv, timeout=timeout, env=environ, cwd=self._cwd)

    def reference(self, tree: Path, *, timeout: float = REFERENCE_TIMEOUT) -> Verdict:
        """Run the check twice on the original: it must pass, and print the same both times.

        A first run that fails ends it: a check that hangs costs one timeout, not two.
        """
        runs = []
        for _ in range(2):
            done, traced = self._traced(tree, timeout)
            if done.timed_out:
                raise ReferenceTimeout(
                    f"check {self.command!r} did not finish in {timeout:g} s with the original wheel"
                )
            if done.returncode != 0:
                detail = done.last_error_line() or f"exit code {done.returncode}"
                raise OracleError(f"check {self.command!r} fails with the original wheel: {detail}")
            runs.append((done, traced))
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

    def reference_env(self, tree: Path, env: Mapping[str, str | None]) -> None:
        """Record what the check prints on the original with ``env`` added, for ``trace``."""
        paths = [str(tree), *self._runtime_paths]
        first = self._run(paths, REFERENCE_TIMEOUT, env=env)
        # A first run that fails settles it: a second would only cost another timeout.
        if first.returncode != 0 or self._run(paths, REFERENCE_TIMEOUT, env=env).stdout != first.stdout:
            raise OracleError(f"check {self.command!r} fails or varies on the original with {dict(env)}")
        self._variants[env_key(env)] = first.stdout

    def trace(self, tree: Path, traps: Traps, *, timeout: float) -> Verdict:
        """``check`` under the code tracer: the verdict also says which entry traps were hit.

        Only a run that stands for the oracle's own (nothing planted, no environment added)
        traces Python as ``check`` does; the others run the check as a user would, since
        Python's tracing changes what runs (objects it keeps alive are never freed at exit).
        """
        expected = self._variants.get(env_key(traps.env)) if traps.env else self._expected
        if expected is None:
            return Verdict(Outcome.UNRESOLVED, "no reference run in this environment")
        with traced_run_for(self._target, tree, traps, self._scratch) as run:
            if traps.planted or traps.env:
                done = self._run([str(tree), *self._runtime_paths], timeout, run=run)
                return run.verdict(self._judge(done, expected))
            done, (opened, coverage) = self._traced(tree, timeout, run=run)
            judged = self._judge(done, expected)
            if judged.passed:
                judged = dataclasses.replace(judged, opened=opened, coverage=coverage)
            return run.verdict(judged)

    def _traced(
        self,
        tree: Path,
        timeout: float,
        run: TracedRun | None = None,
    ) -> tuple[harness.Completed, tuple[frozenset[str], Coverage | None]]:
        """One run against the candidate tree, and what it used there.

        Coverage is None when no python of the check traced itself (an interpreter flag the boot
        script does not play): then nothing is known of what ran, not that nothing ran.
        """
        with tempfile.TemporaryDirectory(prefix="trace-", dir=self._scratch) as folder:
            paths = [str(tree), *self._runtime_paths]
            done = self._run(paths, timeout, trace=(tree, Path(folder)), run=run)
            collected = [_load(f) for f in sorted(Path(folder).glob("*.json"))]
        opened = relative((p for data in collected for p in data.get("opened", [])), tree)
        known = collected and all(data.get("ran") is not None for data in collected)
        coverage = Coverage(*relative_coverage(collected, tree)) if known else None
        return done, (opened, coverage)

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        python = venv_python
        if self._target.emulated:  # the venv's python is the target's binary: run it through the emulator
            folder = Path(tempfile.mkdtemp(prefix="venv-bin-", dir=self._scratch))
            python = _launcher(folder, self._target.argv(executable=venv_python))
        return self._judge(self._run([], timeout, python=str(python)))

    def _judge(self, done: harness.Completed, expected: bytes | None = None) -> Verdict:
        if done.timed_out:
            return Verdict(Outcome.FAIL, f"timed out after {done.seconds:.1f} s", done.seconds)
        if done.returncode != 0:
            return Verdict(Outcome.FAIL, f"exit code {done.returncode}", done.seconds)
        if done.stdout != (self._expected if expected is None else expected):
            return Verdict(Outcome.FAIL, "output differs from the original", done.seconds)
        return Verdict(Outcome.PASS, "", done.seconds)


def _load(trace: Path) -> dict[str, Any]:
    try:
        data = json.loads(trace.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # cut short (the check was killed): it tells nothing
    return data if isinstance(data, dict) else {}


def _launcher(folder: Path, argv: Sequence[str]) -> Path:
    """A ``python`` in ``folder`` that runs ``argv`` with the arguments it is given."""
    folder.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        launcher = folder / "python.bat"
        launcher.write_text("@" + subprocess.list2cmdline(list(argv)) + " %*\r\n", encoding="utf-8")
    else:
        launcher = folder / "python"
        launcher.write_text(f'#!/bin/sh\nexec {shlex.join(argv)} "$@"\n', encoding="utf-8")
        launcher.chmod(0o755)
    return launcher
