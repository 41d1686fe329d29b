"""A fresh virtual environment made by the target interpreter for the final check, removed when done."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from minimizer.errors import OracleError
from oracles import harness
from oracles.target import Target

VENV_TIMEOUT = 300.0


@contextmanager
def fresh_venv(target: Target, parent: Path | None = None) -> Iterator[Path]:
    """Yield the python of a new venv of ``target``, with nothing installed, not even pip.

    ``venv`` without pip runs in the target alone; pip comes from ``oracles.pip``, which runs the
    target's bundled pip wheel (ensurepip would start a second interpreter, which an emulator
    without binfmt handlers cannot), with its temporary folder inside this one.
    """
    root = Path(tempfile.mkdtemp(prefix="wheel-ddmin-venv-", dir=parent))
    try:
        env = root / "env"
        argv = target.argv("-I", "-m", "venv", "--without-pip", env)
        done = harness.run(argv, timeout=VENV_TIMEOUT, env=harness.python_env())
        if done.returncode != 0:
            detail = "timed out" if done.timed_out else done.last_error_line()
            raise OracleError(f"{target.describe()} could not make a venv: {detail}")
        windows = target.system == "Windows"
        yield env / ("Scripts" if windows else "bin") / ("python.exe" if windows else "python")
    finally:
        shutil.rmtree(root, ignore_errors=True)
