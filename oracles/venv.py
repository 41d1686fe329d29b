"""A fresh virtual environment for the final check, removed when done."""

from __future__ import annotations

import shutil
import sys
import tempfile
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fresh_venv(parent: Path | None = None) -> Iterator[Path]:
    """Yield the python of a new venv with its own pip, and nothing else installed."""
    root = Path(tempfile.mkdtemp(prefix="wheel-ddmin-venv-", dir=parent))
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        bindir = "Scripts" if sys.platform == "win32" else "bin"
        name = "python.exe" if sys.platform == "win32" else "python"
        yield root / bindir / name
    finally:
        shutil.rmtree(root, ignore_errors=True)
