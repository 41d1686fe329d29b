"""Drop a bundled shared library: unlink it from every object that needs it, then remove its file.

Each dependent loses the DT_NEEDED entry and binds the symbols it imported from the library weak
(see ``minimizer.elf``), so it loads without the library; whether the candidate still computes the
same outputs is, as always, the oracle's call. ELF only (Linux wheels).
"""

from __future__ import annotations

import posixpath

from minimizer.errors import ElfError
from minimizer.passes.elf_members import ElfMembers
from minimizer.search import Search
from minimizer.state import Key, State


class NativeDepsPass:
    """One oracle run per bundled library, largest first."""

    name = "native"

    def __init__(self) -> None:
        self._elf = ElfMembers()

    def applies(self, search: Search) -> bool:
        return search.system == "Linux"

    def reduce(self, state: State, search: Search) -> State:
        objects = self._elf.shared_objects(state, search)
        for library in self._libraries(objects, state, search):
            candidate = self._without_library(state, library, objects, search)
            if candidate is not None and search.test(candidate):
                state = candidate
                objects = self._elf.shared_objects(state, search)
        return state

    def _libraries(self, objects: dict[Key, bytes], state: State, search: Search) -> list[Key]:
        """Bundled libraries that some kept object names in DT_NEEDED, largest first."""
        wanted = {name for data in objects.values() for name in self._elf.needed(data)}
        found = [k for k in objects if posixpath.basename(k.path) in wanted and not search.protected(k)]
        sizes = {k: len(objects[k]) for k in found}
        return sorted(found, key=lambda k: (-sizes[k], k))

    def _without_library(
        self, state: State, library: Key, objects: dict[Key, bytes], search: Search
    ) -> State | None:
        name = posixpath.basename(library.path)
        candidate = state.without([library])
        for key, data in objects.items():
            if key != library and name in self._elf.needed(data):
                if search.protected(key):
                    return None
                try:
                    candidate = candidate.with_edit(key, self._elf.drop_needed(data, name, objects[library]))
                except ElfError:
                    return None
        return candidate
