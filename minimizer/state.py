"""A candidate, as data: the files kept in each wheel and the files edited, nothing else."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple


class Key(NamedTuple):
    """A member of one of the input wheels: the wheel's position and the member's path."""

    wheel: int
    path: str


@dataclass(frozen=True, slots=True)
class State:
    """Hashable, so the checker's cache can key on it; edits are always of kept files."""

    files: frozenset[Key]
    edits: tuple[tuple[Key, bytes], ...] = ()

    @classmethod
    def of(cls, files: Iterable[Key], edits: Mapping[Key, bytes] | None = None) -> State:
        kept = frozenset(files)
        changed = tuple(sorted((k, v) for k, v in (edits or {}).items() if k in kept))
        return cls(kept, changed)

    @property
    def edit_map(self) -> dict[Key, bytes]:
        return dict(self.edits)

    def keeping(self, files: Iterable[Key]) -> State:
        return State.of(files, self.edit_map)

    def without(self, doomed: Iterable[Key]) -> State:
        return self.keeping(self.files - frozenset(doomed))

    def with_edit(self, key: Key, data: bytes) -> State:
        return State.of(self.files, {**self.edit_map, key: data})

    def content(self, key: Key) -> bytes | None:
        """The edited bytes of ``key``, or None when it is the original file."""
        return self.edit_map.get(key)


@functools.lru_cache(maxsize=4096)
def content_digest(data: bytes) -> str:
    """sha256 of an edit's bytes, computed once per content.

    Size estimates, the journal and the ELF and bytecode caches all key on an edit's content, once
    per candidate; a rewritten ``_multiarray_umath`` is 7 MB, so hashing it each time would cost
    milliseconds on every oracle run. The cache hits by identity, since states share their edits.
    """
    return hashlib.sha256(data).hexdigest()
