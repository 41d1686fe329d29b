"""Input-set descriptors: each kind gives the values it promises, and the same bytes every time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracles import _inputs

DTYPES = sorted(_inputs.CODES)


def values(kind: str, dtype: str, count: int = 4096, seed: int = 1_000_000, position: int = 0) -> np.ndarray:
    raw = _inputs.input_bytes(_inputs.descriptor(kind, seed), dtype, count, position)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))


def test_search_sets_keep_the_values_they_always_had() -> None:
    """The search's inputs, and so every journal and report, stay what they were before descriptors."""
    first = _inputs.search_sets(0)[0]
    assert values("small", "float32", 4, first["seed"]).tolist() == pytest.approx([0.83, -0.033, 0.98, 0.638])
    second = _inputs.search_sets(1)[1]
    assert second == {"kind": "small", "seed": 1100}
    assert values("small", "int32", 6, second["seed"], position=2).tolist() == [7, 2, 7, 0, 4, 6]


@given(
    kind=st.sampled_from(_inputs.KINDS),
    dtype=st.sampled_from(DTYPES),
    count=st.integers(0, 300),
    seed=st.integers(0, 10**7),
    position=st.integers(0, 5),
)
def test_every_kind_gives_count_elements_the_same_every_time(
    kind: str, dtype: str, count: int, seed: int, position: int
) -> None:
    spec = _inputs.descriptor(kind, seed)
    raw = _inputs.input_bytes(spec, dtype, count, position)
    assert len(raw) == count * np.dtype(dtype).itemsize
    assert raw == _inputs.input_bytes(dict(spec), dtype, count, position)


@pytest.mark.parametrize("dtype, largest", [("float16", 1e4), ("float32", 1e30), ("float64", 1e300)])
def test_wide_floats_are_finite_with_both_signs_across_all_decades(dtype: str, largest: float) -> None:
    found = values("wide", dtype).astype(np.float64)
    assert np.isfinite(found).all()
    assert (found < 0).any() and (found > 0).any()
    magnitudes = np.abs(found[found != 0])
    assert magnitudes.max() > largest and magnitudes.min() < 1 / largest


def test_wide_integers_cover_the_type() -> None:
    int8 = values("wide", "int8")
    assert int8.min() < -100 and int8.max() > 100
    assert (np.abs(values("wide", "int64")) > 2**40).any()
    assert (values("wide", "uint64") > 2**63).any()
    assert set(values("wide", "bool").tolist()) == {False, True}


def test_two_inputs_of_one_set_differ() -> None:
    assert (
        values("wide", "float32", 64, position=0).tobytes()
        != values("wide", "float32", 64, position=1).tobytes()
    )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_boundaries(dtype: str) -> None:
    info = np.finfo(dtype)
    extremes = set(values("extremes", dtype, 8).tolist())
    tiny = float(np.nextafter(np.zeros(1, dtype), np.ones(1, dtype))[0])
    assert extremes == {float(info.max), float(info.min), tiny, -tiny}
    nonfinite = values("nonfinite", dtype, 9)
    assert set(nonfinite[~np.isnan(nonfinite)].tolist()) == {math.inf, -math.inf}
    assert np.isnan(nonfinite).sum() == 3
    assert not values("zeros", dtype, 8).any()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"])
def test_integer_boundaries(dtype: str) -> None:
    info = np.iinfo(dtype)
    assert set(values("extremes", dtype, 8).tolist()) == {int(info.min), int(info.max)}
    # Integer inputs are often indices: a nonfinite set leaves them valid, as zeros.
    assert not values("nonfinite", dtype, 8).any() and not values("zeros", dtype, 8).any()


def test_holdout_sets_are_of_every_kind_and_never_the_search_sets() -> None:
    assert [s["kind"] for s in _inputs.holdout_sets(0, 7)] == [
        "wide",
        "zeros",
        "extremes",
        "nonfinite",
        "small",
        "wide",
        "small",
    ]
    search = {(m, _inputs.label(s)) for m in range(50) for s in _inputs.search_sets(m, 10)}
    held = {(m, _inputs.label(s)) for m in range(50) for s in _inputs.holdout_sets(m, 10)}
    assert not search & held
    assert len(held) == 50 * 10


def test_an_unknown_kind_or_dtype_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown input-set kind"):
        _inputs.descriptor("huge")
    with pytest.raises(ValueError, match="no generator"):
        _inputs.input_bytes(_inputs.descriptor("wide"), "complex64", 4)
