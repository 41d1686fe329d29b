"""Delta debugging over opaque items: pure, deterministic, never testing one configuration twice.

Both reducers take a ``first_passing`` callable instead of a plain predicate: it is handed an ordered
list of configurations and returns the index of the first one that passes (or ``None``). A serial
caller tests them one by one; a parallel caller may test several at once and still answer with the
first passing one *in order*, so the result is the same for any degree of parallelism. Configurations
after the returned index count as untested.

Invariants, for a deterministic test under which the full input passes:

* the result passes (it is the input or a configuration that passed);
* the result is 1-minimal: removing any single item of it was tested and failed;
* no configuration is handed to ``first_passing`` twice;
* the result depends only on the items, their order and the test.

Items must be hashable and distinct. The reducers know nothing of files, wheels or processes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)


class FirstPassing(Protocol[T_contra]):
    """Index of the first configuration that passes, or None when none does."""

    def __call__(self, configs: Sequence[tuple[T_contra, ...]], /) -> int | None: ...


def serial(test: Callable[[tuple[T, ...]], bool]) -> FirstPassing[T]:
    """Adapt a plain predicate to the ``first_passing`` protocol, testing in order."""

    def first_passing(configs: Sequence[tuple[T, ...]]) -> int | None:
        for index, config in enumerate(configs):
            if test(config):
                return index
        return None

    return first_passing


class _Tried:
    """Remembers configurations known to fail, and asks only about new ones."""

    def __init__(self) -> None:
        self.failed: set[frozenset[Hashable]] = set()

    def first(self, first_passing: FirstPassing[T], configs: Sequence[tuple[T, ...]]) -> tuple[T, ...] | None:
        fresh: list[tuple[T, ...]] = []
        seen: set[frozenset[Hashable]] = set()
        for config in configs:
            key = frozenset(config)
            if key not in self.failed and key not in seen:
                seen.add(key)
                fresh.append(config)
        if not fresh:
            return None
        hit = first_passing(fresh)
        # Only the configurations before the hit were tested; later ones stay unknown.
        tested = fresh if hit is None else fresh[:hit]
        self.failed.update(frozenset(config) for config in tested)
        return None if hit is None else fresh[hit]


def _split(items: tuple[T, ...], parts: int) -> list[tuple[T, ...]]:
    """Split into ``parts`` contiguous chunks whose sizes differ by at most one."""
    size, extra = divmod(len(items), parts)
    chunks = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(items[start:end])
        start = end
    return chunks


def _without(config: tuple[T, ...], doomed: tuple[T, ...]) -> tuple[T, ...]:
    gone = set(doomed)
    return tuple(item for item in config if item not in gone)


def ddmin(items: Sequence[T], first_passing: FirstPassing[T]) -> tuple[T, ...]:
    """Zeller's ddmin, complements first (most items are usually needed).

    Contiguous chunks: order the items so that related ones sit together (by path, say) and whole
    groups go in one test.
    """
    current = tuple(items)
    tried = _Tried()
    parts = 2
    while current:
        chunks = _split(current, min(parts, len(current)))
        complements = [_without(current, chunk) for chunk in chunks]
        subsets = chunks if len(chunks) > 2 else []
        hit = tried.first(first_passing, complements + subsets)
        if hit is not None:
            reduced_to_subset = hit in subsets and hit not in complements
            current = hit
            parts = 2 if reduced_to_subset else max(parts - 1, 2)
        elif len(chunks) >= len(current):
            break
        else:
            parts = min(parts * 2, len(current))
    return current


def sweep(
    items: Sequence[T],
    first_passing: FirstPassing[T],
    *,
    shrink: Callable[[tuple[T, ...]], Sequence[tuple[T, ...]]] | None = None,
) -> tuple[T, ...]:
    """Try removing one item at a time, in the given order, until every removal is known to fail.

    Cheaper than ddmin when most items are needed, and a good order (largest savings first, items
    that unlock others early) spends runs where they pay. After each accepted removal, ``shrink``
    may propose smaller configurations (say, only what the passing run used), boldest first; the
    first of them that passes is kept, and the items it kept beyond the boldest one are tried next.
    A removal tested against an older configuration is tested again, so the result is 1-minimal.
    """
    current = tuple(items)
    tried = _Tried()
    head: T | None = current[0] if current else None  # where the cyclic order resumes
    urgent: list[T] = []
    while current:
        queue = _queue(current, head, urgent)
        hit = tried.first(first_passing, [_without(current, (item,)) for item in queue])
        if hit is None:
            return current
        (removed,) = set(current) - set(hit)
        was_urgent = removed in urgent
        if was_urgent:
            urgent.remove(removed)
        if not was_urgent or removed == head:
            head = _after(current, removed)
        current = hit
        if shrink is not None:
            before = current
            current, extra = _try_shrink(current, shrink, first_passing, tried)
            urgent = [item for item in (*urgent, *extra) if item in set(current)]
            head = _first_surviving(before, current, head)
    return current


def _queue(current: tuple[T, ...], head: T | None, urgent: list[T]) -> list[T]:
    start = current.index(head) if head in current else 0
    rotation = current[start:] + current[:start]
    return [*urgent, *(item for item in rotation if item not in urgent)]


def _after(current: tuple[T, ...], removed: T) -> T | None:
    """The item that follows ``removed`` in cyclic order, once it is gone."""
    if len(current) <= 1:
        return None
    return current[(current.index(removed) + 1) % len(current)]


def _first_surviving(before: tuple[T, ...], after: tuple[T, ...], head: T | None) -> T | None:
    """The first item at or after ``head`` (in ``before``'s cyclic order) still in ``after``."""
    if head is None or not after:
        return None
    survivors = set(after)
    start = before.index(head)
    return next(item for item in before[start:] + before[:start] if item in survivors)


def _try_shrink(
    current: tuple[T, ...],
    shrink: Callable[[tuple[T, ...]], Sequence[tuple[T, ...]]],
    first_passing: FirstPassing[T],
    tried: _Tried,
) -> tuple[tuple[T, ...], list[T]]:
    proposals = []
    for proposal in shrink(current):
        keep = set(proposal)
        ordered = tuple(item for item in current if item in keep)
        if len(ordered) < len(current) and ordered not in proposals:
            proposals.append(ordered)
    chosen = tried.first(first_passing, proposals) if proposals else None
    if chosen is None:
        return current, []
    # What a more cautious proposal kept beyond the boldest one is the likeliest to go next.
    boldest = set(proposals[0])
    return chosen, [item for item in chosen if item not in boldest]
