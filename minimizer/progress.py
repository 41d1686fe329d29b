"""The CLI's progress bar: the library reports through a callback, this draws it with tqdm on stderr."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Any

from tqdm import tqdm

from minimizer.checker import Progress
from minimizer.summary import megabytes

# What each stage of a run is doing, as the bar says it (in the search: the pass's name).
LABELS = {
    "reading": "reading the wheels",
    "unpacking": "unpacking",
    "reference": "reference run of the original",
    "empty check": "checking that the oracle tests something",
    "held-out screening": "held-out inputs: runs of the original",
    "held-out check": "held-out inputs: checking the result",
    "writing": "writing the wheels",
    "verifying": "verifying: pip install into a fresh venv",
}
FORMAT = "{desc}: {n_fmt} oracle runs [{elapsed}{postfix}]"


class ProgressBar:
    """One bar for the whole run; the postfix shows the best size so far and the time left.

    How many runs a delta-debugging pass still needs is not known until it ends: each success
    changes what comes next. What is known is the runs the pass has queued now and the mean cost of
    a run so far; the bar shows that, a floor for the current pass, and says so.
    """

    def __init__(self, *, enabled: bool, file: IO[str] | None = None) -> None:
        self._bar: tqdm[Any] | None = None
        self._file = file or sys.stderr
        self._enabled = enabled and self._file is not None

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            # disable=None: tqdm draws only on a terminal, so logs and pipes get the summary alone.
            self._bar = tqdm(
                desc=LABELS["reading"],
                bar_format=FORMAT,
                file=self._file,
                dynamic_ncols=True,
                leave=False,
                disable=None,
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
        label = (
            progress.pass_name if progress.stage == "search" else LABELS.get(progress.stage, progress.stage)
        )
        self._bar.set_description_str(label, refresh=False)
        if progress.best_files:
            self._bar.set_postfix_str(
                f"best {megabytes(progress.best_bytes)}, {progress.best_files} files, "
                f"{progress.cache_hits} cache hits{time_left(progress)}",
                refresh=False,
            )
        self._bar.update(progress.runs - self._bar.n)
        if progress.last is None:
            self._bar.refresh()  # a new stage shows at once, even when no run follows for a while


def time_left(progress: Progress) -> str:
    """``, 1.2 s/run, >= 3m20s left in files (64 runs queued)``, or just the mean while none is queued."""
    if not progress.mean_seconds:
        return ""
    text = f", {progress.mean_seconds:.1f} s/run"
    if progress.queued:
        text += (
            f", >= {_duration(progress.queued_seconds)} left in {progress.pass_name}"
            f" ({progress.queued} runs queued)"
        )
    return text


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
