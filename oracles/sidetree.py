"""The app's own dependencies (``--with``): resolved beside the candidate's numpy, installed once, cached.

pip resolves them under a constraint pinning numpy (and the runtime) to the candidate's versions, so
it picks releases built for that numpy or says why none fits; then numpy and every runtime are taken
out again: the candidate's must be the only ones in sight. The wheels stay beside the installed tree
for the final verification venv, so a warm run needs no network.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from minimizer.errors import InputError
from oracles import pip, runtime

# What the candidate brings, whoever else asks for it.
CANDIDATE_ONLY = frozenset({"numpy", *runtime.KNOWN})
_OFFLINE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution"
    r"|Name or service not known|Network is unreachable|ConnectTimeoutError|ProxyError|connection broken by"
)
_NO_MATCH = re.compile(r"satisfies the requirement (\S+) \(from versions: ([^)]*)\)")


class ForPython(Protocol):
    """The interpreter a side tree is for, as far as pip and the cache care."""

    @property
    def pip_options(self) -> tuple[str, ...]:
        """pip options that select its wheels (``--platform``, ``--python-version``, ...)."""
        ...

    @property
    def key(self) -> str:
        """Names it in the cache."""
        ...


@dataclass(frozen=True, slots=True)
class ThisPython:
    """The interpreter running wheel-ddmin: pip picks its wheels without being told."""

    pip_options: tuple[str, ...] = ()
    key: str = field(default_factory=lambda: str(next(iter(sys_tags()))))


@dataclass(frozen=True, slots=True)
class Request:
    """What the user asked for: requirement strings (``--with``) and requirements files."""

    requirements: tuple[str, ...] = ()
    files: tuple[Path, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.requirements or self.files)

    def describe(self) -> str:
        return " ".join([*(f"--with {r}" for r in self.requirements), *(f"-r {f}" for f in self.files)])


@dataclass(frozen=True, slots=True)
class SideTree:
    """Installed side packages: a folder for every check's path, their wheels for the final venv."""

    tree: Path
    wheels: tuple[Path, ...]

    @property
    def packages(self) -> tuple[str, ...]:
        """``name==version`` of every side package."""
        found = (parse_wheel_filename(w.name)[:2] for w in self.wheels)
        return tuple(sorted(f"{name}=={version}" for name, version in found))


def validate(request: Request) -> None:
    """Refuse what pip would refuse less clearly, before anything is downloaded."""
    for text in request.requirements:
        try:
            Requirement(text)
        except InvalidRequirement as error:
            if not (text.endswith(".whl") and Path(text).is_file()):
                raise InputError(f"--with {text!r} is not a requirement: {error}") from error
    for path in request.files:
        if not path.is_file():
            raise InputError(f"requirements file not found: {path}")


def provide(
    request: Request, pins: Mapping[str, str], cache: Path, *, target: ForPython | None = None
) -> SideTree:
    """The side tree for ``request`` with ``pins`` (name -> version) held: from the cache, or built."""
    validate(request)
    target = target or ThisPython()
    folder = cache / "with" / _key(request, pins, target)
    if not (folder / ".complete").exists():
        _build(request, pins, target, folder)
    return SideTree(folder / "tree", tuple(sorted((folder / "wheels").glob("*.whl"))))


def _key(request: Request, pins: Mapping[str, str], target: ForPython) -> str:
    """Same requirements, files, pinned versions and interpreter: the same tree."""
    identity = {
        "requirements": sorted(request.requirements),
        "files": [hashlib.sha256(p.read_bytes()).hexdigest() for p in request.files],
        "pins": sorted(pins.items()),
        "interpreter": target.key,
    }
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def _build(request: Request, pins: Mapping[str, str], target: ForPython, folder: Path) -> None:
    """Resolve, download and install into a temporary folder, then rename it into place at once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        constraints = work / "constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()))
        args = [*request.requirements, *(a for f in request.files for a in ("-r", str(f.resolve())))]
        done = pip.download_resolved(
            args, work / "wheels", constraints=constraints, options=target.pip_options
        )
        if done.returncode != 0:
            # pip writes the conflict's details to stdout, the errors to stderr.
            raise InputError(explain((done.stdout + done.stderr).decode(errors="replace"), request, pins))
        wheels = [w for w in sorted((work / "wheels").glob("*.whl")) if not _candidate_only(w)]
        for wheel in set((work / "wheels").glob("*.whl")) - set(wheels):
            wheel.unlink()
        (work / "tree").mkdir()
        pip.install_target(wheels, work / "tree", options=target.pip_options)
        (work / ".complete").write_text(request.describe() + "\n")
        _publish(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _candidate_only(wheel: Path) -> bool:
    return canonicalize_name(parse_wheel_filename(wheel.name)[0]) in CANDIDATE_ONLY


def _publish(work: Path, folder: Path) -> None:
    """Rename into place; a run that finished the same tree first wins, and this copy goes."""
    try:
        os.replace(work, folder)
    except OSError:
        if not (folder / ".complete").exists():
            raise


def explain(output: str, request: Request, pins: Mapping[str, str]) -> str:
    """pip's many lines of refusal as one: offline, a conflict with the pins, or no such package."""
    beside = ", ".join(f"{name} {version}" for name, version in pins.items()) or "this interpreter"
    what = request.describe()
    if _OFFLINE.search(output):
        return f"cannot fetch {what}: the package index is unreachable (offline?) and the cache has no copy"
    conflict = _conflict(output)
    if conflict:
        more = f" (and {len(conflict) - 1} more)" if len(conflict) > 1 else ""
        return f"no version of {what} fits the candidate's {beside}: {conflict[-1]}{more}"
    missing = _NO_MATCH.search(output)
    if missing and missing.group(2) == "none":
        return f"{what}: no wheel of {missing.group(1)} for this interpreter on the package index (a typo?)"
    if missing:
        versions = missing.group(2).split(", ")
        return f"{what}: no version matches {missing.group(1)} (the index has {', '.join(versions[-5:])})"
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    return f"cannot resolve {what}: {errors[-1] if errors else 'pip failed'}"


def _conflict(output: str) -> list[str]:
    """The lines under pip's 'The conflict is caused by:', without the pins the tool itself added."""
    lines = [line.strip() for line in output.splitlines()]
    if "The conflict is caused by:" not in lines:
        return []
    section = itertools.takewhile(bool, lines[lines.index("The conflict is caused by:") + 1 :])
    return [line for line in section if not line.startswith("The user requested (constraint)")]
