"""Reduction passes, one module each, behind the interface in ``base``."""

from __future__ import annotations

from minimizer.passes.base import Pass
from minimizer.passes.files import FilesPass
from minimizer.passes.machine_code import CPU_MODES, MachineCodePass
from minimizer.passes.native_deps import NativeDepsPass
from minimizer.passes.python_statements import PythonStatementsPass
from minimizer.passes.strip import StripPass

__all__ = [
    "ALL",
    "CPU_MODES",
    "DEFAULT",
    "FilesPass",
    "MachineCodePass",
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
    "machine": MachineCodePass,
    "strip": StripPass,
}
# What runs without --passes: all of them. machine comes before strip, which removes the symbol
# tables it reads function names from.
DEFAULT = ("files", "statements", "native", "machine", "strip")


def by_name(names: list[str], *, cpu: str = "portable") -> list[Pass]:
    """Passes in the order given; unknown names are the caller's to report."""
    return [MachineCodePass(cpu) if name == "machine" else ALL[name]() for name in names]
