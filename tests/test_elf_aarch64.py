"""The ELF edits on aarch64 objects (cross-compiled), loaded by an emulated aarch64 CPython.

The same checks as ``test_elf`` on the host's machine: LIEF must round-trip aarch64 objects, and
a dropped DT_NEEDED with weak-bound imports must load there and crash only when called.
"""

from __future__ import annotations

import shlex
import signal
from pathlib import Path

import pytest

from minimizer.elf import drop_needed, machine, needed, strip, target_machine
from tests.targets import arm64_python, cross_gcc
from tests.test_elf import USER_NO_LIBC_C, Built, _build, _run


@pytest.fixture(scope="module")
def python() -> list[str]:
    return shlex.split(arm64_python())


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "versioned"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(tmp_path_factory.mktemp("elf-arm64"), versioned=request.param, gcc=cross_gcc("aarch64"))


def test_the_objects_are_aarch64(built: Built) -> None:
    assert machine(built.user) == machine(built.foo) == target_machine("aarch64") == "AARCH64"
    assert "libfoo.so" in needed(built.user)


def test_unedited_loads_and_calls(built: Built, python: list[str], tmp_path: Path) -> None:
    done = _run(built.user, tmp_path, call=True, lib_dir=built.lib_dir, python=python)
    assert done.stdout == "7 43\n", done.stderr
    assert _run(built.user, tmp_path, call=False, lib_dir=None, python=python).returncode != 0


def test_drop_needed_loads_and_only_a_call_crashes(built: Built, python: list[str], tmp_path: Path) -> None:
    edited = drop_needed(built.user, "libfoo.so", built.foo)
    assert "libfoo.so" not in needed(edited) and machine(edited) == "AARCH64"
    loaded = _run(edited, tmp_path, call=False, lib_dir=None, python=python)
    assert (loaded.returncode, loaded.stdout) == (0, "7 -\n"), loaded.stderr
    called = _run(edited, tmp_path, call=True, lib_dir=None, python=python)
    assert called.returncode == -signal.SIGSEGV, called.stderr


def test_strip_round_trips(built: Built, python: list[str], tmp_path: Path) -> None:
    stripped_dir = tmp_path / "stripped"
    stripped_dir.mkdir()
    (stripped_dir / "libfoo.so").write_bytes(strip(built.foo))
    stripped = strip(built.user)
    assert len(stripped) < len(built.user)
    done = _run(stripped, tmp_path, call=True, lib_dir=stripped_dir, python=python)
    assert (done.returncode, done.stdout) == (0, "7 43\n"), done.stderr
    edited = strip(drop_needed(built.user, "libfoo.so", built.foo))
    done = _run(edited, tmp_path, call=False, lib_dir=None, python=python)
    assert (done.returncode, done.stdout) == (0, "7 -\n"), done.stderr


def test_drop_the_only_versioned_dependency(python: list[str], tmp_path: Path) -> None:
    built = _build(tmp_path / "build", versioned=True, user_c=USER_NO_LIBC_C, gcc=cross_gcc("aarch64"))
    edited = drop_needed(built.user, "libfoo.so", built.foo)
    for variant in (edited, strip(edited)):
        done = _run(variant, tmp_path, call=False, lib_dir=None, python=python)
        assert (done.returncode, done.stdout) == (0, "7 -\n"), done.stderr
