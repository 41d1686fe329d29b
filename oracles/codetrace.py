"""Which machine code an emulated target ran: guest address ranges per mapped file, from qemu-user.

ptrace cannot watch code that qemu-user emulates (the host sees qemu, not the guest), but qemu logs
every block of guest code it translates when ``QEMU_LOG=in_asm`` is set, with guest addresses. A
block is translated right before it first runs, so the log is a one-run trace of every
instruction that ran (qemu 7.2 logs each block once while its translation stays cached). The
guest's ``/proc/self/maps``, copied by the run before it exits (``_trace.Tracer.collect()`` in the
probe, or ``_maps_boot.py`` around any script), turns guest addresses into load-relative addresses
(ELF virtual addresses for shared objects) of each mapped file.

Measured on numpy 1.26.4 + tflite-runtime 2.14.0 (aarch64, two models): 95,494 blocks, a 22 MB
log, 3.4 s instead of 2.6 s for the run. One process is traced: its child processes do not log.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from minimizer.errors import OracleError
from oracles import harness
from oracles._trace import MAPS_ENV
from oracles.target import Target

BOOT = Path(__file__).with_name("_maps_boot.py")
Range = tuple[int, int]  # [start, end)


@dataclass(frozen=True, slots=True)
class Region:
    """One line of a process's memory map."""

    start: int
    end: int
    perms: str
    offset: int
    path: str


@dataclass(frozen=True, slots=True)
class ExecutedCode:
    """Code that ran, per mapped file, as sorted, merged ``[start, end)`` load-relative addresses."""

    ranges: Mapping[str, tuple[Range, ...]]
    blocks: int  # translated blocks in the log
    unmapped_blocks: int  # blocks in no file (the dynamic linker's trampolines, JIT code)
    log_bytes: int

    def ran(self, path: str, start: int, end: int) -> bool:
        """Whether any code in ``[start, end)`` of ``path`` ran (say, a function's symbol range)."""
        spans = self.ranges.get(path, ())
        index = bisect_left(spans, end, key=lambda span: span[0]) - 1  # the last span starting before end
        return index >= 0 and spans[index][1] > start


def traceable(target: Target) -> bool:
    """Whether ``target`` runs under qemu-user, whose code log this module reads."""
    return bool(target.launcher) and Path(target.launcher[0]).name.startswith("qemu-")


class CodeTrace:
    """One traced run of an emulated target: run it with ``env(...)``, then ``collect()`` what ran.

    The run must copy its memory map where ``$WHEEL_DDMIN_MAPS`` says before it exits: the
    inference probe and the check boot script do (``_trace.Tracer.collect()``), and so does any
    script run by ``run_traced``. Use it as a context manager: the log and the map are removed.
    """

    def __init__(self, target: Target, scratch: Path | None = None) -> None:
        if not traceable(target):
            raise OracleError(f"code tracing needs a target run by qemu-user, not {target.describe()}")
        self._folder = Path(tempfile.mkdtemp(prefix="codetrace-", dir=scratch))
        self._log, self._maps = self._folder / "qemu.log", self._folder / "maps.txt"

    def __enter__(self) -> CodeTrace:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """``env`` (default: the oracles' usual environment) with qemu's code log and the map file."""
        extra = {"QEMU_LOG": "in_asm", "QEMU_LOG_FILENAME": str(self._log), MAPS_ENV: str(self._maps)}
        return {**(env if env is not None else harness.python_env()), **extra}

    def collect(self) -> ExecutedCode:
        """What the run executed; an OracleError when it left no map (it did not exit normally)."""
        if not self._maps.exists():
            raise OracleError("the traced run left no memory map (it did not exit normally)")
        regions = parse_maps(self._maps.read_text(encoding="utf-8"))
        size = self._log.stat().st_size if self._log.exists() else 0
        return executed(log_blocks(self._log), regions, size)


def run_traced(
    target: Target,
    script: str | Path,
    args: Sequence[str | Path] = (),
    *,
    flags: Sequence[str] = ("-I", "-S"),
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    scratch: Path | None = None,
) -> tuple[harness.Completed, ExecutedCode]:
    """Run ``python FLAGS SCRIPT ARGS`` on ``target`` with code tracing; what it did, and what ran."""
    with CodeTrace(target, scratch) as trace:
        argv = target.argv(*flags, BOOT, script, *args)
        done = harness.run(argv, timeout=timeout, env=trace.env(env), cwd=cwd)
        try:
            return done, trace.collect()
        except OracleError as error:
            detail = done.last_error_line() or f"exit code {done.returncode}"
            raise OracleError(f"{error}: {detail}") from error


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


def log_blocks(log: Path) -> Iterator[Range]:
    """``[first, end)`` of each block in a qemu ``in_asm`` log (instruction sizes from their bytes)."""
    if not log.exists():
        return
    first = last = size = None
    with log.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("0x"):
                address, _, rest = line.partition(":")
                last, size = int(address, 16), _instruction_size(rest)
                first = last if first is None else first
            elif first is not None and last is not None and size is not None:
                yield first, last + size
                first = last = size = None
    if first is not None and last is not None and size is not None:
        yield first, last + size


def _instruction_size(rest: str) -> int:
    """Bytes of one instruction: ``  d503201f  nop`` (a word) or ``  48 89 e7    movq`` (bytes)."""
    encoded = rest.strip().split("  ", 1)[0]
    digits = encoded.replace(" ", "")
    return max(len(digits) // 2, 1)


def executed(blocks: Iterable[Range], regions: Sequence[Region], log_bytes: int = 0) -> ExecutedCode:
    """Blocks placed in the regions of files, as load-relative ranges per file.

    Every file region counts, not only those marked executable: qemu 7.2 shows an x86_64 guest
    its code pages as ``r--p``, merged with the read-only pages around them.
    """
    code = sorted(regions, key=lambda r: r.start)
    starts = [r.start for r in code]
    bases = _load_bases(regions)
    found: dict[str, list[Range]] = {}
    count = unmapped = 0
    for low, high in blocks:
        count += 1
        index = bisect_right(starts, low) - 1
        if index < 0 or low >= code[index].end:
            unmapped += 1
            continue
        region = code[index]
        base = bases.get(region.path, region.start - region.offset)
        found.setdefault(region.path, []).append((low - base, min(high, region.end) - base))
    merged = {path: tuple(_merge(spans)) for path, spans in found.items()}
    return ExecutedCode(merged, count, unmapped, log_bytes)


def _load_bases(regions: Sequence[Region]) -> dict[str, int]:
    """Where each file's offset 0 (its ELF header, the first loadable segment) was mapped."""
    bases: dict[str, int] = {}
    for region in regions:
        if region.offset == 0:
            bases[region.path] = min(region.start, bases.get(region.path, region.start))
    return bases


def _merge(spans: list[Range]) -> Iterator[Range]:
    spans.sort()
    current = spans[0]
    for low, high in spans[1:]:
        if low <= current[1]:
            current = (current[0], max(current[1], high))
        else:
            yield current
            current = (low, high)
    yield current


def relative_to(code: ExecutedCode, tree: Path) -> dict[str, tuple[Range, ...]]:
    """The ranges of files under ``tree``, keyed by their POSIX path inside it."""
    prefix = str(tree) + os.sep
    return {p[len(prefix) :].replace(os.sep, "/"): r for p, r in code.ranges.items() if p.startswith(prefix)}
