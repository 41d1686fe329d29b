"""Benchmark: picire's ddmin against wheel-ddmin's ``files`` pass, same wheel, same oracle.

picire (serial ``picire.DD``, its defaults: config cache, Zeller split n=2, subsets first, forward
iterators) reduces the wheel's non-metadata members (everything outside ``*.dist-info/``). Its test
materializes each candidate with wheel-ddmin's ``Workspace`` and judges it with wheel-ddmin's
``InferenceOracle``, built as ``minimizer.api.minimize`` builds them (same isolation, same timeout),
so only the search differs. wheel-ddmin then runs through its public API, once per ``--jobs`` value.

    python bench/bench_files.py [--wheel numpy==1.26.4] [--oracle MODEL.tflite] [--skip-picire]
                                [--jobs 1,2]

In picire's terms a candidate is "FAIL" (interesting, keep reducing) when inference is still
bit-identical, that is when the oracle passes; everything else (a failing, crashing, timed-out or
unresolved run) is "PASS".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import picire

from minimizer import minimize
from minimizer.api import MIN_TIMEOUT, TIMEOUT_FACTOR
from minimizer.state import Key, State
from minimizer.wheelfile import Wheel, read_wheel
from minimizer.workspace import Workspace
from oracles import runtime
from oracles.inference import InferenceOracle, Model
from oracles.protocol import Outcome
from oracles.target import probe

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WHEEL = "numpy==1.26.4"
DEFAULT_ORACLE = REPO_ROOT.parent / "shared" / "models" / "cnn_f32.tflite"
MB = 1_000_000
PROGRESS_EVERY = 100


@dataclass(frozen=True, slots=True)
class Row:
    """One tool's result: oracle runs, wall time, output wheel size and member count."""

    label: str
    runs: int
    seconds: float
    size_bytes: int
    members: frozenset[str]

    @property
    def files(self) -> int:
        return len(self.members)


@dataclass(slots=True)
class OracleTest:
    """picire's test callable: materialize the candidate, run wheel-ddmin's oracle, count the run."""

    workspace: Workspace
    oracle: InferenceOracle
    fixed: frozenset[Key]
    timeout: float
    runs: int = 0
    assert_runs: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=dict)

    def __call__(self, config: Sequence[Key], config_id: tuple[str, ...]) -> picire.Outcome:
        self.runs += 1
        if "assert" in config_id:  # picire re-tests the current configuration each iteration
            self.assert_runs += 1
        state = State.of([*self.fixed, *config])
        with self.workspace.materialize(state) as tree:
            verdict = self.oracle.check(tree, timeout=self.timeout)
        self.outcomes[verdict.outcome] = self.outcomes.get(verdict.outcome, 0) + 1
        if self.runs % PROGRESS_EVERY == 0:
            print(f"  picire: {self.runs} oracle runs, last candidate {len(config)} files", file=sys.stderr)
        return picire.Outcome.FAIL if verdict.passed else picire.Outcome.PASS


def resolve_wheel(spec: str) -> Path:
    """A wheel path as given, or a requirement downloaded into wheel-ddmin's cache."""
    if spec.endswith(".whl") or os.sep in spec or Path(spec).exists():
        return Path(spec)
    return runtime.cached_download(spec, runtime.cache_root() / "wheels", probe())


def runtime_for(wheel: Wheel) -> str:
    """The runtime ``minimize`` picks by default for this wheel."""
    return runtime.default_for(wheel.version) if wheel.name == "numpy" else "tflite-runtime"


def wheel_members(path: Path) -> frozenset[str]:
    with zipfile.ZipFile(path) as archive:
        return frozenset(name for name in archive.namelist() if not name.endswith("/"))


def written(workspace: Workspace, state: State) -> tuple[int, frozenset[str]]:
    """Compressed size and members of the wheel ``Workspace.write`` makes for ``state``."""
    with tempfile.TemporaryDirectory(prefix="bench-picire-") as tmp:
        [path] = workspace.write(state, Path(tmp))
        return path.stat().st_size, wheel_members(path)


def run_picire(wheel_path: Path, model: Path) -> tuple[Row, OracleTest]:
    """picire's ddmin over the non-metadata members; timed from reading the wheel to writing the result."""
    started = time.monotonic()
    wheel = read_wheel(wheel_path)
    target = probe()
    chosen = runtime.provide(runtime_for(wheel), runtime.cache_root(), target)
    with Workspace([wheel]) as workspace:
        oracle = InferenceOracle([Model(model)], chosen, workspace.scratch, target)
        original = workspace.original()
        with workspace.materialize(original) as tree:
            reference = oracle.reference(tree)
        timeout = max(MIN_TIMEOUT, TIMEOUT_FACTOR * reference.seconds)
        fixed = frozenset(k for k in original.files if workspace.is_metadata(k))
        test = OracleTest(workspace, oracle, fixed, timeout)
        kept = picire.DD(test, cache=picire.ConfigCache())(sorted(original.files - fixed))
        size, members = written(workspace, State.of([*fixed, *kept]))
    return Row("picire ddmin", test.runs, time.monotonic() - started, size, members), test


def run_wheel_ddmin(wheel_path: Path, model: Path, jobs: int) -> Row:
    """wheel-ddmin's files pass through the public API, without the final pip check."""
    with tempfile.TemporaryDirectory(prefix="bench-wheel-ddmin-") as tmp:
        result = minimize(
            [wheel_path], oracles=[model], passes=["files"], jobs=jobs, output_dir=tmp, verify=False
        )
        out = result.wheels[0]
        members = wheel_members(out.output) if out.output is not None else frozenset()
    label = f"wheel-ddmin -j{jobs}"
    return Row(label, result.oracle_runs, result.wall_seconds, out.output_bytes, members)


def format_table(original: Row, rows: Sequence[Row], picire_row: Row | None) -> str:
    header = f"{'':<22}{'runs':>8}{'wall s':>10}{'final MB':>10}{'final files':>13}"
    lines = [header, "-" * len(header)]
    lines.append(f"{original.label:<22}{'':>8}{'':>10}{original.size_bytes / MB:>10.2f}{original.files:>13}")
    for row in [*([picire_row] if picire_row else []), *rows]:
        lines.append(
            f"{row.label:<22}{row.runs:>8}{row.seconds:>10.1f}{row.size_bytes / MB:>10.2f}{row.files:>13}"
        )
    if picire_row is not None:
        lines.append("-" * len(header))
        for row in rows:
            lines.append(
                f"{'picire / ' + row.label.removeprefix('wheel-ddmin '):<22}"
                f"{ratio(picire_row.runs, row.runs):>8}{ratio(picire_row.seconds, row.seconds):>10}"
                f"{ratio(picire_row.size_bytes, row.size_bytes):>10}{ratio(picire_row.files, row.files):>13}"
            )
    return "\n".join(lines)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator else "-"


def picire_details(test: OracleTest) -> str:
    counts = sorted((outcome.value, count) for outcome, count in test.outcomes.items())
    verdicts = ", ".join(f"{name} {count}" for name, count in counts)
    return (
        f"picire: {test.runs} oracle runs, of which {test.assert_runs} are its per-iteration re-check of "
        f"the current configuration (not cached by picire); verdicts: {verdicts}; timeout {test.timeout:g} s"
    )


def differences(picire_row: Row, rows: Sequence[Row]) -> str:
    """Members kept by one tool and not the other (both results are 1-minimal, maybe not the same)."""
    lines = []
    for row in rows:
        for mine, theirs, who in ((picire_row, row, "picire"), (row, picire_row, row.label)):
            only = sorted(mine.members - theirs.members)
            names = ", ".join(only) or "none"
            lines.append(f"kept by {who} only (vs {theirs.label}): {len(only)}: {names}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", default=DEFAULT_WHEEL, help="path or requirement (default: %(default)s)")
    parser.add_argument("--oracle", type=Path, default=DEFAULT_ORACLE, help="model (default: %(default)s)")
    parser.add_argument("--skip-picire", action="store_true", help="run wheel-ddmin only")
    parser.add_argument("--jobs", default="1,2", help="wheel-ddmin --jobs values (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    jobs = [int(j) for j in args.jobs.split(",") if j.strip()]
    wheel_path = resolve_wheel(args.wheel)
    original = read_wheel(wheel_path)
    source = Row("original", 0, 0.0, original.size_bytes, frozenset(m.path for m in original.members))
    print(f"wheel:  {wheel_path.name}\noracle: {args.oracle}\ncpus:   {os.cpu_count()}", flush=True)
    picire_row = None
    if not args.skip_picire:
        print("running picire ddmin (serial)...", file=sys.stderr, flush=True)
        picire_row, test = run_picire(wheel_path, args.oracle)
        print(picire_details(test), flush=True)
    rows = []
    for j in jobs:
        print(f"running wheel-ddmin --jobs {j}...", file=sys.stderr, flush=True)
        rows.append(run_wheel_ddmin(wheel_path, args.oracle, j))
    print(flush=True)
    print(format_table(source, rows, picire_row), flush=True)
    if picire_row is not None:
        print(f"\n{differences(picire_row, rows)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
