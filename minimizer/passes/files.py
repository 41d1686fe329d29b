"""Remove whole files: start from what a traced run opened, then one file at a time, largest first."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable

from minimizer.ddmin import ddmin, sweep
from minimizer.search import Search
from minimizer.state import Key, State
from minimizer.wheelfile import tree_path

# Folders and kinds of file that go together in one test when the trace cannot guide the start.
_NATURAL_SUFFIXES = (".pyi", ".pxd", ".h", ".c", ".f", ".f90", ".pyx", ".txt", ".md", ".cfg")
_GROUP_SHARE = 0.005  # groups smaller than this share of the removable bytes are not worth a run


class FilesPass:
    """Trace-guided start, structure-aware groups as fallback, then a 1-minimal sweep."""

    name = "files"

    def applies(self, search: Search) -> bool:
        return True

    def reduce(self, state: State, search: Search) -> State:
        removable = sorted(k for k in state.files if not search.protected(k))
        fixed = state.files - set(removable)

        def build(config: tuple[Key, ...]) -> State:
            return state.keeping(fixed | set(config))

        def shrink(config: tuple[Key, ...]) -> list[tuple[Key, ...]]:
            opened = search.opened(build(config))
            if opened is None:
                return []
            folders = search.namespace_folders(build(config))
            bare = tuple(k for k in config if k in opened)
            return [bare, _with_folders(config, bare, fixed, folders, search)]

        first_passing = search.adapter(build)
        proposals = [p for p in dict.fromkeys(shrink(tuple(removable))) if len(p) < len(removable)]
        hit = first_passing(proposals) if proposals else None
        if hit is not None:
            removable = list(proposals[hit])
        elif search.opened(state) is None or _faithful_failed(proposals, removable):
            removable = list(_groups_then_ddmin(tuple(removable), search, build))
        return build(sweep(_order(removable, search), first_passing, shrink=shrink))


def _faithful_failed(proposals: list[tuple[Key, ...]], removable: list[Key]) -> bool:
    """The trace, namespace folders included, proposed a reduction that failed: it misleads here."""
    return bool(proposals) and len(proposals[-1]) < len(removable)


def _with_folders(
    config: tuple[Key, ...],
    kept: tuple[Key, ...],
    fixed: frozenset[Key],
    folders: frozenset[str],
    search: Search,
) -> tuple[Key, ...]:
    """``kept`` plus the smallest file of each namespace package's otherwise empty folder.

    A package whose ``__init__.py`` is gone imports as a namespace package: it opens no file, but
    its folder may have to exist, so one file of it stays, unless something kept anyway (a
    license, a file in a subfolder) already holds the folder.
    """
    chosen = set(kept)
    for folder in sorted(folders):
        if any(_inside(k, folder) for k in (*chosen, *fixed)):
            continue
        inside = [k for k in config if _inside(k, folder)]
        if inside:
            chosen.add(min(inside, key=lambda k: (_size(k, search), k)))
    return tuple(k for k in config if k in chosen)


def _inside(key: Key, folder: str) -> bool:
    return (tree_path(key.path) or "").startswith(folder + "/")


def _size(key: Key, search: Search) -> int:
    return search.workspace.member(key).compressed_size


def _order(keys: list[Key], search: Search) -> list[Key]:
    """Package ``__init__`` files first (removing one can free its whole folder), then by size."""
    return sorted(keys, key=lambda k: (not k.path.endswith("/__init__.py"), -_size(k, search), k))


def _groups_then_ddmin(
    removable: tuple[Key, ...], search: Search, build: Callable[[tuple[Key, ...]], State]
) -> tuple[Key, ...]:
    """Without a usable trace: drop big natural groups in single runs, then classic ddmin."""
    first_passing = search.adapter(build)
    current = removable
    for group in _groups(removable, search):
        candidate = tuple(k for k in current if k not in group)
        if len(candidate) < len(current) and first_passing([candidate]) == 0:
            current = candidate
    return ddmin(current, first_passing)


def _groups(keys: tuple[Key, ...], search: Search) -> list[frozenset[Key]]:
    """Folder subtrees and same-kind files (stubs, headers, sources), largest first."""
    size = {k: _size(k, search) for k in keys}
    groups: dict[str, set[Key]] = defaultdict(set)
    for key in keys:
        folder = posixpath.dirname(key.path)
        while folder:
            groups[f"{key.wheel}:{folder}/"].add(key)
            folder = posixpath.dirname(folder)
        suffix = posixpath.splitext(key.path)[1].lower()
        if suffix in _NATURAL_SUFFIXES:
            groups[f"{key.wheel}:*{suffix}"].add(key)
    total = sum(size.values()) or 1
    worth = [frozenset(g) for g in groups.values() if sum(size[k] for k in g) >= total * _GROUP_SHARE]
    return sorted(worth, key=lambda g: (-sum(size[k] for k in g), sorted(g)))
