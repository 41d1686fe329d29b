"""Delete Python statements that unlock file removals: imports and bare calls of imported packages.

Only package ``__init__.py`` files that the last passing run imported are edited, and only their
imports, bare calls, ``del`` statements and assignments at module level or one block deep
(``else:``/``try:`` bodies): that is where ``from . import random`` and ``_sanity_check()`` live,
and where a deletion frees whole files for the files pass. The calls, ``del`` statements and
assignments are there because they can hold an import in place (``del Arrayterator`` needs
``from .lib import *``); the sweep tries them, then tries the imports again. Deleting other
statements rarely pays for its oracle runs.
Each file keeps every other byte; an emptied block gets ``pass`` (see ``minimizer.pysource``).
"""

from __future__ import annotations

from minimizer import pysource
from minimizer.ddmin import ddmin, sweep
from minimizer.search import Search
from minimizer.state import Key, State

# Imports first (they free files), then what may hold them in place: calls, ``del``, assignments.
_KINDS = ("Import", "ImportFrom", "Expr", "Delete", "Assign", "AugAssign")
_DEPTHS = (0, 1)

Item = tuple[Key, int]  # a file and the index of a statement in its candidate list


class PythonStatementsPass:
    """One sweep over the candidate statements of all imported package ``__init__`` files."""

    name = "statements"

    def applies(self, search: Search) -> bool:
        return True

    def reduce(self, state: State, search: Search) -> State:
        sources, candidates = self._candidates(state, search)
        items = [(key, index) for key, stmts in candidates.items() for index in range(len(stmts))]
        if not items:
            return state

        def build(kept: tuple[Item, ...]) -> State:
            keep = set(kept)
            candidate = state
            for key, stmts in candidates.items():
                doomed = [s for i, s in enumerate(stmts) if (key, i) not in keep]
                if doomed:
                    candidate = candidate.with_edit(key, pysource.delete(sources[key], doomed))
            return candidate

        return build(sweep(items, search.adapter(build)))

    @staticmethod
    def _candidates(
        state: State, search: Search
    ) -> tuple[dict[Key, bytes], dict[Key, tuple[pysource.Stmt, ...]]]:
        # Without a trace (a --check alone), every package __init__ is a candidate.
        opened = search.opened(state)
        files = sorted(
            (k for k in state.files if (opened is None or k in opened) and k.path.endswith("/__init__.py")),
            key=lambda k: (k.path.count("/"), k),  # outermost packages first: they import the rest
        )
        sources, candidates = {}, {}
        for key in files:
            if search.protected(key):
                continue
            source = search.workspace.read(key, state)
            try:
                found = [s for d in _DEPTHS for s in pysource.statements(source, d)]
            except SyntaxError:
                continue
            docs = set(pysource.docstrings(source))  # harmless to keep, and never free a file
            chosen = tuple(s for s in found if s.kind in _KINDS and s not in docs)
            if chosen:
                sources[key] = source
                candidates[key] = tuple(sorted(chosen, key=lambda s: (_KINDS.index(s.kind) > 1, s.start)))
        return sources, candidates


class DeepStatementsPass:
    """Opt-in: hierarchical ddmin over the statements of every imported module.

    Module body first, then the bodies of its blocks one depth at a time, largest file first;
    docstrings, unused functions and whole class bodies can go. Far more oracle runs than the
    default statements pass, for the last few hundred kilobytes.
    """

    name = "statements-deep"
    max_depth = 3

    def applies(self, search: Search) -> bool:
        return True

    def reduce(self, state: State, search: Search) -> State:
        for key in self._modules(state, search):
            for depth in range(self.max_depth + 1):
                source = search.workspace.read(key, state)
                try:
                    stmts = pysource.statements(source, depth)
                except SyntaxError:
                    break
                if not stmts:
                    break
                state = self._reduce_level(state, key, source, stmts, search)
        return state

    @staticmethod
    def _modules(state: State, search: Search) -> list[Key]:
        opened = search.opened(state)
        modules = [
            k
            for k in state.files
            if k.path.endswith(".py") and (opened is None or k in opened) and not search.protected(k)
        ]
        sizes = {k: len(search.workspace.read(k, state)) for k in modules}
        return sorted(modules, key=lambda k: (-sizes[k], k))

    @staticmethod
    def _reduce_level(
        state: State, key: Key, source: bytes, stmts: tuple[pysource.Stmt, ...], search: Search
    ) -> State:
        def build(kept: tuple[pysource.Stmt, ...]) -> State:
            keep = set(kept)
            return state.with_edit(key, pysource.delete(source, [s for s in stmts if s not in keep]))

        kept = ddmin(stmts, search.adapter(build))
        # Nothing deleted: keep the state as it was, not a no-op edit that would look like a change.
        return state if len(kept) == len(stmts) else build(kept)
