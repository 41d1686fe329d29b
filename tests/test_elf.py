"""Tests for minimizer.elf on tiny shared objects built with gcc at test time."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lief
import pytest

from minimizer.elf import drop_needed, is_elf, needed, strip
from minimizer.errors import ElfError

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed")

FOO_C = "int foo(void) { return 42; }\n"
# foo() is only reached through call_foo(), which nothing calls at load time.
# answer() goes through libc, so libc stays DT_NEEDED and versioned.
USER_C = """
#include <stdlib.h>
int foo(void);
int call_foo(void) { return foo() + 1; }
int answer(void) { return atoi("7"); }
"""
# Without libc imports, libfoo's version is the only one libuser requires.
USER_NO_LIBC_C = """
int foo(void);
int call_foo(void) { return foo() + 1; }
int answer(void) { return 7; }
"""
FOO_VERSIONS = "FOO_1.0 { global: foo; local: *; };\n"

# Prints "<answer()> <call_foo() or ->" so one run checks loading and calling.
PROBE = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
print(lib.answer(), end=" ", flush=True)
print(lib.call_foo() if sys.argv[2] == "call" else "-", flush=True)
"""


@dataclass(frozen=True)
class Built:
    """One pair of gcc-built objects: libfoo.so and libuser.so linking it."""

    lib_dir: Path
    foo: bytes
    user: bytes


def _gcc(*args: str | Path, gcc: str | None = GCC) -> None:
    assert gcc is not None
    subprocess.run([gcc, *map(str, args)], check=True, capture_output=True)


def _build(root: Path, *, versioned: bool, user_c: str = USER_C, gcc: str | None = GCC) -> Built:
    lib_dir = root / "lib"
    lib_dir.mkdir(parents=True)
    (root / "foo.c").write_text(FOO_C)
    (root / "user.c").write_text(user_c)
    foo_flags: list[str | Path] = []
    if versioned:
        (root / "foo.map").write_text(FOO_VERSIONS)
        foo_flags = [f"-Wl,--version-script={root / 'foo.map'}"]
    # -g gives strip() debug sections to remove.
    common = ["-g", "-O1", "-shared", "-fPIC"]
    _gcc(
        *common,
        *foo_flags,
        "-Wl,-soname,libfoo.so",
        "-o",
        lib_dir / "libfoo.so",
        root / "foo.c",
        gcc=gcc,
    )
    # No rpath: libuser finds libfoo only through LD_LIBRARY_PATH.
    _gcc(*common, "-o", root / "libuser.so", root / "user.c", f"-L{lib_dir}", "-lfoo", gcc=gcc)
    return Built(
        lib_dir,
        (lib_dir / "libfoo.so").read_bytes(),
        (root / "libuser.so").read_bytes(),
    )


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "versioned"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    if GCC is None:
        pytest.skip("gcc is not installed")
    versioned: bool = request.param
    return _build(tmp_path_factory.mktemp("elf"), versioned=versioned)


def _run(
    obj: bytes, tmp_path: Path, *, call: bool, lib_dir: Path | None, python: Sequence[str] = (sys.executable,)
) -> subprocess.CompletedProcess[str]:
    # A subprocess, so that a crashing load or call cannot take pytest down.
    path = tmp_path / "probe.so"
    path.write_bytes(obj)
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    if lib_dir is not None:
        env["LD_LIBRARY_PATH"] = str(lib_dir)
    argv = [*python, "-S", "-c", PROBE, str(path), "call" if call else "load"]
    return subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=30)


def _parse(data: bytes) -> lief.ELF.Binary:
    binary = lief.ELF.parse(io.BytesIO(data))
    assert binary is not None
    return binary


def _section_names(data: bytes) -> set[str]:
    # Keep the binary referenced: LIEF's section views do not keep it alive.
    binary = _parse(data)
    return {str(s.name) for s in binary.sections}


@needs_gcc
def test_is_elf_and_needed(built: Built) -> None:
    assert is_elf(built.user)
    assert is_elf(built.foo)
    deps = needed(built.user)
    assert "libfoo.so" in deps
    assert "libc.so.6" in deps
    assert "libfoo.so" not in needed(built.foo)


@needs_gcc
def test_unedited_user_lib_needs_libfoo(built: Built, tmp_path: Path) -> None:
    assert _run(built.user, tmp_path, call=True, lib_dir=built.lib_dir).stdout == "7 43\n"
    assert _run(built.user, tmp_path, call=False, lib_dir=None).returncode != 0


@needs_gcc
def test_drop_needed_loads_without_the_library(built: Built, tmp_path: Path) -> None:
    edited = drop_needed(built.user, "libfoo.so", built.foo)
    assert "libfoo.so" not in needed(edited)
    assert "libc.so.6" in needed(edited)
    loaded = _run(edited, tmp_path, call=False, lib_dir=None)
    assert (loaded.returncode, loaded.stdout) == (0, "7 -\n"), loaded.stderr
    # The weakened import resolves to address 0: calling it must crash.
    called = _run(edited, tmp_path, call=True, lib_dir=None)
    assert called.returncode == -signal.SIGSEGV


@needs_gcc
def test_drop_needed_weakens_imports_and_drops_verneed(built: Built) -> None:
    binary = _parse(drop_needed(built.user, "libfoo.so", built.foo))
    foo = binary.get_dynamic_symbol("foo")
    assert foo is not None
    assert foo.binding == lief.ELF.Symbol.BINDING.WEAK
    assert binary.find_version_requirement("libfoo.so") is None
    # Version requirements on other libraries survive.
    original = _parse(built.user)
    had_libc = original.find_version_requirement("libc.so.6") is not None
    assert (binary.find_version_requirement("libc.so.6") is not None) == had_libc


@needs_gcc
def test_drop_needed_of_the_only_versioned_dependency(tmp_path: Path) -> None:
    # Leaves no verneed at all: a DT_VERSYM left behind crashes glibc's loader.
    built = _build(tmp_path / "build", versioned=True, user_c=USER_NO_LIBC_C)
    edited = drop_needed(built.user, "libfoo.so", built.foo)
    for variant in (edited, strip(edited)):
        result = _run(variant, tmp_path, call=False, lib_dir=None)
        assert (result.returncode, result.stdout) == (0, "7 -\n"), result.stderr


@needs_gcc
def test_drop_needed_rejects_absent_library(built: Built) -> None:
    with pytest.raises(ElfError):
        drop_needed(built.user, "libnope.so", built.foo)


@needs_gcc
def test_strip_shrinks_and_still_works(built: Built, tmp_path: Path) -> None:
    stripped_user = strip(built.user)
    stripped_foo = strip(built.foo)
    for before, after in ((built.user, stripped_user), (built.foo, stripped_foo)):
        assert len(after) < len(before)
        names = _section_names(after)
        assert not names & {".symtab", ".strtab", ".comment"}
        assert not any(n.startswith(".debug") for n in names)
        assert {".dynsym", ".dynstr", ".dynamic"} <= names
    stripped_dir = tmp_path / "stripped"
    stripped_dir.mkdir()
    (stripped_dir / "libfoo.so").write_bytes(stripped_foo)
    result = _run(stripped_user, tmp_path, call=True, lib_dir=stripped_dir)
    assert (result.returncode, result.stdout) == (0, "7 43\n"), result.stderr


@needs_gcc
def test_strip_after_drop_needed_still_loads(built: Built, tmp_path: Path) -> None:
    edited = strip(drop_needed(built.user, "libfoo.so", built.foo))
    result = _run(edited, tmp_path, call=False, lib_dir=None)
    assert (result.returncode, result.stdout) == (0, "7 -\n"), result.stderr


@needs_gcc
def test_strip_refuses_relocatable_object(tmp_path: Path) -> None:
    (tmp_path / "foo.c").write_text(FOO_C)
    _gcc("-c", "-o", tmp_path / "foo.o", tmp_path / "foo.c")
    with pytest.raises(ElfError):
        strip((tmp_path / "foo.o").read_bytes())


GARBAGE = [
    b"",
    b"garbage",
    b"\x7fELF" + b"\x00" * 60,
    b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4,
]


@pytest.mark.parametrize("data", GARBAGE, ids=["empty", "text", "zero-header", "noise"])
def test_garbage_raises(data: bytes) -> None:
    assert not is_elf(data)
    with pytest.raises(ElfError):
        needed(data)
    with pytest.raises(ElfError):
        strip(data)
    with pytest.raises(ElfError):
        drop_needed(data, "libfoo.so", data)


def test_bytes_that_name_a_file_are_not_read_as_a_path() -> None:
    # lief.ELF.parse(bytes) opens short bytes as a path; ours must not.
    assert not is_elf(sys.executable.encode())


@needs_gcc
def test_truncated_elf_raises(built: Built) -> None:
    with pytest.raises(ElfError):
        needed(built.user[: len(built.user) // 2])


@needs_gcc
def test_garbage_library_data_raises(built: Built) -> None:
    with pytest.raises(ElfError):
        drop_needed(built.user, "libfoo.so", b"not an elf")
