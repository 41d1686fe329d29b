"""Fill every function no traced run enters with trap instructions, in the ELF shared objects.

One traced run (an entry trap at every function of every object, lifted as it is hit) says which
functions run; in the default, portable mode a second one with numpy's CPU dispatch disabled adds
numpy's baseline kernels, and the ISA siblings of every kept kernel stay (``minimizer.kernels``),
with what they call directly and GCC's ``.cold`` parts. Everything else becomes traps in one
proposal: a removed function that is ever called stops the process at once, it never runs
garbage. When the proposal hits a trap, the function holding it comes back and the proposal is
tried again; when it fails otherwise, or no trace can be had, ddmin over families decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from minimizer import elf_code, kernels
from minimizer.ddmin import ddmin
from minimizer.elf_code import CodeTable
from minimizer.errors import ElfError
from minimizer.passes.elf_members import ElfMembers
from minimizer.search import Search
from minimizer.state import Key, State, content_digest
from minimizer.wheelfile import tree_path
from oracles import harness
from oracles.protocol import Traps, Verdict

CPU_MODES = ("portable", "native")
BASELINE_VARIABLE = "NPY_DISABLE_CPU_FEATURES"
_REPAIRS = 20  # proposals retried after a trap showed a missing function; then ddmin decides
_BLIND_CHUNKS = 16  # without any trace: ddmin over this many address-ordered groups per object

Group = tuple[Key, tuple[int, ...]]  # functions of one object that go or stay together
Env = dict[str, str | None]  # added to a run's environment (None: unset)


@dataclass(frozen=True, slots=True)
class _Object:
    key: Key
    path: str  # inside the candidate tree
    data: bytes
    table: CodeTable


@dataclass(frozen=True, slots=True)
class ObjectReport:
    """What the pass did to one shared object."""

    path: str
    source: str  # where the function table came from
    functions: int
    kept: int
    code_bytes: int
    removed_bytes: int  # function bytes turned into traps
    bytes_saved: int  # in the wheel (deflated), by this pass
    how: str  # "trace", "trace+repair", "ddmin", "ddmin (no trace)" or "untouched: why"


class MachineCodePass:
    """Trace once (twice when portable), propose once, repair or ddmin only when that fails."""

    name = "machine"

    def __init__(self, cpu: str = "portable") -> None:
        if cpu not in CPU_MODES:
            raise ValueError(f"cpu must be one of {CPU_MODES}")
        self.cpu = cpu
        self.objects: dict[Key, ObjectReport] = {}
        self.trace_cpu: dict[str, object] = {}  # the CPU features the traces ran with, for the report
        self._elf = ElfMembers()
        self._tables: dict[str, CodeTable | None] = {}
        self._families: dict[str, list[int]] = {}
        self._probing: dict[str, frozenset[int]] = {}
        self._filled: dict[tuple[str, tuple[int, ...]], bytes] = {}
        self._seen: set[tuple[str, str]] = set()  # (inputs' tag, content digest) of objects taken
        self._written: set[str] = set()  # digests of the objects this pass wrote
        self._features: tuple[str, ...] = ()  # numpy's feature names, for the family rules
        self._runs: list[tuple[str, Env]] = []  # the traced runs' names and environments

    def applies(self, search: Search) -> bool:
        # The target's machine: an emulated aarch64 target is traced through qemu's code log.
        return search.system == "Linux" and search.machine in ("x86_64", "aarch64")

    def reduce(self, state: State, search: Search) -> State:
        objects = self._objects(state, search)
        if not objects:
            return state
        entered = self._entered(state, objects, search)
        if entered is None:
            return self._blind(state, objects, search)
        keep = {o.key: self._closure(o, entered[o.key]) for o in objects}
        return self._settle(state, objects, keep, search)

    # What there is ----------------------------------------------------------------------------

    def _objects(self, state: State, search: Search) -> list[_Object]:
        """Shared objects with a function table that this pass has not settled yet.

        An object is taken once for the oracles' inputs of the moment (new inputs, held-out sets
        fed back, may need more of it), never again once this pass wrote it, and never after strip
        took its symbol table: without names the ISA families are unknown.
        """
        found = []
        tag = search.checker.tag
        for key, data in self._elf.shared_objects(state, search).items():
            where = tree_path(key.path)
            digest = content_digest(data)
            if (
                (tag, digest) in self._seen
                or digest in self._written
                or search.protected(key)
                or where is None
            ):
                continue
            table = self._table(data)
            if key in self.objects and (table is None or self._stripped(key, table, search)):
                continue  # what this pass did to it before stands
            if table is None:
                self.objects[key] = ObjectReport(key.path, "", 0, 0, 0, 0, 0, "untouched: no function table")
            elif self._stripped(key, table, search):
                self.objects[key] = ObjectReport(
                    key.path,
                    table.source,
                    len(table.functions),
                    len(table.functions),
                    table.code_bytes,
                    0,
                    0,
                    "untouched: its symbols were stripped before this pass",
                )
            else:
                found.append(_Object(key, where, data, table))
        return found

    def _stripped(self, key: Key, table: CodeTable, search: Search) -> bool:
        if table.source == "symtab":
            return False
        original = self._table(search.workspace.read(key))
        return original is not None and original.source == "symtab"

    def _table(self, data: bytes) -> CodeTable | None:
        digest = content_digest(data)
        if digest not in self._tables:
            try:
                self._tables[digest] = elf_code.function_table(data)
            except ElfError:
                self._tables[digest] = None
        return self._tables[digest]

    def _family_numbers(self, obj: _Object) -> list[int]:
        """Each function's ISA family (portable) or itself (native)."""
        if self.cpu == "native":
            return list(range(len(obj.table.functions)))
        digest = content_digest(obj.data)
        if digest not in self._families:
            names = [f.names for f in obj.table.functions]
            self._families[digest] = kernels.families(names, self._features)
        return self._families[digest]

    # Tracing ----------------------------------------------------------------------------------

    def _entered(self, state: State, objects: list[_Object], search: Search) -> dict[Key, set[int]] | None:
        """Functions entered by the traced runs, per object; None when no trace can be had."""
        planted, sites = state, {}
        for obj in objects:
            data, found = elf_code.plant_entry_traps(obj.data, obj.table)
            planted = planted.with_edit(obj.key, data)
            sites[obj.path] = found
        entered: dict[Key, set[int]] = {o.key: set() for o in objects}
        self._runs = self._environments(state, search)
        for name, env in list(self._runs):
            verdict = search.trace(planted, Traps(sites, env))
            if not verdict.passed or verdict.entered is None:
                self.trace_cpu[f"unavailable ({name})"] = verdict.reason
                if name == "native":
                    return None
                self._runs.remove((name, env))  # ISA families still keep numpy's baseline kernels
                continue
            for key, index in _hits(objects, verdict):
                entered[key].add(index)
        self.trace_cpu["traced_with"] = [name for name, _ in self._runs]
        return entered

    def _environments(self, state: State, search: Search) -> list[tuple[str, Env]]:
        """The native run, then (portable) the run with every dispatchable numpy feature disabled.

        Both with the host's own thread settings, not the oracle's single thread: OpenBLAS, say,
        starts its threads at load, in code a single-threaded run never enters.
        """
        cpu = search.numpy_cpu(state)
        self._features = cpu.dispatch + cpu.baseline if cpu else ()
        native: Env = dict(harness.host_threads())
        runs = [("native", native)]
        if self.cpu == "portable" and cpu is not None and cpu.dispatch:
            disabled = " ".join(cpu.dispatch)
            runs.append((f"{BASELINE_VARIABLE}={disabled}", {**native, BASELINE_VARIABLE: disabled}))
        self.trace_cpu.update(
            mode=self.cpu,
            machine=search.machine,
            numpy_enabled=list(cpu.enabled) if cpu else None,
            numpy_baseline=list(cpu.baseline) if cpu else None,
            threads={k: v for k, v in native.items() if v is not None} or "the host's defaults",
        )
        return runs

    def _closure(self, obj: _Object, entered: Iterable[int]) -> frozenset[int]:
        """What stays: the entered functions, their ISA families, cold parts and direct callees.

        Functions kept without being entered bring what they call directly (an AVX2 sibling calls
        its own copies of static helpers, which the trace never saw), and so does CPU-probing
        code, entered or not: on another CPU it calls other helpers.
        """
        numbers = self._family_numbers(obj)
        members: dict[int, list[int]] = {}
        for index, number in enumerate(numbers):
            members.setdefault(number, []).append(index)
        cold = elf_code.cold_parents(obj.table)
        seen = set(entered)
        probes = self._probes(obj)
        kept, frontier = set(seen), list(seen)
        while frontier:
            index = frontier.pop()
            more = set(cold.get(index, ())) | set(members[numbers[index]])
            if index not in seen or index in probes:
                callees = elf_code.direct_callees(obj.data, obj.table, index)
                more |= callees
                if index in probes:
                    fresh_probes = callees - probes
                    probes |= fresh_probes
                    frontier.extend(fresh_probes & kept)  # kept already, not yet as probing code
            fresh = more - kept
            kept |= fresh
            frontier.extend(fresh)
        return frozenset(kept)

    def _probes(self, obj: _Object) -> set[int]:
        """CPU-probing functions (portable only: native keeps what this CPU's probing ran)."""
        if self.cpu == "native":
            return set()
        digest = content_digest(obj.data)
        if digest not in self._probing:
            names = (f.names for f in obj.table.functions)
            self._probing[digest] = frozenset(i for i, n in enumerate(names) if kernels.probes_cpu(n))
        return set(self._probing[digest])

    # Proposing --------------------------------------------------------------------------------

    def _settle(
        self, state: State, objects: list[_Object], keep: dict[Key, frozenset[int]], search: Search
    ) -> State:
        """The proposal; a trap it hits brings back the function holding it, up to ``_REPAIRS`` times.

        It runs as the oracle runs every candidate, then as the last traced run ran (the host's
        threads, numpy's dispatch disabled when portable). Failing there without hitting a trap
        (so not for what the pass removed), the objects stay as they are.
        """
        watch: dict[str, dict[int, bytes]] = {o.path: {} for o in objects}
        environments: list[Env] = [{}, self._runs[-1][1]]
        how = "trace"
        for _ in range(_REPAIRS):
            proposal = self._fill(state, objects, keep)
            if proposal == state:
                return self._record(search, state, state, objects, keep, how)
            failing = _first_failing(proposal, environments, watch, search)
            if failing is None:
                return self._record(search, state, proposal, objects, keep, how)
            verdict, traced_env = failing
            missing = [(k, i) for k, i in _hits(objects, verdict) if i not in keep[k]]
            if not missing and traced_env:
                why = f"untouched: fails as traced ({self._runs[-1][0]})"
                return self._record(search, state, state, objects, keep, why)
            if not missing:
                break
            for key, index in missing:
                obj = next(o for o in objects if o.key == key)
                keep[key] = keep[key] | self._closure(obj, [index])
            how = "trace+repair"
        return self._fallback(state, objects, keep, search)

    def _fallback(
        self, state: State, objects: list[_Object], keep: dict[Key, frozenset[int]], search: Search
    ) -> State:
        """ddmin over the families the proposal removed: which of them must come back."""
        groups = []
        for obj in sorted(objects, key=lambda o: -o.table.code_bytes):
            removable = [i for i in range(len(obj.table.functions)) if i not in keep[obj.key]]
            groups += [(obj.key, group) for group in self._groups(obj, removable)]
        return self._restore(state, objects, keep, groups, search, "ddmin")

    def _blind(self, state: State, objects: list[_Object], search: Search) -> State:
        """No trace at all: ddmin over a few address-ordered groups of families per object."""
        groups = []
        for obj in sorted(objects, key=lambda o: -o.table.code_bytes):
            families = self._groups(obj, range(len(obj.table.functions)))
            size = max(1, -(-len(families) // _BLIND_CHUNKS))
            for start in range(0, len(families), size):
                chunk = tuple(sorted(i for group in families[start : start + size] for i in group))
                groups.append((obj.key, chunk))
        keep = {o.key: frozenset[int]() for o in objects}
        return self._restore(state, objects, keep, groups, search, "ddmin (no trace)")

    def _groups(self, obj: _Object, removable: Iterable[int]) -> list[tuple[int, ...]]:
        """Removable functions by ISA family, in address order: a family goes or stays whole."""
        numbers = self._family_numbers(obj)
        grouped: dict[int, list[int]] = {}
        for index in removable:
            grouped.setdefault(numbers[index], []).append(index)
        return sorted((tuple(g) for g in grouped.values()), key=lambda g: g[0])

    def _restore(
        self,
        state: State,
        objects: list[_Object],
        keep: dict[Key, frozenset[int]],
        groups: list[Group],
        search: Search,
        how: str,
    ) -> State:
        def kept(restored: Sequence[Group]) -> dict[Key, frozenset[int]]:
            back = {key: set(indices) for key, indices in keep.items()}
            for key, group in restored:
                back[key].update(group)
            return {key: frozenset(indices) for key, indices in back.items()}

        def build(restored: tuple[Group, ...]) -> State:
            return self._fill(state, objects, kept(restored))

        restored = ddmin(groups, search.adapter(build)) if groups else ()
        return self._record(search, state, build(restored), objects, kept(restored), how)

    def _fill(self, state: State, objects: list[_Object], keep: Mapping[Key, frozenset[int]]) -> State:
        """``state`` with every function of each object outside ``keep`` filled with traps."""
        for obj in objects:
            doomed = tuple(i for i in range(len(obj.table.functions)) if i not in keep[obj.key])
            if doomed:
                state = state.with_edit(obj.key, self._filled_copy(obj, doomed))
        return state

    def _filled_copy(self, obj: _Object, doomed: tuple[int, ...]) -> bytes:
        key = (content_digest(obj.data), doomed)
        if key not in self._filled:
            if len(self._filled) > 32:  # ddmin asks for many; each copy of a big object is megabytes
                self._filled.clear()
            self._filled[key] = elf_code.fill_traps(obj.data, obj.table, doomed)
        return self._filled[key]

    def _record(
        self,
        search: Search,
        before: State,
        after: State,
        objects: list[_Object],
        keep: Mapping[Key, frozenset[int]],
        how: str,
    ) -> State:
        size = search.workspace.deflated_size
        for obj in objects:
            self._seen.add((search.checker.tag, content_digest(obj.data)))
            written = after.content(obj.key)
            if written is not None and written != obj.data:
                self._written.add(content_digest(written))
            table = obj.table
            changed = after.content(obj.key) != before.content(obj.key)
            kept = keep[obj.key] if changed else frozenset(range(len(table.functions)))
            removed = sum(f.size for i, f in enumerate(table.functions) if i not in kept)
            label = how if changed or how.startswith("untouched") else "untouched: nothing to remove"
            saved = size(obj.data) - size(after.content(obj.key) or obj.data)
            self.objects[obj.key] = ObjectReport(
                obj.key.path,
                table.source,
                len(table.functions),
                len(kept),
                table.code_bytes,
                removed,
                saved,
                label,
            )
        return after


def _first_failing(
    proposal: State, environments: list[Env], watch: dict[str, dict[int, bytes]], search: Search
) -> tuple[Verdict, bool] | None:
    """The first failing run of the proposal and whether it was not the oracle's own; None: all pass."""
    for number, env in enumerate(environments):
        verdict = search.trace(proposal, Traps(watch, env))
        if not verdict.passed:
            return verdict, number > 0
    return None


def _hits(objects: list[_Object], verdict: Verdict) -> Iterable[tuple[Key, int]]:
    """(object, function index) of every trap the run hit, at an entry or inside a function."""
    by_path = {o.path: o for o in objects}
    for path, offset in sorted(verdict.entered or ()):
        obj = by_path.get(path)
        index = elf_code.function_at(obj.table, offset) if obj is not None else None
        if obj is not None and index is not None:
            yield obj.key, index
