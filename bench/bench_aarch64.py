"""numpy 1.26.4 + tflite-runtime 2.14.0 minimized for an emulated aarch64 CPython, then checked on
inputs and a model the search never saw.

    python bench/bench_aarch64.py [--sysroot DIR] [--jobs 1] [-o DIR] [--passes LIST] [--models DIR]

The sysroot is README's recipe (``mmdebstrap ... bookworm DIR``; default ``.cache/sysroot-arm64``).
The search uses ``cnn_f32`` and ``mobilenetv2_035_96`` from ``../shared/models`` with wheel-ddmin's
own inputs (its held-out check included). Afterwards both outputs are pip-installed into a venv of
the emulated interpreter and compared, bit for bit with the originals, on six more sets per model
(``acceptance.held_out_sets``: seeds neither the search nor its held-out check used), on qemu's
default CPU (``max``: every extension, as the search ran) and again on older cores, where XNNPACK
picks other kernels (Cortex-A53: no dot product, no half-precision arithmetic); then
``hand_landmark_lite``, a model the search never ran, is tried: a result of the machine pass keeps
only the code its models ran, so that one is expected to stop (SIGTRAP), and the benchmark says so.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path

from acceptance import accept  # bench/ is this script's folder, first on sys.path

from minimizer import minimize
from oracles.inference import Model
from oracles.protocol import Verdict
from oracles.target import probe

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO.parent / "shared" / "models"  # beside the repository, as for bench_files.py
SEARCH_MODELS = ("cnn_f32", "mobilenetv2_035_96")
UNSEEN_MODEL = "hand_landmark_lite"
HELD_OUT_SETS = 6
# qemu -cpu models: in-order A53 (Raspberry Pi 3, Coral), A72 (Raspberry Pi 4), N1 (servers, Jetson-class).
OTHER_CPUS = ("cortex-a53", "cortex-a72", "neoverse-n1")


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
    target = probe(shlex.join([qemu, "-L", str(args.sysroot), str(python)]))
    started = time.monotonic()
    result = minimize(
        ["numpy==1.26.4", "tflite-runtime==2.14.0"],
        oracles=[args.models / f"{m}.tflite" for m in SEARCH_MODELS],
        output_dir=args.output,
        jobs=args.jobs,
        passes=args.passes.split(",") if args.passes else None,
        python=target,
    )
    wall = time.monotonic() - started
    before = sum(w.input_bytes for w in result.wheels)
    after = sum(w.output_bytes for w in result.wheels)
    for wheel in result.wheels:
        print(f"{wheel.input.name}: {wheel.input_bytes / 1e6:.2f} MB -> {wheel.output_bytes / 1e6:.2f} MB")
    per_pass = ", ".join(f"{name} {stats.runs}" for name, stats in result.passes.items() if stats.runs)
    runs = f"{result.oracle_runs} oracle runs ({per_pass})"
    print(f"together {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB, {runs},")
    print(f"  {wall:.0f} s; verified by pip install on the target: {result.verified}")
    originals = [w.input for w in result.wheels]
    outputs = [w.output for w in result.wheels if w.output is not None]
    models = [Model(args.models / f"{m}.tflite") for m in SEARCH_MODELS]
    verdict, runtime_name = accept(originals, outputs, models, target, held_out=HELD_OUT_SETS)
    print(f"{HELD_OUT_SETS} held-out sets per search model, pip-installed, {runtime_name}: {_said(verdict)}")
    for cpu in OTHER_CPUS:
        other = probe(shlex.join([qemu, "-cpu", cpu, "-L", str(args.sysroot), str(python)]))
        on_cpu, _ = accept(originals, outputs, models, other, held_out=HELD_OUT_SETS)
        print(f"  the same on qemu -cpu {cpu}: {_said(on_cpu)}")
        verdict = verdict if not verdict.passed else on_cpu
    unseen, _ = accept(originals, outputs, [Model(args.models / f"{UNSEEN_MODEL}.tflite")], target)
    print(f"{UNSEEN_MODEL}, never run by the search: {_said(unseen)}")
    return 0 if verdict.passed and result.verified else 1


def _said(verdict: Verdict) -> str:
    return verdict.outcome.value.upper() + (f" ({verdict.reason})" if verdict.reason else "")


if __name__ == "__main__":
    sys.exit(main())
