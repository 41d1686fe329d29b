"""Acceptance: pip-install a minimized wheel and compare its inference with the original's.

Meant for models the wheel was *not* minimized with: it answers "does the result generalize?".
Outputs are compared bit for bit, exactly as the oracle does during the search.

    python bench/acceptance.py ORIGINAL.whl MINIMIZED.whl MODEL.tflite [MODEL.tflite ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from minimizer.options import default_runtime
from minimizer.wheelfile import read_wheel
from minimizer.workspace import Workspace
from oracles import pip, runtime
from oracles.inference import InferenceOracle, Model
from oracles.venv import fresh_venv

TIMEOUT = 600.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", type=Path)
    parser.add_argument("minimized", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args()
    original = read_wheel(args.original)
    chosen = runtime.provide(default_runtime([original]), runtime.cache_root())
    with Workspace([original]) as workspace:
        oracle = InferenceOracle([Model(m) for m in args.models], chosen, workspace.scratch)
        with workspace.materialize(workspace.original()) as tree:
            oracle.reference(tree)
        with fresh_venv(workspace.scratch) as python:
            pip.install_venv(python, [args.minimized, chosen.wheel, *chosen.dependency_wheels])
            verdict = oracle.check_installed(python, timeout=TIMEOUT)
    names = ", ".join(m.name for m in args.models)
    runtime_name = f"{chosen.name} {chosen.version}"
    print(f"{verdict.outcome.value.upper()}: {args.minimized.name} with {runtime_name} on {names}")
    if verdict.reason:
        print(verdict.reason)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
