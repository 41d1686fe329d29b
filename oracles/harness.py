"""Subprocesses for oracles: own process group, hard timeout, the whole group killed on expiry."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Completed:
    """What a finished (or killed) subprocess left behind."""

    returncode: int | None  # None when it was killed for exceeding its timeout
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def last_error_line(self) -> str:
        lines = [line for line in self.stderr.decode(errors="replace").splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> Completed:
    """Run argv; on timeout kill its whole process group, so grandchildren cannot linger."""
    start = time.monotonic()
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=sys.platform != "win32",
        creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
    ) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            code = None
        except BaseException:
            _kill_group(process)
            raise
    return Completed(code, out, err, time.monotonic() - start)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if sys.platform == "win32":
        # taskkill /T ends the tree; the process-group flag alone does not.
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(process.pid)], capture_output=True, check=False)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def python_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The host environment minus what would let a candidate see another numpy or write bytecode.

    ``extra`` adds variables; a None value removes one.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    # One BLAS/OpenMP thread per run: runs already go in parallel, and threads would oversubscribe.
    for name in THREAD_VARIABLES:
        env.setdefault(name, "1")
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def host_threads() -> dict[str, str | None]:
    """The thread settings the host really has (None: unset), which ``python_env`` overrides.

    Libraries take other paths with their default thread counts (OpenBLAS starts its threads at
    load): a run that must see what a program does outside the oracle restores these.
    """
    return {name: os.environ.get(name) for name in THREAD_VARIABLES}
