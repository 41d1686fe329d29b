"""Minimize numpy from a build script with the library call, and fail the build on growth."""

from __future__ import annotations

import sys
from pathlib import Path

from minimizer import Progress, WheelDdminError, minimize

BUDGET = 2_500_000  # bytes


def show(progress: Progress) -> None:
    print(f"\r{progress.pass_name}: {progress.runs} runs, best {progress.best_bytes / 1e6:.2f} MB", end="")


def main() -> int:
    try:
        result = minimize(
            ["numpy==1.26.4"],
            oracles=[Path("fixtures/tiny_fc.tflite")],  # your models here
            output_dir="dist",
            progress=show,
        )
    except WheelDdminError as error:
        print(f"\nnumpy minimization failed: {error}", file=sys.stderr)
        return 2
    wheel = result.wheels[0]
    print(
        f"\n{wheel.output}: {wheel.input_bytes:,} -> {wheel.output_bytes:,} bytes, {result.oracle_runs} runs"
    )
    return 1 if wheel.output_bytes > BUDGET else 0


if __name__ == "__main__":
    sys.exit(main())
