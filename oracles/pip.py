"""pip, run as a subprocess of this interpreter: download wheels, install them into a folder or a venv."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from minimizer.errors import InputError, OracleError
from oracles import harness

PIP_TIMEOUT = 900.0


def _pip(args: Sequence[str], *, tmp: Path, python: str = sys.executable) -> harness.Completed:
    """pip with its temporary folders in ``tmp``, which the caller removes even if pip is killed."""
    argv = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    env = harness.python_env({"TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)})
    return harness.run(argv, timeout=PIP_TIMEOUT, env=env)


def download(requirement: str, dest: Path, *, python: str = sys.executable) -> Path:
    """Download the one wheel of ``requirement`` that fits ``python`` into ``dest``; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        got, scratch = Path(tmp) / "got", Path(tmp) / "tmp"
        scratch.mkdir()
        args = ["download", "--no-deps", "--only-binary=:all:", "-d", str(got), requirement]
        result = _pip(args, tmp=scratch, python=python)
        wheels = sorted(got.glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            raise InputError(f"cannot download {requirement!r}: {result.last_error_line()}")
        final = dest / wheels[0].name
        wheels[0].replace(final)
    return final


def wheels_of(requirements: Sequence[str], dest: Path) -> None:
    """Wheels of ``requirements`` and of everything they need, into ``dest`` (built when need be)."""
    with tempfile.TemporaryDirectory(prefix=".wheels-", dir=dest) as tmp:
        result = _pip(["wheel", "--wheel-dir", str(dest), *requirements], tmp=Path(tmp))
    if result.returncode != 0:
        raise OracleError(f"cannot download {', '.join(requirements)}: {result.last_error_line()}")


def download_resolved(
    requirements: Sequence[str], dest: Path, *, constraints: Path, options: Sequence[str] = ()
) -> harness.Completed:
    """Resolve ``requirements`` (``-r FILE`` allowed) under ``constraints``; download every wheel.

    ``options`` select another interpreter's wheels (``--platform``, ``--python-version``, ...).
    The caller reads the outcome: a failed resolution is the user's to fix, and pip says why.
    """
    dest.mkdir(parents=True, exist_ok=True)
    args = ["download", "--only-binary=:all:", *options, "-c", str(constraints), "-d", str(dest)]
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=dest.parent) as tmp:
        return _pip([*args, *requirements], tmp=Path(tmp))


def install_target(wheels: Sequence[Path], target: Path, *, deps: Sequence[str] = ()) -> None:
    """Install wheels without their dependencies (plus the named ones, with theirs) into a folder."""
    result = harness.Completed(0, b"", b"", 0.0)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=target.parent) as tmp:
        if wheels:
            args = ["install", "--no-deps", "--no-index", "--no-compile", "--target", str(target)]
            result = _pip([*args, *map(str, wheels)], tmp=Path(tmp))
        if result.returncode == 0 and deps:
            result = _pip(["install", "--no-compile", "--target", str(target), *deps], tmp=Path(tmp))
    if result.returncode != 0:
        what = ", ".join([w.name for w in wheels] + list(deps))
        raise OracleError(f"cannot install {what}: {result.last_error_line()}")


def install_venv(venv_python: Path, wheels: Sequence[Path], *, deps: Sequence[str] = ()) -> None:
    """A real ``pip install --no-deps`` of the given wheels into an existing venv, then ``deps``.

    The wheels go first: pip then keeps the numpy they bring when a dependency also asks for one.
    """
    python = str(venv_python)
    # Inside the venv, which its maker removes: an interrupted pip leaves nothing in the system temp.
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=venv_python.parent.parent) as tmp:
        result = _pip(["install", "--no-deps", "--no-index", *map(str, wheels)], tmp=Path(tmp), python=python)
        if result.returncode == 0 and deps:
            result = _pip(["install", *deps], tmp=Path(tmp), python=python)
    if result.returncode != 0:
        raise OracleError(f"pip install failed: {result.last_error_line()}")
