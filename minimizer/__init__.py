"""wheel-ddmin: shrink a numpy wheel to what a TensorFlow Lite model needs, and prove it."""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

from minimizer.errors import (
    BudgetExhausted,
    InputError,
    OracleError,
    VerificationError,
    WheelDdminError,
    WheelDdminWarning,
)

if TYPE_CHECKING:
    from minimizer.api import Result, minimize
    from minimizer.checker import Budget, Progress

__all__ = [
    "Budget",
    "BudgetExhausted",
    "InputError",
    "OracleError",
    "Progress",
    "Result",
    "VerificationError",
    "WheelDdminError",
    "WheelDdminWarning",
    "__version__",
    "minimize",
]

try:
    __version__ = metadata.version("wheel-ddmin")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"

_LAZY = {
    "minimize": "minimizer.api",
    "Result": "minimizer.api",
    "Budget": "minimizer.checker",
    "Progress": "minimizer.checker",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that `oracles` can import `minimizer.errors` without a cycle through the API.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'minimizer' has no attribute {name!r}")
