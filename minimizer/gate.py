"""Size gates for nightly jobs: a size budget, and a comparison with an earlier report."""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minimizer.errors import InputError, WheelDdminWarning

# Report versions whose wheels and removals read alike (2 only added "machine_code").
COMPARABLE_VERSIONS = (1, 2)

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


def parse_tolerance(text: str) -> float:
    """``1%`` (or ``1``) as the fraction 0.01; negative, NaN or infinite growth allowances are refused."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"--tolerance wants a percentage of 0 or more, such as 1%, not {text!r}")
    return value / 100.0


def read_baseline(path: Path) -> dict[str, Any]:
    """An earlier report, checked now: a baseline found unusable after the search wastes the search."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read baseline {path}: {error}") from error
    problem = _baseline_problem(data)
    if problem:
        raise InputError(f"baseline {path} is not a wheel-ddmin report: {problem}")
    assert isinstance(data, dict)
    return data


def _baseline_problem(data: object) -> str:
    from minimizer.report import SCHEMA_VERSION

    if not isinstance(data, dict):
        return f"it holds {json.dumps(data)[:40]}, not a report object"
    if data.get("schema_version") not in COMPARABLE_VERSIONS:
        return (
            f"schema_version is {data.get('schema_version')!r}, reports of this version are {SCHEMA_VERSION}"
            f" (and {', '.join(map(str, COMPARABLE_VERSIONS[:-1]))} compare alike)"
        )
    wheels = data.get("wheels")
    if not isinstance(wheels, list) or not wheels:
        return 'it has no "wheels" list'
    for wheel in wheels:
        path = wheel.get("input", {}).get("path") if isinstance(wheel, dict) else None
        size = wheel.get("output", {}).get("size_bytes") if isinstance(wheel, dict) else None
        if not isinstance(path, str) or not _is_size(size):
            return "a wheel in it lacks input.path or output.size_bytes"
    removed = data.get("removed", [])
    if not isinstance(removed, list) or not all(
        isinstance(r, dict) and isinstance(r.get("wheel"), str) and isinstance(r.get("path"), str)
        for r in removed
    ):
        return '"removed" is not a list of removed files'
    return ""


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_comparable(baseline: Mapping[str, Any], wheel_names: Sequence[str], where: str) -> None:
    """A baseline of other wheels compares nothing: refuse it, rather than pass every night."""
    before = {_name(w) for w in baseline["wheels"]}
    if not before & set(wheel_names):
        raise InputError(
            f"baseline {where} describes {', '.join(sorted(before))}, not {', '.join(wheel_names)}: nothing "
            "to compare; start a new baseline with --report (and no --baseline)"
        )
    for name in wheel_names:
        if name not in before:
            warnings.warn(f"baseline {where} has no {name}: its size is not compared", WheelDdminWarning, 2)


def over_budget(report: Mapping[str, Any], budget: int) -> list[str]:
    total = sum(w["output"]["size_bytes"] for w in report["wheels"])
    if total <= budget:
        return []
    return [f"output is {total:,} bytes, over the budget of {budget:,} bytes"]


def regressions(report: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: float) -> list[str]:
    """What grew beyond ``tolerance`` (a fraction) since ``baseline``, and which files came back."""
    if baseline.get("schema_version") not in COMPARABLE_VERSIONS:
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
        return {r["path"] for r in data.get("removed", []) if r["wheel"] == wheel and not r.get("edited")}

    return sorted(removed(baseline) - removed(report))
