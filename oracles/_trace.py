"""What a candidate's interpreter used under the candidate tree: files, code that ran, names read.

Imported by the scripts that run inside a candidate's interpreter (``_probe.py``, ``_check_boot.py``),
so it needs nothing but the standard library. Portable first: an audit hook sees the ``open`` of
every module an import reads, ``sys.modules`` names every imported module's file (and a namespace
package's folder, slash-terminated), and on Linux ``/proc/self/maps`` names the shared libraries
the dynamic linker loaded, which raise no audit event.

Coverage, for the Python statements pass: every code object that starts executing (functions,
methods, class and module bodies), by file, first line and name, seen by ``sys.setprofile`` on
Python 3.10 and 3.11 and by ``sys.monitoring`` (once per code object) on 3.12 and later; and every
attribute read from a module of the tree (``np.clip``, ``from .core import *``), with the file and
line of the code that read it, seen by giving each such module a subclass of ModuleType whose
``__getattribute__`` takes note.
"""

from __future__ import annotations

import os
import sys
import threading
import types
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Read by the import system and by tools all the time; no statement of the module binds them.
_MACHINERY = frozenset(
    {"__spec__", "__path__", "__name__", "__file__", "__loader__", "__package__", "__dict__"}
    | {"__class__", "__builtins__", "__cached__", "__getattr__", "__dir__"}
)
_TOOL_NAME = "wheel-ddmin"
_TOOL_IDS = (4, 3)  # sys.monitoring tool ids, 3.12+
_OPTIMIZED = 0x1  # inspect.CO_OPTIMIZED: set on function code, not on module and class bodies
MAPS_ENV = "WHEEL_DDMIN_MAPS"  # set by oracles.codetrace: where to copy the memory map at collect()


class Tracer:
    """Start it before the imports; ``collect()`` at the end returns what the run used and lets go
    of the run: nothing stays traced, held or changed.

    ``collect()`` gives ``opened`` (absolute paths), ``ran`` (``[path, first line, name]`` of each
    code object under the roots that started) and ``reads`` (``[module path, name, reader path,
    reader line, origin]``; the reader is ``["", 0]`` when the code that read it lies outside the
    roots, and the origin tells where the value was made, when that is cheap to know).
    """

    def __init__(self, roots: list[str]) -> None:
        self.roots = tuple(os.path.join(os.path.abspath(r), "") for r in roots)
        self.opened: set[str] = set()
        self.codes: dict[int, types.CodeType] = {}  # by id; the value keeps the id from being reused
        self.reads: set[tuple[str, str, str, int, str]] = set()
        self.live = bool(self.roots)
        self._watched: dict[int, tuple[dict[str, Any], str, weakref.ref[types.ModuleType]]] = {}
        self._seen: set[tuple[int, str, types.CodeType, int]] = set()
        self._named: dict[int, tuple[object, str]] = {}  # by id; the value keeps the id from being reused
        self._named_at: dict[str, int] = {}
        self._module_class = _watching(self, self._seen)
        self._sink = [self.opened]  # where the audit hook notes opened files; empty once released
        if self.roots:
            sys.addaudithook(_audit_hook(self.roots, self._sink))
            self._start_coverage()

    # Code that starts ------------------------------------------------------------------------

    def _start_coverage(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        # Ids 3 and 4 have no assigned role: a check that runs coverage.py or a profiler keeps its own.
        free = [t for t in _TOOL_IDS if monitoring is not None and monitoring.get_tool(t) is None]
        if monitoring is None or not free:
            sys.setprofile(self._profile)
            threading.setprofile(self._profile)
            return
        monitoring.use_tool_id(free[0], _TOOL_NAME)
        monitoring.register_callback(free[0], monitoring.events.PY_START, self._started)
        monitoring.set_events(free[0], monitoring.events.PY_START)

    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        # A thread started before collect() keeps this profiler (3.10, 3.11): it must stay idle.
        if event == "call" and self.live:
            code = frame.f_code
            if id(code) not in self.codes:
                self._first_start(code, frame)

    def _started(self, code: types.CodeType, offset: int) -> object:
        # The frame that starts is the callback's caller; each code object reports once.
        self._first_start(code, sys._getframe(1))
        return getattr(sys, "monitoring").DISABLE  # noqa: B009 - absent before 3.12, for mypy too

    def _first_start(self, code: types.CodeType, frame: types.FrameType) -> None:
        self.codes[id(code)] = code
        if code.co_name == "<module>" and code.co_filename.startswith(self.roots):
            module = sys.modules.get(frame.f_globals.get("__name__", ""))
            if module is not None and type(module) is types.ModuleType:
                self._watch(module, code.co_filename)

    # Names read from modules -----------------------------------------------------------------

    def _watch(self, module: types.ModuleType, path: str) -> None:
        self._watched[id(module)] = (module.__dict__, path, weakref.ref(module))
        module.__class__ = self._module_class

    def note(self, module: object, name: str, value: object, frame: types.FrameType | None) -> None:
        """``name`` was read from ``module``; remember it if the module's own dict holds it."""
        found = self._watched.get(id(module))
        if found is None or name in _MACHINERY or name not in found[0]:
            return  # a name served by the module's __getattr__ has no binding to keep
        # ``from m import x`` first asks hasattr(m, "x") from inside importlib: the importer reads it.
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        reader, line, origin = "", 0, ""
        if frame is not None and frame.f_code.co_filename.startswith(self.roots):
            reader, line = frame.f_code.co_filename, frame.f_lineno or 0
            # Only a module body re-exports (``from .core import *``): where the value came from
            # tells two re-exports of one object apart from two objects.
            if not frame.f_code.co_flags & _OPTIMIZED:
                origin = self._first_read(value, found[1], name) if _ufunc(value) else _origin(value)
        self.reads.add((found[1], name, reader, line, origin))

    def _first_read(self, value: object, module: str, name: str) -> str:
        """An object named by the first read the tracer saw of it: one object, one name, in a run.

        For ufuncs, whose ``__name__`` is numpy's code: a user's run may never run it, and the
        machine-code pass, whose traced runs run without this tracer, would trap it.
        """
        known = self._named.get(id(value))
        if known is None:
            where = f"{module}:{name}"
            self._named_at[where] = count = self._named_at.get(where, -1) + 1
            known = self._named[id(value)] = (value, f"{type(value).__name__} first read as {where}#{count}")
        return known[1]

    # The result --------------------------------------------------------------------------------

    def collect(self) -> dict[str, list[Any]]:
        dump_maps()
        if not self.roots:
            return {"opened": [], "ran": [], "reads": []}
        self._stop_coverage()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path.startswith(self.roots):
                self.opened.add(path)
            elif path is None:
                # A namespace package opens no file, yet needs its folder.
                for folder in getattr(module, "__path__", None) or []:
                    if isinstance(folder, str) and folder.startswith(self.roots):
                        self.opened.add(os.path.join(folder, ""))
        self._maps()
        ran = {
            (c.co_filename, c.co_firstlineno, c.co_name)
            for c in self.codes.values()
            if c.co_filename.startswith(self.roots)
        }
        found: dict[str, list[Any]] = {
            "opened": sorted(self.opened),
            "ran": sorted(ran),
            "reads": sorted(self.reads),
        }
        self._release()
        return found

    def _release(self) -> None:
        """Let the rest of the run, its teardown above all, go as a user's run goes.

        A module dict the tracer held outlived its module at exit with all it holds: numpy 1.26.4
        freed 68 of its 264 function dispatchers at exit then, where a user's run frees them all
        (the machine-code pass traces runs without this tracer). Modules get their class back.
        """
        self.live = False
        for _, _, module_ref in self._watched.values():
            module = module_ref()
            if module is not None and type(module) is self._module_class:
                module.__class__ = types.ModuleType
        self._watched.clear()
        self._seen.clear()
        self._named.clear()
        self._named_at.clear()
        self.codes.clear()
        self._sink.clear()  # the audit hook stays (hooks cannot be removed) and notes nothing more
        self.opened.clear()
        self.reads.clear()

    def _stop_coverage(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        ours = [t for t in _TOOL_IDS if monitoring is not None and monitoring.get_tool(t) == _TOOL_NAME]
        if monitoring is None or not ours:
            sys.setprofile(None)
            threading.setprofile(None)
            return
        monitoring.set_events(ours[0], 0)
        monitoring.free_tool_id(ours[0])

    def _maps(self) -> None:
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    path = line.rstrip("\n").split(" ")[-1]
                    if path.startswith(self.roots):
                        self.opened.add(path)
        except OSError:
            pass  # not Linux: the audit hook and sys.modules still see every Python-level import


def _audit_hook(roots: tuple[str, ...], sink: list[set[str]]) -> Any:
    """Notes every file under ``roots`` the run opens into the set ``sink`` holds, if it holds one.

    A closure, not a method: the interpreter keeps audit hooks to the end, the tracer need not stay.
    """

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if sink and event == "open" and isinstance(args[0], str) and args[0].startswith(roots):
            sink[0].add(args[0])

    return audit


def _watching(tracer: Tracer, seen: set[tuple[int, str, types.CodeType, int]]) -> type[types.ModuleType]:
    """A ModuleType whose attribute reads ``tracer`` notes, with the reading frame."""
    get = types.ModuleType.__getattribute__
    frame_of = sys._getframe

    class WatchedModule(types.ModuleType):
        def __getattribute__(self, name: str) -> Any:
            value = get(self, name)
            frame = frame_of(1)
            # Hot: numpy reads its own modules' names all the time; note each place once.
            key = (id(self), name, frame.f_code, frame.f_lineno)
            if key not in seen:
                seen.add(key)
                tracer.note(self, name, value, frame)
            return value

    return WatchedModule


def _ufunc(value: object) -> bool:
    return type(value).__name__ == "ufunc"  # the type's name is CPython's to read, not numpy's


def _origin(value: object, depth: int = 0) -> str:
    """Where a function, class or module was made: two names read with the same origin are one object.

    "" when that cannot be told without running the object's own code (most instances).
    """
    if isinstance(value, types.FunctionType):
        code = value.__code__
        return f"{code.co_filename}:{code.co_firstlineno}:{code.co_name}"
    if isinstance(value, type):
        where = type.__getattribute__(value, "__module__"), type.__getattribute__(value, "__qualname__")
        return "class {}.{}".format(*where)
    if isinstance(value, types.ModuleType):
        return f"module {types.ModuleType.__getattribute__(value, '__name__')}"
    if isinstance(value, types.BuiltinFunctionType):
        return f"{type(value).__name__} {getattr(value, '__module__', '')}.{getattr(value, '__name__', '')}"
    # A functools.wraps wrapper (numpy's array-function dispatchers) is as unique as what it wraps.
    attributes = getattr(value, "__dict__", None)
    if depth < 3 and isinstance(attributes, dict) and "__wrapped__" in attributes:
        inner = _origin(attributes["__wrapped__"], depth + 1)
        return f"{type(value).__name__} of {inner}" if inner else ""
    return ""


def dump_maps() -> None:
    """Copy ``/proc/self/maps`` to ``$WHEEL_DDMIN_MAPS-<pid>.txt``, if that is set: an emulator's
    code log names guest addresses, and this map places them in files (``oracles.codetrace``)."""
    prefix = os.environ.get(MAPS_ENV)
    if not prefix:
        return
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as source:
        text = source.read()
    with open(f"{prefix}-{os.getpid()}.txt", "w", encoding="utf-8") as handle:
        handle.write(text)


def relative(paths: Iterable[str], tree: Path) -> frozenset[str]:
    """Host side: the traced absolute paths as POSIX paths inside ``tree`` (a trailing slash kept)."""
    inside = _Inside(tree)
    return frozenset(p for p in map(inside, paths) if p)


class _Inside:
    """Host side: a path relative to ``tree`` as a POSIX path, or "" when it lies outside."""

    def __init__(self, tree: Path) -> None:
        resolved = str(tree.resolve()) if tree.exists() else str(tree)
        self.prefixes = tuple(p + sep for p in dict.fromkeys((str(tree), resolved)) for sep in "/\\")

    def __call__(self, path: str) -> str:
        for prefix in self.prefixes:
            if path.startswith(prefix):
                return path[len(prefix) :].replace("\\", "/")
        return ""

    def strip(self, text: str) -> str:
        """``text`` without the tree's location wherever it names a path in it."""
        for prefix in self.prefixes:
            text = text.replace(prefix, "")
        return text


def relative_coverage(
    collected: Iterable[dict[str, Any]], tree: Path
) -> tuple[frozenset[tuple[str, int, str]], frozenset[tuple[str, str, str, int, str]]]:
    """Host side: the ``ran`` and ``reads`` of one or more ``collect()`` results, inside ``tree``.

    A reader outside ``tree`` becomes ``("", 0)``.
    """
    inside = _Inside(tree)
    ran: set[tuple[str, int, str]] = set()
    reads: set[tuple[str, str, str, int, str]] = set()
    for data in collected:
        for path, line, name in data.get("ran", ()):
            where = inside(path)
            if where:
                ran.add((sys.intern(where), int(line), sys.intern(name)))
        for module, name, reader, line, origin in data.get("reads", ()):
            where = inside(module)
            if where:
                by = sys.intern(inside(reader)) if reader else ""
                key = (sys.intern(where), sys.intern(name), by, int(line) if by else 0, inside.strip(origin))
                reads.add(key)
    return frozenset(ran), frozenset(reads)
