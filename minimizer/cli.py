"""The ``wheel-ddmin`` command: run the job its options ask for, report it, map errors to exit codes."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from minimizer import gate, markdown
from minimizer.arguments import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
    sample_sets,
)
from minimizer.errors import InputError, OracleError, WheelDdminError, WheelDdminWarning

if TYPE_CHECKING:
    from minimizer.result import Result
    from oracles.target import Target


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit code. Tests call this, the console script wraps it."""
    with _sigterm_as_interrupt():  # first of all: a SIGTERM at any moment ends the run like Ctrl-C
        debug = False
        try:
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exit_:
                return EXIT_OK if exit_.code == 0 else EXIT_USAGE
            debug = args.debug
            with _warnings_as_lines():
                return _run(args)
        except KeyboardInterrupt:
            print("wheel-ddmin: interrupted before a wheel was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (WheelDdminError, OSError) as error:
            # OSError: the machine, not the input (disk full, permissions): one line, exit 1.
            if debug:
                traceback.print_exc()
            print(f"wheel-ddmin: error: {' '.join(str(error).split())}", file=sys.stderr)
            return _exit_code(error) if isinstance(error, WheelDdminError) else EXIT_FAILED


def _exit_code(error: WheelDdminError) -> int:
    """Input and oracle-setup errors are the user's to fix (2); any other failure is 1."""
    return EXIT_USAGE if isinstance(error, (InputError, OracleError)) else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from minimizer import api
    from minimizer.checker import Budget
    from minimizer.progress import ProgressBar

    plan = _prepare(args)
    with ProgressBar(enabled=not args.quiet) as bar:
        result = api.minimize(
            plan.wheels,
            oracles=args.oracle,
            inputs=sample_sets(args.inputs),
            checks=args.check,
            app_requirements=args.with_,
            app_requirements_files=args.with_requirements,
            output_dir=args.output,
            jobs=args.jobs,
            passes=args.passes,
            keep=args.keep,
            budget=Budget(args.max_runs, args.max_seconds),
            timeout=args.timeout,
            runtime_choice=args.runtime,
            verify=not args.no_verify,
            resume=args.resume,
            holdout=args.holdout,
            max_unpacked=plan.max_unpacked,
            refresh=args.refresh,
            cpu=args.cpu,
            progress=bar.update,
            python=plan.target,
        )
    try:
        return _finish(args, plan, result)
    except KeyboardInterrupt:
        print(
            f"wheel-ddmin: interrupted while writing the report; the wheels are in {args.output}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the options say, checked: nothing here is found out after the search."""

    wheels: list[Path]
    target: Target
    budget: int | None
    baseline: dict[str, Any] | None
    tolerance: float
    max_unpacked: int


def _prepare(args: argparse.Namespace) -> _Plan:
    """Check what only the CLI knows (gates, report and summary paths) before the first oracle run."""
    from minimizer import options
    from oracles import runtime
    from oracles.target import probe

    budget = gate.parse_size(args.budget) if args.budget else None
    max_unpacked = gate.parse_size(args.max_unpacked)
    tolerance = gate.parse_tolerance(args.tolerance)
    baseline = gate.read_baseline(Path(args.baseline)) if args.baseline else None
    cache = runtime.cache_root()
    target = probe(args.python)  # once: requirements are downloaded for it, and the run uses it
    wheels = [options.wheel_path(w, cache, target, refresh=args.refresh) for w in args.wheels]
    if baseline is not None:
        gate.check_comparable(baseline, [w.name for w in wheels], args.baseline)
    options.check_output_files(
        _written(args),
        inputs=_user_files(args, wheels),
        out=Path(args.output),
        wheel_names=[w.name for w in wheels],
    )
    return _Plan(wheels, target, budget, baseline, tolerance, max_unpacked)


def _written(args: argparse.Namespace) -> dict[str, Path]:
    """The files the CLI writes after the run, by the option that names them."""
    files = {"--report": Path(args.report)} if args.report else {}
    if args.summary:
        summary = Path(args.summary)
        if summary.suffix == ".svg":
            raise InputError(f"--summary {summary}: its picture goes beside it as .svg; name the summary .md")
        files |= {"--summary": summary, "--summary's picture": summary.with_suffix(".svg")}
    return files


def _user_files(args: argparse.Namespace, wheels: Sequence[Path]) -> dict[Path, str]:
    """The user's files, which no output may replace."""
    files = {Path(m): "a model" for m in args.oracle}
    files |= {Path(pair.rpartition("=")[2]): "a sample file" for pair in args.inputs}
    if args.runtime and args.runtime.endswith(".whl"):
        files[Path(args.runtime)] = "the runtime wheel"
    return files | {w: f"the input wheel {w.name}" for w in wheels}


def _finish(args: argparse.Namespace, plan: _Plan, result: Result) -> int:
    """Gates, report, summary and the verdict, once the wheels are written."""
    from minimizer import report
    from minimizer.result import INTERRUPTED
    from minimizer.summary import text_summary

    data = report.as_dict(result)
    problems = gate.over_budget(data, plan.budget) if plan.budget is not None else []
    problems += gate.regressions(data, plan.baseline, plan.tolerance) if plan.baseline is not None else []
    if args.report:
        report.write_json(Path(args.report), data)
    if args.summary:
        _write_summary(Path(args.summary), data, problems, result)
    print(text_summary(result))
    if result.stop_reason == INTERRUPTED:
        print(
            f"wheel-ddmin: interrupted: the best wheel so far is in {args.output} (every step "
            "oracle-checked, not pip-verified); run again with --resume to go on",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    for problem in problems:
        print(f"wheel-ddmin: regression: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def _write_summary(path: Path, data: dict[str, Any], problems: list[str], result: Result) -> None:
    from minimizer import report

    picture = None
    first = result.wheels[0].output
    if first is not None:
        picture_path = path.with_suffix(".svg")
        rows = markdown.remaining_by_package(first)
        report.write_text(picture_path, markdown.svg(rows, f"What remains of {first.name}"))
        picture = picture_path.name
    report.write_text(path, markdown.summary(data, problems, picture))


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a run like Ctrl-C: the best wheel so far is written, then exit 130.

    Only the first one: a service manager repeating it must not cut short the writing of that
    wheel or the removal of temporary folders (SIGKILL remains for that).
    """
    if os.name != "posix":
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """The library's warnings, each as one line on stderr (above the progress bar, if any)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", WheelDdminWarning)
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
            if not issubclass(category, WheelDdminWarning):
                shown(message, category, *rest, **kw)
                return
            from tqdm import tqdm

            tqdm.write(f"wheel-ddmin: warning: {message}", file=sys.stderr)

        warnings.showwarning = show
        yield


def console() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console()
