"""Python scopes, for deleting statements: the blocks a statement holds, and the names it binds.

Deleting the only binding a nested ``nonlocal`` refers to is a compile-time error, so the
statement tree asks here which names each function's ``nonlocal``s need.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

StmtPath = tuple[int | str, ...]

_BLOCK_FIELDS = ("body", "orelse", "finalbody")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# ``except*`` (ast.TryStar) is new in Python 3.11, and the project still supports 3.10.
_TRIES = tuple(getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name))


def _child_blocks(node: ast.stmt) -> Iterator[tuple[StmtPath, list[ast.stmt]]]:
    """The statement lists ``node`` holds, each with its path below ``node``."""
    for name in _BLOCK_FIELDS:
        value: object = getattr(node, name, None)
        if isinstance(value, list) and value:
            yield (name,), [s for s in value if isinstance(s, ast.stmt)]
    if isinstance(node, _TRIES):
        for index, handler in enumerate(getattr(node, "handlers", ())):
            if isinstance(handler, ast.ExceptHandler):
                yield ("handlers", index, "body"), handler.body
    if isinstance(node, ast.Match):
        for index, case in enumerate(node.cases):
            yield ("cases", index, "body"), case.body


def _guarded_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """Names some ``nonlocal`` inside ``function`` may need ``function``'s own binding of."""
    wanted = {name for node in ast.walk(function) if isinstance(node, ast.Nonlocal) for name in node.names}
    # What the function itself declares global or nonlocal it only rebinds, never binds.
    return frozenset(wanted - _declared_names(function)) if wanted else frozenset()


def _declared_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    # Nested functions and classes are scopes of their own: their declarations do not count.
    names: set[str] = set()
    stack: list[ast.stmt] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        elif not isinstance(node, _DEFINITIONS):
            stack.extend(s for _, body in _child_blocks(node) for s in body)
    return names


def _own_bindings(root: ast.stmt) -> set[str]:
    """Names ``root`` may bind in the scope it runs in (a superset: ``del`` counts too)."""
    names: set[str] = set()
    stack: list[ast.AST] = [root]
    while stack:
        node = stack.pop()
        names.update(_bound_by(node))
        stack.extend(_same_scope_children(node))
    return names


def _same_scope_children(node: ast.AST) -> list[ast.AST]:
    # Function and class bodies are scopes of their own; decorators, defaults and bases are not.
    # Class-level names never satisfy a ``nonlocal``, so skipping class bodies loses nothing.
    if isinstance(node, _FUNCTIONS):
        return [*node.decorator_list, node.args, *([node.returns] if node.returns else [])]
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *node.keywords]
    if isinstance(node, ast.Lambda):
        return [node.args]
    return list(ast.iter_child_nodes(node))


def _bound_by(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        return [node.id]
    if isinstance(node, _DEFINITIONS):
        return [node.name]
    if isinstance(node, ast.alias) and node.name != "*":
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        return [node.name] if node.name else []
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    return []
