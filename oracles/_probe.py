"""Runs inside the candidate's interpreter: import numpy and the runtime, infer, hash every output.

Started as ``python -I -S _probe.py SPEC.json``: no site-packages, so only the candidate tree and the
runtime tree are importable. It needs nothing but the standard library before it imports numpy, and
it uses as little of numpy as it can (``frombuffer``, ``reshape``, ``tobytes``) so that the inputs it
feeds are the same bytes whatever the candidate lacks. It writes its result as JSON to the path the
spec names; a candidate that crashes the process simply writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import traceback
from typing import TYPE_CHECKING, Any

# struct codes for the input dtypes the runtime accepts; all little-endian, like the hosts we run on.
_CODES = {
    "float32": "f",
    "float16": "e",
    "float64": "d",
    "int8": "b",
    "uint8": "B",
    "int16": "h",
    "int32": "i",
    "int64": "q",
    "uint16": "H",
    "uint32": "I",
    "uint64": "Q",
    "bool": "?",
}
HARNESS_BROKEN = 3  # exit code: the probe itself could not run (not the candidate's fault)

if TYPE_CHECKING:
    from oracles._trace import Tracer
else:
    # -I leaves this folder off sys.path: borrow it just long enough to import the tracer.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _trace import Tracer

    del sys.path[0]


def _values(count: int, dtype: str, seed: int) -> list[Any]:
    """Deterministic pseudo-random values: floats in [-1, 1), integers small and non-negative.

    Integer inputs are often indices (token ids, class ids), so small non-negative values keep them
    valid for nearly every model.
    """
    state = (seed * 2654435761 + 12345) & 0xFFFFFFFF
    out: list[Any] = []
    for _ in range(count):
        state = (1103515245 * state + 12345) & 0x7FFFFFFF
        if dtype.startswith("float"):
            out.append(((state >> 8) % 2000 - 1000) / 1000.0)
        elif dtype == "bool":
            out.append(bool((state >> 16) & 1))
        else:
            out.append((state >> 16) % 8)
    return out


def _default_input(np: Any, shape: list[int], dtype: str, seed: int) -> Any:
    count = 1
    for dim in shape:
        count *= max(int(dim), 1)
    raw = struct.pack(f"<{count}{_CODES[dtype]}", *_values(count, dtype, seed))
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)


def _given_input(np: Any, spec: dict[str, Any]) -> Any:
    with open(spec["raw"], "rb") as handle:
        raw = handle.read()
    return np.frombuffer(raw, dtype=np.dtype(spec["descr"])).reshape(spec["shape"])


def _pick(given: dict[str, Any], detail: dict[str, Any], position: int) -> dict[str, Any] | None:
    for key in (detail["name"], str(position), f"arr_{position}"):
        if key in given:
            return dict(given[key])
    return None


def _digest(np: Any, array: Any) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    return {
        "dtype": str(array.dtype),
        "shape": [int(dim) for dim in array.shape],
        "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
    }


def _run_model(np: Any, interpreter_class: Any, model: dict[str, Any], index: int) -> list[Any]:
    interpreter = interpreter_class(model_path=model["path"])
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()
    results = []
    for set_index, given in enumerate(model["input_sets"]):
        for position, detail in enumerate(details):
            spec = _pick(given, detail, position) if given is not None else None
            if spec is not None:
                value = _given_input(np, spec)
            else:
                dtype = np.dtype(detail["dtype"]).name
                seed = index * 1000 + set_index * 100 + position
                value = _default_input(np, list(detail["shape"]), dtype, seed)
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        outputs = interpreter.get_output_details()
        results.append([_digest(np, interpreter.get_tensor(o["index"])) for o in outputs])
    return results


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    tracer = Tracer(spec["trace_roots"])
    sys.path[:0] = spec["paths"]
    stage = "import"
    try:
        import numpy as np

        module = __import__(spec["runtime_module"], fromlist=["Interpreter"])
        models = []
        for index, model in enumerate(spec["models"]):
            stage = os.path.basename(model["path"])
            models.append(_run_model(np, module.Interpreter, model, index))
    except BaseException as error:  # noqa: BLE001 - any failure of the candidate is a verdict
        last = " ".join(traceback.format_exception_only(type(error), error)[-1].split())
        return {"ok": False, "stage": stage, "error": f"{stage}: {last}"}
    return {"ok": True, "outputs": models, "opened": tracer.collect()}


def main() -> int:
    try:
        with open(sys.argv[1], encoding="utf-8") as handle:
            spec = json.load(handle)
    except (OSError, ValueError, IndexError) as error:
        print(f"probe: cannot read its spec: {error}", file=sys.stderr)
        return HARNESS_BROKEN
    result = _run(spec)
    tmp = spec["out"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(tmp, spec["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
