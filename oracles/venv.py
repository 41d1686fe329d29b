"""A fresh virtual environment for the final check, removed when done."""

from __future__ import annotations

import shutil
import sys
import tempfile
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from minimizer.errors import OracleError
from oracles import harness

ENSUREPIP_TIMEOUT = 300.0


@contextmanager
def fresh_venv(parent: Path | None = None) -> Iterator[Path]:
    """Yield the python of a new venv with its own pip, and nothing else installed.

    ensurepip runs as our own subprocess, with its temporary folder inside the venv's folder: an
    interrupt kills it there, and removing the folder removes what it unpacked.
    """
    root = Path(tempfile.mkdtemp(prefix="wheel-ddmin-venv-", dir=parent))
    try:
        venv.EnvBuilder(with_pip=False, clear=True).create(root / "env")
        bindir = "Scripts" if sys.platform == "win32" else "bin"
        python = root / "env" / bindir / ("python.exe" if sys.platform == "win32" else "python")
        tmp = root / "tmp"
        tmp.mkdir()
        env = harness.python_env({"TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)})
        done = harness.run(
            [str(python), "-m", "ensurepip", "--upgrade", "--default-pip"], timeout=ENSUREPIP_TIMEOUT, env=env
        )
        if done.returncode != 0:
            raise OracleError(
                f"cannot set up pip in a fresh venv: {done.last_error_line() or 'ensurepip failed'}"
            )
        yield python
    finally:
        shutil.rmtree(root, ignore_errors=True)
