"""A Markdown summary for CI job pages, with an SVG picture of what remains, by package."""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from minimizer.summary import holdout_line, megabytes, traced_with

_BAR_WIDTH = 640
_ROW = 22
_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")


def remaining_by_package(wheel: Path, *, depth: int = 2) -> list[tuple[str, int]]:
    """Compressed bytes of the wheel by folder (two levels deep), largest first."""
    sizes: dict[str, int] = defaultdict(int)
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            folder = "/".join(parts[: min(depth, len(parts) - 1)]) or "(top level)"
            sizes[folder] += info.compress_size
    return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))


def svg(rows: Sequence[tuple[str, int]], title: str) -> str:
    """Horizontal bars, one per package, scaled to the largest."""
    top = max((size for _, size in rows), default=1) or 1
    height = _ROW * (len(rows) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_BAR_WIDTH + 360}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="8" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    for index, (name, size) in enumerate(rows):
        y = _ROW * (index + 1) + 6
        width = max(1, round(_BAR_WIDTH * size / top))
        color = _COLORS[index % len(_COLORS)]
        parts.append(f'<text x="8" y="{y + 14}">{escape(name)}</text>')
        parts.append(f'<rect x="240" y="{y}" width="{width}" height="16" fill="{color}"/>')
        parts.append(f'<text x="{248 + width}" y="{y + 14}">{megabytes(size)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def summary(report: Mapping[str, Any], problems: Sequence[str], picture: str | None, *, top: int = 10) -> str:
    lines = ["# wheel-ddmin", ""]
    lines += ["| wheel | before | after | files | installed |", "| --- | ---: | ---: | ---: | ---: |"]
    for wheel in report["wheels"]:
        before, after = wheel["input"], wheel["output"]
        name = str(before["path"]).replace("\\", "/").rsplit("/", 1)[-1]
        lines.append(
            f"| {name} | {_mb(before['size_bytes'])} | {_mb(after['size_bytes'])} | "
            f"{before['files']} -> {after['files']} | "
            f"{_mb(before['installed_bytes'])} -> {_mb(after['installed_bytes'])} |"
        )
    lines += [
        "",
        f"Oracle runs: {report['oracle_runs']}, wall time {report['wall_seconds']:.0f} s, "
        f"verified by pip install: {'yes' if report['verified'] else 'no'}.",
        "",
        _sentence(holdout_line(report.get("holdout"))),
        "",
    ]
    lines += ["## Verdict", ""]
    lines += [f"- {p}" for p in problems] if problems else ["No regression."]
    lines += ["", "## Largest removals", "", "| path | saved |", "| --- | ---: |"]
    lines += [f"| `{r['path']}` | {_mb(r['bytes_saved'])} |" for r in report["removed"][:top]]
    lines += _machine_code(report.get("machine_code") or {})
    if picture:
        lines += ["", "## What remains, by package", "", f"![size breakdown]({picture})"]
    return "\n".join(lines) + "\n"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _machine_code(section: Mapping[str, Any]) -> list[str]:
    objects = [o for o in section.get("objects", []) if not str(o["how"]).startswith("untouched")]
    if not objects:
        return []
    lines = [
        "",
        "## Machine code",
        "",
        f"Traps instead of unused functions ({traced_with(section['cpu'])}).",
        "",
    ]
    lines += ["| shared object | functions kept | code trapped | saved |", "| --- | ---: | ---: | ---: |"]
    lines += [
        f"| `{o['wheel_path']}` | {o['kept']:,} of {o['functions']:,} | {_mb(o['removed_code_bytes'])} | "
        f"{_mb(o['bytes_saved'])} |"
        for o in objects
    ]
    return lines


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"
