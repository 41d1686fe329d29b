"""The download cache: what it answers, what it asks the package index, and a run that needs no network."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import pytest
from packaging.tags import sys_tags

from minimizer import cli
from oracles import pip, runtime
from oracles.target import Target, probe
from tests.conftest import FIXTURES, build_wheel

TAG = str(next(iter(sys_tags())))
HOST = probe()


class FakeIndex:
    """Stands in for ``pip download``: hands out the newest release it has, and counts the asks."""

    def __init__(self, folder: Path, versions: list[str]) -> None:
        self.folder, self.versions, self.asked = folder, versions, 0

    def download(self, requirement: str, dest: Path, target: Target) -> Path:
        self.asked += 1
        dest.mkdir(parents=True, exist_ok=True)
        return build_wheel(dest, {"demo/__init__.py": ""}, name="demo", version=self.versions[-1], tag=TAG)


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    fake = FakeIndex(tmp_path, ["1.0"])
    monkeypatch.setattr(pip, "download", fake.download)
    return fake


def test_an_unpinned_requirement_is_resolved_once_then_cached(index: FakeIndex, tmp_path: Path) -> None:
    dest = tmp_path / "wheels"
    first = runtime.cached_download("demo", dest, HOST)
    index.versions.append("2.0")  # a new release: the cached answer stands until a refresh
    assert runtime.cached_download("demo", dest, HOST) == first and index.asked == 1
    refreshed = runtime.cached_download("demo", dest, HOST, refresh=True)
    assert refreshed.name.startswith("demo-2.0-") and index.asked == 2
    assert runtime.cached_download("demo", dest, HOST) == refreshed and index.asked == 2
    assert json.loads((dest / runtime.RESOLVED).read_text()) == {f"demo for {HOST.key}": refreshed.name}


def test_a_pin_is_answered_by_any_cached_wheel_of_that_version(index: FakeIndex, tmp_path: Path) -> None:
    dest = tmp_path / "wheels"
    dest.mkdir()
    cached = build_wheel(dest, {"demo/__init__.py": ""}, name="demo", version="1.5", tag=TAG)
    assert runtime.cached_download("demo==1.5", dest, HOST) == cached and index.asked == 0
    runtime.cached_download("demo==1.0", dest, HOST)
    assert index.asked == 1


def test_an_unpinned_requirement_is_not_answered_by_a_pinned_download(
    index: FakeIndex, tmp_path: Path
) -> None:
    """numpy==1.26.4 in the cache says nothing about what the newest numpy is."""
    dest = tmp_path / "wheels"
    dest.mkdir()
    build_wheel(dest, {"demo/__init__.py": ""}, name="demo", version="0.5", tag=TAG)
    runtime.cached_download("demo", dest, HOST)
    assert index.asked == 1


def test_dependency_wheels_are_fetched_once_and_numpy_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[list[str]] = []

    def wheels_of(requirements: list[str], dest: Path, target: Target) -> None:
        asked.append(list(requirements))
        for name in ("flatbuffers", "numpy"):
            build_wheel(dest, {f"{name}/__init__.py": ""}, name=name, version="9.0")

    monkeypatch.setattr(pip, "wheels_of", wheels_of)
    wheel = tmp_path / "ai_edge_litert-2.3.0-py3-none-any.whl"
    found = [runtime._dependency_wheels(wheel, ["flatbuffers"], tmp_path / "cache", HOST) for _ in range(2)]
    assert found[0] == found[1] and [w.name.split("-")[0] for w in found[0]] == ["flatbuffers"]
    assert asked == [["flatbuffers"]]


@pytest.mark.slow
@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64" or sys.platform != "linux",
    reason="numpy 2.4.6 + ai-edge-litert are cached for CPython 3.11 on x86_64 Linux",
)
def test_a_numpy_2_run_works_offline_once_its_inputs_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default runtime for numpy 2 is unpinned: it must come from the cache, with what it needs."""
    wheel = runtime.cached_download("numpy==2.4.6", runtime.cache_root() / "wheels", HOST)
    # --keep '*': nothing to search, so the run is the setup and the final pip install.
    argv = [str(wheel), "--oracle", str(FIXTURES / "tiny_fc.tflite"), "--keep", "*", "--quiet"]
    assert cli.main([*argv, "-o", str(tmp_path / "online")]) == 0, (
        capsys.readouterr().err
    )  # may fill the cache
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    report = tmp_path / "r.json"
    assert cli.main([*argv, "-o", str(tmp_path / "offline"), "--report", str(report)]) == 0, (
        capsys.readouterr().err
    )
    data = json.loads(report.read_text())
    assert data["verified"] is True and data["environment"]["runtime"].startswith("ai-edge-litert==")
