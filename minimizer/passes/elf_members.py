"""The ELF shared objects of a state that the target loads, with LIEF's slow answers cached by content."""

from __future__ import annotations

from minimizer import elf
from minimizer.search import Search
from minimizer.state import Key, State, content_digest


class ElfMembers:
    """Parsing an ELF file costs up to a second: every answer is cached by the bytes' digest."""

    def __init__(self) -> None:
        self._needed: dict[str, tuple[str, ...]] = {}
        self._dropped: dict[tuple[str, str], bytes] = {}
        self._stripped: dict[str, bytes] = {}

    @staticmethod
    def shared_objects(state: State, search: Search) -> dict[Key, bytes]:
        """Objects built for the target's machine: no run on the target could judge an edit of another."""
        wanted = elf.target_machine(search.machine)
        objects = {}
        for key in sorted(state.files):
            if ".so" in key.path.rsplit("/", 1)[-1] or key.path.endswith((".pyd", ".dylib")):
                data = search.workspace.read(key, state)
                if elf.is_elf(data) and wanted in (None, elf.machine(data)):
                    objects[key] = data
        return objects

    def needed(self, data: bytes) -> tuple[str, ...]:
        digest = content_digest(data)
        if digest not in self._needed:
            self._needed[digest] = elf.needed(data)
        return self._needed[digest]

    def drop_needed(self, data: bytes, library: str, library_data: bytes) -> bytes:
        key = (content_digest(data), library)
        if key not in self._dropped:
            self._dropped[key] = elf.drop_needed(data, library, library_data)
        return self._dropped[key]

    def strip(self, data: bytes) -> bytes:
        digest = content_digest(data)
        if digest not in self._stripped:
            self._stripped[digest] = elf.strip(data)
        return self._stripped[digest]
