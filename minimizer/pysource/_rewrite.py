"""Rewrite Python source by line ranges: delete statements, stub function bodies, empty docstrings."""

from __future__ import annotations

import ast
import functools
import io
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

from minimizer.pysource._scopes import _FUNCTIONS, StmtPath
from minimizer.pysource._statements import (
    _BLANK,
    _COOKIE_LIKE,
    Stmt,
    _analyse,
    _Analysis,
    _end,
    _Entry,
    _is_docstring,
    _sorted,
    _starts_logical_line,
)

# Loud on purpose: SystemExit is not caught by ``except Exception``, so a fallback never hides it.
_STUB = b'raise SystemExit(__name__ + ".%s: removed by wheel-ddmin, it never ran under its oracles")'
# ``__getattr__`` is asked about names that do not exist (``hasattr``): it must answer as it would.
_STUB_GETATTR = (
    b'raise AttributeError(__name__ + ".%s: removed by wheel-ddmin, it never ran under its oracles")'
)
_EMPTY_DOCSTRING = b'""'
_LAYOUT = (
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
)


@dataclass(frozen=True, slots=True)
class Stub:
    """A function whose body `rewrite` can replace: lines ``start``..``end`` of the def at ``path``.

    ``first`` is the def's first line (its first decorator's, as in ``co_firstlineno``).
    ``docstring`` tells whether the body opens with one; the stub keeps an empty one then,
    so ``__doc__`` stays a string for code that edits docstrings at import time.
    """

    path: StmtPath
    first: int
    start: int
    end: int
    name: str
    qualname: str
    docstring: bool


def stubs(source: bytes) -> tuple[Stub, ...]:
    """Every function and method whose body `rewrite` can stub, in source order.

    Left out: bodies that share a line with the ``def`` (``def f(): return 1``) or follow a
    backslash, and bodies before a comment that looks like an encoding cookie (fewer lines
    could move it onto line 1 or 2).
    """
    analysis = _analyse(source)
    texts = analysis.texts
    risky = [n for n, text in enumerate(texts, start=1) if n > 2 and _COOKIE_LIKE.match(text)]
    entries = {e.path: e for e in analysis.entries}
    found = []
    for entry in analysis.entries:
        node = entry.node
        if not isinstance(node, _FUNCTIONS):
            continue
        first = entries[(*entry.path, "body", 0)]
        start = first.start
        if _starts_logical_line(first, texts) and not any(r > start for r in risky):
            docstring = _opens_with_docstring(node)
            found.append(
                Stub(entry.path, entry.start, start, _end(entry), node.name, _qualname(entry), docstring)
            )
    return tuple(found)


def delete(source: bytes, doomed: Iterable[Stmt]) -> bytes:
    """``source`` without the lines of the ``doomed`` statements (see `rewrite`)."""
    return rewrite(source, delete=doomed)


def rewrite(
    source: bytes,
    *,
    delete: Iterable[Stmt] = (),
    stub: Iterable[Stub] = (),
    blank: Iterable[Stmt] = (),
    comments: Iterable[int] = (),
) -> bytes:
    """``source`` with statements deleted, function bodies stubbed and docstrings emptied.

    ``delete`` takes deletable statements (from `statements`), ``stub`` functions from
    `stubs`, ``blank`` docstrings from `docstrings`, ``comments`` line numbers from `comments`
    (those lines go). A range inside another one goes with it.
    Every other byte is kept. A stubbed body becomes one ``raise SystemExit(...)`` line naming
    the function (``AttributeError`` for a ``__getattr__``, which ``hasattr`` asks about names
    that do not exist), after an empty docstring if it had one; an emptied docstring becomes ``""``;
    a block whose statements are all deleted gets one ``pass`` line where its first statement
    began. Raises ValueError for an edit that does not belong to ``source``.
    """
    analysis = _analyse(source)
    entries = {e.path: e for e in analysis.entries}
    ranges: list[tuple[int, int, bytes]] = []
    doomed = [_entry(entries, s) for s in delete]
    ranges += [(e.start, _end(e), b"") for e in doomed]
    ranges += [_stub_range(analysis, entries, s) for s in stub]
    ranges += [_blank_range(analysis, _entry(entries, s)) for s in blank]
    allowed = set(_comment_lines(source))
    for line in comments:
        if line not in allowed:
            raise ValueError(f"line {line} is not a comment line of this source")
        ranges.append((line, line, b""))
    if not ranges:
        return source
    replaced = _outermost(ranges)
    removed = {n for start, end, _ in replaced for n in range(start, end + 1)}
    anchors = _pass_anchors(analysis, {id(e) for e in doomed}, removed)
    anchors.update((start, text) for start, _, text in replaced if text)
    kept = (
        anchors.get(number, b"") if number in removed else line
        for number, line in enumerate(analysis.lines, start=1)
    )
    return analysis.bom + b"".join(kept)


def comments(source: bytes) -> tuple[int, ...]:
    """Lines that hold nothing but a comment, outside strings, past line 2 (a cookie or a ``#!``)."""
    return _comment_lines(source)


@functools.lru_cache(maxsize=32)
def _comment_lines(source: bytes) -> tuple[int, ...]:
    if not _analyse(source).entries and source.strip():
        return ()  # not a source we can map (see _analyse): leave it as it is
    comment: set[int] = set()
    other: set[int] = set()
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.COMMENT:
                comment.add(token.start[0])
            elif token.type not in _LAYOUT:
                other.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return ()
    return tuple(sorted(n for n in comment - other if n > 2))


def docstrings(source: bytes) -> tuple[Stmt, ...]:
    """The docstrings of the module, its classes and functions that `rewrite` can empty."""
    return _sorted(e.stmt for e in _analyse(source).entries if _is_docstring(e))


def _opens_with_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = node.body[0]
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _qualname(entry: _Entry) -> str:
    names: list[str] = []
    current: _Entry | None = entry
    while current is not None:
        node = current.node
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            if names and isinstance(node, _FUNCTIONS):
                names.append("<locals>")
            names.append(node.name)
        current = current.block.owner
    return ".".join(reversed(names))


def _entry(entries: dict[StmtPath, _Entry], stmt: Stmt) -> _Entry:
    # Matching the lines too catches a Stmt taken from another version of the file.
    entry = entries.get(stmt.path)
    if entry is None or entry.stmt is None or (entry.stmt.start, entry.stmt.end) != (stmt.start, stmt.end):
        raise ValueError(f"not a deletable statement of this source: {stmt!r}")
    return entry


def _stub_range(analysis: _Analysis, entries: dict[StmtPath, _Entry], stub: Stub) -> tuple[int, int, bytes]:
    entry = entries.get(stub.path)
    node = entry.node if entry is not None else None
    if (
        entry is None
        or not isinstance(node, _FUNCTIONS)
        or (entry.start, _end(entry), node.name)
        != (
            stub.first,
            stub.end,
            stub.name,
        )
    ):
        raise ValueError(f"not a function of this source: {stub!r}")
    line = analysis.lines[stub.start - 1]
    indent, ending = _indent(line), _ending(line) or b"\n"
    name = stub.qualname.encode("ascii", "backslashreplace")
    text = indent + (_STUB_GETATTR if stub.name == "__getattr__" else _STUB) % name + ending
    if stub.docstring:
        text = indent + _EMPTY_DOCSTRING + ending + text
    return stub.start, stub.end, text


def _blank_range(analysis: _Analysis, entry: _Entry) -> tuple[int, int, bytes]:
    if not _is_docstring(entry):
        raise ValueError(f"not a docstring of this source: {entry.stmt!r}")
    line = analysis.lines[entry.start - 1]
    return entry.start, _end(entry), _indent(line) + _EMPTY_DOCSTRING + _ending(line)


def _outermost(ranges: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Ranges nest or stay apart (they follow the statement tree): keep the outermost ones."""
    kept: list[tuple[int, int, bytes]] = []
    for start, end, text in sorted(ranges, key=lambda r: (r[0], -r[1])):
        if kept and start <= kept[-1][1]:
            continue
        kept.append((start, end, text))
    return kept


def _pass_anchors(analysis: _Analysis, doomed: set[int], removed: set[int]) -> dict[int, bytes]:
    anchors: dict[int, bytes] = {}
    for block in analysis.blocks:
        owner = block.owner
        # No child range holds its owner's first line, so this tells if the owner goes too.
        if owner is None or owner.start in removed:
            continue
        if all(id(member) in doomed for member in block.members):
            first = block.members[0].start
            line = analysis.lines[first - 1]
            anchors[first] = _indent(line) + b"pass" + _ending(line)
    return anchors


def _indent(line: bytes) -> bytes:
    return line[: len(line) - len(line.lstrip(_BLANK))]


def _ending(line: bytes) -> bytes:
    return line[len(line.rstrip(b"\r\n")) :]
