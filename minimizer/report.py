"""The versioned JSON report of a run, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from minimizer.result import Result, WheelResult
from minimizer.wheelfile import atomic_file, file_sha256

# 2 added "machine_code"; everything version 1 had is unchanged (gate compares either).
SCHEMA_VERSION = 2


def as_dict(result: Result) -> dict[str, Any]:
    wheels = [_wheel(w) for w in result.wheels]
    return {
        "schema_version": SCHEMA_VERSION,
        # The first wheel (numpy, usually) at the top level; every wheel under "wheels".
        "input": wheels[0]["input"],
        "output": wheels[0]["output"],
        "wheels": wheels,
        "oracle_runs": result.oracle_runs,
        "cache_hits": result.cache_hits,
        "resumed_verdicts": result.resumed,
        "wall_seconds": round(result.wall_seconds, 3),
        "complete": result.complete,
        "stop_reason": result.stop_reason,
        "verified": result.verified,
        "passes": [
            {
                "name": name,
                "runs": stats.runs,
                "cache_hits": stats.cache_hits,
                "seconds": round(stats.seconds, 3),
                "bytes_saved": stats.bytes_saved,
            }
            for name, stats in result.passes.items()
        ],
        "removed": [
            {
                "wheel": r.wheel,
                "path": r.path,
                "bytes_saved": r.bytes_saved,
                "edited": r.edited,
                "detail": r.detail,
            }
            for r in result.removed
        ],
        "holdout": result.holdout.as_dict() if result.holdout is not None else None,
        "environment": dict(result.environment),
        "machine_code": {
            "cpu": dict(result.machine_code.cpu),
            "objects": [
                {
                    "wheel_path": o.path,
                    "function_table": o.source,
                    "functions": o.functions,
                    "kept": o.kept,
                    "removed": o.functions - o.kept,
                    "code_bytes": o.code_bytes,
                    "removed_code_bytes": o.removed_bytes,
                    "bytes_saved": o.bytes_saved,
                    "how": o.how,
                }
                for o in result.machine_code.objects
            ],
        },
    }


def _wheel(wheel: WheelResult) -> dict[str, Any]:
    return {
        "input": {
            "path": str(wheel.input),
            "size_bytes": wheel.input_bytes,
            "installed_bytes": wheel.input_installed_bytes,
            "files": wheel.input_files,
            "sha256": file_sha256(wheel.input),
        },
        "output": {
            "path": str(wheel.output) if wheel.output else None,
            "size_bytes": wheel.output_bytes,
            "installed_bytes": wheel.output_installed_bytes,
            "files": wheel.output_files,
            "sha256": file_sha256(wheel.output) if wheel.output else None,
        },
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Temp file beside the target, then rename: a reader never sees half a report."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_text(path: Path, text: str) -> None:
    """Temp file beside the target, then rename; permissions as the umask gives any new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8"))
