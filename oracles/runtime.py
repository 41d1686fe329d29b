"""The TensorFlow Lite runtime the oracle infers with: chosen, downloaded and installed once, cached."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from minimizer.errors import InputError
from oracles import pip
from oracles.target import Target

# The last tflite-runtime release; it is built against numpy 1.x.
KNOWN = {
    "tflite-runtime": ("tflite-runtime==2.14.0", "tflite_runtime.interpreter"),
    "ai-edge-litert": ("ai-edge-litert", "ai_edge_litert.interpreter"),
}
MODULES = {name: module for name, (_, module) in KNOWN.items()}
RESOLVED = "resolved.json"  # in the wheel cache: what each unpinned requirement resolved to


@dataclass(frozen=True, slots=True)
class Runtime:
    """An installed runtime: its wheel (for the final pip install) and an importable folder.

    Both fit the target the runtime was provided for; the folder's name carries the target's key.
    """

    name: str
    version: str
    module: str
    wheel: Path
    tree: Path
    dependencies: tuple[str, ...] = ()  # requirements besides numpy, installed beside the runtime
    dependency_wheels: tuple[Path, ...] = ()  # their wheels (and theirs) in the cache, numpy left out


def cache_root() -> Path:
    """Where downloads and installed runtimes are kept between runs."""
    configured = os.environ.get("WHEEL_DDMIN_CACHE")
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "wheel-ddmin"


def default_for(numpy_version: Version) -> str:
    """tflite-runtime for numpy 1.x (its last release needs it); ai-edge-litert for numpy 2."""
    return "tflite-runtime" if numpy_version.major < 2 else "ai-edge-litert"


def provide(choice: str, cache: Path, target: Target, *, refresh: bool = False) -> Runtime:
    """A runtime by name (downloaded for ``target`` from the package index) or a local wheel path."""
    if choice.endswith(".whl"):
        wheel = Path(choice)
        if not wheel.is_file():
            raise InputError(f"runtime wheel not found: {choice}")
    elif choice in KNOWN:
        wheel = cached_download(KNOWN[choice][0], cache / "wheels", target, refresh=refresh)
    else:
        raise InputError(f"unknown runtime {choice!r}: use tflite-runtime, ai-edge-litert or a .whl")
    return install(wheel, cache, target)


def is_runtime(wheel_name: str) -> bool:
    return parse_wheel_filename(wheel_name)[0] in MODULES


def install(wheel: Path, cache: Path, target: Target, *, itself: bool = True) -> Runtime:
    """Install a runtime wheel and its dependencies, never numpy, for ``target`` into a cached folder.

    ``itself=False`` installs the dependencies alone: the runtime is then one of the wheels being
    minimized, and the candidate tree brings it. The dependencies' wheels are kept in the cache
    too, so that later runs and their final pip check need no package index.
    """
    name, version, _, tags = parse_wheel_filename(wheel.name)
    module = MODULES.get(name)
    if module is None:
        raise InputError(f"{wheel.name} is not a known TensorFlow Lite runtime")
    if not target.accepts(tags):
        raise InputError(f"runtime {wheel.name} does not fit {target.describe()}")
    suffix = "" if itself else "-dependencies"
    # Keyed by the target too: an aarch64 tree never serves an x86_64 run, nor a 3.12 tree a 3.11 one.
    tree = cache / "runtimes" / f"{wheel.name.removesuffix('.whl')}{suffix}-{target.key}"
    dependencies = tuple(dependencies_but_numpy(wheel, target))
    wheels = _dependency_wheels(wheel, dependencies, cache, target) if dependencies else ()
    if not (tree / ".complete").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        pip.install_target([wheel, *wheels] if itself else list(wheels), tree, options=target.pip_options)
        # A dependency may still have pulled numpy in; the candidate must be the only numpy in sight.
        for stray in [tree / "numpy", *tree.glob("numpy-*.dist-info"), tree / "numpy.libs"]:
            shutil.rmtree(stray, ignore_errors=True)
        (tree / ".complete").write_text("")
    return Runtime(str(name), str(version), module, wheel, tree, dependencies, wheels)


def _dependency_wheels(
    wheel: Path, requirements: Sequence[str], cache: Path, target: Target
) -> tuple[Path, ...]:
    """The wheels for ``target`` of ``requirements`` and of what they need, downloaded once; no numpy."""
    folder = cache / "dependencies" / f"{wheel.name.removesuffix('.whl')}-{target.key}"
    if not (folder / ".complete").exists():
        # Filled aside, then renamed into place: other runs share the cache and may race us here.
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            pip.wheels_of(requirements, partial, target)
            (partial / ".complete").write_text("")
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):  # another run got there first: its copy serves
                os.replace(partial, folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    found = sorted(folder.glob("*.whl"))
    return tuple(w for w in found if parse_wheel_filename(w.name)[0] != "numpy")


def cached_download(requirement: str, dest: Path, target: Target, *, refresh: bool = False) -> Path:
    """A requirement's wheel for ``target`` from the cache when the cache can answer; else from the index.

    A pin (``==``) is answered by any cached wheel of that version that fits the target. Anything
    else is resolved against the index once, to the newest release that fits the target, and that
    answer is kept in ``resolved.json`` and reused, offline too, until ``refresh`` asks the index again.
    """
    req = Requirement(requirement)
    pinned = [s.version for s in req.specifier if s.operator == "=="]
    if not refresh:
        found = _cached_pin(req, pinned[0], dest, target) if pinned else _resolved(requirement, dest, target)
        if found is not None:
            return found
    wheel = pip.download(requirement, dest, target)
    if not pinned:
        _remember(requirement, wheel, dest, target)
    return wheel


def _cached_pin(req: Requirement, pin: str, dest: Path, target: Target) -> Path | None:
    for candidate in sorted(dest.glob("*.whl")):
        name, version, _, tags = parse_wheel_filename(candidate.name)
        if name == canonicalize_name(req.name) and Version(pin) == version and target.accepts(tags):
            return candidate
    return None


def _resolution_key(requirement: str, target: Target) -> str:
    # The same requirement resolves to another wheel for another interpreter or platform.
    return f"{Requirement(requirement)} for {target.key}"


def _resolved(requirement: str, dest: Path, target: Target) -> Path | None:
    try:
        known = json.loads((dest / RESOLVED).read_text(encoding="utf-8"))
        wheel = dest / known[_resolution_key(requirement, target)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return wheel if wheel.is_file() else None


def _remember(requirement: str, wheel: Path, dest: Path, target: Target) -> None:
    """Record what an unpinned requirement resolved to (replaced whole: other runs share the cache)."""
    try:
        known = json.loads((dest / RESOLVED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    known[_resolution_key(requirement, target)] = wheel.name
    fd, tmp = tempfile.mkstemp(prefix=f".{RESOLVED}.", dir=dest)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle, indent=1, sort_keys=True)
        os.replace(tmp, dest / RESOLVED)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dependencies_but_numpy(wheel: Path, target: Target) -> list[str]:
    """What a wheel requires for ``target``, numpy left out (it comes from the candidate)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    deps = []
    for line in metadata.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if canonicalize_name(req.name) == "numpy":
            continue
        if target.wants(req.marker):
            deps.append(str(req))
    return deps
