"""Reduction passes, one module each, behind the interface in ``base``."""

from __future__ import annotations

from minimizer.passes.base import Pass
from minimizer.passes.files import FilesPass

__all__ = ["ALL", "FilesPass", "Pass", "by_name"]

ALL: dict[str, type] = {"files": FilesPass}


def by_name(names: list[str]) -> list[Pass]:
    """Passes in the order given; unknown names are the caller's to report."""
    return [ALL[name]() for name in names]
