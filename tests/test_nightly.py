"""The nightly flow: size budget, baseline comparison, Markdown summary; each exit code."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import cli
from minimizer.errors import InputError
from minimizer.gate import parse_size, regressions
from tests.test_integration import CHECK, ENTRY_POINTS, TOY


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(TOY, entry_points=ENTRY_POINTS)


def _run(wheel: Path, out: Path, *extra: str) -> int:
    return cli.main([str(wheel), "--check", CHECK, "-o", str(out), "--quiet", "--no-verify", *extra])


@pytest.mark.parametrize(
    "text, size", [("3MB", 3_000_000), ("2.5MiB", 2_621_440), ("800kB", 800_000), ("1234", 1234)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_refuses_nonsense() -> None:
    with pytest.raises(InputError):
        parse_size("three megs")


def test_budget_exceeded_exits_1_and_says_so(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(toy_wheel, tmp_path / "a", "--budget", "100MB") == 0
    assert _run(toy_wheel, tmp_path / "b", "--budget", "10") == 1
    assert "over the budget" in capsys.readouterr().err


def test_baseline_regression_names_what_came_back(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline.json"
    assert _run(toy_wheel, tmp_path / "a", "--report", str(baseline)) == 0
    # Same job again: no regression against itself.
    assert _run(toy_wheel, tmp_path / "b", "--baseline", str(baseline)) == 0
    # Keeping the big data file makes the output grow, and names the file that came back.
    code = _run(toy_wheel, tmp_path / "c", "--baseline", str(baseline), "--keep", "toypkg/data/*")
    assert code == 1
    err = capsys.readouterr().err
    assert "grew from" in err and "toypkg/data/big.bin" in err


def test_tolerance_allows_small_growth() -> None:
    report = {"schema_version": 1, "wheels": [_wheel(1005)], "removed": []}
    baseline = {"schema_version": 1, "wheels": [_wheel(1000)], "removed": []}
    assert regressions(report, baseline, 0.01) == []
    assert regressions(report, baseline, 0.001)


def _wheel(size: int) -> dict[str, object]:
    return {"input": {"path": "x-1.0-py3-none-any.whl"}, "output": {"size_bytes": size}}


def test_summary_markdown_and_picture(toy_wheel: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    assert _run(toy_wheel, tmp_path / "o", "--summary", str(summary)) == 0
    text = summary.read_text()
    assert "| toypkg-1.0-py3-none-any.whl |" in text and "No regression." in text
    assert "![size breakdown](summary.svg)" in text
    picture = (tmp_path / "summary.svg").read_text()
    assert picture.startswith("<svg") and "toypkg" in picture


def test_unreadable_baseline_is_an_input_error(toy_wheel: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert _run(toy_wheel, tmp_path / "o", "--baseline", str(bad)) == 2


def test_report_values_describe_the_actual_files(toy_wheel: Path, tmp_path: Path) -> None:
    """Every field is there, and every value is what the files on disk say, not just a key name."""
    report, out = tmp_path / "r.json", tmp_path / "o"
    assert _run(toy_wheel, out, "--report", str(report)) == 0
    data = json.loads(report.read_text())
    assert set(data) == {
        "schema_version", "input", "output", "wheels", "oracle_runs", "cache_hits", "resumed_verdicts",
        "wall_seconds", "complete", "stop_reason", "verified", "passes", "removed", "holdout", "environment",
        "machine_code",
    }  # fmt: skip
    assert data["schema_version"] == 2
    assert data["holdout"] is None  # a --check alone has no inputs to vary
    assert data["machine_code"]["objects"] == []  # the toy wheel has no shared object
    assert (data["complete"], data["stop_reason"], data["verified"]) == (True, "", False)  # --no-verify
    assert data["wheels"] == [{"input": data["input"], "output": data["output"]}]
    output = out / toy_wheel.name
    for side, path in (("input", toy_wheel), ("output", output)):
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
        assert data[side] == {
            "path": str(path),
            "size_bytes": path.stat().st_size,
            "installed_bytes": sum(info.file_size for info in infos),
            "files": len(infos),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }, side
    assert data["output"]["size_bytes"] < data["input"]["size_bytes"]

    runs = [p["runs"] for p in data["passes"]]
    assert sum(runs) == data["oracle_runs"] > 0 and all(r >= 0 for r in runs)
    assert {"files", "statements"} <= {p["name"] for p in data["passes"]}
    for stats in data["passes"]:
        assert stats["bytes_saved"] >= 0 and stats["seconds"] >= 0 and stats["cache_hits"] >= 0
    assert data["cache_hits"] >= 0 and data["resumed_verdicts"] == 0 and data["wall_seconds"] >= 0

    with zipfile.ZipFile(toy_wheel) as archive:
        compressed = {info.filename: info.compress_size for info in archive.infolist()}
    with zipfile.ZipFile(output) as archive:
        kept = set(archive.namelist())
    gone = {r["path"]: r for r in data["removed"] if not r["edited"]}
    assert set(gone) == set(compressed) - kept
    for path, removal in gone.items():
        assert removal["bytes_saved"] == compressed[path] >= 0 and removal["wheel"] == toy_wheel.name
    assert [r["bytes_saved"] for r in data["removed"]] == sorted(
        (r["bytes_saved"] for r in data["removed"]), reverse=True
    )
    assert data["environment"] == {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        # The target's (here this interpreter's): system, machine and glibc, not the host's kernel.
        "platform": f"{platform.system()}-{platform.machine()}" + _glibc(),
        "machine": platform.machine(),
        "emulator": "",
        "numpy": "",
        "runtime": "",
    }


def _glibc() -> str:
    name, version = platform.libc_ver()
    return f"-glibc{version}" if name == "glibc" else ""
