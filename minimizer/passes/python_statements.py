"""Reduce Python source below the file, guided by one traced run (see ``minimizer.usage``).

From the coverage of the last passing run, one proposal for every imported module at once:
statements at module scope that no kept code needs go (imports included, which frees the files
they imported), functions that never started get a body that raises ``SystemExit`` naming them,
docstrings are emptied and comment lines go. If the proposal fails, ddmin finds the modules
whose edits break it, then, in each of them, the edits that do; every other edit stays. Without
coverage (a check that runs an untraced interpreter) only docstrings and comments go.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

from minimizer import pysource
from minimizer.ddmin import ddmin
from minimizer.search import Search
from minimizer.state import Key, State
from minimizer.usage import Module, Plan, plan
from minimizer.wheelfile import tree_path

# One proposed edit: what it does and to what (a statement, a function, or the module's docstrings
# and comment lines, which go together: they never change what the code does).
Edit = tuple[str, pysource.Stmt | pysource.Stub | tuple[tuple[pysource.Stmt, ...], tuple[int, ...]]]
Build = Callable[[Mapping[Key, Sequence[Edit]]], State]
Identity = tuple[Key, str, str]
Rewritten = dict[tuple[Key, tuple[Edit, ...]], bytes]  # a module's new source, by the edits made
_MAX_ROUNDS = 8  # each passing round removes code; in practice two or three rounds settle


class PythonStatementsPass:
    """Trace-guided: one proposal for every imported module, ddmin only where it fails."""

    name = "statements"

    def __init__(self) -> None:
        # Edits a failed proposal had to hold back: later rounds do not propose them again.
        self._held: set[Identity] = set()

    def applies(self, search: Search) -> bool:
        return True

    def reduce(self, state: State, search: Search) -> State:
        # A passing proposal brings a new trace (code gone, modules no longer imported): go again
        # until a proposal changes nothing, so the files pass sees all of it at once.
        for _ in range(_MAX_ROUNDS):
            sources, edits, rewritten = _proposal(state, search, self._held)
            build = _builder(state, sources, rewritten)
            full = build(edits)
            if full == state:
                return state
            if not search.test(full):
                result, held = _fall_back(edits, build, search)
                self._held |= {_identity(key, edit, sources[key]) for key, edit in held}
                return result
            state = full
        return state


def _builder(state: State, sources: Mapping[Key, bytes], rewritten: Rewritten) -> Build:
    """Candidates from chosen edits; ``rewritten`` holds the sources made so far (the proposal's)."""

    def build(applied: Mapping[Key, Sequence[Edit]]) -> State:
        candidate = state
        for key, chosen in applied.items():
            if chosen:
                # ddmin asks for the same module's edits again and again: rewrite each set once.
                wanted = (key, tuple(chosen))
                if wanted not in rewritten:
                    rewritten[wanted] = _rewrite(sources[key], chosen)
                candidate = candidate.with_edit(key, rewritten[wanted])
        return candidate

    return build


def _identity(key: Key, edit: Edit, source: bytes) -> Identity:
    """What an edit does to what, in words that survive other edits of the same file."""
    kind, what = edit
    if isinstance(what, pysource.Stub):
        return key, kind, what.qualname
    if isinstance(what, pysource.Stmt):
        lines = source.splitlines(keepends=True)[what.start - 1 : what.end]
        return key, kind, hashlib.sha256(b"".join(lines)).hexdigest()
    return key, kind, ""


def _proposal(
    state: State, search: Search, held: set[Identity]
) -> tuple[dict[Key, bytes], dict[Key, tuple[Edit, ...]], Rewritten]:
    """The edits of every imported module that change it, from what the last passing run used,
    and the sources they make (rewriting parses: the builder reuses them)."""
    coverage = search.coverage(state)
    # Without coverage some run was not traced: what it imported is unknown too.
    opened = search.opened(state) if coverage is not None else None
    sources: dict[Key, bytes] = {}
    modules: dict[str, Module] = {}
    keys: dict[str, Key] = {}
    for key in sorted(state.files):
        where = tree_path(key.path)
        if where is None or not where.endswith(".py") or search.protected(key):
            continue
        if opened is not None and key not in opened:
            continue
        source = search.workspace.read(key, state)
        name, package = _module_name(where)
        try:
            facts = pysource.facts(source, name, package=package)
        except SyntaxError:
            continue  # not Python for this interpreter (a template): it is never imported
        sources[key], modules[where], keys[where] = source, Module(name, package, facts), key
    if coverage is None:
        plans = {
            where: Plan(blank=m.facts.docstrings, comments=m.facts.comments) for where, m in modules.items()
        }
    else:
        present = {_module_name(p)[0] for k in state.files if (p := tree_path(k.path)) and _importable(p)}
        plans = plan(modules, coverage, present)
    edits: dict[Key, tuple[Edit, ...]] = {}
    rewritten: Rewritten = {}
    for where, proposed in plans.items():
        key = keys[where]
        found = tuple(e for e in _edits(proposed) if _identity(key, e, sources[key]) not in held)
        if found and (new := _rewrite(sources[key], found)) != sources[key]:
            edits[key], rewritten[(key, found)] = found, new
    return sources, edits, rewritten


def _module_name(where: str) -> tuple[str, bool]:
    """The dotted name of the module at tree path ``where``, and whether it is a package."""
    folder, _, file = where.rpartition("/")
    stem = file.split(".")[0]
    package = stem == "__init__"
    parts = [p for p in folder.split("/") if p] + ([] if package else [stem])
    return ".".join(parts), package


def _importable(where: str) -> bool:
    return where.endswith((".py", ".so", ".pyd")) and "__pycache__" not in where


def _edits(proposed: Plan) -> tuple[Edit, ...]:
    """Each deletion and stub on its own, in source order; docstrings and comments as one edit."""
    single: list[tuple[int, Edit]] = [(s.start, ("delete", s)) for s in proposed.delete]
    single += [(s.start, ("stub", s)) for s in proposed.stub]
    ordered: list[Edit] = [edit for _, edit in sorted(single, key=lambda pair: pair[0])]
    if proposed.blank or proposed.comments:
        ordered.append(("tidy", (proposed.blank, proposed.comments)))
    return tuple(ordered)


def _rewrite(source: bytes, chosen: Sequence[Edit]) -> bytes:
    delete = [what for kind, what in chosen if kind == "delete" and isinstance(what, pysource.Stmt)]
    stub = [what for kind, what in chosen if kind == "stub" and isinstance(what, pysource.Stub)]
    tidy = [what for kind, what in chosen if kind == "tidy" and isinstance(what, tuple)]
    blank = [s for docs, _ in tidy for s in docs]
    comments = [n for _, lines in tidy for n in lines]
    return pysource.rewrite(source, delete=delete, stub=stub, blank=blank, comments=comments)


def _fall_back(
    edits: dict[Key, tuple[Edit, ...]], build: Build, search: Search
) -> tuple[State, list[tuple[Key, Edit]]]:
    """ddmin over the modules whose edits to hold back, then over each such module's edits.

    Returns the result and the edits held back.
    """

    def without_modules(held: tuple[Key, ...]) -> State:
        return build({k: v for k, v in edits.items() if k not in held})

    modules = ddmin(tuple(edits), search.adapter(without_modules))
    applied = {k: list(v) for k, v in edits.items() if k not in modules}
    held: list[tuple[Key, Edit]] = []
    for key in modules:
        items = tuple(range(len(edits[key])))

        def without_edits(kept: tuple[int, ...], key: Key = key) -> State:
            return build({**applied, key: [e for i, e in enumerate(edits[key]) if i not in kept]})

        kept = set(ddmin(items, search.adapter(without_edits)))
        applied[key] = [e for i, e in enumerate(edits[key]) if i not in kept]
        held += [(key, e) for i, e in enumerate(edits[key]) if i in kept]
    return build(applied), held
