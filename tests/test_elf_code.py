"""The machine-code format layer on a tiny shared object compiled with gcc at test time."""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from minimizer import elf
from minimizer.elf_code import (
    CodeTable,
    cold_parents,
    direct_callees,
    fill_traps,
    function_table,
    plant_entry_traps,
)
from minimizer.errors import ElfError
from tests.native import build_library, needs_gcc

pytestmark = needs_gcc

# Calls NAME=ARG in order and prints each result, so a run shows how far it got.
CALLER = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
for call in sys.argv[2:]:
    name, arg = call.split("=")
    print(name, getattr(lib, name)(int(arg)), flush=True)
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_library(tmp_path_factory.mktemp("toy")).read_bytes()


def _call(data: bytes, tmp_path: Path, *calls: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "libcopy.so"
    path.write_bytes(data)
    argv = [sys.executable, "-S", "-c", CALLER, str(path), *calls]
    return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)


def _index(table: CodeTable, name: str) -> int:
    return next(i for i, f in enumerate(table.functions) if name in f.names)


def test_table_lists_functions_with_aliases_merged(library: bytes) -> None:
    table = function_table(library)
    assert table is not None
    assert (table.machine, table.source) == ("x86_64", "symtab")
    names = [f.names for f in table.functions]
    for name in ("used", "unused", "helper", "calls_helper", "checked", "checked.cold", "complain"):
        assert sum(name in n for n in names) == 1, name
    (merged,) = [f for f in table.functions if "target" in f.names]
    assert set(merged.names) == {"target", "alias"} and merged.entries == (merged.offset,)
    offsets = [f.offset for f in table.functions]
    assert offsets == sorted(offsets)
    assert all(a.end <= b.offset for a, b in zip(table.functions, table.functions[1:], strict=False))


def test_table_ranges_are_the_symbols_bytes(library: bytes) -> None:
    table = function_table(library)
    assert table is not None
    binary = elf.parse(library)
    used = binary.get_symtab_symbol("used")
    text = binary.get_section(".text")
    function = table.functions[_index(table, "used")]
    assert function.offset == used.value - text.virtual_address + text.offset
    assert function.size == used.size


def test_stripped_object_falls_back_to_dynsym_and_eh_frame(library: bytes) -> None:
    full = function_table(library)
    stripped = function_table(elf.strip(library))
    assert full is not None and stripped is not None
    assert stripped.source == "dynsym+eh_frame"
    by_offset = {f.offset: f for f in stripped.functions}
    for name in ("used", "unused", "checked", "calls_helper"):
        original = full.functions[_index(full, name)]
        assert name in by_offset[original.offset].names
        assert by_offset[original.offset].size == original.size
    # helper is static: no dynamic symbol names it, its FDE still gives its range.
    helper = full.functions[_index(full, "helper")]
    assert by_offset[helper.offset].size == helper.size
    # The PLT has an FDE too, but it is the loader's trampolines, entered one slot at a time.
    plt = elf.parse(library).get_section(".plt")
    assert not any(plt.offset <= f.offset < plt.offset + plt.size for f in stripped.functions)


def test_cold_part_goes_with_its_parent(library: bytes) -> None:
    table = function_table(library)
    assert table is not None
    parts = cold_parents(table)
    assert parts[_index(table, "checked")] == {_index(table, "checked.cold")}
    assert _index(table, "used") not in parts


def test_fill_traps_touches_only_the_doomed_functions(library: bytes, tmp_path: Path) -> None:
    table = function_table(library)
    assert table is not None
    doomed = _index(table, "unused")
    filled = fill_traps(library, table, [doomed])
    function = table.functions[doomed]
    assert filled[function.offset : function.end] == b"\xcc" * function.size
    assert filled[: function.offset] == library[: function.offset]
    assert filled[function.end :] == library[function.end :]
    done = _call(filled, tmp_path, "used=1", "calls_helper=1", "alias=5", "unused=1")
    assert done.stdout.splitlines() == ["used 2", "calls_helper 5", "alias 4"]
    assert done.returncode == -signal.SIGTRAP


def test_filling_everything_compresses_and_still_loads(library: bytes, tmp_path: Path) -> None:
    table = function_table(library)
    assert table is not None
    every = fill_traps(library, table, range(len(table.functions)))
    assert all(every[f.offset : f.end] == b"\xcc" * f.size for f in table.functions)
    outside = [i for i in range(len(library)) if not any(f.offset <= i < f.end for f in table.functions)]
    assert all(every[i] == library[i] for i in outside)
    assert _call(every, tmp_path).returncode == 0  # loading runs no function of the table
    assert _call(every, tmp_path, "used=1").returncode == -signal.SIGTRAP


def test_entry_traps_stop_every_function(library: bytes, tmp_path: Path) -> None:
    table = function_table(library)
    assert table is not None
    planted, sites = plant_entry_traps(library, table)
    assert set(sites) == {e for f in table.functions for e in f.entries}
    for offset, original in sites.items():
        assert planted[offset : offset + 1] == b"\xcc" and library[offset : offset + 1] == original
    restored = bytearray(planted)
    for offset, original in sites.items():
        restored[offset : offset + len(original)] = original
    assert bytes(restored) == library
    for call in ("used=1", "alias=1", "checked=3"):
        assert _call(planted, tmp_path, call).returncode == -signal.SIGTRAP


def test_no_entry_trap_where_a_function_is_trapped_already(library: bytes) -> None:
    table = function_table(library)
    assert table is not None
    unused = table.functions[_index(table, "unused")]
    _, sites = plant_entry_traps(fill_traps(library, table, [_index(table, "unused")]), table)
    assert unused.offset not in sites
    assert table.functions[_index(table, "used")].offset in sites


def _with_machine(data: bytes, machine: int) -> bytes:
    return data[:18] + struct.pack("<H", machine) + data[20:]


def test_aarch64_traps_are_brk_words(library: bytes) -> None:
    table = function_table(_with_machine(library, 183))  # EM_AARCH64
    assert table is not None and table.machine == "aarch64"
    index = _index(table, "checked")
    function = table.functions[index]
    filled = fill_traps(library, table, [index])
    brk = struct.pack("<I", 0xD4200000)
    whole = function.size // 4 * 4
    assert filled[function.offset : function.offset + whole] == brk * (function.size // 4)
    planted, _ = plant_entry_traps(library, table)
    assert planted[function.offset : function.offset + 4] == brk


def test_other_machines_do_not_apply(library: bytes) -> None:
    assert function_table(_with_machine(library, 243)) is None  # EM_RISCV


@pytest.mark.parametrize("data", [b"", b"garbage", b"\x7fELF" + b"\x00" * 60])
def test_garbage_is_an_elf_error(data: bytes) -> None:
    with pytest.raises(ElfError):
        function_table(data)


def test_direct_callees_are_the_relative_calls_to_function_entries(library: bytes) -> None:
    table = function_table(library)
    assert table is not None

    def callees(name: str) -> set[str]:
        found = direct_callees(library, table, _index(table, name))
        return {n for i in found for n in table.functions[i].names}

    assert callees("calls_helper") == {"helper"}
    assert callees("checked.cold") == {"complain"}  # abort goes through the PLT: not a function here
    assert callees("tail_calls") == {"helper2"}  # jmp rel32, not call
    assert callees("used") == set()
