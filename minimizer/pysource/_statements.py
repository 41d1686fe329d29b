"""The statement tree of a Python module, as line ranges: what can be deleted without breaking it."""

from __future__ import annotations

import ast
import codecs
import functools
import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from minimizer.pysource._scopes import (
    _DEFINITIONS,
    _FUNCTIONS,
    _TRIES,
    StmtPath,
    _child_blocks,
    _guarded_names,
    _own_bindings,
)

_BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\f"
# Broader than CPython's own cookie test on purpose: a false hit only makes us more careful.
_COOKIE_LIKE = re.compile(rb"[ \t\f]*#.*?coding[:=]")
_DECORATOR_PREFIX = re.compile(rb"[ \t\f]*@[ \t\f]*")
_SUMMARY_WIDTH = 72
_IMPORT_BLOCKS = (ast.If, ast.With, ast.AsyncWith, *_TRIES)


@dataclass(frozen=True, slots=True)
class Stmt:
    """One deletable statement: lines ``start``..``end`` (1-based, inclusive, decorators included).

    ``path`` locates it in the tree: ``(3,)`` is the 4th statement of the module,
    ``(3, 'body', 0)`` the first statement of that statement's body, and
    ``(3, 'handlers', 1, 'body', 0)`` the first one of its second ``except`` clause.
    ``depth`` counts enclosing blocks (0 = module body; an ``elif`` body is as deep
    as its ``if`` body).  ``kind`` is the ast class name and ``summary`` one line for
    reports.  ``imports`` marks imports and if/try/with blocks whose body only imports.
    """

    start: int
    end: int
    path: StmtPath
    depth: int
    kind: str
    summary: str
    imports: bool = False


@dataclass(slots=True, eq=False)
class _Block:
    """A statement list; ``owner`` is None for the module body, which never needs ``pass``."""

    owner: _Entry | None
    members: list[_Entry] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Entry:
    """Any statement of the tree; ``stmt`` is set only when it is safe to delete."""

    node: ast.stmt
    path: StmtPath
    depth: int
    start: int
    block: _Block
    # Names a ``nonlocal`` further in may resolve to a binding in this statement's scope.
    guarded: frozenset[str]
    # An ``elif`` is a clause of its ``if``, not a statement of its own.
    clause: bool
    stmt: Stmt | None = None


@dataclass(frozen=True, slots=True)
class _Analysis:
    bom: bytes
    lines: tuple[bytes, ...]
    entries: tuple[_Entry, ...]
    blocks: tuple[_Block, ...]
    texts: tuple[bytes, ...] = ()  # each line without its ending, as UTF-8 (ast columns count those)


def statements(source: bytes, depth: int) -> tuple[Stmt, ...]:
    """The statements at nesting ``depth`` that `delete` can remove, in source order.

    Any subset of them, even mixed with other depths, can be deleted and the result
    still compiles, provided ``source`` does.  Left out, because line-range deletion
    would break the file, change its meaning unseen, or never help: statements
    sharing a physical line with other code (``a = 1; b = 2``, ``if x: y``) or
    joined to a neighbouring line by a backslash, ``from __future__`` imports (they
    load no file, and ``barry_as_FLUFL`` changes the grammar), ``elif`` clauses
    (their bodies are offered instead), bindings a ``nonlocal`` may need, and
    statements whose removal could move a comment into an encoding-cookie line.
    Raises SyntaxError if ``source`` does not parse.
    """
    return _sorted(e.stmt for e in _analyse(source).entries if e.depth == depth)


def _sorted(found: Iterable[Stmt | None]) -> tuple[Stmt, ...]:
    return tuple(sorted((s for s in found if s is not None), key=lambda s: s.start))


def _end(entry: _Entry) -> int:
    end = entry.node.end_lineno
    assert end is not None, "ast.parse always sets end_lineno on statements"
    return end


@functools.lru_cache(maxsize=32)
def _analyse(source: bytes) -> _Analysis:
    # Cached because a reduction pass calls delete() many times on the same source.
    tree = _parse(source)
    bom = _BOM if source.startswith(_BOM) else b""
    lines = tuple(source[len(bom) :].splitlines(keepends=True))
    texts = _utf8_texts(source[len(bom) :], lines)
    if texts is None or _last_line(tree) > len(lines):
        # We cannot map ast columns onto these bytes, so offer nothing rather than guess.
        return _Analysis(bom, lines, (), ())
    collector = _Collector(texts)
    collector.visit(tree.body, (), 0, None, guarded=frozenset())
    _mark_deletable(collector.entries, texts)
    _guard_cookies(collector.entries, texts)
    return _Analysis(bom, lines, tuple(collector.entries), tuple(collector.blocks), tuple(texts))


def _parse(source: bytes) -> ast.Module:
    try:
        return ast.parse(source)
    except ValueError as error:
        # Python 3.11 reports NUL bytes as ValueError; callers need only catch SyntaxError.
        raise SyntaxError(str(error)) from error


def _last_line(tree: ast.Module) -> int:
    return max((s.end_lineno or s.lineno for s in tree.body), default=0)


def _utf8_texts(body: bytes, lines: Sequence[bytes]) -> list[bytes] | None:
    """Each line without its ending, re-encoded as UTF-8 since ast columns count UTF-8 bytes."""
    bare = [line.rstrip(b"\r\n") for line in lines]
    encoding = tokenize.detect_encoding(io.BytesIO(body).readline)[0]
    if codecs.lookup(encoding).name == "utf-8":
        return bare
    try:
        decoded = [line.decode(encoding) for line in lines]
        whole = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    # Line-by-line decoding is only trustworthy if it agrees with decoding the whole file.
    if "".join(decoded) != whole:
        return None
    return [line.decode(encoding).encode("utf-8") for line in bare]


class _Collector:
    """Walks the statement tree into entries (every statement) and blocks (statement lists)."""

    def __init__(self, texts: Sequence[bytes]) -> None:
        self.texts = texts
        self.entries: list[_Entry] = []
        self.blocks: list[_Block] = []

    def visit(
        self,
        body: Sequence[ast.stmt],
        prefix: StmtPath,
        depth: int,
        owner: _Entry | None,
        *,
        guarded: frozenset[str],
        clause: bool = False,
    ) -> None:
        block = _Block(owner)
        self.blocks.append(block)
        for index, node in enumerate(body):
            start = _first_line(node)
            entry = _Entry(node, (*prefix, index), depth, start, block, guarded, clause)
            block.members.append(entry)
            self.entries.append(entry)
            self._visit_children(entry)

    def _visit_children(self, entry: _Entry) -> None:
        node = entry.node
        guarded = _guarded_names(node) if isinstance(node, _FUNCTIONS) else entry.guarded
        for suffix, body in _child_blocks(node):
            path = (*entry.path, *suffix)
            # An elif's own body sits as deep as the if body it continues.
            elif_ = suffix == ("orelse",) and self._is_elif(body)
            depth = entry.depth if elif_ else entry.depth + 1
            self.visit(body, path, depth, entry, guarded=guarded, clause=elif_)

    def _is_elif(self, orelse: Sequence[ast.stmt]) -> bool:
        if len(orelse) != 1 or not isinstance(orelse[0], ast.If):
            return False
        node = orelse[0]
        return self.texts[node.lineno - 1][node.col_offset :].startswith(b"elif")


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _mark_deletable(entries: Iterable[_Entry], texts: Sequence[bytes]) -> None:
    for entry in entries:
        if _deletable(entry, texts):
            entry.stmt = _make_stmt(entry, texts)


def _deletable(entry: _Entry, texts: Sequence[bytes]) -> bool:
    node = entry.node
    if entry.clause or _is_future_import(node):
        return False
    if not (_starts_logical_line(entry, texts) and _ends_logical_line(node, texts)):
        return False
    # Deleting the only binding a nested ``nonlocal`` refers to is a compile-time error.
    return not (entry.guarded and _own_bindings(node) & entry.guarded)


def _is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__" and node.level == 0


def _starts_logical_line(entry: _Entry, texts: Sequence[bytes]) -> bool:
    node = entry.node
    first = texts[entry.start - 1]
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    if decorators:
        head = decorators[0]
        prefix = first[: head.col_offset] if head.lineno == entry.start else b"?"
        alone = _DECORATOR_PREFIX.fullmatch(prefix) is not None
    else:
        alone = not first[: node.col_offset].strip(_BLANK)
    # A backslash may also end a comment; treating that as a continuation only costs a candidate.
    continued = entry.start > 1 and texts[entry.start - 2].endswith(b"\\")
    return alone and not continued


def _ends_logical_line(node: ast.stmt, texts: Sequence[bytes]) -> bool:
    if node.end_lineno is None or node.end_col_offset is None:
        return False
    rest = texts[node.end_lineno - 1][node.end_col_offset :].lstrip(_BLANK)
    # A lone trailing semicolon ends the statement without starting another one.
    if rest.startswith(b";"):
        rest = rest[1:].lstrip(_BLANK)
    return not rest or rest.startswith(b"#")


def _guard_cookies(entries: Sequence[_Entry], texts: Sequence[bytes]) -> None:
    """Keep every comment that looks like an encoding cookie off lines 1 and 2.

    There it would start to decide how the file is decoded.  A cookie-like line
    is safe when two lines before it always survive; otherwise nothing before it
    may be deleted.
    """
    risky = [number for number, text in enumerate(texts, start=1) if _COOKIE_LIKE.match(text)]
    if not risky:
        return
    fixed_before = _fixed_lines_before(entries, len(texts))
    for line in risky:
        # Lines no statement covers always stay, and so do the first lines of the
        # statements around ``line`` as long as ``line`` itself stays.
        heads = {e.start for e in entries if e.stmt is not None and e.start < line <= e.stmt.end}
        if fixed_before[line] + len(heads) < 2:
            for entry in entries:
                if entry.start < line:
                    entry.stmt = None


def _fixed_lines_before(entries: Iterable[_Entry], count: int) -> list[int]:
    """``result[n]``: how many of lines 1..n-1 no deletable statement covers."""
    delta = [0] * (count + 2)
    for entry in entries:
        if entry.stmt is not None:
            delta[entry.stmt.start] += 1
            delta[entry.stmt.end + 1] -= 1
    result = [0] * (count + 2)
    covering = 0
    for number in range(1, count + 1):
        covering += delta[number]
        result[number + 1] = result[number] + (covering == 0)
    return result


def _make_stmt(entry: _Entry, texts: Sequence[bytes]) -> Stmt:
    node = entry.node
    return Stmt(
        start=entry.start,
        end=_end(entry),
        path=entry.path,
        depth=entry.depth,
        kind=type(node).__name__,
        summary=_summary(entry, texts),
        imports=_imports_only(node),
    )


def _imports_only(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return True
    if isinstance(node, _IMPORT_BLOCKS):
        body = [s for s in getattr(node, "body", ()) if not isinstance(s, ast.Pass)]
        return bool(body) and all(_imports_only(s) for s in body)
    return False


def _is_docstring(entry: _Entry) -> bool:
    node = entry.node
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
        return False
    if not isinstance(node.value.value, str) or entry.path[-1] != 0:
        return False
    owner = entry.block.owner
    return owner is None or (isinstance(owner.node, _DEFINITIONS) and entry.path[-2] == "body")


def _summary(entry: _Entry, texts: Sequence[bytes]) -> str:
    node = entry.node
    if isinstance(node, ast.AsyncFunctionDef):
        return _shorten(f"async def {node.name}")
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        return _shorten(f"{keyword} {node.name}")
    if _is_docstring(entry):
        # Quoted like the source, so a glance at the summary tells a docstring from code.
        return _shorten(f'"""{_first_words(node)}"""')
    text = texts[node.lineno - 1]
    if node.end_lineno == node.lineno:
        return _shorten(text[node.col_offset : node.end_col_offset].decode("utf-8", "replace"))
    return _shorten(text[node.col_offset :].decode("utf-8", "replace") + " ...")


def _first_words(node: ast.stmt) -> str:
    value = node.value.value if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) else ""
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SUMMARY_WIDTH else flat[: _SUMMARY_WIDTH - 3] + "..."
