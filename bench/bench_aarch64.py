"""numpy 1.26.4 + tflite-runtime 2.14.0 minimized for an emulated aarch64 CPython, then checked on
inputs and a model the search never saw.

    python bench/bench_aarch64.py [--sysroot DIR] [--jobs 1] [-o DIR] [--passes LIST] [--models DIR]

The sysroot is README's recipe (``mmdebstrap ... bookworm DIR``; default ``.cache/sysroot-arm64``).
The search uses ``cnn_f32`` and ``mobilenetv2_035_96`` from ``../shared/models`` with wheel-ddmin's
own inputs; the check afterwards pip-installs both outputs into a venv of the emulated interpreter
and compares, bit for bit with the originals, ``cnn_f32`` and ``mobilenetv2_035_96`` on random
inputs drawn here (another generator, another range) and ``hand_landmark_lite``, a model the search
never ran.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tflite
from acceptance import accept  # bench/ is this script's folder, first on sys.path

from minimizer import minimize
from oracles.inference import Model
from oracles.npz import read_npz
from oracles.target import probe

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO.parent / "shared" / "models"  # beside the repository, as for bench_files.py
SEARCH_MODELS = ("cnn_f32", "mobilenetv2_035_96")
# Afterwards: (model, random input sets); hand_landmark_lite never ran during the search.
HELD_OUT = (("cnn_f32", 3), ("mobilenetv2_035_96", 1), ("hand_landmark_lite", 2))
SEED = 20260512
_DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8}


def held_out_samples(model: Path, folder: Path, sets: int, rng: np.random.Generator) -> tuple[Path, ...]:
    """``sets`` npz files of random inputs for ``model``: normal floats, wider than the search's [-1, 1)."""
    graph = tflite.Model.GetRootAsModel(model.read_bytes(), 0).Subgraphs(0)
    paths = []
    for number in range(sets):
        arrays = {}
        for position in range(graph.InputsLength()):
            tensor = graph.Tensors(graph.Inputs(position))
            dtype = _DTYPES[tensor.Type()]
            shape = tuple(int(d) for d in tensor.ShapeAsNumpy())
            values = rng.normal(0.0, 2.0, shape) if dtype is np.float32 else rng.integers(0, 100, shape)
            arrays[str(position)] = values.astype(dtype)
        path = folder / f"{model.stem}-{number}.npz"
        np.savez(path, **arrays)
        paths.append(path)
    return tuple(paths)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sysroot", type=Path, default=REPO / ".cache" / "sysroot-arm64")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, default=Path("bench-aarch64-out"))
    parser.add_argument("--passes", help="comma-separated passes (default: wheel-ddmin's default)")
    parser.add_argument("--models", type=Path, default=MODELS, help="folder of the .tflite models")
    args = parser.parse_args()
    python = args.sysroot / "usr" / "bin" / "python3.11"
    qemu = shutil.which("qemu-aarch64")
    if qemu is None or not python.is_file():
        print("needs qemu-aarch64 and an arm64 sysroot: see README, 'Minimizing for another machine'")
        return 2
    command = shlex.join([qemu, "-L", str(args.sysroot), str(python)])
    started = time.monotonic()
    result = minimize(
        ["numpy==1.26.4", "tflite-runtime==2.14.0"],
        oracles=[args.models / f"{m}.tflite" for m in SEARCH_MODELS],
        output_dir=args.output,
        jobs=args.jobs,
        passes=args.passes.split(",") if args.passes else None,
        python=command,
    )
    wall = time.monotonic() - started
    before = sum(w.input_bytes for w in result.wheels)
    after = sum(w.output_bytes for w in result.wheels)
    for wheel in result.wheels:
        print(f"{wheel.input.name}: {wheel.input_bytes / 1e6:.2f} MB -> {wheel.output_bytes / 1e6:.2f} MB")
    runs = f"{result.oracle_runs} oracle runs"
    print(f"together {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB, {runs}, {wall:.0f} s")
    print(f"verified by pip install on the target: {result.verified}")
    outputs = [w.output for w in result.wheels if w.output is not None]
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory(prefix="held-out-") as tmp:
        models = []
        for name, sets in HELD_OUT:
            path = args.models / f"{name}.tflite"
            samples = held_out_samples(path, Path(tmp), sets, rng)
            models.append(Model(path, tuple(read_npz(s) for s in samples)))
        verdict, runtime_name = accept([w.input for w in result.wheels], outputs, models, probe(command))
    print(f"held-out inputs and models, pip-installed, {runtime_name}: {verdict.outcome.value.upper()}")
    if verdict.reason:
        print(verdict.reason)
    return 0 if verdict.passed and result.verified else 1


if __name__ == "__main__":
    sys.exit(main())
