"""What numpy's CPU dispatch does on this machine: one cheap run of the candidate's numpy."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from oracles import harness

# Imports the candidate's numpy alone (-I -S, its tree first on sys.path) and prints its CPU tables.
_QUERY = """
import json, sys
sys.path[:0] = sys.argv[1:]
try:
    import numpy
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:
        from numpy.core import _multiarray_umath as umath
    print(json.dumps({
        "baseline": list(umath.__cpu_baseline__),
        "dispatch": list(umath.__cpu_dispatch__),
        "enabled": [name for name, on in umath.__cpu_features__.items() if on],
    }))
except Exception as error:
    print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
"""


@dataclass(frozen=True, slots=True)
class NumpyCpu:
    """numpy's baseline features, its dispatchable ones, and those this CPU has."""

    baseline: tuple[str, ...]
    dispatch: tuple[str, ...]
    enabled: tuple[str, ...]

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "baseline": list(self.baseline),
            "dispatch": list(self.dispatch),
            "enabled": list(self.enabled),
        }

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> NumpyCpu:
        return cls(tuple(data["baseline"]), tuple(data["dispatch"]), tuple(data["enabled"]))


def numpy_cpu(
    paths: Sequence[Path], *, timeout: float, python: Sequence[str] | None = None
) -> NumpyCpu | None:
    """numpy's CPU tables as the candidate at ``paths`` sees them; None when it has no numpy.

    ``python`` is the interpreter's command line (an emulated target's); default: this one.
    """
    argv = [*(python or [sys.executable]), "-I", "-S", "-c", _QUERY, *map(str, paths)]
    done = harness.run(argv, timeout=timeout, env=harness.python_env())
    try:
        found = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return None if "error" in found else NumpyCpu.from_dict(found)
