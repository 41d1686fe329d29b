"""The TensorFlow Lite runtime the oracle infers with: chosen, downloaded and installed once, cached."""

from __future__ import annotations

import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from minimizer.errors import InputError
from oracles import pip

# The last tflite-runtime release; it is built against numpy 1.x.
KNOWN = {
    "tflite-runtime": ("tflite-runtime==2.14.0", "tflite_runtime.interpreter"),
    "ai-edge-litert": ("ai-edge-litert", "ai_edge_litert.interpreter"),
}
MODULES = {name: module for name, (_, module) in KNOWN.items()}


@dataclass(frozen=True, slots=True)
class Runtime:
    """An installed runtime: its wheel (for the final pip install) and an importable folder."""

    name: str
    version: str
    module: str
    wheel: Path
    tree: Path
    dependencies: tuple[str, ...] = ()  # requirements besides numpy, installed beside the runtime


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


def provide(choice: str, cache: Path) -> Runtime:
    """A runtime by name (downloaded from the package index) or from a local wheel path."""
    if choice.endswith(".whl"):
        wheel = Path(choice)
        if not wheel.is_file():
            raise InputError(f"runtime wheel not found: {choice}")
    elif choice in KNOWN:
        wheel = cached_download(KNOWN[choice][0], cache / "wheels")
    else:
        raise InputError(f"unknown runtime {choice!r}: use tflite-runtime, ai-edge-litert or a .whl")
    return install(wheel, cache)


def is_runtime(wheel_name: str) -> bool:
    return parse_wheel_filename(wheel_name)[0] in MODULES


def install(wheel: Path, cache: Path, *, itself: bool = True) -> Runtime:
    """Install a runtime wheel and its dependencies, never numpy, into a cached folder.

    ``itself=False`` installs the dependencies alone: the runtime is then one of the wheels being
    minimized, and the candidate tree brings it.
    """
    name, version, _, _ = parse_wheel_filename(wheel.name)
    module = MODULES.get(name)
    if module is None:
        raise InputError(f"{wheel.name} is not a known TensorFlow Lite runtime")
    suffix = "" if itself else "-dependencies"
    tree = cache / "runtimes" / (wheel.name.removesuffix(".whl") + suffix)
    dependencies = tuple(_dependencies_but_numpy(wheel))
    if not (tree / ".complete").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        pip.install_target([wheel] if itself else [], tree, deps=dependencies)
        # A dependency may still have pulled numpy in; the candidate must be the only numpy in sight.
        for stray in [tree / "numpy", *tree.glob("numpy-*.dist-info"), tree / "numpy.libs"]:
            shutil.rmtree(stray, ignore_errors=True)
        (tree / ".complete").write_text("")
    return Runtime(str(name), str(version), module, wheel, tree, dependencies)


def cached_download(requirement: str, dest: Path) -> Path:
    """A pinned requirement's wheel from the cache when it is there; else a download."""
    req = Requirement(requirement)
    pinned = [s.version for s in req.specifier if s.operator == "=="]
    supported = set(sys_tags())
    for candidate in sorted(dest.glob("*.whl")) if pinned else ():
        name, version, _, tags = parse_wheel_filename(candidate.name)
        fits = name == canonicalize_name(req.name) and Version(pinned[0]) == version
        if fits and tags & supported:
            return candidate
    return pip.download(requirement, dest)


def _dependencies_but_numpy(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    deps = []
    for line in metadata.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if canonicalize_name(req.name) == "numpy":
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            deps.append(str(req))
    return deps
