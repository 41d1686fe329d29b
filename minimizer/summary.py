"""The human summary printed at the end of a run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minimizer.result import Result


def megabytes(size: int) -> str:
    """MB, or kB below 100 kB, where two decimals of MB would read 0.00."""
    return f"{size / 1e6:.2f} MB" if abs(size) >= 100_000 else f"{size / 1e3:.1f} kB"


def _change(before: int, after: int) -> str:
    saved = 100.0 * (before - after) / before if before else 0.0
    return f"{megabytes(before)} -> {megabytes(after)} (-{saved:.1f}%)"


def holdout_line(held: Mapping[str, Any] | None) -> str:
    """One sentence on the held-out check (the report's ``holdout``), for both summaries."""
    if held is None:
        return "held-out inputs: none (--holdout 0, or no model to feed)"
    if not held["screening_runs"]:
        return f"held-out inputs: {held['sets']} sets planned, not checked (the run stopped first)"
    line = f"held-out inputs: {held['usable']} of {held['sets']} sets usable"
    if held["dropped"]:
        line += f" ({held['dropped']} dropped: the original fails or is nondeterministic on them)"
    found = held["counterexamples"]
    line += (
        f", {found} counterexample{'' if found == 1 else 's'} fed back" if found else ", no counterexample"
    )
    if held["passed"]:
        return f"{line}; the result matches the original on every usable set"
    return f"{line}; NOT confirmed on every usable set (the run stopped first, or see the report)"


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
    if result.app_packages:
        lines.append(f"checks ran with {', '.join(result.app_packages)}")
    files = [r for r in result.removed if not r.edited]
    edits = [r for r in result.removed if r.edited]
    if files:
        biggest = ", ".join(f"{r.path} ({megabytes(r.bytes_saved)})" for r in files[:top])
        lines.append(f"largest removals: {biggest} ({len(files)} files removed)")
    if edits:
        edited = ", ".join(f"{r.path} ({r.detail}, {megabytes(r.bytes_saved)})" for r in edits[:top])
        lines.append(f"edited: {edited}")
    lines.append(holdout_line(result.holdout.as_dict() if result.holdout is not None else None))
    lines += machine_code_lines(result)
    if not result.complete:
        lines.append(f"search stopped early ({result.stop_reason}): the best wheel so far was written")
    lines.append(
        "verified: pip install into a fresh venv, outputs bit-identical"
        if result.verified
        else "NOT verified by a pip install (the search stopped early or --no-verify)"
    )
    return "\n".join(lines)


def machine_code_lines(result: Result) -> list[str]:
    """Per shared object the machine pass changed: functions kept, code trapped, bytes saved."""
    changed = [o for o in result.machine_code.objects if not o.how.startswith("untouched")]
    if not changed:
        return []
    lines = [f"machine code ({traced_with(result.machine_code.cpu)}):"]
    for o in changed:
        lines.append(
            f"  {o.path}: {o.kept:,} of {o.functions:,} functions kept, {megabytes(o.removed_bytes)} of code "
            f"trapped, {megabytes(o.bytes_saved)} saved ({o.how})"
        )
    return lines


def traced_with(cpu: Mapping[str, object]) -> str:
    """The CPU mode and the environments the traces ran in, in a few words."""
    runs = cpu.get("traced_with")
    how = ", ".join(map(str, runs)) if isinstance(runs, list) else "no trace"
    enabled = cpu.get("numpy_enabled")
    widest = (
        next((f for f in reversed(enabled) if isinstance(f, str)), "") if isinstance(enabled, list) else ""
    )
    on = f" on a CPU with {widest}" if widest else ""
    return f"{cpu.get('mode', '?')}; traced {how}{on}"
