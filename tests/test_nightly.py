"""The nightly flow: size budget, baseline comparison, Markdown summary; each exit code."""

from __future__ import annotations

import json
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


def test_report_schema(toy_wheel: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    assert _run(toy_wheel, tmp_path / "o", "--report", str(report)) == 0
    data = json.loads(report.read_text())
    for key in (
        "schema_version",
        "input",
        "output",
        "oracle_runs",
        "cache_hits",
        "wall_seconds",
        "passes",
        "removed",
        "environment",
    ):
        assert key in data
    for side in ("input", "output"):
        assert set(data[side]) >= {"path", "size_bytes", "installed_bytes", "files", "sha256"}
    assert {p["name"] for p in data["passes"]} >= {"files"}
    assert set(data["environment"]) >= {"python", "platform", "numpy", "runtime"}
