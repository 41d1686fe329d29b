"""The one interface every reduction pass implements."""

from __future__ import annotations

from typing import Protocol

from minimizer.search import Search
from minimizer.state import State


class Pass(Protocol):
    """One kind of reduction. Given a passing state, return a passing state no larger.

    A pass proposes candidates only through ``search`` (which runs the oracles); it never starts a
    process or touches the input wheels itself.
    """

    @property
    def name(self) -> str: ...

    def applies(self, search: Search) -> bool:
        """Whether the pass can do anything here (the platform, the wheels' contents)."""
        ...

    def reduce(self, state: State, search: Search) -> State: ...
