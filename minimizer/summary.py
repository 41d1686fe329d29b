"""The human summary printed at the end of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minimizer.api import Result


def megabytes(size: int) -> str:
    """MB, or kB below 100 kB, where two decimals of MB would read 0.00."""
    return f"{size / 1e6:.2f} MB" if abs(size) >= 100_000 else f"{size / 1e3:.1f} kB"


def _change(before: int, after: int) -> str:
    saved = 100.0 * (before - after) / before if before else 0.0
    return f"{megabytes(before)} -> {megabytes(after)} (-{saved:.1f}%)"


def text_summary(result: Result, *, top: int = 5) -> str:
    lines = []
    for wheel in result.wheels:
        lines.append(wheel.input.name)
        lines.append(f"  wheel      {_change(wheel.input_bytes, wheel.output_bytes)}")
        lines.append(f"  installed  {_change(wheel.input_installed_bytes, wheel.output_installed_bytes)}")
        lines.append(f"  files      {wheel.input_files} -> {wheel.output_files}")
        lines.append(f"  output     {wheel.output}")
    passes = ", ".join(f"{name} {stats.runs}" for name, stats in result.passes.items() if stats.runs)
    lines.append(
        f"oracle runs {result.oracle_runs} ({passes or 'none'}), cache hits {result.cache_hits}, "
        f"wall time {result.wall_seconds:.1f} s, runtime {result.runtime}"
    )
    files = [r for r in result.removed if not r.edited]
    edits = [r for r in result.removed if r.edited]
    if files:
        biggest = ", ".join(f"{r.path} ({megabytes(r.bytes_saved)})" for r in files[:top])
        lines.append(f"largest removals: {biggest} ({len(files)} files removed)")
    if edits:
        edited = ", ".join(f"{r.path} ({r.detail}, {megabytes(r.bytes_saved)})" for r in edits[:top])
        lines.append(f"edited: {edited}")
    if not result.complete:
        lines.append(f"search stopped early ({result.stop_reason}): the best wheel so far was written")
    lines.append(
        "verified: pip install into a fresh venv, outputs bit-identical"
        if result.verified
        else "NOT verified by a pip install (the search stopped early or --no-verify)"
    )
    return "\n".join(lines)
