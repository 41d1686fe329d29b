"""pip, run as a subprocess of this interpreter: download wheels, install them into a folder or a venv."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from minimizer.errors import InputError, OracleError
from oracles import harness

PIP_TIMEOUT = 900.0


def _pip(args: Sequence[str], *, python: str = sys.executable) -> harness.Completed:
    argv = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    return harness.run(argv, timeout=PIP_TIMEOUT, env=harness.python_env())


def download(requirement: str, dest: Path, *, python: str = sys.executable) -> Path:
    """Download the one wheel of ``requirement`` that fits ``python`` into ``dest``; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        result = _pip(["download", "--no-deps", "--only-binary=:all:", "-d", tmp, requirement], python=python)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise InputError(f"cannot download {requirement!r}: {result.last_error_line()}")
        final = dest / wheels[0].name
        wheels[0].replace(final)
    return final


def install_target(wheels: Sequence[Path], target: Path, *, deps: Sequence[str] = ()) -> None:
    """Install wheels without their dependencies (plus the named ones, with theirs) into a folder."""
    result = harness.Completed(0, b"", b"", 0.0)
    if wheels:
        result = _pip(["install", "--no-deps", "--no-compile", "--target", str(target), *map(str, wheels)])
    if result.returncode == 0 and deps:
        result = _pip(["install", "--no-compile", "--target", str(target), *deps])
    if result.returncode != 0:
        what = ", ".join([w.name for w in wheels] + list(deps))
        raise OracleError(f"cannot install {what}: {result.last_error_line()}")


def install_venv(venv_python: Path, wheels: Sequence[Path], *, deps: Sequence[str] = ()) -> None:
    """A real ``pip install --no-deps`` of the given wheels into an existing venv, then ``deps``.

    The wheels go first: pip then keeps the numpy they bring when a dependency also asks for one.
    """
    result = _pip(["install", "--no-deps", "--no-index", *map(str, wheels)], python=str(venv_python))
    if result.returncode == 0 and deps:
        result = _pip(["install", *deps], python=str(venv_python))
    if result.returncode != 0:
        raise OracleError(f"pip install failed: {result.last_error_line()}")
