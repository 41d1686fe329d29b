"""Reduction passes, one module each, behind the interface in ``base``."""

from __future__ import annotations

from minimizer.passes.base import Pass
from minimizer.passes.files import FilesPass
from minimizer.passes.native_deps import NativeDepsPass
from minimizer.passes.python_statements import PythonStatementsPass
from minimizer.passes.strip import StripPass

__all__ = [
    "ALL",
    "DEFAULT",
    "FilesPass",
    "NativeDepsPass",
    "Pass",
    "PythonStatementsPass",
    "StripPass",
    "by_name",
]

# In the order they run: files first (cheap, and it shrinks what the others must look at).
ALL: dict[str, type] = {
    "files": FilesPass,
    "statements": PythonStatementsPass,
    "native": NativeDepsPass,
    "strip": StripPass,
}
# What runs without --passes: all of them.
DEFAULT = ("files", "statements", "native", "strip")


def by_name(names: list[str]) -> list[Pass]:
    """Passes in the order given; unknown names are the caller's to report."""
    return [ALL[name]() for name in names]
