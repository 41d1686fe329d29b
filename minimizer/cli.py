"""The ``wheel-ddmin`` command: parse options, show progress, map errors to exit codes in one place."""

from __future__ import annotations

import argparse
import math
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
from typing import TYPE_CHECKING, Any, NoReturn

from minimizer import __version__, gate, markdown
from minimizer.errors import InputError, OracleError, WheelDdminError, WheelDdminWarning
from minimizer.holdout import DEFAULT_SETS
from minimizer.passes import ALL, CPU_MODES, DEFAULT

if TYPE_CHECKING:
    from minimizer.api import Result
    from oracles.target import Target

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = """\
exit codes:
  0    ok
  1    regression or budget exceeded, or the result failed its final check
  2    usage or input error (bad wheel, bad model, the original wheel fails the oracle)
  130  interrupted (the best wheel found so far is written first)
"""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (the usage itself is under --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"wheel-ddmin: error: {message} (see wheel-ddmin --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wheel-ddmin",
        description="Shrink wheels to the smallest ones that still give bit-identical TensorFlow Lite "
        "inference, and verify the result with a real pip install.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("wheels", nargs="+", metavar="WHEEL", help="wheel paths, or requirements like numpy==1.26.4")
    add(
        "--oracle",
        action="append",
        default=[],
        metavar="MODEL.tflite",
        help="a model every candidate must run bit-identically (repeatable; default: a small built-in model)",
    )
    add(
        "--inputs",
        action="append",
        default=[],
        metavar="MODEL=SAMPLES.npz",
        help="sample inputs for a model, keyed by input name or position (repeatable: one set each)",
    )
    add(
        "--check",
        action="append",
        default=[],
        metavar="CMD",
        help="a shell command that must exit 0 and print the same as with the original (repeatable)",
    )
    add(
        "--with",
        dest="with_",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="a package the checks' app needs besides numpy and the runtime, such as pillow (repeatable)",
    )
    add(
        "--with-requirements",
        action="append",
        default=[],
        metavar="FILE",
        help="a requirements file of such packages (repeatable)",
    )
    add(
        "-o",
        "--output",
        default="wheel-ddmin-out",
        metavar="DIR",
        help="output folder (default: %(default)s)",
    )
    add("--report", metavar="FILE.json", help="write a JSON report")
    add("--jobs", type=_positive_int, metavar="N", help="oracle runs at once (default: CPU count)")
    add(
        "--passes",
        type=_pass_list,
        metavar="LIST",
        help=f"comma-separated passes from {','.join(ALL)} (default: {','.join(DEFAULT)})",
    )
    add(
        "--keep",
        action="append",
        default=[],
        metavar="PATTERN",
        help="glob of member paths no pass may remove",
    )
    add(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="per oracle run (default: 10x the reference run)",
    )
    add(
        "--python",
        metavar="CMD",
        help="the interpreter to minimize for, as a command line; an emulator and its arguments may "
        "come first (default: the Python running wheel-ddmin)",
    )
    add(
        "--runtime",
        metavar="NAME|WHEEL",
        help="tflite-runtime, ai-edge-litert or a runtime wheel (default: by numpy version)",
    )
    add(
        "--max-runs",
        type=_positive_int,
        metavar="N",
        help="stop the search after N oracle runs (best so far is kept)",
    )
    add("--max-seconds", type=_positive_float, metavar="S", help="stop the search after S seconds")
    add("--budget", metavar="SIZE", help="exit 1 when the output wheels total more than SIZE (3MB, 2.5MiB)")
    add("--baseline", metavar="FILE.json", help="exit 1 when the output grew since this earlier report")
    add(
        "--tolerance",
        default="1%",
        metavar="PCT",
        help="growth allowed against --baseline (default: %(default)s)",
    )
    add("--summary", metavar="FILE.md", help="write a Markdown summary (and FILE.svg, a size picture)")
    add(
        "--max-unpacked",
        default="4GB",
        metavar="SIZE",
        help="refuse wheels that unpack to more than SIZE, a decompression-bomb guard (default: %(default)s)",
    )
    add(
        "--holdout",
        type=_count,
        default=DEFAULT_SETS,
        metavar="N",
        help="input sets per model the search never sees, to check the result (default: %(default)s; 0: off)",
    )
    add(
        "--cpu",
        choices=CPU_MODES,
        default="portable",
        help="portable (default): keep the machine code other CPUs of this architecture run for the "
        "same models (all ISA variants of kept kernels, numpy down to its baseline); native: only what "
        "this CPU runs",
    )
    add("--no-verify", action="store_true", help="skip the final pip install check")
    add(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same job from the journal in the output folder",
    )
    add(
        "--refresh",
        action="store_true",
        help="ask the package index again for unpinned requirements (numpy, the ai-edge-litert runtime) "
        "instead of the version cached when they were first resolved",
    )
    add("--quiet", action="store_true", help="no progress bar")
    add("--debug", action="store_true", help="show tracebacks")
    add("--version", action="version", version=f"wheel-ddmin {__version__}")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):  # NaN would turn every comparison with it off
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _pass_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(ALL)}")
    return names


def _inputs(pairs: Sequence[str]) -> dict[str, list[str | Path]]:
    by_model: dict[str, list[str | Path]] = {}
    for pair in pairs:
        model, sep, samples = pair.rpartition("=")
        if not sep or not model:
            raise InputError(f"--inputs wants MODEL=SAMPLES.npz, got {pair!r}")
        by_model.setdefault(model, []).append(samples)
    return by_model


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
        inputs=_read(args, wheels),
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


def _read(args: argparse.Namespace, wheels: Sequence[Path]) -> dict[Path, str]:
    """The user's files, which no output may replace."""
    files = {Path(m): "a model" for m in args.oracle}
    files |= {Path(pair.rpartition("=")[2]): "a sample file" for pair in args.inputs}
    if args.runtime and args.runtime.endswith(".whl"):
        files[Path(args.runtime)] = "the runtime wheel"
    return files | {w: f"the input wheel {w.name}" for w in wheels}


def _run(args: argparse.Namespace) -> int:
    from minimizer import api
    from minimizer.checker import Budget
    from minimizer.progress import ProgressBar

    plan = _prepare(args)
    with ProgressBar(enabled=not args.quiet) as bar:
        result = api.minimize(
            plan.wheels,
            oracles=args.oracle,
            inputs=_inputs(args.inputs),
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


def _finish(args: argparse.Namespace, plan: _Plan, result: Result) -> int:
    """Gates, report, summary and the verdict, once the wheels are written."""
    from minimizer import api, report
    from minimizer.summary import text_summary

    data = report.as_dict(result)
    problems = gate.over_budget(data, plan.budget) if plan.budget is not None else []
    problems += gate.regressions(data, plan.baseline, plan.tolerance) if plan.baseline is not None else []
    if args.report:
        report.write_json(Path(args.report), data)
    if args.summary:
        _write_summary(Path(args.summary), data, problems, result)
    print(text_summary(result))
    if result.stop_reason == api.INTERRUPTED:
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
