"""What a qemu-user log says of one process: the code it ran, the traps it hit, the files it mapped.

With ``QEMU_LOG=in_asm`` qemu logs every block of guest code it translates, right before the block
first runs, as guest addresses and instruction words; with ``QEMU_STRACE=1`` it also logs every
system call with its result (``7073 mmap(NULL,35211,PROT_READ,MAP_PRIVATE,4,0) = 0x5500e5b000``).
A block that ends in a trap instruction (``brk #0``, ``int3``: what ``minimizer.elf_code`` fills
removed functions with) stopped the process there. The guest's ``/proc/self/maps`` places guest
addresses in files; a process that died before copying its map (at a trap, say) has its map
rebuilt from the ``open``, ``mmap``, ``munmap`` and ``close`` calls it logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

Range = tuple[int, int]  # [start, end)
# minimizer.elf_code.TRAPS as qemu prints them: aarch64's brk #0 as one word, x86_64's int3 as bytes.
TRAP_ENCODINGS = frozenset({"d4200000", "cc"})

_OPEN = re.compile(r'^\d+ open(?:at)?\((?:[^",]+,)?"(.*)",.*\) = (\d+)$')
_MMAP = re.compile(r"^\d+ mmap\((\w+),(\d+),[^,]*,[^,]*,(-?\d+),(\w+)\) = (0x[0-9a-f]+)$")
_MUNMAP = re.compile(r"^\d+ munmap\((0x[0-9a-f]+),(\d+)\) = 0$")
_CLOSE = re.compile(r"^\d+ close\((\d+)\) = 0$")


@dataclass(frozen=True, slots=True)
class Region:
    """One line of a process's memory map."""

    start: int
    end: int
    perms: str
    offset: int
    path: str


@dataclass(slots=True)
class QemuLog:
    """One process's log: blocks that ran, trap instructions among them, files its syscalls mapped."""

    blocks: list[Range] = field(default_factory=list)
    traps: list[int] = field(default_factory=list)  # guest addresses of trap instructions that ran
    regions: list[Region] = field(default_factory=list)  # rebuilt from its syscalls, if logged


def read_log(log: Path) -> QemuLog:
    """The blocks, traps and mapped files of a qemu log (empty when there is no log)."""
    found = QemuLog()
    if not log.exists():
        return found
    mappings = _Mappings()
    first = last = size = None
    trap = False
    with log.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("0x"):
                address, _, rest = line.partition(":")
                encoded = rest.strip().split("  ", 1)[0].replace(" ", "")
                last, size, trap = int(address, 16), max(len(encoded) // 2, 1), encoded in TRAP_ENCODINGS
                first = last if first is None else first
                continue
            if first is not None and last is not None and size is not None:
                _close_block(found, first, last + size, last if trap else None)
                first = last = size = None
            if line[:1].isdigit():
                mappings.feed(line.rstrip("\n"))
    if first is not None and last is not None and size is not None:
        _close_block(found, first, last + size, last if trap else None)
    found.regions = mappings.regions()
    return found


def _close_block(found: QemuLog, start: int, end: int, trap: int | None) -> None:
    found.blocks.append((start, end))
    if trap is not None:
        found.traps.append(trap)


def log_blocks(log: Path) -> Iterator[Range]:
    """``[first, end)`` of each block in a qemu ``in_asm`` log (instruction sizes from their bytes)."""
    return iter(read_log(log).blocks)


def parse_maps(text: str) -> list[Region]:
    """``/proc/PID/maps`` lines naming a file (anonymous and ``[special]`` regions are left out)."""
    regions = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith("/"):
            continue
        low, high = (int(x, 16) for x in fields[0].split("-"))
        regions.append(Region(low, high, fields[1], int(fields[2], 16), fields[5].rstrip()))
    return regions


class _Mappings:
    """The file mappings a process made, replayed from its logged system calls, in order."""

    def __init__(self) -> None:
        self._files: dict[int, str] = {}  # open file descriptors
        self._spans: list[tuple[int, int, int, str]] = []  # start, end, file offset, path

    def feed(self, line: str) -> None:
        if mapped := _MMAP.match(line):
            start, length = int(mapped[5], 16), int(mapped[2])
            self._cut(start, start + length)  # a mapping replaces whatever was there (MAP_FIXED)
            path = self._files.get(int(mapped[3]))
            if path is not None:
                self._spans.append((start, start + length, int(mapped[4], 0), path))
        elif unmapped := _MUNMAP.match(line):
            start = int(unmapped[1], 16)
            self._cut(start, start + int(unmapped[2]))
        elif opened := _OPEN.match(line):
            self._files[int(opened[2])] = opened[1]
        elif closed := _CLOSE.match(line):
            self._files.pop(int(closed[1]), None)

    def _cut(self, low: int, high: int) -> None:
        kept = []
        for start, end, offset, path in self._spans:
            if end <= low or start >= high:
                kept.append((start, end, offset, path))
                continue
            if start < low:
                kept.append((start, low, offset, path))
            if end > high:
                kept.append((high, end, offset + high - start, path))
        self._spans = kept

    def regions(self) -> list[Region]:
        return [Region(start, end, "", offset, path) for start, end, offset, path in sorted(self._spans)]
