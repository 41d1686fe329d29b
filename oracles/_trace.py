"""What a candidate's interpreter used under the candidate tree: opened files, modules, libraries.

Imported by the scripts that run inside a candidate's interpreter (``_probe.py``, ``_check_boot.py``),
so it needs nothing but the standard library. Portable first: an audit hook sees the ``open`` of
every module an import reads, ``sys.modules`` names every imported module's file (and a namespace
package's folder, slash-terminated), and on Linux ``/proc/self/maps`` names the shared libraries
the dynamic linker loaded, which raise no audit event.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class Tracer:
    """Start it before the imports; ``collect()`` at the end returns absolute paths."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = tuple(os.path.join(os.path.abspath(r), "") for r in roots)
        self.opened: set[str] = set()
        if self.roots:
            sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and isinstance(args[0], str) and args[0].startswith(self.roots):
            self.opened.add(args[0])

    def collect(self) -> list[str]:
        if not self.roots:
            return []
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path.startswith(self.roots):
                self.opened.add(path)
            elif path is None:
                # A namespace package opens no file, yet needs its folder.
                for folder in getattr(module, "__path__", None) or []:
                    if isinstance(folder, str) and folder.startswith(self.roots):
                        self.opened.add(os.path.join(folder, ""))
        self._maps()
        return sorted(self.opened)

    def _maps(self) -> None:
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    path = line.rstrip("\n").split(" ")[-1]
                    if path.startswith(self.roots):
                        self.opened.add(path)
        except OSError:
            pass  # not Linux: the audit hook and sys.modules still see every Python-level import


def relative(paths: Iterable[str], tree: Path) -> frozenset[str]:
    """Host side: the traced absolute paths as POSIX paths inside ``tree`` (a trailing slash kept)."""
    prefixes = {str(tree), str(tree.resolve()) if tree.exists() else str(tree)}
    found = set()
    for path in paths:
        for prefix in prefixes:
            if path.startswith((prefix + "/", prefix + "\\")):
                found.add(path[len(prefix) + 1 :].replace("\\", "/"))
                break
    return frozenset(found)
