"""Acceptance: pip-install a minimized wheel and compare its inference with the original's.

Meant for models and inputs the wheel was *not* minimized with: it answers "does the result
generalize?". Outputs are compared bit for bit, exactly as the oracle does during the search.

    python bench/acceptance.py ORIGINAL.whl MINIMIZED.whl MODEL.tflite [MODEL.tflite ...] \\
        [--with-runtime ORIGINAL_RUNTIME.whl MINIMIZED_RUNTIME.whl] [--inputs MODEL=SAMPLES.npz] \\
        [--python CMD]

``--with-runtime`` compares a minimized runtime too (numpy and tflite-runtime minimized together);
``--python`` runs everything on that interpreter (an emulated aarch64 CPython, say).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from minimizer.api import workspace_for
from minimizer.options import default_runtime
from minimizer.wheelfile import read_wheel
from oracles import pip, runtime
from oracles.inference import InferenceOracle, Model
from oracles.npz import read_npz
from oracles.protocol import Verdict
from oracles.target import Target, probe
from oracles.venv import fresh_venv

TIMEOUT = 600.0


def accept(
    originals: Sequence[Path],
    minimized: Sequence[Path],
    models: Sequence[Model],
    target: Target,
) -> tuple[Verdict, str]:
    """The originals' outputs (a reference run), then the minimized wheels' after a real pip install."""
    wheels = [read_wheel(w) for w in originals]
    cache = runtime.cache_root()
    given = [w for w in wheels if runtime.is_runtime(w.path.name)]
    if given:
        chosen = runtime.install(given[0].path, cache, target, itself=False)
    else:
        chosen = runtime.provide(default_runtime(wheels), cache, target)
    with workspace_for(wheels, target) as workspace:
        oracle = InferenceOracle(models, chosen, workspace.scratch, target)
        with workspace.materialize(workspace.original()) as tree:
            oracle.reference(tree)
        with fresh_venv(target, workspace.scratch) as python:
            extra = [] if given else [chosen.wheel]
            pip.install_venv(target, python, [*minimized, *extra, *chosen.dependency_wheels])
            verdict = oracle.check_installed(python, timeout=TIMEOUT)
    return verdict, f"{chosen.name} {chosen.version}"


def models_with_inputs(paths: Sequence[Path], inputs: Mapping[Path, Sequence[Path]]) -> list[Model]:
    return [Model(m, tuple(read_npz(s) for s in inputs.get(m.resolve(), ()))) for m in paths]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", type=Path)
    parser.add_argument("minimized", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--with-runtime", type=Path, nargs=2, metavar=("ORIGINAL", "MINIMIZED"))
    parser.add_argument("--inputs", action="append", default=[], metavar="MODEL=SAMPLES.npz")
    parser.add_argument("--python", metavar="CMD", help="the target interpreter (default: this one)")
    args = parser.parse_args()
    inputs: dict[Path, list[Path]] = {}
    for pair in args.inputs:
        model, _, samples = pair.rpartition("=")
        inputs.setdefault(Path(model).resolve(), []).append(Path(samples))
    originals, minimized = [args.original], [args.minimized]
    if args.with_runtime:
        originals.append(args.with_runtime[0])
        minimized.append(args.with_runtime[1])
    target = probe(args.python)
    verdict, runtime_name = accept(originals, minimized, models_with_inputs(args.models, inputs), target)
    names = ", ".join(m.name for m in args.models)
    print(f"{verdict.outcome.value.upper()}: {', '.join(m.name for m in minimized)} with {runtime_name}")
    print(f"  on {names}, {target.describe()}")
    if verdict.reason:
        print(verdict.reason)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
