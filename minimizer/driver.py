"""Run the reduction passes in turn until none of them changes the state."""

from __future__ import annotations

import time
from collections.abc import Sequence

from minimizer.passes.base import Pass
from minimizer.search import Search
from minimizer.state import State


def reduce_to_fixpoint(state: State, passes: Sequence[Pass], search: Search) -> State:
    """Each pass unlocks the others (an import gone frees files), so loop until nothing moves."""
    checker = search.checker
    active = [p for p in passes if p.applies(search)]
    settled: dict[str, State] = {}  # a pass's own output: running it again there would change nothing
    while True:
        before = state
        for reduction in active:
            if settled.get(reduction.name) == state:
                continue
            checker.begin("search", reduction.name)
            stats = checker.stats()
            size_before = search.workspace.compressed_bytes(state)
            started = time.monotonic()
            state = reduction.reduce(state, search)
            stats.seconds += time.monotonic() - started
            stats.bytes_saved += size_before - search.workspace.compressed_bytes(state)
            settled[reduction.name] = state
        if state == before:
            return state
