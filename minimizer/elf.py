"""Pure bytes-to-bytes ELF edits on LIEF: inspection, DT_NEEDED removal, stripping."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import lief

from minimizer.errors import ElfError

__all__ = ["drop_needed", "is_elf", "machine", "needed", "parse", "strip", "target_machine", "text"]

_MAGIC = b"\x7fELF"
_ELF = lief.ELF
_KEPT_UNALLOCATED = frozenset({".shstrtab"})
_E_MACHINE = {
    3: "I386",
    20: "PPC",
    21: "PPC64",
    22: "S390",
    40: "ARM",
    62: "X86_64",
    183: "AARCH64",
    243: "RISCV",
}
# platform.machine() names -> the ELF header's e_machine, as LIEF spells it.
_MACHINES = {
    "x86_64": "X86_64",
    "amd64": "X86_64",
    "i386": "I386",
    "i686": "I386",
    "aarch64": "AARCH64",
    "arm64": "AARCH64",
    "armv6l": "ARM",
    "armv7l": "ARM",
    "armv8l": "ARM",
    "ppc64": "PPC64",
    "ppc64le": "PPC64",
    "s390x": "S390",
    "riscv64": "RISCV",
}


@contextmanager
def _quiet() -> Iterator[None]:
    # LIEF reports malformed input on stderr; we report it as ElfError instead.
    with lief.logging.level_scope(lief.logging.LEVEL.CRITICAL):
        yield


def _text(name: str | bytes) -> str:
    # LIEF hands back bytes for names that are not valid UTF-8.
    return name if isinstance(name, str) else name.decode("utf-8", "surrogateescape")


def _within(offset: int, size: int, total: int) -> bool:
    return offset >= 0 and offset + size <= total


def _check_extents(binary: lief.ELF.Binary, total: int) -> None:
    # LIEF accepts truncated files and fills the gaps; a loader would not.
    if not any(seg.type == _ELF.Segment.TYPE.LOAD for seg in binary.segments):
        raise ElfError("ELF has no loadable segment")
    for seg in binary.segments:
        if not _within(seg.file_offset, seg.physical_size, total):
            raise ElfError(f"segment {seg.type} runs past the end of the file")
    for sec in binary.sections:
        if sec.type != _ELF.Section.TYPE.NOBITS and not _within(sec.offset, sec.size, total):
            raise ElfError(f"section {_text(sec.name)!r} runs past the end of the file")


def _parse(data: bytes) -> lief.ELF.Binary:
    if data[:4] != _MAGIC:
        raise ElfError("not an ELF file (bad magic)")
    # A BytesIO, unlike bytes, is never mistaken by LIEF for a file name.
    with _quiet():
        binary = _ELF.parse(io.BytesIO(data))
    if binary is None or binary.header.identity_class == _ELF.Header.CLASS.NONE:
        raise ElfError("LIEF could not parse the ELF file")
    _check_extents(binary, len(data))
    return binary


def _build(binary: lief.ELF.Binary) -> bytes:
    with _quiet():
        out = binary.write_to_bytes()
    if not out:
        raise ElfError("LIEF could not rebuild the ELF file")
    _parse(out)  # what LIEF wrote must itself be a sound ELF
    return out


def parse(data: bytes) -> lief.ELF.Binary:
    """The LIEF view of ``data`` (for reading only); ElfError when a loader would refuse it."""
    return _parse(data)


def text(name: str | bytes) -> str:
    """A symbol or section name as text, whatever its bytes."""
    return _text(name)


def is_elf(data: bytes) -> bool:
    """Whether ``data`` is an ELF file that LIEF can parse."""
    try:
        _parse(data)
    except ElfError:
        return False
    return True


def machine(data: bytes) -> str:
    """The ELF header's machine (``X86_64``, ``AARCH64``, ``ARM``), read without parsing the rest."""
    if data[:4] != _MAGIC or len(data) < 20 or data[5] not in (1, 2):
        raise ElfError("not an ELF file (bad header)")
    code = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    return _E_MACHINE.get(code, f"EM_{code}")


def target_machine(platform_machine: str) -> str | None:
    """The ELF machine an interpreter on ``platform_machine`` loads, or None when not known here."""
    return _MACHINES.get(platform_machine.lower())


def _needed_of(binary: lief.ELF.Binary) -> tuple[str, ...]:
    return tuple(
        _text(entry.name) for entry in binary.dynamic_entries if isinstance(entry, _ELF.DynamicEntryLibrary)
    )


def needed(data: bytes) -> tuple[str, ...]:
    """The DT_NEEDED entries of ``data``, in file order."""
    return _needed_of(_parse(data))


def _exported_names(binary: lief.ELF.Binary) -> frozenset[str]:
    return frozenset(_text(sym.name) for sym in binary.exported_symbols)


def _weaken_imports(binary: lief.ELF.Binary, names: frozenset[str]) -> None:
    # A weak undefined symbol that nothing defines resolves to 0 instead of
    # failing the load; only a call through it crashes.
    for sym in binary.dynamic_symbols:
        if sym.shndx == 0 and _text(sym.name) in names:
            sym.binding = _ELF.Symbol.BINDING.WEAK


def _drop_orphan_versym(binary: lief.ELF.Binary) -> None:
    # glibc indexes a version table it only builds from verneed/verdef
    # entries, so a DT_VERSYM left without either crashes the loader.
    if binary.symbols_version_requirement or binary.symbols_version_definition:
        return
    binary.remove(_ELF.DynamicEntry.TAG.VERSYM)


def drop_needed(data: bytes, library: str, library_data: bytes) -> bytes:
    """Remove DT_NEEDED ``library`` from ``data``, weakening imports it satisfied.

    Every undefined dynamic symbol of ``data`` that ``library_data`` exports
    becomes WEAK, and any version requirement (verneed) naming ``library`` is
    removed, so the loader neither looks for the library nor fails without it.
    """
    binary = _parse(data)
    if library not in _needed_of(binary):
        raise ElfError(f"{library!r} is not a DT_NEEDED entry")
    _weaken_imports(binary, _exported_names(_parse(library_data)))
    # The loader opens every verneed file just like a DT_NEEDED one; dropping
    # the requirement also resets the affected symbols to the base version.
    binary.remove_version_requirement(library)
    _drop_orphan_versym(binary)
    binary.remove_library(library)
    out = _build(binary)
    if library in needed(out):
        raise ElfError(f"LIEF left {library!r} in DT_NEEDED")
    return out


def _is_unneeded_section(section: lief.ELF.Section) -> bool:
    # Sections outside every segment are never seen by the loader.
    if section.type == _ELF.Section.TYPE.SHT_NULL_:
        return False
    if section.has(_ELF.Section.FLAGS.ALLOC):
        return False
    return _text(section.name) not in _KEPT_UNALLOCATED


def strip(data: bytes) -> bytes:
    """Drop .symtab/.strtab, debug info and every other unloaded section.

    Like ``strip --strip-unneeded`` plus ``-R .comment``: what the dynamic
    linker uses (.dynsym, .dynstr, .dynamic, versions, relocations, init
    arrays, .eh_frame, allocated notes) is kept.
    """
    binary = _parse(data)
    if binary.header.file_type == _ELF.Header.FILE_TYPE.REL:
        raise ElfError("refusing to strip a relocatable object: it needs .symtab")
    # Without emptying the static table first, LIEF writes .symtab/.strtab
    # back at the end of the file even after their sections are removed.
    binary.strip()
    for section in [s for s in binary.sections if _is_unneeded_section(s)]:
        binary.remove(section, clear=True)
    return _build(binary)
