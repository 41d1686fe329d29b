"""Minimizing for another interpreter: an emulated aarch64 CPython, and the other CPythons installed here."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import cli
from minimizer.api import workspace_for
from minimizer.elf import machine, needed
from minimizer.elf_code import function_table
from minimizer.wheelfile import read_wheel
from oracles import runtime
from oracles.target import probe
from tests.conftest import FIXTURES, build_wheel
from tests.targets import arm64_python, cross_gcc, pyenv_python
from tests.test_integration import CHECK, ENTRY_POINTS, TOY

MACHINE_CHECK = 'python -c "import platform, toypkg; print(toypkg.answer(), platform.machine())"'


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(TOY, entry_points=ENTRY_POINTS)


def _minimize(argv: list[str], tmp_path: Path) -> dict[str, object]:
    report = tmp_path / "report.json"
    assert cli.main([*argv, "-o", str(tmp_path / "out"), "--report", str(report), "--quiet"]) == 0
    data: dict[str, object] = json.loads(report.read_text())
    return data


def _members(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {n for n in archive.namelist() if ".dist-info/" not in n}


def test_a_pure_wheel_under_emulated_aarch64(toy_wheel: Path, tmp_path: Path) -> None:
    """The check's `python` is the target: it prints aarch64, and so does the pip-installed result."""
    data = _minimize([str(toy_wheel), "--check", MACHINE_CHECK, "--python", arm64_python()], tmp_path)
    assert data["verified"] is True
    environment = data["environment"]
    assert isinstance(environment, dict)
    assert environment["machine"] == "aarch64" and "qemu-aarch64" in environment["emulator"]
    assert _members(tmp_path / "out" / toy_wheel.name) == {
        "toypkg/__init__.py",
        "toypkg/core.py",
        "toypkg/LICENSE.txt",
    }


def test_interpreter_flags_in_a_check_run_on_the_target(toy_wheel: Path, tmp_path: Path) -> None:
    """`python -X utf8 ...` is handed to the target's own command line (behind its emulator)."""
    check = 'python -X utf8 -c "import platform; print(platform.machine())"'
    argv = [
        str(toy_wheel),
        "--check",
        check,
        "--check",
        CHECK,
        "--python",
        arm64_python(),
        "--passes",
        "files",
    ]
    assert _minimize(argv, tmp_path)["verified"] is True


# A wheel with aarch64 machine code: a library that needs another one it never calls.

TOY_C = """
int helper(void);
int answer(void) { return 42; }
int unused_path(void) { return helper(); }
"""
HELPER_C = "int helper(void) { return 7; }\nstatic const char padding[65536] = {1};\n"
HELPER_C += "const char *keep_padding(void) { return padding; }\n"
TOY_INIT = """\
import ctypes, os
_lib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "libtoy.so"))

def answer():
    return _lib.answer()
"""


def _native_wheel(folder: Path, wheel_machine: str) -> Path:
    gcc = cross_gcc(wheel_machine)
    libs = folder / "toyelf.libs"
    libs.mkdir(parents=True)
    (folder / "toy.c").write_text(TOY_C)
    (folder / "helper.c").write_text(HELPER_C)
    common = ["-g", "-O1", "-shared", "-fPIC"]
    subprocess.run(
        [gcc, *common, "-Wl,-soname,libhelper.so", "-o", libs / "libhelper.so", folder / "helper.c"],
        check=True,
    )
    rpath = "-Wl,-rpath,$ORIGIN/../toyelf.libs"
    subprocess.run(
        [gcc, *common, rpath, "-o", folder / "libtoy.so", folder / "toy.c", f"-L{libs}", "-lhelper"],
        check=True,
    )
    files = {
        "toyelf/__init__.py": TOY_INIT,
        "toyelf/libtoy.so": (folder / "libtoy.so").read_bytes(),
        "toyelf.libs/libhelper.so": (libs / "libhelper.so").read_bytes(),
    }
    return build_wheel(folder, files, name="toyelf", tag=f"py3-none-manylinux_2_17_{wheel_machine}")


def test_native_code_for_aarch64_is_unlinked_trapped_and_stripped_under_emulation(tmp_path: Path) -> None:
    """native, machine (traced through qemu's code log) and strip, on aarch64 code under qemu."""
    wheel = _native_wheel(tmp_path / "build", "aarch64")
    check = 'python -c "import toyelf; print(toyelf.answer())"'
    data = _minimize([str(wheel), "--check", check, "--python", arm64_python()], tmp_path)
    assert data["verified"] is True
    out = tmp_path / "out" / wheel.name
    assert _members(out) == {"toyelf/__init__.py", "toyelf/libtoy.so"}
    with zipfile.ZipFile(out) as archive:
        library = archive.read("toyelf/libtoy.so")
    assert machine(library) == "AARCH64" and "libhelper.so" not in needed(library)
    assert len(library) < len((tmp_path / "build" / "libtoy.so").read_bytes()), "stripped"
    machine_code = data["machine_code"]
    assert isinstance(machine_code, dict) and machine_code["cpu"]["machine"] == "aarch64"
    [libtoy] = [o for o in machine_code["objects"] if o["wheel_path"] == "toyelf/libtoy.so"]
    # unused_path() never runs: the trace under emulation says so, and it becomes traps.
    assert libtoy["how"] == "trace" and libtoy["removed"] >= 1


# Calls unused() only when marker() is traps: never in the traced run (qemu's log needs no trap
# planted), in every proposal. The proposal hits a trap, and the trap names unused() to restore.
SHY_C = """
int used(int x) { return x + 1; }
int unused(int x) { return x * 5 + 2; }
int marker(int x) { return x - 9; }
"""
SHY_CHECK = (
    'python -c "import ctypes, toyshy; lib = toyshy.lib; '
    "entry = ctypes.string_at(ctypes.cast(lib.marker, ctypes.c_void_p).value, 4); "
    "entry == bytes.fromhex('000020d4') and lib.unused(1); "
    'print(lib.used(1))"'
)


def test_a_proposal_that_hits_a_trap_under_emulation_is_repaired(tmp_path: Path) -> None:
    """The failed run's code log names the trap, the function holding it comes back: no ddmin."""
    (tmp_path / "shy.c").write_text(SHY_C)
    library = tmp_path / "libshy.so"
    subprocess.run(
        [cross_gcc("aarch64"), "-O1", "-shared", "-fPIC", "-o", library, tmp_path / "shy.c"], check=True
    )
    init = "import ctypes, os\nlib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), 'libshy.so'))\n"
    files = {"toyshy/__init__.py": init, "toyshy/libshy.so": library.read_bytes()}
    wheel = build_wheel(tmp_path, files, name="toyshy", tag="py3-none-manylinux_2_17_aarch64")
    argv = [str(wheel), "--check", SHY_CHECK, "--python", arm64_python(), "--passes", "machine"]
    data = _minimize([*argv, "--jobs", "1", "--no-verify"], tmp_path)
    machine_code = data["machine_code"]
    assert isinstance(machine_code, dict)
    [libshy] = machine_code["objects"]
    assert libshy["how"] == "trace+repair"
    # numpy's CPU question, the traced run, the failed proposal, the repaired one as the oracle
    # runs it and as the traced run ran.
    passes = data["passes"]
    assert isinstance(passes, list)
    assert {p["name"]: p["runs"] for p in passes}["machine"] == 5
    table = function_table(library.read_bytes())
    assert table is not None
    with zipfile.ZipFile(tmp_path / "out" / wheel.name) as archive:
        reduced = archive.read("toyshy/libshy.so")
    for function in table.functions:
        kept = reduced[function.offset : function.end] == library.read_bytes()[function.offset : function.end]
        assert kept == ("marker" not in function.names), function.names


def test_elf_passes_leave_objects_of_another_machine_alone(
    wheel_factory: Callable[..., Path], tmp_path: Path
) -> None:
    """An aarch64 object in a wheel minimized for this x86_64 interpreter is not stripped."""
    if os.uname().machine == "aarch64":
        pytest.skip("this host is aarch64")
    (tmp_path / "helper.c").write_text(HELPER_C)
    library = tmp_path / "libforeign.so"
    subprocess.run(
        [cross_gcc("aarch64"), "-g", "-shared", "-fPIC", "-o", library, tmp_path / "helper.c"], check=True
    )
    wheel = wheel_factory({"toypkg/__init__.py": "", "toypkg/libforeign.so": library.read_bytes()})
    check = 'python -c "import toypkg"'
    assert _minimize([str(wheel), "--check", check, "--passes", "strip"], tmp_path)["verified"] is True
    with zipfile.ZipFile(tmp_path / "out" / wheel.name) as archive:
        assert archive.read("toypkg/libforeign.so") == library.read_bytes()


def test_an_aarch64_wheel_does_not_fit_this_interpreter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.uname().machine == "aarch64":
        pytest.skip("this host is aarch64")
    wheel = _native_wheel(tmp_path / "build", "aarch64")
    code = cli.main([str(wheel), "--check", "true", "-o", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not fit the target interpreter" in err[0], err


# The other CPythons of this machine.


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_a_pure_wheel_on_another_cpython(version: str, toy_wheel: Path, tmp_path: Path) -> None:
    python = pyenv_python(version)
    check = 'python -c "import sys, toypkg; print(toypkg.answer(), sys.version_info[:2])"'
    data = _minimize([str(toy_wheel), "--check", check, "--python", str(python)], tmp_path)
    assert data["verified"] is True
    environment = data["environment"]
    assert isinstance(environment, dict) and str(environment["python"]).startswith(version + ".")


def test_bytecode_is_compiled_by_a_target_of_another_version(toy_wheel: Path) -> None:
    target = probe(str(pyenv_python("3.12")))
    workspace = workspace_for([read_wheel(toy_wheel)], target)
    with workspace, workspace.materialize(workspace.original()) as tree:
        pyc = tree / "toypkg" / "__pycache__" / "core.cpython-312.pyc"
        assert pyc.read_bytes()[:4].hex() == target.magic
        assert not list(tree.rglob("*.cpython-311.pyc"))


@pytest.mark.slow
def test_numpy_2_with_ai_edge_litert_on_cpython_312(tmp_path: Path) -> None:
    """numpy 2.x and the runtime for CPython 3.12 are downloaded for it, from a 3.11 wheel-ddmin."""
    target = probe(str(pyenv_python("3.12")))
    wheel = runtime.cached_download("numpy==2.4.6", runtime.cache_root() / "wheels", target)
    assert "cp312" in wheel.name
    argv = [
        str(wheel),
        "--oracle",
        str(FIXTURES / "tiny_fc.tflite"),
        "--passes",
        "files",
        "--python",
        target.executable,
    ]
    data = _minimize(argv, tmp_path)
    assert data["verified"] is True
    environment = data["environment"]
    assert isinstance(environment, dict) and str(environment["runtime"]).startswith("ai-edge-litert==")
    before, after = data["input"], data["output"]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert after["size_bytes"] < before["size_bytes"]


def test_with_packages_are_the_targets(
    toy_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --with package that exists only for CPython 3.12 is found for a 3.12 target, and used there."""
    index = tmp_path / "index"
    index.mkdir()
    build_wheel(index, {"demo312/__init__.py": "X = 'from 3.12'\n"}, name="demo312", tag="cp312-none-any")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("WHEEL_DDMIN_CACHE", str(tmp_path / "cache"))
    check = 'python -c "import demo312, toypkg; print(demo312.X, toypkg.answer())"'
    argv = [str(toy_wheel), "--check", check, "--with", "demo312", "--python", str(pyenv_python("3.12"))]
    data = _minimize(argv, tmp_path)
    assert data["verified"] is True
    environment = data["environment"]
    assert isinstance(environment, dict) and environment["with"] == "demo312==1.0"
