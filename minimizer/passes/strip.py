"""Strip symbol tables and debug sections from shared objects, keeping what the loader needs."""

from __future__ import annotations

from minimizer.ddmin import sweep
from minimizer.errors import ElfError
from minimizer.passes.elf_members import ElfMembers
from minimizer.search import Search
from minimizer.state import Key, State


class StripPass:
    """All objects stripped in one run; when that fails, a sweep finds which may not be."""

    name = "strip"

    def __init__(self) -> None:
        self._elf = ElfMembers()

    def applies(self, search: Search) -> bool:
        return search.system == "Linux"

    def reduce(self, state: State, search: Search) -> State:
        stripped = self._worth_stripping(state, search)
        if not stripped:
            return state

        def build(unstripped: tuple[Key, ...]) -> State:
            candidate = state
            for key, data in stripped.items():
                if key not in unstripped:
                    candidate = candidate.with_edit(key, data)
            return candidate

        # Items are the objects left *unstripped*: the sweep removes them from that list one by one.
        everything = tuple(sorted(stripped))
        first_passing = search.adapter(build)
        if first_passing([()]) == 0:
            return build(())
        return build(sweep(everything, first_passing))

    def _worth_stripping(self, state: State, search: Search) -> dict[Key, bytes]:
        """Stripped bytes of each object whose stripping saves compressed bytes."""
        result = {}
        for key, data in self._elf.shared_objects(state, search).items():
            if search.protected(key):
                continue
            try:
                stripped = self._elf.strip(data)
            except ElfError:
                continue
            size = search.workspace.deflated_size
            if stripped != data and size(stripped) < size(data):
                result[key] = stripped
        return result
