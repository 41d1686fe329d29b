"""What each statement at module scope binds, reads and changes, and what each function reads.

The statements pass joins these static facts with one traced run (which functions started, which
names were read from which module, by which line) to tell what a run needs. A statement is at
module scope when only ``if``, ``try`` and ``with`` blocks enclose it; those blocks, loops and
anything that cannot be deleted are roots: they always stay.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from minimizer.pysource._rewrite import Stub, comments, stubs
from minimizer.pysource._scopes import _FUNCTIONS, _TRIES, _own_bindings
from minimizer.pysource._statements import Stmt, _analyse, _end, _Entry, _is_docstring

_CONTAINERS = (ast.If, ast.With, ast.AsyncWith, *_TRIES)
_CANDIDATES = (
    ast.Import,
    ast.ImportFrom,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Expr,
    ast.Delete,
    *_FUNCTIONS,
    ast.ClassDef,
)
_ALL = "__all__"


@dataclass(frozen=True, slots=True)
class Unit:
    """A statement at module scope, lines ``start``..``end``; ``stmt`` is set when it may go.

    ``binds``: names it binds; ``reads``: names it reads as it runs (class bodies included,
    function bodies not); ``mutates``: names whose objects it changes (``__all__.extend(...)``,
    ``x.y = 1``); ``calls``: names it calls as a statement of its own (``_setup()``);
    ``strings``: its string constants when it builds ``__all__``; ``star``: the module it
    star-imports; ``imports``: every module it may import (a name imported from a package may be
    a submodule). ``effect``: it binds nothing and stays only for what it changes or calls.
    """

    start: int
    end: int
    stmt: Stmt | None
    binds: frozenset[str] = frozenset()
    reads: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    calls: frozenset[str] = frozenset()
    strings: frozenset[str] = frozenset()
    star: str | None = None
    imports: frozenset[str] = frozenset()
    effect: bool = False


@dataclass(frozen=True, slots=True)
class Function:
    """A function or method: ``first`` line and ``name`` match its code object's.

    ``unit``: index of the unit that holds it; ``parent``: index of the function it is defined
    in; ``reads``: names its body reads (nested function bodies excluded); ``changes``: module
    names it rebinds (``global x``) or whose objects it changes (``x[k] = v``).
    ``imports``: modules its body may import. ``stub`` is None when its body cannot be stubbed.
    """

    first: int
    name: str
    unit: int
    parent: int | None
    reads: frozenset[str]
    changes: frozenset[str]
    imports: frozenset[str]
    stub: Stub | None


@dataclass(frozen=True, slots=True)
class Facts:
    """A module's units (in source order), functions, docstrings, comment lines, bound names."""

    units: tuple[Unit, ...]
    functions: tuple[Function, ...]
    docstrings: tuple[Stmt, ...]
    comments: tuple[int, ...]
    bound: frozenset[str]


@functools.lru_cache(maxsize=512)
def facts(source: bytes, module: str, *, package: bool) -> Facts:
    """The facts of ``source``, the module named ``module`` (a package's ``__init__`` if ``package``).

    Raises SyntaxError if it does not parse.
    """
    analysis = _analyse(source)
    annotations = not _future_annotations(analysis.entries)
    base = module if package else module.rpartition(".")[0]
    scope = [e for e in analysis.entries if _at_module_scope(e)]
    units = [_unit(e, base, annotations) for e in scope if not _is_docstring(e)]
    unit_of = {id(e): i for i, e in enumerate(x for x in scope if not _is_docstring(x))}
    functions = _functions(analysis.entries, unit_of, stubs(source), base, annotations)
    bound = frozenset(name for u in units for name in u.binds)
    return Facts(tuple(units), functions, _docstrings(analysis.entries), comments(source), bound)


def _future_annotations(entries: Iterable[_Entry]) -> bool:
    return any(
        isinstance(e.node, ast.ImportFrom)
        and e.node.module == "__future__"
        and any(a.name == "annotations" for a in e.node.names)
        for e in entries
        if e.depth == 0
    )


def _at_module_scope(entry: _Entry) -> bool:
    owner = entry.block.owner
    while owner is not None:
        if not isinstance(owner.node, _CONTAINERS):
            return False
        owner = owner.block.owner
    return True


def _docstrings(entries: Iterable[_Entry]) -> tuple[Stmt, ...]:
    return tuple(e.stmt for e in entries if e.stmt is not None and _is_docstring(e))


# Units ---------------------------------------------------------------------------------------


def _unit(entry: _Entry, base: str, annotations: bool) -> Unit:
    node = entry.node
    start, end = entry.start, _end(entry)
    if isinstance(node, _CONTAINERS):
        # The block's own header: its test, context managers, handler types and ``as`` names.
        header = _header_nodes(node)
        return Unit(start, end, None, _header_binds(node), _loads(header, annotations))
    if entry.stmt is None or not isinstance(node, _CANDIDATES) or _probes(entry):
        return Unit(start, end, None, frozenset(_own_bindings(node)), _loads([node], annotations))
    return _candidate(entry.stmt, node, base, annotations)


def _probes(entry: _Entry) -> bool:
    """An expression in a ``try`` body may be there to raise (``try: x except NameError: ...``)."""
    owner = entry.block.owner
    in_body = owner is not None and isinstance(owner.node, _TRIES) and entry.path[-2] == "body"
    return in_body and isinstance(entry.node, ast.Expr)


def _candidate(stmt: Stmt, node: ast.stmt, base: str, annotations: bool) -> Unit:
    binds = frozenset(_binds(node))
    reads = _loads([node], annotations)
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        reads |= {node.target.id}
    mutates, calls = _mutates(node), _calls(node)
    touches_all = _ALL in binds | mutates
    strings = frozenset(_strings(node)) if touches_all else frozenset()
    star = _star(node, base)
    imports = frozenset(_imports(node, base))
    effect = not binds and not isinstance(node, ast.Delete | ast.Import | ast.ImportFrom)
    return Unit(stmt.start, stmt.end, stmt, binds, reads, mutates, calls, strings, star, imports, effect)


def _header_nodes(node: ast.stmt) -> list[ast.AST]:
    if isinstance(node, ast.If):
        return [node.test]
    if isinstance(node, ast.With | ast.AsyncWith):
        return [item.context_expr for item in node.items]
    return [h.type for h in getattr(node, "handlers", ()) if h.type is not None]


def _header_binds(node: ast.stmt) -> frozenset[str]:
    names: set[str] = set()
    if isinstance(node, ast.With | ast.AsyncWith):
        for item in node.items:
            if item.optional_vars is not None:
                names |= _stored(item.optional_vars)
    for handler in getattr(node, "handlers", ()):
        if handler.name:
            names.add(handler.name)
    return frozenset(names)


def _binds(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (a.asname or a.name.split(".")[0] for a in node.names)
    elif isinstance(node, ast.ImportFrom):
        yield from (a.asname or a.name for a in node.names if a.name != "*")
    elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.Assign):
        yield from (name for target in node.targets for name in _stored(target))
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        yield from _stored(node.target)
    if not isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
        # A walrus binds in the scope the statement runs in (the module's), even in a comprehension.
        yield from (n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr))


def _stored(target: ast.AST) -> set[str]:
    """Names a target binds: ``a``, ``a, (b, *c)``; not ``a.b`` or ``a[0]`` (those change ``a``)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return {n for element in target.elts for n in _stored(element)}
    if isinstance(target, ast.Starred):
        return _stored(target.value)
    return set()


def _mutates(node: ast.stmt) -> frozenset[str]:
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    elif isinstance(node, ast.Delete):
        targets = list(node.targets)
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        targets = [node.value.func] if isinstance(node.value.func, ast.Attribute) else []
    return frozenset(name for t in targets for name in _roots(t))


def _roots(target: ast.AST) -> set[str]:
    """The names whose objects a store into ``target`` changes: ``a`` for ``a.b[c].d``."""
    if isinstance(target, ast.Attribute | ast.Subscript):
        inner = target.value
        while isinstance(inner, ast.Attribute | ast.Subscript | ast.Call):
            inner = inner.func if isinstance(inner, ast.Call) else inner.value
        return {inner.id} if isinstance(inner, ast.Name) else set()
    if isinstance(target, ast.Tuple | ast.List | ast.Starred):
        children = target.elts if isinstance(target, ast.Tuple | ast.List) else [target.value]
        return {n for element in children for n in _roots(element)}
    return set()


def _calls(node: ast.stmt) -> frozenset[str]:
    if (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    ):
        return frozenset({node.value.func.id})
    return frozenset()


def _strings(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value


def _star(node: ast.stmt, base: str) -> str | None:
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        return _absolute(node, base)
    return None


def _imports(node: ast.stmt, base: str) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            yield from (".".join(parts[: i + 1]) for i in range(len(parts)))
    elif isinstance(node, ast.ImportFrom):
        source = _absolute(node, base)
        if source is not None:
            yield source
            yield from (f"{source}.{a.name}" for a in node.names if a.name != "*")


def _absolute(node: ast.ImportFrom, base: str) -> str | None:
    """The absolute name of the module ``from X import ...`` reads, ``base`` being the package."""
    if not node.level:
        return node.module
    parts = base.split(".") if base else []
    if node.level - 1 > len(parts):
        return None
    parent = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parent, *([node.module] if node.module else [])]) or None


def _loads(roots: Iterable[ast.AST], annotations: bool) -> frozenset[str]:
    """Names read when ``roots`` run: function bodies are skipped (they run when called)."""
    names: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load | ast.Del):
            names.add(node.id)
        stack.extend(_evaluated_children(node, annotations))
    return frozenset(names)


def _evaluated_children(node: ast.AST, annotations: bool) -> list[ast.AST]:
    if not isinstance(node, _FUNCTIONS):
        return list(ast.iter_child_nodes(node))
    args = node.args
    parts: list[ast.AST] = [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d)]
    if annotations:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        parts += [a.annotation for a in every if a is not None and a.annotation is not None]
        parts += [node.returns] if node.returns is not None else []
    return parts


# Functions -----------------------------------------------------------------------------------


def _functions(
    entries: Iterable[_Entry], unit_of: dict[int, int], found: tuple[Stub, ...], base: str, annotations: bool
) -> tuple[Function, ...]:
    stub_at = {s.path: s for s in found}
    index: dict[int, int] = {}
    result: list[Function] = []
    for entry in entries:
        node = entry.node
        if not isinstance(node, _FUNCTIONS):
            continue
        unit, parent = _placement(entry, unit_of, index)
        if unit is None:
            continue  # inside a docstring-only construct: cannot happen, but never guess
        index[id(entry)] = len(result)
        body = _loads(node.body, annotations)
        imports = frozenset(i for statement in _own_statements(node) for i in _imports(statement, base))
        stub = stub_at.get(entry.path)
        result.append(Function(entry.start, node.name, unit, parent, body, _changes(node), imports, stub))
    return tuple(result)


def _own_statements(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.stmt]:
    """The statements of a function's body at any depth, nested function bodies left out."""
    stack: list[ast.stmt] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _FUNCTIONS):
            stack.extend(s for s in ast.iter_child_nodes(node) if isinstance(s, ast.stmt))
        for handler in getattr(node, "handlers", ()):
            stack.extend(handler.body)
        for case in getattr(node, "cases", ()):
            stack.extend(case.body)


def _placement(
    entry: _Entry, unit_of: dict[int, int], index: dict[int, int]
) -> tuple[int | None, int | None]:
    """The unit that holds ``entry`` and the function it is defined in (entries come parents first)."""
    parent: int | None = None
    current: _Entry | None = entry
    while current is not None and id(current) not in unit_of:
        owner = current.block.owner
        if parent is None and owner is not None and isinstance(owner.node, _FUNCTIONS):
            parent = index.get(id(owner))
        current = owner
    return (unit_of[id(current)] if current is not None else None), parent


def _changes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """Module names a function may rebind or change; its own locals are left out."""
    declared: set[str] = set()
    changed: set[str] = set()
    local: set[str] = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    for node in ast.walk(function):
        if isinstance(node, ast.Global):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            changed.update(name for target in targets for name in _roots(target))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            changed.update(_roots(node.func))
    return frozenset(declared | (changed - (local - declared)))
