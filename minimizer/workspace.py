"""One unpacked, byte-compiled copy per input wheel; candidates are trees of hard links into it."""

from __future__ import annotations

import contextlib
import itertools
import os
import py_compile
import shutil
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from minimizer.state import Key, State, content_digest
from minimizer.wheelfile import DEFAULT_MAX_UNPACKED, Member, Wheel, extract, tree_path, write_wheel

_UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH
# Byte-compiles ``(source, pyc)`` pairs for an interpreter whose bytecode is not the host's.
Compiler = Callable[[Sequence[tuple[str, str]]], None]


class Workspace:
    """Owns a temporary folder for the whole run; removed on every exit path.

    Bytecode is the host interpreter's, unless ``compiler`` compiles it for another interpreter
    whose ``__pycache__`` files are named ``cache_tag``: then edited modules get none, and the
    candidate's interpreter compiles them at import.
    """

    def __init__(
        self,
        wheels: Sequence[Wheel],
        *,
        parent: Path | None = None,
        max_unpacked: int = DEFAULT_MAX_UNPACKED,
        cache_tag: str | None = None,
        compiler: Compiler | None = None,
    ) -> None:
        self.wheels = tuple(wheels)
        self._cache_tag = cache_tag or sys.implementation.cache_tag
        self._compiler = compiler
        self.root = Path(tempfile.mkdtemp(prefix="wheel-ddmin-", dir=parent))
        self.scratch = self.root / "scratch"
        self._max_unpacked = max_unpacked
        self._by_tree_path: dict[str, Key] = {}
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._compiled: dict[str, Path] = {}
        self._compressed: dict[str, int] = {}

    def __enter__(self) -> Workspace:
        try:
            self.scratch.mkdir()
            for index, wheel in enumerate(self.wheels):
                extract(wheel, self.unpacked(index), max_unpacked=self._max_unpacked)
                self._compile_all(index)
                for member in wheel.members:
                    where = tree_path(member.path)
                    if where is not None:
                        self._by_tree_path[where] = Key(index, member.path)
        except BaseException:
            self.close()
            raise
        return self

    def _compile_all(self, wheel: int) -> None:
        """Byte-compile every module once, beside (not into) the unpacked members.

        Unchecked-hash pycs stay valid for a hard-linked source whatever its mtime, and a wheel's own
        ``__pycache__`` members are never overwritten, so output wheels keep the original bytes.
        """
        sources = [m.path for m in self.wheels[wheel].members if m.path.endswith(".py")]
        jobs = [(str(self.source(Key(wheel, p))), str(self._pyc(Key(wheel, p)))) for p in sources]
        if self._compiler is not None:
            self._compiler(jobs)
            return
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(_compile_one, jobs, chunksize=32))

    def _pyc(self, key: Key) -> Path:
        return self.root / "pyc" / f"w{key.wheel}" / (key.path + "c")

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def unpacked(self, wheel: int) -> Path:
        return self.root / f"w{wheel}"

    def source(self, key: Key) -> Path:
        return self.unpacked(key.wheel).joinpath(*key.path.split("/"))

    def read(self, key: Key, state: State | None = None) -> bytes:
        edited = state.content(key) if state is not None else None
        return edited if edited is not None else self.source(key).read_bytes()

    def original(self) -> State:
        return State.of(Key(i, m.path) for i, w in enumerate(self.wheels) for m in w.members)

    def is_metadata(self, key: Key) -> bool:
        return self.wheels[key.wheel].is_metadata(key.path)

    def key_of(self, opened: str) -> Key | None:
        """The member behind a path a run opened (a ``__pycache__`` pyc stands for its source)."""
        directory, _, name = opened.rpartition("/")
        if directory.endswith("__pycache__") and name.endswith(".pyc"):
            module = name.split(".")[0]
            parent = directory.removesuffix("__pycache__").rstrip("/")
            opened = f"{parent}/{module}.py" if parent else f"{module}.py"
        return self._by_tree_path.get(opened)

    # Sizes -------------------------------------------------------------------------------------

    def member(self, key: Key) -> Member:
        return self.wheels[key.wheel].member(key.path)

    def installed_bytes(self, state: State) -> int:
        edits = state.edit_map
        return sum(len(edits[k]) if k in edits else self.member(k).size for k in state.files)

    def compressed_bytes(self, state: State) -> int:
        """An estimate of the wheels' size: each member's deflated size, edits deflated afresh."""
        edits = state.edit_map
        return sum(
            self.deflated_size(edits[k]) if k in edits else self.member(k).compressed_size
            for k in state.files
        )

    def deflated_size(self, data: bytes) -> int:
        """What ``data`` compresses to in a wheel, computed once per content."""
        digest = content_digest(data)
        if digest not in self._compressed:
            self._compressed[digest] = len(zlib.compress(data, 6))
        return self._compressed[digest]

    # Candidate trees ---------------------------------------------------------------------------

    @contextmanager
    def materialize(self, state: State) -> Iterator[Path]:
        """A site-packages-like tree of the candidate: hard links, edited files written fresh."""
        tree = self.root / "candidates" / str(next(self._counter))
        try:
            tree.mkdir(parents=True)
            edits = state.edit_map
            for key in state.files:
                where = tree_path(key.path)
                if where is not None:
                    self._place(tree / where, key, edits.get(key))
            yield tree
        finally:
            shutil.rmtree(tree, ignore_errors=True)

    def _place(self, target: Path, key: Key, edited: bytes | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if edited is not None:
            target.write_bytes(edited)
            os.chmod(target, self.member(key).mode)
        elif not target.exists():  # a shipped pyc may already sit where ours goes; ours wins
            _link(self.source(key), target)
        if key.path.endswith(".py"):
            pyc = self._compile(edited) if edited is not None else self._pyc(key)
            if pyc is not None and pyc.exists():
                cached = target.parent / "__pycache__" / f"{target.stem}.{self._cache_tag}.pyc"
                cached.parent.mkdir(exist_ok=True)
                cached.unlink(missing_ok=True)
                _link(pyc, cached)

    def _compile(self, source: bytes) -> Path | None:
        """Byte-compile an edited module once per distinct content, not once per run."""
        if self._compiler is not None:
            return None  # one run of another interpreter per edit would cost more than it saves
        digest = content_digest(source)
        with self._lock:
            if digest not in self._compiled:
                folder = self.root / "edited"
                folder.mkdir(exist_ok=True)
                path = folder / f"{digest}.py"
                path.write_bytes(source)
                pyc = folder / f"{digest}.pyc"
                # On a syntax error the candidate fails at import, which is the verdict it deserves.
                with contextlib.suppress(py_compile.PyCompileError):
                    py_compile.compile(str(path), cfile=str(pyc), doraise=True, invalidation_mode=_UNCHECKED)
                self._compiled[digest] = pyc
            return self._compiled[digest]

    # Output ------------------------------------------------------------------------------------

    def write(self, state: State, dest: Path) -> list[Path]:
        """One output wheel per input wheel, with RECORD regenerated and dead entry points pruned."""
        outputs = []
        edits = state.edit_map
        for index, wheel in enumerate(self.wheels):
            contents: dict[str, bytes | Path] = {
                k.path: edits[k] if k in edits else self.source(k) for k in state.files if k.wheel == index
            }
            entry_points = f"{wheel.dist_info}/entry_points.txt"
            if entry_points in contents:
                modules = {tree_path(p) for p in contents}
                text = _text(contents[entry_points])
                contents[entry_points] = prune_entry_points(text, modules).encode()
            outputs.append(write_wheel(dest, wheel, contents))
        return outputs


def _compile_one(job: tuple[str, str]) -> None:
    source, pyc = job
    Path(pyc).parent.mkdir(parents=True, exist_ok=True)
    # Not valid Python for this interpreter (a template, say): it is never imported.
    with contextlib.suppress(py_compile.PyCompileError):
        py_compile.compile(source, cfile=pyc, doraise=True, invalidation_mode=_UNCHECKED)


def _text(source: bytes | Path) -> str:
    return (source if isinstance(source, bytes) else source.read_bytes()).decode("utf-8")


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)  # no hard links here (another file system, or FAT)


def prune_entry_points(text: str, files: set[str | None]) -> str:
    """Drop console and GUI scripts whose module is gone, so installing never leaves a dead command.

    Line by line, the way pip's reader (importlib.metadata) sees the file: every other line stays as
    it was, and a name given twice, which configparser would refuse, is no error.
    """
    out: list[str] = []
    for header, lines in _sections(text):
        name = header.strip()[1:-1].strip() if header else ""
        if name not in ("console_scripts", "gui_scripts"):
            out += [header, *lines] if header else lines
            continue
        kept = [line for line in lines if not _is_entry(line) or _entry_alive(line, files)]
        if any(_is_entry(line) for line in kept) or kept == lines:
            out += [header, *kept]
    return "".join(out)


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """The file's lines grouped under their ``[section]`` line (the first group's header is empty)."""
    groups: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            groups.append((line, []))
        else:
            groups[-1][1].append(line)
    return groups


def _is_entry(line: str) -> bool:
    stripped = line.strip()
    return "=" in stripped and not stripped.startswith(("#", ";"))


def _entry_alive(line: str, files: set[str | None]) -> bool:
    module = line.partition("=")[2].split(":")[0].strip()
    return _module_present(module, files)


def _module_present(module: str, files: set[str | None]) -> bool:
    base = module.replace(".", "/")
    if f"{base}.py" in files or f"{base}/__init__.py" in files:
        return True
    prefix = base + "."
    return any(f is not None and f.startswith(prefix) and f.endswith((".so", ".pyd")) for f in files)
