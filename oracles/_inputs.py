"""Input sets named by a descriptor, ``{"kind": KIND, "seed": N}``: the exact bytes fed to a model.

Standard library only: the probe imports it before numpy (``np.frombuffer`` reads the raw bytes it
makes, so a candidate's numpy never computes its own inputs), and the host imports it to plan sets.
A descriptor is plain JSON, so it travels in a probe's spec as it is; the same descriptor gives the
same bytes on every run, every machine and every Python version (the generators below use only
integer arithmetic and SHAKE-256).

Kinds:

- ``small``: floats in [-1, 1), integers in [0, 8), random booleans. Integer inputs are often
  indices (token ids, class ids), so these keep them valid for nearly every model. The search's own
  two sets per model are of this kind.
- ``wide``: the dtype's whole range. Integers uniform over the type; floats with a random sign, a
  random exponent over every finite binade (subnormals included: for float32 about 1e-45 to 3e38)
  and a random mantissa, so a set mixes magnitudes across all decades.
- ``zeros``: every element 0 (``False``).
- ``extremes``: integers alternate the type's max and min (``True``/``False``); floats cycle the
  largest finite value, its negative, the smallest subnormal and its negative.
- ``nonfinite``: floats cycle +inf, -inf and NaN; an input of another dtype gets zeros, so that an
  index input stays valid while the float inputs carry the non-finite values.
- ``given``: the user's arrays (``"arrays"``, keyed by input name or position, read by the probe);
  an input they lack gets a ``small`` input with the descriptor's seed.

Input number ``position`` of a model gets ``seed + position``, so two inputs of one set differ.
The boundary kinds use the seed only to rotate their cycle.
"""

from __future__ import annotations

import hashlib
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SMALL, WIDE, ZEROS, EXTREMES, NONFINITE, GIVEN = "small", "wide", "zeros", "extremes", "nonfinite", "given"
KINDS = (SMALL, WIDE, ZEROS, EXTREMES, NONFINITE)
BOUNDARY = (ZEROS, EXTREMES, NONFINITE)
# Seeds: the search's sets are 1000 * model + 100 * set (below this); held-out sets start here.
HOLDOUT_SEED = 1_000_000
# Held-out sets in this order: one of each kind, then wide and small sets in turn.
_HOLDOUT_ORDER = (WIDE, ZEROS, EXTREMES, NONFINITE, SMALL)

# struct codes of the dtypes the runtimes accept; all little-endian, like the hosts we run on.
CODES = {
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
_FLOATS = {"float16": (5, 10), "float32": (8, 23), "float64": (11, 52)}  # exponent, mantissa bits
_WORD = {16: "H", 32: "I", 64: "Q"}  # a float's bits as an unsigned integer of its width


def descriptor(kind: str, seed: int = 0) -> dict[str, Any]:
    """A descriptor for a generated set; refuses a kind this module cannot make."""
    if kind not in KINDS:
        raise ValueError(f"unknown input-set kind {kind!r}: one of {', '.join(KINDS)}")
    return {"kind": kind, "seed": int(seed)}


def search_sets(model: int, count: int = 2) -> list[dict[str, Any]]:
    """The search's sets for model number ``model``."""
    return [descriptor(SMALL, 1000 * model + 100 * n) for n in range(count)]


def holdout_sets(model: int, count: int) -> list[dict[str, Any]]:
    """``count`` held-out sets for model number ``model``: seeds the search never uses."""
    extra = (WIDE, SMALL)
    kinds = [*_HOLDOUT_ORDER, *(extra[n % 2] for n in range(max(count - len(_HOLDOUT_ORDER), 0)))][:count]
    return [descriptor(kind, HOLDOUT_SEED + 1000 * model + 100 * n) for n, kind in enumerate(kinds)]


def label(spec: Mapping[str, Any]) -> str:
    """A short name for reports: ``wide:1000000``."""
    return f"{spec['kind']}:{spec.get('seed', 0)}"


def input_bytes(spec: Mapping[str, Any], dtype: str, count: int, position: int = 0) -> bytes:
    """``count`` little-endian elements of ``dtype`` for input number ``position`` of a set."""
    kind, seed = spec["kind"], int(spec.get("seed", 0)) + position
    if kind == GIVEN:
        kind = SMALL
    if kind not in KINDS:
        raise ValueError(f"unknown input-set kind {kind!r}")
    if dtype not in CODES:
        raise ValueError(f"no generator for dtype {dtype!r}")
    if kind == SMALL:
        return struct.pack(f"<{count}{CODES[dtype]}", *_small(count, dtype, seed))
    if kind == WIDE:
        return _wide(count, dtype, seed)
    if kind == NONFINITE and dtype not in _FLOATS:
        kind = ZEROS
    if kind == ZEROS:
        return bytes(count * struct.calcsize(CODES[dtype]))
    return _cycle(_specials(kind, dtype), count, seed)


def _small(count: int, dtype: str, seed: int) -> list[Any]:
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


def _random_bytes(size: int, seed: int) -> bytes:
    # SHAKE-256 as a counter-free stream: standardized, in C, the same bytes everywhere.
    return hashlib.shake_256(f"wheel-ddmin input {seed}".encode()).digest(size)


def _wide(count: int, dtype: str, seed: int) -> bytes:
    if dtype == "bool":
        return bytes(b & 1 for b in _random_bytes(count, seed))
    if dtype not in _FLOATS:
        return _random_bytes(count * struct.calcsize(CODES[dtype]), seed)
    exponent, mantissa = _FLOATS[dtype]
    width = 1 + exponent + mantissa
    words = struct.unpack(f"<{count}{_WORD[width]}", _random_bytes(count * width // 8, seed))
    top = (1 << exponent) - 1
    # An all-ones exponent is inf or NaN: move it one binade down, to the largest finite ones.
    finite = [w ^ (1 << mantissa) if (w >> mantissa) & top == top else w for w in words]
    return struct.pack(f"<{count}{_WORD[width]}", *finite)


def _specials(kind: str, dtype: str) -> list[bytes]:
    """The values an extremes or nonfinite set cycles through, each as its bytes."""
    if dtype in _FLOATS:
        exponent, mantissa = _FLOATS[dtype]
        width = 1 + exponent + mantissa
        sign, inf = 1 << (width - 1), ((1 << exponent) - 1) << mantissa
        if kind == EXTREMES:
            largest = inf - 1  # exponent all ones but the last bit, mantissa all ones
            words = [largest, sign | largest, 1, sign | 1]
        else:
            words = [inf, sign | inf, inf | 1 << (mantissa - 1)]  # +inf, -inf, a quiet NaN
        return [struct.pack(f"<{_WORD[width]}", w) for w in words]
    if dtype == "bool":
        return [b"\x01", b"\x00"]
    code = CODES[dtype]
    bits = struct.calcsize(code) * 8
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if code.islower() else (0, (1 << bits) - 1)
    return [struct.pack(f"<{code}", high), struct.pack(f"<{code}", low)]


def _cycle(values: list[bytes], count: int, seed: int) -> bytes:
    start = seed % len(values)
    rotated = b"".join(values[start:] + values[:start])
    return (rotated * (count // len(values) + 1))[: count * len(values[0])]
