"""Acceptance: pip-install a minimized wheel and compare its inference with the original's.

Meant for models and inputs the wheel was *not* minimized with: it answers "does the result
generalize?". Outputs are compared bit for bit, exactly as the oracle does during the search.

    python bench/acceptance.py ORIGINAL.whl MINIMIZED.whl MODEL.tflite [MODEL.tflite ...] \\
        [--with-runtime ORIGINAL_RUNTIME.whl MINIMIZED_RUNTIME.whl] [--inputs MODEL=SAMPLES.npz] \\
        [--python CMD] [--held-out N]

``--with-runtime`` compares a minimized runtime too (numpy and tflite-runtime minimized together);
``--python`` runs everything on that interpreter (an emulated aarch64 CPython, say); ``--held-out
N`` compares N more generated sets per model, fed as the oracle feeds its own. Arrays given with
``--inputs`` reach numpy through ``np.dtype(descr)``, code the search's own inputs never run: a
result of the machine pass may stop there (SIGTRAP) although it computes those values right.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minimizer.api import workspace_for
from minimizer.options import runtime_for
from minimizer.wheelfile import read_wheel
from oracles import _inputs, pip, runtime
from oracles.inference import InferenceOracle, Model
from oracles.npz import read_npz
from oracles.protocol import Outcome, Verdict
from oracles.target import Target, probe
from oracles.venv import fresh_venv

TIMEOUT = 600.0
ACCEPT_SEED = 7_000_000  # the search's seeds are below 1e6, its held-out check's from 1e6


def held_out_sets(models: int, per_model: int) -> list[list[dict[str, Any]]]:
    """``small`` and ``wide`` sets in turn, with seeds beyond the search's and its held-out check's.

    Fed as the oracle feeds its own (raw bytes, ``np.frombuffer``), so only the values are new: a
    result of the machine pass keeps only the numpy code those calls run.
    """
    kinds = (_inputs.SMALL, _inputs.WIDE)
    return [
        [_inputs.descriptor(kinds[k % 2], ACCEPT_SEED + 1000 * m + k) for k in range(per_model)]
        for m in range(models)
    ]


def accept(
    originals: Sequence[Path],
    minimized: Sequence[Path],
    models: Sequence[Model],
    target: Target,
    *,
    held_out: int = 0,
) -> tuple[Verdict, str]:
    """The originals' outputs (a reference run), then the minimized wheels' after a real pip install.

    ``held_out`` more sets per model (``held_out_sets``) are compared too.
    """
    wheels = [read_wheel(w) for w in originals]
    cache = runtime.cache_root()
    given = [w for w in wheels if runtime.is_runtime(w.path.name)]
    chosen = runtime_for(wheels, None, cache, target)
    with workspace_for(wheels, target) as workspace:
        oracle = InferenceOracle(models, chosen, workspace.scratch, target)
        sets = held_out_sets(len(models), held_out)
        with workspace.materialize(workspace.original()) as tree:
            oracle.reference(tree)
            expected = oracle.run_sets(tree, sets, timeout=TIMEOUT, keep_going=True) if held_out else {}
        with fresh_venv(target, workspace.scratch) as python:
            extra = [] if given else [chosen.wheel]
            pip.install_venv(target, python, [*minimized, *extra, *chosen.dependency_wheels])
            verdict = oracle.check_installed(python, timeout=TIMEOUT)
            if verdict.passed and held_out:
                got = oracle.run_sets(None, sets, timeout=TIMEOUT, keep_going=True, python=str(python))
                if got.get("outputs") != expected.get("outputs"):
                    reason = got.get("error") or "outputs differ from the original on held-out sets"
                    verdict = Verdict(Outcome.FAIL, reason, verdict.seconds)
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
    parser.add_argument(
        "--held-out", type=int, default=0, metavar="N", help="N more generated sets per model"
    )
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
    models = models_with_inputs(args.models, inputs)
    verdict, runtime_name = accept(originals, minimized, models, target, held_out=args.held_out)
    names = ", ".join(m.name for m in args.models)
    print(f"{verdict.outcome.value.upper()}: {', '.join(m.name for m in minimized)} with {runtime_name}")
    print(f"  on {names}, {target.describe()}")
    if verdict.reason:
        print(verdict.reason)
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
