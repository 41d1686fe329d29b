"""Other interpreters for the tests: an emulated aarch64 CPython, cross-compilers, pyenv's Pythons.

Each helper skips the test with the reason when what it needs is absent, except under CI
(``WHEEL_DDMIN_CI=1``, set by ``.ci/run``, which installs all of it): there a missing piece fails.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

# README's recipe builds this with mmdebstrap; .ci/run does it when it is missing.
ARM64_SYSROOT = Path(os.environ.get("WHEEL_DDMIN_ARM64_SYSROOT") or REPO / ".cache" / "sysroot-arm64")
PYENV = Path.home() / ".pyenv" / "versions"


def _missing(reason: str) -> None:
    if os.environ.get("WHEEL_DDMIN_CI") == "1":
        pytest.fail(f"CI must have this: {reason}")
    pytest.skip(reason)


def arm64_python() -> str:
    """The command line of an emulated aarch64 CPython 3.11 (qemu-aarch64 and a Debian sysroot)."""
    qemu = shutil.which("qemu-aarch64")
    python = ARM64_SYSROOT / "usr" / "bin" / "python3.11"
    if qemu is None:
        _missing("qemu-aarch64 is not installed (apt-get install qemu-user)")
    if not python.is_file():
        _missing(f"no aarch64 sysroot at {ARM64_SYSROOT} (README: 'Minimizing for another machine')")
    return shlex.join([str(qemu), "-L", str(ARM64_SYSROOT), str(python)])


def cross_gcc(machine: str) -> str:
    """A C compiler for ``machine``: the host's gcc, or a Debian cross-compiler."""
    name = "gcc" if machine == os.uname().machine else f"{machine}-linux-gnu-gcc"
    found = shutil.which(name)
    if found is None:
        _missing(
            f"{name} is not installed"
            + ("" if name == "gcc" else f" (apt-get install gcc-{machine}-linux-gnu)")
        )
    return str(found)


def pyenv_python(version_prefix: str) -> Path:
    """pyenv's CPython ``3.12``, say: ``~/.pyenv/versions/3.12.*/bin/python``."""
    found = sorted(PYENV.glob(f"{version_prefix}.*/bin/python")) if PYENV.is_dir() else []
    if not found:
        pytest.skip(f"no CPython {version_prefix} under {PYENV}")
    return found[-1]
