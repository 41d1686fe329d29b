"""Code tracing under qemu-user: which functions of a shared object ran, in load-relative addresses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import lief
import pytest

from minimizer import elf_code
from minimizer.errors import OracleError
from oracles import codetrace, harness
from oracles.codetrace import executed, merged, traced_run_for
from oracles.protocol import Outcome, Traps, Verdict
from oracles.qemu_log import parse_maps
from oracles.target import Target, probe
from tests.targets import arm64_python, cross_gcc

MAPS = """\
400000-916000 r-xp 00000000 fe:00 5448242                    /usr/bin/python3.11
5500800000-5500810000 r--p 00000000 fe:00 1                   /lib/libx.so
5500810000-5500820000 r-xp 0000f000 fe:00 1                   /lib/libx.so
5500820000-5500821000 rw-p 00020000 fe:00 1                   /lib/libx.so
5500830000-5500831000 rw-p 00000000 00:00 0
5500900000-5500901000 r-xp 00000000 00:00 0                   [vdso]
"""


def test_addresses_become_file_offsets_per_file() -> None:
    """Through the region they fall in: its start maps to its file offset (0xf000 here, not 0x10000)."""
    blocks = [(0x5500810100, 0x5500810110), (0x5500810110, 0x5500810120), (0x5500818000, 0x5500818004)]
    blocks += [(0x5500900000, 0x5500900004), (0x5500830010, 0x5500830014)]  # vdso; anonymous memory
    code = executed(blocks, parse_maps(MAPS))
    assert code.ranges == {"/lib/libx.so": ((0xF100, 0xF120), (0x17000, 0x17004))}
    assert (code.blocks, code.unmapped_blocks) == (5, 2)
    assert code.ran("/lib/libx.so", 0xF000, 0xF101)
    assert code.ran("/lib/libx.so", 0xF11F, 0xF200)
    assert not code.ran("/lib/libx.so", 0xF120, 0x17000)
    assert not code.ran("/lib/other.so", 0, 1 << 40)
    both = merged([code, executed([(0x5500810120, 0x5500810130)], parse_maps(MAPS))])
    assert both.ranges["/lib/libx.so"] == ((0xF100, 0xF130), (0x17000, 0x17004)) and both.blocks == 6


def test_traps_that_ran_become_file_offsets_per_file() -> None:
    code = executed([(0x5500810100, 0x5500810104)], parse_maps(MAPS), traps=[0x5500810100, 0x5500830010])
    assert code.traps == {"/lib/libx.so": (0xF100,)}, "a trap in anonymous memory is in no file"
    other = executed([], parse_maps(MAPS), traps=[0x5500818000, 0x5500810100])
    assert merged([code, other]).traps == {"/lib/libx.so": (0xF100, 0x17000)}


def test_a_native_target_cannot_be_traced(tmp_path: Path) -> None:
    with pytest.raises(OracleError, match="qemu-user"):
        codetrace.run_traced(probe(), tmp_path / "x.py", timeout=10)
    with pytest.raises(OracleError, match="qemu-user"):
        codetrace.CodeTrace(probe(), tmp_path)


# A real run: a shared object with a function that runs and one that never does.

LIB_C = """
int ran_function(int x) { return x * 3 + 1; }
int never_ran(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * i; return s; }
"""
SCRIPT = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
print(lib.ran_function(13))
"""
# As the inference probe does it: the tracer's collect() copies the memory map.
PROBE_LIKE = f"""
import sys
sys.path.insert(0, {str(Path(codetrace.__file__).parent)!r})
from _trace import Tracer
{SCRIPT}
Tracer([]).collect()
"""


def _build(machine: str, folder: Path) -> tuple[Path, dict[str, tuple[int, int]]]:
    """The library, and its functions' file-offset ranges."""
    (folder / "lib.c").write_text(LIB_C)
    lib = folder / "libtraced.so"
    subprocess.run([cross_gcc(machine), "-O1", "-shared", "-fPIC", "-o", lib, folder / "lib.c"], check=True)
    binary = lief.ELF.parse(str(lib))
    assert binary is not None
    offsets = {s.name: binary.virtual_address_to_offset(s.value) for s in binary.symbols if s.size}
    return lib, {s.name: (offsets[s.name], offsets[s.name] + s.size) for s in binary.symbols if s.size}


def _target(machine: str) -> Target:
    if machine == "aarch64":
        return probe(arm64_python())
    qemu = shutil.which(f"qemu-{machine}")
    if qemu is None:
        pytest.skip(f"qemu-{machine} is not installed (apt-get install qemu-user)")
    return probe([qemu, sys.executable])


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_functions_that_ran_and_those_that_did_not(machine: str, tmp_path: Path) -> None:
    if machine == "x86_64" and os.uname().machine != "x86_64":
        pytest.skip("the host-architecture case runs on x86_64 hosts")
    target = _target(machine)
    lib, symbols = _build(machine, tmp_path)
    (tmp_path / "script.py").write_text(SCRIPT)
    done, code = codetrace.run_traced(target, tmp_path / "script.py", [lib], timeout=120, scratch=tmp_path)
    assert done.returncode == 0 and done.stdout == b"40\n", done.stderr
    assert code.ran(str(lib), *symbols["ran_function"])
    assert not code.ran(str(lib), *symbols["never_ran"])
    assert code.blocks > 1000 and code.log_bytes > 0
    assert not list(tmp_path.glob("codetrace-*")), "the log and the map are removed"


def test_a_run_of_the_oracles_own_scripts_is_traced_through_its_environment(tmp_path: Path) -> None:
    """What the machine-code pass does with an oracle's run: add the environment, run, collect."""
    target = _target("aarch64")
    lib, symbols = _build("aarch64", tmp_path)
    (tmp_path / "probe_like.py").write_text(PROBE_LIKE)
    with codetrace.CodeTrace(target, tmp_path) as trace:
        argv = target.argv("-I", "-S", tmp_path / "probe_like.py", lib)
        done = harness.run(argv, timeout=120, env=trace.env())
        code = trace.collect()
    assert done.returncode == 0 and done.stdout == b"40\n", done.stderr
    assert code.ran(str(lib), *symbols["ran_function"]) and not code.ran(str(lib), *symbols["never_ran"])
    with codetrace.CodeTrace(target, tmp_path) as untraced, pytest.raises(OracleError, match="no memory map"):
        untraced.collect()


def test_a_traced_run_of_the_machine_pass_under_emulation(tmp_path: Path) -> None:
    """Entry traps planted as the machine pass plants them: lifted, and the entered ones reported."""
    target = _target("aarch64")
    (tmp_path / "build").mkdir()
    lib, symbols = _build("aarch64", tmp_path / "build")
    table = elf_code.function_table(lib.read_bytes())
    assert table is not None and table.machine == "aarch64"
    planted, sites = elf_code.plant_entry_traps(lib.read_bytes(), table)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "libtraced.so").write_bytes(planted)
    (tmp_path / "probe_like.py").write_text(PROBE_LIKE)
    traps = Traps({"libtraced.so": sites})
    with traced_run_for(target, tree, traps, tmp_path) as run:
        argv = run.argv(target.argv("-I", "-S", tmp_path / "probe_like.py", tree / "libtraced.so"))
        done = harness.run(argv, timeout=120, env=run.env(harness.python_env()))
        verdict = run.verdict(Verdict(Outcome.PASS, "", done.seconds))
    assert done.returncode == 0 and done.stdout == b"40\n", done.stderr  # no trap stopped it
    assert verdict.entered is not None
    entered = {offset for path, offset in verdict.entered if path == "libtraced.so"}
    assert symbols["ran_function"][0] in entered and symbols["never_ran"][0] not in entered
    assert (tree / "libtraced.so").read_bytes() == lib.read_bytes(), "every trap lifted"
    with traced_run_for(target, tree, Traps({}), tmp_path) as untraced:
        failed = untraced.verdict(Verdict(Outcome.FAIL, "crashed", 0.1))
        unknown = untraced.verdict(Verdict(Outcome.PASS, "", 0.1))
    assert failed.outcome is Outcome.FAIL and unknown.outcome is Outcome.UNRESOLVED


def test_a_failed_run_under_emulation_names_the_trap_that_stopped_it(tmp_path: Path) -> None:
    """As the machine pass's proposal runs: a removed function is traps, the file is watched."""
    target = _target("aarch64")
    (tmp_path / "build").mkdir()
    lib, symbols = _build("aarch64", tmp_path / "build")
    table = elf_code.function_table(lib.read_bytes())
    assert table is not None
    doomed = [i for i, f in enumerate(table.functions) if "ran_function" in f.names]
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "libtraced.so").write_bytes(elf_code.fill_traps(lib.read_bytes(), table, doomed))
    (tmp_path / "probe_like.py").write_text(PROBE_LIKE)
    with traced_run_for(target, tree, Traps({"libtraced.so": {}}), tmp_path) as run:
        # The loader's kind of path: the rebuilt map names the file so, the verdict as the tree does.
        argv = run.argv(target.argv("-I", "-S", tmp_path / "probe_like.py", tree / "pkg/../libtraced.so"))
        done = harness.run(argv, timeout=120, env=run.env(harness.python_env()))
        verdict = run.verdict(Verdict(Outcome.FAIL, "crashed", done.seconds))
    assert done.returncode != 0 and b"40" not in done.stdout
    assert verdict.outcome is Outcome.FAIL and verdict.entered == {
        ("libtraced.so", symbols["ran_function"][0])
    }
