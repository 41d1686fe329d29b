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
from minimizer.ddmin import sweep
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
