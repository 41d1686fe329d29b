"""The CLI's progress bar: the library reports through a callback, this draws it with tqdm on stderr."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from tqdm import tqdm

from minimizer.search import Progress
from minimizer.summary import megabytes


class ProgressBar:
    """One bar for the whole search; the postfix shows the best size so far."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar: tqdm[Any] | None = None
        self._enabled = enabled and sys.stderr is not None

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            # disable=None: tqdm draws only on a terminal, so logs and pipes get the summary alone.
            self._bar = tqdm(
                desc="reference", unit=" runs", file=sys.stderr, dynamic_ncols=True, leave=False, disable=None
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def update(self, progress: Progress) -> None:
        if self._bar is None:
            return
        self._bar.set_description(progress.pass_name, refresh=False)
        self._bar.set_postfix_str(
            f"best {megabytes(progress.best_bytes)}, {progress.best_files} files, "
            f"{progress.cache_hits} cache hits",
            refresh=False,
        )
        self._bar.update(progress.runs - self._bar.n)
