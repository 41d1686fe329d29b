"""The ``wheel-ddmin`` command line: its options, the types that check them, the exit codes it lists."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from minimizer import __version__
from minimizer.errors import InputError
from minimizer.holdout import DEFAULT_SETS
from minimizer.passes import ALL, CPU_MODES, DEFAULT

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


def sample_sets(pairs: Sequence[str]) -> dict[str, list[str | Path]]:
    """``--inputs MODEL=SAMPLES.npz`` values, by model, in the order given."""
    by_model: dict[str, list[str | Path]] = {}
    for pair in pairs:
        model, sep, samples = pair.rpartition("=")
        if not sep or not model:
            raise InputError(f"--inputs wants MODEL=SAMPLES.npz, got {pair!r}")
        by_model.setdefault(model, []).append(samples)
    return by_model
