"""Which machine code an emulated target ran: file-offset ranges per mapped file, from qemu-user.

ptrace cannot watch code that qemu-user emulates (the host sees qemu, not the guest), but qemu logs
every block of guest code it translates when ``QEMU_LOG=in_asm`` is set, with guest addresses. A
block is translated right before it first runs, so the log is a one-run trace of every
instruction that ran (qemu 7.2 logs each block once while its translation stays cached). The
guest's ``/proc/self/maps``, copied by the run before it exits (``_trace.Tracer.collect()`` in the
probe and the check boot script, or ``_maps_boot.py`` around any script), places each block in a
file, as file offsets (what ``minimizer.elf_code`` patches). Each process logs to its own file
(qemu puts its pid in the name) and copies its own map.

For the machine-code pass, ``traced_run_for`` gives an emulated target the same traced run the
ptrace supervisor gives a native one: the planted entry traps are lifted before the run, and the
entered ones are those whose offset an executed block covers. A run that fails names the trap
instructions that stopped it (``oracles.qemu_log``), as the supervisor does, for the pass's repair.

Measured on numpy 1.26.4 + tflite-runtime 2.14.0 (aarch64, two models): 95,494 blocks, a 22 MB
log, 3.4 s instead of 2.6 s for the run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from minimizer.errors import OracleError
from oracles import harness
from oracles._trace import MAPS_ENV
from oracles.code_trace import traced_run
from oracles.protocol import Outcome, Traps, Verdict
from oracles.qemu_log import QemuLog, Range, Region, parse_maps, read_log
from oracles.target import Target

BOOT = Path(__file__).with_name("_maps_boot.py")
_PID = re.compile(r"-(\d+)\.")


@dataclass(frozen=True, slots=True)
class ExecutedCode:
    """Code that ran, per mapped file, as sorted, merged ``[start, end)`` file offsets."""

    ranges: Mapping[str, tuple[Range, ...]]
    blocks: int  # translated blocks in the logs
    unmapped_blocks: int  # blocks in no file (the dynamic linker's trampolines, JIT code)
    log_bytes: int
    traps: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # trap instructions that ran

    def ran(self, path: str, start: int, end: int) -> bool:
        """Whether any code in file offsets ``[start, end)`` of ``path`` ran (a function, say)."""
        spans = self.ranges.get(path, ())
        index = bisect_left(spans, end, key=lambda span: span[0]) - 1  # the last span starting before end
        return index >= 0 and spans[index][1] > start


def traceable(target: Target) -> bool:
    """Whether ``target`` runs under qemu-user, whose code log this module reads."""
    return bool(target.launcher) and Path(target.launcher[0]).name.startswith("qemu-")


class CodeTrace:
    """Traced runs of an emulated target: run with ``env(...)``, then ``collect()`` what ran.

    Use it as a context manager: the logs and the maps are removed.
    """

    def __init__(self, target: Target, scratch: Path | None = None) -> None:
        if not traceable(target):
            raise OracleError(f"code tracing needs a target run by qemu-user, not {target.describe()}")
        self._folder = Path(tempfile.mkdtemp(prefix="codetrace-", dir=scratch))

    def __enter__(self) -> CodeTrace:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def env(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """``env`` (default: the oracles' usual environment) with qemu's code log and the map file."""
        extra = {
            "QEMU_LOG": "in_asm",
            "QEMU_STRACE": "1",  # syscalls too: the map of a process that dies before copying its own
            "QEMU_LOG_FILENAME": str(self._folder / "qemu-%d.log"),  # qemu writes its pid for %d
            MAPS_ENV: str(self._folder / "maps"),
        }
        return {**(env if env is not None else harness.python_env()), **extra}

    def collect(self, *, rebuild: bool = False) -> ExecutedCode:
        """What the processes that copied their map executed; an OracleError when none did.

        With ``rebuild`` (a run that failed), a process that left no map counts too, with the map
        its system calls give: it may have died before copying it, at a trap say.
        """
        found = []
        for log in sorted(self._folder.glob("qemu-*.log")):
            maps = self._folder / f"maps-{_PID.search(log.name).group(1)}.txt"  # type: ignore[union-attr]
            if not maps.exists() and not rebuild:
                continue
            found.append(_placed(read_log(log), maps, log.stat().st_size))
        if not found:
            raise OracleError("the traced run left no memory map (it did not exit normally)")
        return merged(found)


def _placed(contents: QemuLog, maps: Path, log_bytes: int) -> ExecutedCode:
    """One process's log placed in its own map, or (none copied) the map its system calls gave."""
    regions = parse_maps(maps.read_text(encoding="utf-8")) if maps.exists() else contents.regions
    return executed(contents.blocks, regions, log_bytes, contents.traps)


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


# The machine-code pass's traced run --------------------------------------------------------------


class TracedRun(Protocol):
    """What an oracle needs of a traced run (``oracles.code_trace.TracedRun`` under ptrace)."""

    @property
    def planted(self) -> bool: ...

    def argv(self, argv: list[str]) -> list[str]: ...

    def env(self, env: Mapping[str, str]) -> dict[str, str]: ...

    def verdict(self, judged: Verdict) -> Verdict: ...


class EmulatedRun:
    """A traced run under qemu: entry traps lifted in the tree first, the entered ones read from the log.

    A run that fails says which trap stopped it as the ptrace supervisor does: a block the process
    ran ends in the trap, placed in a file by the map its system calls rebuilt (it died before
    copying its own). The machine pass restores the function holding it and goes on.
    """

    def __init__(self, target: Target, tree: Path, traps: Traps, folder: Path) -> None:
        self._tree = tree
        self._traps = traps
        self._trace = CodeTrace(target, folder)
        for path, sites in traps.sites.items():
            if sites:  # a watched file with no sites may be a hard link into the workspace's copy
                _lift(tree / path, sites)

    @property
    def planted(self) -> bool:
        return self._traps.planted

    def argv(self, argv: list[str]) -> list[str]:
        return argv  # already the target's command line

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        merged_env = {**self._trace.env(env), **self._traps.env}
        return {name: value for name, value in merged_env.items() if value is not None}

    def verdict(self, judged: Verdict) -> Verdict:
        """``judged`` with the planted traps the run went past and the traps it hit in the files named."""
        try:
            code = self._trace.collect(rebuild=not judged.passed)
        except OracleError as error:
            return judged if not judged.passed else Verdict(Outcome.UNRESOLVED, str(error), judged.seconds)
        return dataclasses.replace(judged, entered=self._entered(code))

    def _entered(self, code: ExecutedCode) -> frozenset[tuple[str, int]]:
        entered = {
            (path, offset)
            for path, sites in self._traps.sites.items()
            for offset in sites
            if code.ran(str(self._tree / path), offset, offset + 1)
        }
        # A rebuilt map names files as the loader opened them (``numpy/core/../../numpy.libs/...``).
        named = {os.path.realpath(self._tree / path): path for path in self._traps.sites}
        for file, offsets in code.traps.items():
            if (path := named.get(os.path.realpath(file))) is not None:
                entered.update((path, offset) for offset in offsets)
        return frozenset(entered)


def _lift(file: Path, sites: Mapping[int, bytes]) -> None:
    """Put back the bytes the entry traps replaced: qemu would stop at the first one."""
    data = bytearray(file.read_bytes())
    for offset, original in sites.items():
        data[offset : offset + len(original)] = original
    file.write_bytes(bytes(data))


@contextmanager
def traced_run_for(target: Target, tree: Path, traps: Traps, scratch: Path) -> Iterator[TracedRun]:
    """The traced run for ``target``: the ptrace supervisor natively, qemu's code log when emulated."""
    if not target.emulated:
        with traced_run(tree, traps, scratch) as native:
            yield native
        return
    folder = Path(tempfile.mkdtemp(prefix="code-trace-", dir=scratch))
    try:
        yield EmulatedRun(target, tree, traps, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Placing the blocks in files --------------------------------------------------------------------


def executed(
    blocks: Iterable[Range], regions: Sequence[Region], log_bytes: int = 0, traps: Iterable[int] = ()
) -> ExecutedCode:
    """Blocks (and the trap instructions that ran) placed in the regions of files, as file offsets.

    Every file region counts, not only those marked executable: qemu 7.2 shows an x86_64 guest
    its code pages as ``r--p``, merged with the read-only pages around them.
    """
    place = _Placer(regions)
    found: dict[str, list[Range]] = {}
    count = unmapped = 0
    for low, high in blocks:
        count += 1
        region = place(low)
        if region is None:
            unmapped += 1
            continue
        shift = region.offset - region.start
        found.setdefault(region.path, []).append((low + shift, min(high, region.end) + shift))
    hit: dict[str, set[int]] = {}
    for address in traps:
        if (region := place(address)) is not None:
            hit.setdefault(region.path, set()).add(address - region.start + region.offset)
    return ExecutedCode(
        {path: tuple(_merge(spans)) for path, spans in found.items()},
        count,
        unmapped,
        log_bytes,
        {path: tuple(sorted(offsets)) for path, offsets in hit.items()},
    )


class _Placer:
    """The file region a guest address falls in, if any."""

    def __init__(self, regions: Sequence[Region]) -> None:
        self._regions = sorted(regions, key=lambda r: r.start)
        self._starts = [r.start for r in self._regions]

    def __call__(self, address: int) -> Region | None:
        index = bisect_right(self._starts, address) - 1
        if index < 0 or address >= self._regions[index].end:
            return None
        return self._regions[index]


def merged(parts: Sequence[ExecutedCode]) -> ExecutedCode:
    """What several processes ran, together."""
    spans: dict[str, list[Range]] = {}
    traps: dict[str, set[int]] = {}
    for part in parts:
        for path, ranges in part.ranges.items():
            spans.setdefault(path, []).extend(ranges)
        for path, offsets in part.traps.items():
            traps.setdefault(path, set()).update(offsets)
    return ExecutedCode(
        {path: tuple(_merge(found)) for path, found in spans.items()},
        sum(p.blocks for p in parts),
        sum(p.unmapped_blocks for p in parts),
        sum(p.log_bytes for p in parts),
        {path: tuple(sorted(offsets)) for path, offsets in traps.items()},
    )


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
