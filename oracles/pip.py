"""pip as a subprocess: the host's pip downloads and fills folders for the target; the target's own
pip installs into the target's venv.

Downloads and ``--target`` folders use the host's pip with the target's tags spelled out
(``--platform``, ``--python-version``, ``--implementation``, ``--abi``): one pip, the same tag set
the input check uses, and fast (under emulation the target's own pip takes about 10 s to download
two wheels, the host's under 1 s). Markers of the requirements named here are evaluated for the
target by the caller; pip evaluates those of their own dependencies on the host. pip keeps its
temporary folders inside ours, so that an interrupt leaves nothing in the system's.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from minimizer.errors import InputError, OracleError
from oracles import harness
from oracles.target import Target

PIP_TIMEOUT = 900.0
_QUIET = ["--disable-pip-version-check", "--no-input"]
_HOST_PIP = (sys.executable, "-m", "pip")
# The target's pip, run from the wheel its ensurepip would install (ensurepip itself starts a
# second interpreter, which an emulator without binfmt handlers cannot do).
_FROM_WHEEL = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('pip', run_name='__main__')"
)


def _tmp_env(tmp: Path) -> dict[str, str]:
    return harness.python_env({"TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)})


def _pip(args: Sequence[str], *, tmp: Path, pip: Sequence[str] = _HOST_PIP) -> harness.Completed:
    """A pip (the host's by default), its temporary folders in ``tmp``, which the caller removes even
    if pip is killed."""
    return harness.run([*pip, *_QUIET, *args], timeout=PIP_TIMEOUT, env=_tmp_env(tmp))


def download(requirement: str, dest: Path, target: Target) -> Path:
    """Download the one wheel of ``requirement`` that fits ``target`` into ``dest``; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        got, scratch = Path(tmp) / "got", Path(tmp) / "tmp"
        scratch.mkdir()
        args = ["download", "--no-deps", *target.pip_options, "-d", str(got), requirement]
        result = _pip(args, tmp=scratch)
        wheels = sorted(got.glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            detail = result.last_error_line()
            raise InputError(f"cannot download {requirement!r} for {target.describe()}: {detail}")
        final = dest / wheels[0].name
        wheels[0].replace(final)
    return final


def wheels_of(requirements: Sequence[str], dest: Path, target: Target) -> None:
    """Wheels for ``target`` of ``requirements`` and of everything they need, into ``dest``.

    For the interpreter running pip, ``pip wheel`` builds what has no wheel; for another one,
    nothing can be built here, so only released wheels that fit it are downloaded.
    """
    if target.is_host:
        args = ["wheel", "--wheel-dir", str(dest), *requirements]
    else:
        args = ["download", *target.pip_options, "-d", str(dest), *requirements]
    with tempfile.TemporaryDirectory(prefix=".wheels-", dir=dest) as tmp:
        result = _pip(args, tmp=Path(tmp))
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


def install_target(
    wheels: Sequence[Path], folder: Path, *, options: Sequence[str] = (), deps: Sequence[str] = ()
) -> None:
    """Install wheels without their dependencies (plus the named ones, with theirs) into a folder.

    ``options`` select another interpreter's wheels (``Target.pip_options``).
    """
    result = harness.Completed(0, b"", b"", 0.0)
    folder.mkdir(parents=True, exist_ok=True)
    common = ["install", "--no-compile", "--target", str(folder), *options]
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=folder.parent) as tmp:
        if wheels:
            result = _pip([*common, "--no-deps", "--no-index", *map(str, wheels)], tmp=Path(tmp))
        if result.returncode == 0 and deps:
            result = _pip([*common, *deps], tmp=Path(tmp))
    if result.returncode != 0:
        what = ", ".join([w.name for w in wheels] + list(deps))
        raise OracleError(f"cannot install {what}: {result.last_error_line()}")


def install_venv(
    target: Target, venv_python: Path, wheels: Sequence[Path], *, deps: Sequence[str] = ()
) -> None:
    """A real ``pip install --no-deps`` of the wheels by the target's pip into its venv, then ``deps``.

    The wheels go first: pip then keeps the numpy they bring when a dependency also asks for one.
    """
    if not target.pip_wheel:
        raise OracleError(f"{target.describe()} has no bundled pip to verify with (--no-verify skips it)")
    pip = target.argv("-I", "-c", _FROM_WHEEL, target.pip_wheel, executable=venv_python)
    # Inside the venv, which its maker removes: an interrupted pip leaves nothing in the system temp.
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=venv_python.parent.parent) as tmp:
        result = _pip(["install", "--no-deps", "--no-index", *map(str, wheels)], tmp=Path(tmp), pip=pip)
        if result.returncode == 0 and deps:
            result = _pip(["install", *deps], tmp=Path(tmp), pip=pip)
    if result.returncode != 0:
        raise OracleError(f"pip install failed: {result.last_error_line()}")
