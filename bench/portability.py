"""Acceptance on other CPUs: does a minimized pair give the original's outputs where it was not traced?

pip-installs the original wheels and the minimized ones into two fresh venvs (with the runtime's
own dependencies), then runs, in each venv and in each setting below, the given checks and a
held-out inference script (input sets the search never fed: other seeds, zeros, large
magnitudes, inf and nan), and compares what the two venvs print, byte for byte:

- ``native``: this CPU, as the search ran;
- ``baseline``: numpy with every dispatchable CPU feature disabled (``NPY_DISABLE_CPU_FEATURES``);
- ``valgrind``: under ``valgrind --tool=none``, whose emulated CPU has AVX2 but no AVX-512: numpy
  and XNNPACK pick other kernels there, as on most edge devices.

A trapped function that another CPU needs shows as a crash (SIGTRAP) of the minimized side only.

    python bench/portability.py --original ORIG.whl [ORIG.whl ...] --minimized MIN.whl [MIN.whl ...] \\
        [--oracle MODEL.tflite ...] [--check CMD ...] [--settings native,baseline,valgrind]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oracles import pip, runtime
from oracles.target import probe
from oracles.venv import fresh_venv

TIMEOUT = 3600.0
SETTINGS = ("native", "baseline", "valgrind")

# Held-out inference: seeds the oracle's probe never uses, and inputs at the edges of the range.
HELD_OUT = r"""
import hashlib, math, struct, sys
import numpy as np
try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:
    from ai_edge_litert.interpreter import Interpreter

# Built in pure Python and handed over with np.frombuffer, as the oracle's probe does: the
# numpy code a model run needs is the same, only the values are new.
CODES = {"float32": "f", "float16": "e", "float64": "d", "int8": "b", "uint8": "B", "int16": "h",
         "int32": "i", "int64": "q", "bool": "?"}
EDGES = {"f": [3.4e38, -3.4e38, 0.0, math.inf, -math.inf, math.nan, 1.2e-38, -0.0],
         "d": [1.7e308, -1.7e308, 0.0, math.inf, -math.inf, math.nan, 2.3e-308, -0.0],
         "e": [65504.0, -65504.0, 0.0, math.inf, -math.inf, math.nan, 6.1e-05, -0.0],
         "b": [-128, 127, 0], "B": [0, 255], "h": [-32768, 32767, 0], "i": [-2**31, 2**31 - 1, 0],
         "q": [-2**63, 2**63 - 1, 0], "?": [True, False]}

def values(count, code, kind):
    if kind == "zeros":
        return [0] * count
    if kind == "extremes":
        return [EDGES[code][i % len(EDGES[code])] for i in range(count)]
    state, out = 7919 if kind == "seeded" else 104729, []
    for _ in range(count):
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        if code in "fde":
            out.append(((state >> 8) % 2000 - 1000) / 1000.0 * (1.0 if kind == "seeded" else 1e4))
        else:
            out.append(bool(state & 1) if code == "?" else (state >> 16) % 8)
    return out

for path in sys.argv[1:]:
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    for kind in ("seeded", "large", "zeros", "extremes"):
        for detail in interpreter.get_input_details():
            dtype = np.dtype(detail["dtype"])
            count = 1
            for dim in detail["shape"]:
                count *= max(int(dim), 1)
            raw = struct.pack(f"<{count}{CODES[dtype.name]}", *values(count, CODES[dtype.name], kind))
            interpreter.set_tensor(detail["index"], np.frombuffer(raw, dtype=dtype).reshape(detail["shape"]))
        interpreter.invoke()
        for detail in interpreter.get_output_details():
            out = np.ascontiguousarray(interpreter.get_tensor(detail["index"]))
            print(path.rsplit("/", 1)[-1], kind, detail["name"], out.dtype, out.shape,
                  hashlib.sha256(out.tobytes()).hexdigest()[:16], flush=True)
"""


def _launcher(folder: Path, python: Path, valgrind: bool) -> Path:
    """A ``python`` first on PATH: the venv's, under valgrind or not."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "valgrind --tool=none -q " if valgrind else ""
    launcher = folder / "python"
    launcher.write_text(f'#!/bin/sh\nexec {prefix}"{python}" "$@"\n')
    launcher.chmod(0o755)
    return launcher


def _run(command: str, launcher: Path, env: dict[str, str]) -> tuple[int, str, float]:
    environ = {**os.environ, **env, "PATH": f"{launcher.parent}{os.pathsep}{os.environ['PATH']}"}
    for name in [k for k in environ if k.startswith(("PYTHON", "VIRTUAL_ENV"))]:
        del environ[name]
    started = time.monotonic()
    done = subprocess.run(
        ["/bin/sh", "-c", command], env=environ, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    output = done.stdout + (
        f"[exit {done.returncode}] {done.stderr.strip()[-300:]}" if done.returncode else ""
    )
    return done.returncode, output, time.monotonic() - started


def _dispatch(python: Path) -> str:
    code = (
        "try:\n from numpy._core import _multiarray_umath as m\n"
        "except ImportError:\n from numpy.core import _multiarray_umath as m\n"
        "print(' '.join(m.__cpu_dispatch__))"
    )
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _compare(
    setting: str, command: str, venvs: dict[str, Path], scratch: Path, env: dict[str, str]
) -> dict[str, object]:
    """Run ``command`` in both venvs in one setting; same output (and success) or not."""
    sides = {}
    for name, python in venvs.items():
        launcher = _launcher(scratch / f"{name}-{setting}", python, setting == "valgrind")
        sides[name] = _run(command, launcher, env)
    (code, before, took), (_, after, took_after) = sides["original"], sides["minimized"]
    same = before == after and code == 0
    print(
        f"{'SAME' if same else 'DIFFERENT':9s} {setting:9s} {took:6.1f}s {took_after:6.1f}s  {command[:80]}"
    )
    if not same:
        print(f"  original:  {before[-600:]!r}\n  minimized: {after[-600:]!r}")
    return {
        "setting": setting,
        "command": command,
        "same": same,
        "seconds": [round(took, 1), round(took_after, 1)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, nargs="+", required=True)
    parser.add_argument("--minimized", type=Path, nargs="+", required=True)
    parser.add_argument("--oracle", type=Path, action="append", default=[])
    parser.add_argument("--check", action="append", default=[])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="portability-") as folder:
        scratch = Path(folder)
        script = scratch / "held_out.py"
        script.write_text(HELD_OUT)
        commands = list(args.check)
        if args.oracle:
            commands.append("python " + " ".join(shlex.quote(str(p)) for p in [script, *args.oracle]))
        target = probe()  # the interpreter running this script, as wheel-ddmin's default
        runtimes = [w for w in args.original if runtime.is_runtime(w.name)]
        deps = [d for wheel in runtimes for d in runtime.dependencies_but_numpy(wheel, target)]
        with fresh_venv(target, scratch) as original, fresh_venv(target, scratch) as minimized:
            pip.install_venv(target, original, args.original, deps=deps)
            pip.install_venv(target, minimized, args.minimized, deps=deps)
            venvs = {"original": original, "minimized": minimized}
            disabled = {"NPY_DISABLE_CPU_FEATURES": _dispatch(original)}
            for setting in [s for s in args.settings.split(",") if s]:
                env = disabled if setting == "baseline" else {}
                results += [_compare(setting, command, venvs, scratch, env) for command in commands]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["same"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
