"""What one traced run needs of the Python source, and so what the statements pass may edit.

A name a module binds is needed when code that stays reads it: the run read it from the module
object (``np.clip``, ``from .core import *``, seen by the tracer with the reading line), or a kept
statement or a function that ran reads it by name. A statement at module scope stays when it binds
or changes a needed name, or when it cannot be deleted; everything else at module scope goes.
Functions that never started get stubbed bodies; docstrings are emptied and comment lines go.
Pure: facts and a trace in, a plan out.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from minimizer.pysource import Facts, Function, Stmt, Stub, Unit
from oracles.protocol import Coverage

# Module-level hooks the interpreter looks up in the module's dict, never by attribute.
_HOOKS = ("__getattr__", "__dir__")


@dataclass(frozen=True, slots=True)
class Module:
    """A module to plan for: its dotted name, whether it is a package's ``__init__``, its facts."""

    name: str
    package: bool
    facts: Facts


@dataclass(frozen=True, slots=True)
class Plan:
    """The edits proposed for one module (see ``pysource.rewrite``)."""

    delete: tuple[Stmt, ...] = ()
    stub: tuple[Stub, ...] = ()
    blank: tuple[Stmt, ...] = ()
    comments: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.delete or self.stub or self.blank or self.comments)


def plan(modules: Mapping[str, Module], coverage: Coverage, present: Collection[str]) -> dict[str, Plan]:
    """Edits for each module (keyed by tree path) that the traced run suggests are safe.

    ``present`` holds the dotted names of every module in the candidate (Python or extension),
    so that a package's name for a submodule is told from its other names.
    """
    shaker = _Shaker(modules, coverage, frozenset(present))
    shaker.shake()
    return {path: shaker.plan(path) for path in modules}


class _Shaker:
    """Marks, from the roots, what stays: a least fixpoint over (module, name) and units."""

    def __init__(self, modules: Mapping[str, Module], coverage: Coverage, present: frozenset[str]) -> None:
        self.modules = modules
        self.present = present
        self.ran = coverage.ran
        self.path_of = {m.name: path for path, m in modules.items()}
        self.live: set[str] = set()
        self.needed: set[tuple[str, str]] = set()
        self.kept: set[tuple[str, int]] = set()
        self.external: list[tuple[str, str]] = []
        self.attributed: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
        self.origins: dict[tuple[str, int, str], set[str]] = defaultdict(set)  # star unit, name
        self._attribute(coverage)
        self.binders = {path: self._binders(path) for path in modules}
        self.functions: dict[tuple[str, int], list[Function]] = defaultdict(list)
        for path, module in modules.items():
            for function in module.facts.functions:
                self.functions[(path, function.unit)].append(function)

    # Indexes -------------------------------------------------------------------------------------

    def _attribute(self, coverage: Coverage) -> None:
        """Each read goes to the unit that made it, or to the roots when it came from elsewhere."""
        starts = {path: [u.start for u in m.facts.units] for path, m in self.modules.items()}
        for module, name, reader, line, origin in sorted(coverage.reads):
            if module not in self.modules:
                continue
            unit = self._unit_at(reader, line, starts) if reader in self.modules else None
            if unit is None:
                self.external.append((module, name))
            else:
                self.attributed[(reader, unit)].append((module, name))
                self.origins[(reader, unit, name)].add(origin)

    def _unit_at(self, path: str, line: int, starts: dict[str, list[int]]) -> int | None:
        units = self.modules[path].facts.units
        index = bisect.bisect_right(starts[path], line) - 1
        # Units nest only inside if/try/with blocks, which come before what they hold.
        while index >= 0:
            if units[index].start <= line <= units[index].end:
                return index
            index -= 1
        return None

    def _binders(self, path: str) -> dict[str, list[int]]:
        module = self.modules[path]
        units = module.facts.units
        found: dict[str, list[int]] = defaultdict(list)
        changes = self._changes_by_callable(module.facts)
        for index, unit in enumerate(units):
            names = set(unit.binds) | unit.mutates
            if unit.star is not None:
                star_path = self.path_of.get(unit.star)
                names |= {n for m, n in self.attributed.get((path, index), []) if m == star_path}
            for called in unit.calls:
                names |= changes.get(called, set())
            if module.package:
                names |= {
                    i[len(module.name) + 1 :].split(".")[0]
                    for i in unit.imports
                    if self._submodule(module, i)
                }
            for name in names:
                found[name].append(index)
        return {name: self._first_of_stars(path, units, hits, name) for name, hits in found.items()}

    def _first_of_stars(self, path: str, units: tuple[Unit, ...], hits: list[int], name: str) -> list[int]:
        """Star imports that all give ``name`` the same object: the first one is enough.

        ``from .core import *`` and ``from .lib import *`` both re-export numpy's ``issubdtype``;
        keeping both would keep all of ``numpy.lib`` for a name ``numpy.core`` gives anyway.
        """
        if len(hits) < 2 or any(units[i].star is None for i in hits):
            return hits
        origins = set().union(*(self.origins.get((path, i, name), {""}) for i in hits))
        return hits[:1] if len(origins) == 1 and "" not in origins else hits

    def _submodule(self, module: Module, imported: str) -> bool:
        return imported.startswith(module.name + ".") and imported in self.present

    @staticmethod
    def _changes_by_callable(facts: Facts) -> dict[str, set[str]]:
        """For each module-level function name: the module names its body changes."""
        changes: dict[str, set[str]] = defaultdict(set)
        for function in facts.functions:
            if function.parent is None and facts.units[function.unit].start == function.first:
                changes[function.name] |= function.changes
        return changes

    # The fixpoint ------------------------------------------------------------------------------

    def shake(self) -> None:
        # Top-level packages are what the user's code imports; the rest is imported from them.
        for path, module in self.modules.items():
            if "." not in module.name:
                self._live(path)
        for module_path, name in self.external:
            self._need(module_path, name, dynamic=True)

    def _live(self, path: str) -> None:
        """The module at ``path`` is still imported: what it runs at import stays."""
        if path in self.live:
            return
        self.live.add(path)
        module = self.modules[path]
        parent = self.path_of.get(module.name.rpartition(".")[0])
        if parent is not None:
            self._live(parent)
        for index, unit in enumerate(module.facts.units):
            # A star import from a module we do not see into (an extension) binds unknown names.
            if unit.stmt is None or (unit.star is not None and unit.star not in self.path_of):
                self._keep(path, index)
        for hook in _HOOKS:
            self._need(path, hook, dynamic=False)

    def _imported(self, modules: Iterable[str]) -> None:
        for name in modules:
            path = self.path_of.get(name)
            if path is not None:
                self._live(path)

    def _need(self, path: str, name: str, *, dynamic: bool) -> None:
        """``name`` of the module at ``path`` must stay bound; ``dynamic``: the run saw it bound."""
        if (path, name) in self.needed:
            return
        self.needed.add((path, name))
        self._live(path)
        hits = self.binders[path].get(name, [])
        for index in hits:
            self._keep(path, index)
        module = self.modules[path]
        submodule = module.package and f"{module.name}.{name}" in self.present
        if dynamic and not hits and not submodule and name not in module.facts.bound:
            # Bound by code we cannot see (``globals()[k] = v``): keep every call and change.
            for index, unit in enumerate(module.facts.units):
                if unit.effect:
                    self._keep(path, index)

    def _keep(self, path: str, index: int) -> None:
        if (path, index) in self.kept:
            return
        self.kept.add((path, index))
        facts = self.modules[path].facts
        unit = facts.units[index]
        for name in unit.reads | unit.mutates | unit.calls:
            self._need(path, name, dynamic=False)
        for name in unit.strings:
            self._need(path, name, dynamic=True)
        self._imported(unit.imports)
        for function in self.functions.get((path, index), []):
            if (path, function.first, function.name) in self.ran:
                for name in function.reads:
                    self._need(path, name, dynamic=False)
                self._imported(function.imports)
        for module_path, name in self.attributed.get((path, index), []):
            self._need(module_path, name, dynamic=True)

    # The plan ----------------------------------------------------------------------------------

    def plan(self, path: str) -> Plan:
        if path not in self.live:
            return Plan()  # nothing imports it any more: the files pass will take it whole
        facts = self.modules[path].facts
        delete = tuple(
            u.stmt for i, u in enumerate(facts.units) if u.stmt is not None and (path, i) not in self.kept
        )
        stubbed: set[int] = set()
        for index, function in enumerate(facts.functions):
            if (path, function.unit) not in self.kept or function.stub is None:
                continue
            if (path, function.first, function.name) in self.ran or self._inside(facts, index, stubbed):
                continue
            stubbed.add(index)
        stubs = tuple(s for i in sorted(stubbed) if (s := facts.functions[i].stub) is not None)
        return Plan(delete, stubs, facts.docstrings, facts.comments)

    @staticmethod
    def _inside(facts: Facts, index: int, stubbed: set[int]) -> bool:
        parent = facts.functions[index].parent
        while parent is not None:
            if parent in stubbed:
                return True
            parent = facts.functions[parent].parent
        return False
