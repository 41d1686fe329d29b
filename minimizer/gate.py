"""Size gates for nightly jobs: a size budget, and a comparison with an earlier report."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from minimizer.errors import InputError

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 2**10, "mib": 2**20, "gib": 2**30,
}  # fmt: skip


def parse_size(text: str) -> int:
    """``3MB``, ``2.5MiB``, ``800kB`` or plain bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise InputError(f"not a size: {text!r} (try 3MB, 2.5MiB or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[unit])


def over_budget(report: Mapping[str, Any], budget: int) -> list[str]:
    total = sum(w["output"]["size_bytes"] for w in report["wheels"])
    if total <= budget:
        return []
    return [f"output is {total:,} bytes, over the budget of {budget:,} bytes"]


def regressions(report: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: float) -> list[str]:
    """What grew beyond ``tolerance`` (a fraction) since ``baseline``, and which files came back."""
    if baseline.get("schema_version") != report.get("schema_version"):
        raise InputError("the baseline report has another schema version")
    before = {_name(w): w for w in baseline["wheels"]}
    problems = []
    for wheel in report["wheels"]:
        old = before.get(_name(wheel))
        if old is None:
            continue
        was, now = old["output"]["size_bytes"], wheel["output"]["size_bytes"]
        if now > was * (1 + tolerance):
            growth = 100.0 * (now - was) / was if was else float("inf")
            problems.append(
                f"{_name(wheel)} grew from {was:,} to {now:,} bytes (+{growth:.1f}%, "
                f"tolerance {100 * tolerance:g}%)"
            )
            back = _came_back(report, baseline, _name(wheel))
            if back:
                shown = ", ".join(back[:10]) + (f" and {len(back) - 10} more" if len(back) > 10 else "")
                problems.append(f"files back in {_name(wheel)}: {shown}")
    return problems


def _name(wheel: Mapping[str, Any]) -> str:
    return str(wheel["input"]["path"]).replace("\\", "/").rsplit("/", 1)[-1]


def _came_back(report: Mapping[str, Any], baseline: Mapping[str, Any], wheel: str) -> list[str]:
    def removed(data: Mapping[str, Any]) -> set[str]:
        return {r["path"] for r in data.get("removed", []) if r["wheel"] == wheel and not r["edited"]}

    return sorted(removed(baseline) - removed(report))
