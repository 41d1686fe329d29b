"""Runs a command under ptrace and records which planted entry traps it hit (standard library only).

Started as ``python -I _code_tracer.py SPEC.json -- COMMAND...`` in the oracle's process group.
The spec names, for each trapped shared object (absolute path), the file offset of every entry
trap and the original bytes there. On each SIGTRAP at a planted address the tracer records the
(file, offset), writes the original bytes back (PTRACE_POKEDATA), rewinds the program counter
past the trap and lets the thread go on: every function costs one stop, the first time it runs.
A SIGTRAP elsewhere in a named file (a trap the candidate holds) is recorded too, then delivered.
Threads, forks and execs are followed; every other signal reaches the tracee unchanged. At the
end it writes ``{"entered": {path: [offsets]}, "signal": N or null}`` (or ``{"unavailable":
reason}`` when ptrace is refused) to the spec's ``out`` and exits as the command did. Its own process, so its
``waitpid(-1)`` can never reap another child of the caller.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import signal
import sys
from typing import Any

_TRACEME, _PEEKDATA, _POKEDATA, _CONT = 0, 2, 5, 7
_SETOPTIONS, _GETREGSET, _SETREGSET = 0x4200, 0x4204, 0x4205
_OPTIONS = 0x2 | 0x4 | 0x8 | 0x10 | 0x100000  # TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC, EXITKILL
_EVENT_EXEC = 4
_WALL = 0x40000000
_NT_PRSTATUS = 1
# Per machine: registers in NT_PRSTATUS, index of the program counter, bytes to rewind after a trap
# (int3 leaves rip past itself; brk leaves pc on itself).
_REGS = {"x86_64": (27, 16, 1), "aarch64": (34, 32, 0)}
UNAVAILABLE = 125  # exit code when the command could not be traced at all

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


def _ptrace(request: int, pid: int, addr: int = 0, data: int | None = 0) -> int:
    ctypes.set_errno(0)
    result = int(_libc.ptrace(request, pid, addr, data))
    error = ctypes.get_errno()
    if result == -1 and error:
        raise OSError(error, os.strerror(error))
    return result


class Supervisor:
    """The stops of every tracee, one at a time, from ``waitpid(-1, __WALL)``."""

    def __init__(self, sites: dict[str, dict[int, bytes]]) -> None:
        count, self._pc, self._rewind = _REGS[platform.machine()]
        self._regs_type = ctypes.c_uint64 * count
        self.sites = sites
        self.entered: dict[str, set[int]] = {}
        self._maps: dict[int, list[tuple[int, int, int, str]]] = {}
        self._known: set[int] = set()

    def run(self, first: int) -> int:
        """Follow ``first`` and everything it starts until all are gone; its wait status."""
        _ptrace(_SETOPTIONS, first, 0, _OPTIONS)
        self._known.add(first)
        _ptrace(_CONT, first)
        status = 0
        while True:
            try:
                pid, code = os.waitpid(-1, _WALL)
            except ChildProcessError:
                return status
            if os.WIFEXITED(code) or os.WIFSIGNALED(code):
                self._maps.pop(pid, None)
                status = code if pid == first else status
            elif os.WIFSTOPPED(code):
                self._stopped(pid, os.WSTOPSIG(code), code >> 16)

    def _stopped(self, pid: int, sig: int, event: int) -> None:
        new = pid not in self._known
        self._known.add(pid)
        if event:
            if event == _EVENT_EXEC:
                self._maps.pop(pid, None)
            self._resume(pid, 0)
        elif new and sig == signal.SIGSTOP:
            self._resume(pid, 0)  # a new thread or child, stopped as it was attached
        elif sig == signal.SIGTRAP and self._lift(pid):
            self._resume(pid, 0)
        else:
            self._resume(pid, sig)

    @staticmethod
    def _resume(pid: int, sig: int) -> None:
        # Gone meanwhile (a sibling thread called exit): its exit is reported next.
        with contextlib.suppress(ProcessLookupError):
            _ptrace(_CONT, pid, 0, sig)

    def _lift(self, pid: int) -> bool:
        """If ``pid`` stopped on a planted trap: record it, restore the code, rewind; else False."""
        regs = self._regs_type()
        vec = _IoVec(ctypes.addressof(regs), ctypes.sizeof(regs))
        _ptrace(_GETREGSET, pid, _NT_PRSTATUS, ctypes.addressof(vec))
        address = regs[self._pc] - self._rewind
        where = self._locate(pid, address)
        if where is None:
            return False
        path, offset = where
        self.entered.setdefault(path, set()).add(offset)
        original = self.sites[path].get(offset)
        if original is None:
            return False  # a trap the candidate itself holds: it dies of it, as it would untraced
        self._poke(pid, address, original)
        if self._rewind:
            regs[self._pc] = address
            _ptrace(_SETREGSET, pid, _NT_PRSTATUS, ctypes.addressof(vec))
        return True

    def _locate(self, pid: int, address: int) -> tuple[str, int] | None:
        for fresh in (False, True):
            if fresh or pid not in self._maps:
                self._maps[pid] = self._read_maps(pid)
            for start, end, offset, path in self._maps[pid]:
                if start <= address < end:
                    return path, address - start + offset
        return None

    def _read_maps(self, pid: int) -> list[tuple[int, int, int, str]]:
        found = []
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="surrogateescape") as handle:
            for line in handle:
                fields = line.rstrip("\n").split(maxsplit=5)
                if len(fields) == 6 and fields[5] in self.sites:
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    found.append((start, end, int(fields[2], 16), fields[5]))
        return found

    @staticmethod
    def _poke(pid: int, address: int, original: bytes) -> None:
        word = address & ~7
        shift = address - word
        current = _ptrace(_PEEKDATA, pid, word, 0) & 0xFFFFFFFFFFFFFFFF
        raw = bytearray(current.to_bytes(8, "little"))
        raw[shift : shift + len(original)] = original
        _ptrace(_POKEDATA, pid, word, int.from_bytes(raw, "little"))


def _start(command: list[str]) -> tuple[int, str]:
    """Fork the command traced from its first instruction; (pid, "") or (0, why it could not)."""
    read_end, write_end = os.pipe()  # close-on-exec: EOF means the exec happened
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            _ptrace(_TRACEME, 0)
            os.execvp(command[0], command)
        except OSError as error:
            os.write(write_end, f"{command[0]}: {error.strerror}".encode())
        os._exit(127)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        failure = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, _WALL)
    if failure or not os.WIFSTOPPED(status):
        return 0, failure or "the command did not start"
    return pid, ""


def _finish(status: int) -> int:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def _write(path: str, result: dict[str, Any]) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(path + ".tmp", path)


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    sites = {
        os.path.realpath(path): {int(offset): bytes.fromhex(original) for offset, original in found.items()}
        for path, found in spec["sites"].items()
    }
    if platform.machine() not in _REGS:
        _write(spec["out"], {"unavailable": f"no tracer for {platform.machine()}"})
        return UNAVAILABLE
    pid, failure = _start(command)
    if not pid:
        _write(spec["out"], {"unavailable": failure})
        return UNAVAILABLE
    supervisor = Supervisor(sites)
    status = supervisor.run(pid)
    entered = {path: sorted(found) for path, found in supervisor.entered.items()}
    killed = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    _write(spec["out"], {"entered": entered, "signal": killed})
    return _finish(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
