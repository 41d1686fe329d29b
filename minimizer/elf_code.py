"""Functions of an ELF shared object as file-offset ranges, and trap-filled copies of it (pure bytes).

LIEF only reads the headers, sections and symbols here; every edit is a plain byte patch of the
file image, so nothing else moves: code between functions (PLT, padding, unsymbolized code) stays.
"""

from __future__ import annotations

import bisect
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import lief

from minimizer.elf import parse, text
from minimizer.errors import ElfError

__all__ = [
    "TRAPS",
    "CodeTable",
    "Function",
    "cold_parents",
    "direct_callees",
    "fill_traps",
    "function_at",
    "function_table",
    "plant_entry_traps",
]

_ELF = lief.ELF
# One trap instruction per machine: x86_64 int3, aarch64 ``brk #0`` (little-endian word).
TRAPS = {"x86_64": b"\xcc", "aarch64": struct.pack("<I", 0xD4200000)}
_MACHINES = {_ELF.ARCH.X86_64: "x86_64", _ELF.ARCH.AARCH64: "aarch64"}
_CODE_TYPES = (_ELF.Symbol.TYPE.FUNC, _ELF.Symbol.TYPE.GNU_IFUNC)
# Loader trampolines and init/fini stubs: entered in the middle (one PLT slot), never traced whole.
_NOT_FUNCTIONS = (".plt", ".iplt", ".init", ".fini")
# call rel32, jmp rel32, jmp rel8, jcc rel32 (0f 80..8f)
_X86_BRANCH = re.compile(b"[\\xe8\\xe9\\xeb]|\\x0f[\\x80-\\x8f]")
# GCC's split-off cold part: jumped into at arbitrary offsets, never called at its start.
_COLD = re.compile(r"^(?P<parent>.+?)\.cold(?:\.\d+)?$")


@dataclass(frozen=True, slots=True)
class Function:
    """One function: its bytes ``[offset, offset + size)`` in the file and every symbol naming it.

    Symbols with overlapping ranges (aliases such as C++ constructor pairs) make one function;
    ``entries`` are the file offsets where any of them starts.
    """

    offset: int
    size: int
    names: tuple[str, ...]
    entries: tuple[int, ...]

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class CodeTable:
    """The functions of one shared object, sorted by offset and disjoint."""

    machine: str
    source: str  # where the boundaries came from: "symtab", "dynsym+eh_frame" or "dynsym"
    functions: tuple[Function, ...]
    starts: list[int] = field(init=False, repr=False, compare=False)
    entry_of: dict[int, int] = field(init=False, repr=False, compare=False)  # entry offset -> index

    def __post_init__(self) -> None:
        object.__setattr__(self, "starts", [f.offset for f in self.functions])
        entries = {entry: index for index, f in enumerate(self.functions) for entry in f.entries}
        object.__setattr__(self, "entry_of", entries)

    @property
    def trap(self) -> bytes:
        return TRAPS[self.machine]

    @property
    def code_bytes(self) -> int:
        return sum(f.size for f in self.functions)


@dataclass(frozen=True, slots=True)
class _Span:
    address: int
    size: int
    name: str


@dataclass(frozen=True, slots=True)
class _Code:
    """An executable section: where its addresses sit in the file."""

    address: int
    offset: int
    size: int

    def offset_of(self, address: int, size: int) -> int | None:
        inside = self.address <= address and address + size <= self.address + self.size
        return address - self.address + self.offset if inside else None


def function_table(data: bytes) -> CodeTable | None:
    """The function table of ``data``; None when the machine is not supported or nothing is known."""
    binary = parse(data)
    machine = _MACHINES.get(binary.header.machine_type)
    little = binary.header.identity_data == _ELF.Header.ELF_DATA.LSB
    if machine is None or not little or binary.header.identity_class != _ELF.Header.CLASS.ELF64:
        return None
    code = [
        _Code(s.virtual_address, s.offset, s.size)
        for s in binary.sections
        if s.has(_ELF.Section.FLAGS.EXECINSTR)
        and s.type != _ELF.Section.TYPE.NOBITS
        and not text(s.name).startswith(_NOT_FUNCTIONS)
    ]
    static = _spans(binary.symtab_symbols)
    if static:
        source, spans = "symtab", static
    else:
        spans = _spans(binary.dynamic_symbols)
        frames = _eh_frame_spans(data, binary)
        source = "dynsym+eh_frame" if frames else "dynsym"
        spans += frames
    functions = _merge(_located(spans, code))
    return CodeTable(machine, source, functions) if functions else None


def _spans(symbols: Iterable[lief.ELF.Symbol]) -> list[_Span]:
    return [
        _Span(s.value, s.size, text(s.name))
        for s in symbols
        if s.type in _CODE_TYPES and s.size > 0 and s.shndx != 0
    ]


def _located(spans: list[_Span], code: list[_Code]) -> Iterator[tuple[int, int, str]]:
    """(file offset, size, name) of each span that lies inside one executable section."""
    for span in spans:
        for section in code:
            offset = section.offset_of(span.address, span.size)
            if offset is not None:
                yield offset, span.size, span.name
                break


def _merge(located: Iterable[tuple[int, int, str]]) -> tuple[Function, ...]:
    """One function per run of overlapping ranges: aliases are found by address, never by name."""
    merged: list[Function] = []
    for offset, size, name in sorted(located, key=lambda s: (s[0], -s[1], s[2])):
        last = merged[-1] if merged else None
        if last is not None and offset < last.end:
            end = max(last.end, offset + size)
            names = last.names if name in last.names else (*last.names, name)
            entries = last.entries if offset in last.entries else (*last.entries, offset)
            merged[-1] = Function(last.offset, end - last.offset, names, entries)
        else:
            merged.append(Function(offset, size, (name,), (offset,)))
    return tuple(merged)


def cold_parents(table: CodeTable) -> dict[int, frozenset[int]]:
    """For each function, the ``X.cold`` parts to keep with it (by index into ``table.functions``).

    GCC moves unlikely code of ``X`` into ``X.cold`` and jumps there from inside ``X``: an entry
    trap never sees it entered, so it must stay whenever ``X`` stays. A static name may occur in
    several files; every ``X`` keeps every ``X.cold`` then, which only ever keeps more.
    """
    by_name: dict[str, list[int]] = {}
    for index, function in enumerate(table.functions):
        for name in function.names:
            by_name.setdefault(name, []).append(index)
    parts: dict[int, set[int]] = {}
    for index, function in enumerate(table.functions):
        for name in function.names:
            match = _COLD.match(name)
            for parent in by_name.get(match.group("parent"), []) if match else []:
                parts.setdefault(parent, set()).add(index)
    return {parent: frozenset(cold) for parent, cold in parts.items()}


def function_at(table: CodeTable, offset: int) -> int | None:
    """The index of the function whose bytes hold file offset ``offset``, if any."""
    index = bisect.bisect_right(table.starts, offset) - 1
    return index if index >= 0 and offset < table.functions[index].end else None


def direct_callees(data: bytes, table: CodeTable, index: int) -> frozenset[int]:
    """Functions that function ``index`` calls or tail-calls directly, by a relative branch.

    A scan, not a disassembly: every x86_64 ``call``/``jmp``/``jcc rel32`` and ``jmp rel8``, or
    aarch64 ``bl``/``b``, encoding in its bytes whose target is exactly a function entry counts,
    so a byte pattern that only looks like one may add a function, never drop one. Calls through
    pointers or the PLT are not seen.
    """
    function = table.functions[index]
    code = data[function.offset : function.end]
    targets = _x86_targets(code) if table.machine == "x86_64" else _aarch64_targets(code)
    found = (table.entry_of.get(function.offset + target) for target in targets)
    return frozenset(i for i in found if i is not None and i != index)


def _x86_targets(code: bytes) -> Iterator[int]:
    """Offsets (within ``code``) that its relative branch encodings jump to."""
    for match in _X86_BRANCH.finditer(code):
        at, opcode = match.start(), code[match.start()]
        if opcode == 0xEB:  # jmp rel8
            if at + 2 <= len(code):
                yield at + 2 + struct.unpack_from("<b", code, at + 1)[0]
            continue
        start = at + 2 if opcode == 0x0F else at + 1  # jcc rel32 is 0f 8x
        if start + 4 <= len(code):
            yield start + 4 + struct.unpack_from("<i", code, start)[0]


def _aarch64_targets(code: bytes) -> Iterator[int]:
    for at in range(0, len(code) - 3, 4):
        (word,) = struct.unpack_from("<I", code, at)
        if word & 0x7C000000 == 0x14000000:  # b / bl imm26
            yield at + 4 * ((word & 0x03FFFFFF) - ((word & 0x02000000) << 1))


def plant_entry_traps(data: bytes, table: CodeTable) -> tuple[bytes, dict[int, bytes]]:
    """A copy with a trap at every entry of every function, and the original bytes of each site.

    An entry that holds a trap already (a function filled by an earlier pass) gets no site: lifting
    it would put the same trap back, and the run would stop there for ever.
    """
    trap = table.trap
    image = bytearray(data)
    sites: dict[int, bytes] = {}
    for function in table.functions:
        for entry in function.entries:
            if entry + len(trap) <= function.end and image[entry : entry + len(trap)] != trap:
                sites[entry] = bytes(image[entry : entry + len(trap)])
                image[entry : entry + len(trap)] = trap
    return bytes(image), sites


def fill_traps(data: bytes, table: CodeTable, doomed: Iterable[int]) -> bytes:
    """A copy where every byte of the functions ``doomed`` (indices) is trap instructions."""
    trap = table.trap
    image = bytearray(data)
    for index in doomed:
        function = table.functions[index]
        if function.end > len(image):
            raise ElfError(f"function {function.names[0]!r} runs past the end of the file")
        whole, rest = divmod(function.size, len(trap))
        image[function.offset : function.end] = trap * whole + trap[:rest]
    return bytes(image)


def _eh_frame_spans(data: bytes, binary: lief.ELF.Binary) -> list[_Span]:
    """Function ranges from ``.eh_frame`` FDEs, named by a dynamic symbol at the same address."""
    section = binary.get_section(".eh_frame")
    if section is None or section.type == _ELF.Section.TYPE.NOBITS:
        return []
    names = {s.value: text(s.name) for s in binary.dynamic_symbols if s.type in _CODE_TYPES}
    frame = data[section.offset : section.offset + section.size]
    try:
        ranges = list(_fde_ranges(frame, section.virtual_address))
    except (struct.error, IndexError, ValueError) as error:
        raise ElfError(f"unreadable .eh_frame: {error}") from error
    return [_Span(start, size, names.get(start, f"fde@{start:#x}")) for start, size in ranges if size > 0]


def _fde_ranges(frame: bytes, base: int) -> Iterator[tuple[int, int]]:
    """(start address, size) of every FDE in an ``.eh_frame`` image loaded at ``base``."""
    encodings: dict[int, int] = {}
    pos = 0
    while pos + 4 <= len(frame):
        (length,) = struct.unpack_from("<I", frame, pos)
        if length == 0:
            break
        header = 4
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from("<Q", frame, pos + 4)
            header = 12
        body = pos + header
        (cie_id,) = struct.unpack_from("<I", frame, body)
        if cie_id == 0:
            encodings[pos] = _cie_encoding(frame, body + 4)
        else:
            encoding = encodings.get(body - cie_id, 0)
            start, after = _pointer(frame, body + 4, encoding, base)
            size, _ = _pointer(frame, after, encoding & 0x0F, base)
            yield start, size
        pos = body + length


def _cie_encoding(frame: bytes, pos: int) -> int:
    """The FDE pointer encoding a CIE declares (its 'R' augmentation); absolute pointers if none."""
    pos += 1  # version
    end = frame.index(b"\0", pos)
    augmentation = frame[pos:end].decode("ascii")
    pos = end + 1
    if "eh" in augmentation:
        pos += 8
    for _ in range(3):  # code alignment, data alignment, return register: LEB128 (version 3)
        _, pos = _leb128(frame, pos)
    if not augmentation.startswith("z"):
        return 0
    _, pos = _leb128(frame, pos)
    for letter in augmentation[1:]:
        if letter == "R":
            return frame[pos]
        if letter == "P":
            _, pos = _pointer(frame, pos + 1, frame[pos], 0)
        elif letter == "L":
            pos += 1
    return 0


_FIXED = {0x00: "<q", 0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0A: "<h", 0x0B: "<i", 0x0C: "<q"}


def _pointer(frame: bytes, pos: int, encoding: int, base: int) -> tuple[int, int]:
    """A DW_EH_PE-encoded value at ``pos``: (value, position after it)."""
    form = encoding & 0x0F
    if form in (0x01, 0x09):
        value, after = _leb128(frame, pos, signed=form == 0x09)
    elif form in _FIXED:
        (value,) = struct.unpack_from(_FIXED[form], frame, pos)
        after = pos + struct.calcsize(_FIXED[form])
    else:
        raise ValueError(f"pointer encoding {encoding:#x}")
    if encoding & 0x70 == 0x10:  # relative to the field's own address
        value += base + pos
    return value & 0xFFFFFFFFFFFFFFFF, after


def _leb128(frame: bytes, pos: int, *, signed: bool = False) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = frame[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if signed and byte & 0x40:
        value -= 1 << shift
    return value, pos
