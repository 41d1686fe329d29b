"""The tool as `pip install .` installs it: every module and data file of the source tree is in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("minimizer", "oracles")


def _source_files() -> set[str]:
    """The files the installed tool needs: every tracked file under its packages but caches."""
    found = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(path.relative_to(REPO).as_posix())
    return found


def test_the_built_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    # A copy, so that the build's own folders (build/, *.egg-info) never land in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "--wheel-dir", str(built), str(source)], check=True, timeout=300)

    (wheel,) = built.glob("wheel_ddmin-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.split("/", 1)[0] in PACKAGES}
        entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    assert sorted(_source_files() - shipped) == []
    assert "wheel-ddmin = minimizer.cli:console" in scripts
