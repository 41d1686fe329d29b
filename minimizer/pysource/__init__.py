"""Python source as bytes: which statements can go, which bodies can be stubbed, and the rewrite.

Pure bytes-to-bytes functions, for the statements pass: every result compiles when the source
does, and every byte outside the edited line ranges is kept.
"""

from __future__ import annotations

from minimizer.pysource._facts import Facts, Function, Unit, facts
from minimizer.pysource._rewrite import Stub, comments, delete, docstrings, rewrite, stubs
from minimizer.pysource._scopes import StmtPath
from minimizer.pysource._statements import Stmt, statements

__all__ = [
    "Facts",
    "Function",
    "Stmt",
    "StmtPath",
    "Stub",
    "Unit",
    "comments",
    "delete",
    "docstrings",
    "facts",
    "rewrite",
    "statements",
    "stubs",
]
