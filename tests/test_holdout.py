"""Held-out inputs: a counterexample the search's own sets cannot see is found and fed back.

A synthetic pair of wheels stands in for numpy and the runtime, so the case is small and exact.
The stand-in numpy halves its inputs; magnitudes beyond 2**24 take an exact path in a module of
their own, and without that module a fallback saturates (as optional fast paths of real packages
do). The search's sets are in [-1, 1): they never import that module, so the search removes it.
Held-out wide and extreme sets tell the difference, and the module must come back.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minimizer import Budget, Progress, cli, minimize
from minimizer.api import INTERRUPTED, Result
from minimizer.holdout import last_passing
from minimizer.summary import text_summary
from tests.conftest import FIXTURES

NUMPY = {
    "numpy/__init__.py": (
        '"""A numpy stand-in: the little the probe and the stand-in runtime use, and one computation."""\n'
        "from numpy._array import ascontiguousarray, dtype, frombuffer, ndarray\n"
        "from numpy._halve import halve\n"
    ),
    "numpy/_array.py": '''"""float32 arrays: frombuffer, reshape, tobytes."""
import struct


class dtype:
    def __init__(self, spec="float32"):
        self.name = spec.name if isinstance(spec, dtype) else str(spec)
        if self.name != "float32":
            raise TypeError(f"the stand-in has float32 only, not {self.name}")

    def newbyteorder(self, order="<"):
        return self

    def __str__(self):
        return self.name


class ndarray:
    def __init__(self, values, shape):
        self.values, self.shape, self.dtype = list(values), tuple(shape), dtype()

    def reshape(self, shape):
        return ndarray(self.values, shape)

    def tobytes(self):
        return struct.pack(f"<{len(self.values)}f", *self.values)


def frombuffer(raw, dtype=None):
    return ndarray(struct.unpack(f"<{len(raw) // 4}f", raw), [len(raw) // 4])


def ascontiguousarray(array):
    return array
''',
    "numpy/_halve.py": '''"""Halve every value; beyond 2**24 the exact path, when it is installed."""
import math


def halve(values):
    return [v / 2 if abs(v) < 2.0**24 else _large(v) for v in values]


def _large(value):
    try:
        from numpy._large import halve_large  # imported only for large magnitudes (and NaN)
    except ImportError:  # an optional path: the fallback saturates
        return math.copysign(2.0**23, value)
    return halve_large(value)
''',
    "numpy/_large.py": "def halve_large(value):\n    return value / 2\n",
    "numpy/testing.py": "DATA = " + repr(list(range(3000))) + "\n",
}

RUNTIME = {
    "tflite_runtime/__init__.py": "",
    "tflite_runtime/interpreter.py": '''"""A stand-in runtime: float32 [1, 8] in, numpy.halve of it out.

Like real models, it refuses some inputs (NaN raises) and is not deterministic on all of them
(on an all-zero input its output carries noise): held-out sets of those kinds are unusable.
"""
import math
import os

import numpy as np

_DETAIL = {"shape": [1, 8], "dtype": np.dtype("float32")}


class Interpreter:
    def __init__(self, model_path):
        open(model_path, "rb").close()
        self._tensors = {}

    def allocate_tensors(self):
        pass

    def get_input_details(self):
        return [{"name": "x", "index": 0, **_DETAIL}]

    def get_output_details(self):
        return [{"name": "y", "index": 1, **_DETAIL}]

    def set_tensor(self, index, value):
        self._tensors[index] = value

    def invoke(self):
        x = self._tensors[0].values
        if any(math.isnan(v) for v in x):
            raise ValueError("this model refuses NaN")
        y = np.halve(x)
        if not any(x):
            y[0] = float(int.from_bytes(os.urandom(2), "little"))
        self._tensors[1] = np.ndarray(y, [1, 8])

    def get_tensor(self, index):
        return self._tensors[index]
''',
}
MODEL = FIXTURES / "tiny_fc.tflite"  # only read for its TFL3 identifier: the stand-in runtime ignores it
COMMON = ["--oracle", str(MODEL), "--passes", "files", "--jobs", "1", "--quiet"]


@pytest.fixture
def wheels(wheel_factory: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.setenv("WHEEL_DDMIN_CACHE", str(tmp_path / "cache"))
    return [wheel_factory(NUMPY, name="numpy"), wheel_factory(RUNTIME, name="tflite_runtime")]


def _members(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_a_counterexample_is_found_and_fed_back(wheels: list[Path], tmp_path: Path) -> None:
    off, on = tmp_path / "off", tmp_path / "on"
    argv = [*map(str, wheels), *COMMON]
    assert cli.main([*argv, "--holdout", "0", "--no-verify", "-o", str(off), "--report", f"{off}.json"]) == 0
    # The search's own sets cannot tell: without held-out sets the wrong wheel is written.
    assert "numpy/_large.py" not in _members(off / wheels[0].name)
    assert json.loads(Path(f"{off}.json").read_text())["holdout"] is None

    assert cli.main([*argv, "-o", str(on), "--report", f"{on}.json", "--summary", f"{on}.md"]) == 0
    members = _members(on / wheels[0].name)
    assert "numpy/_large.py" in members and "numpy/testing.py" not in members
    report = json.loads(Path(f"{on}.json").read_text())
    held = report["holdout"]
    # wide, extremes and the second wide set reach large magnitudes; small stays in [-1, 1).
    assert held["counterexample_sets"] == [
        "tiny_fc.tflite wide:1000000",
        "tiny_fc.tflite extremes:1000200",
        "tiny_fc.tflite wide:1000500",
    ]
    assert (held["sets"], held["usable"], held["counterexamples"], held["rounds"]) == (6, 4, 3, 2)
    assert held["passed"] is True and report["verified"] is True
    assert "3 counterexamples fed back" in Path(f"{on}.md").read_text()


def test_sets_the_original_cannot_run_are_dropped_not_blamed(wheels: list[Path], tmp_path: Path) -> None:
    result = minimize(
        wheels, oracles=[MODEL], passes=["files"], jobs=1, verify=False, output_dir=tmp_path / "o"
    )
    assert result.holdout is not None
    assert result.holdout.dropped == (
        "tiny_fc.tflite zeros:1000100: the original gives different outputs on two runs",
        "tiny_fc.tflite nonfinite:1000300: the original fails: ValueError: this model refuses NaN",
    )
    assert result.holdout.usable == 4 and result.holdout.passed


def test_holdout_sets_are_the_number_asked_for(wheels: list[Path], tmp_path: Path) -> None:
    result = minimize(
        wheels, oracles=[MODEL], passes=["files"], jobs=1, verify=False, holdout=1, output_dir=tmp_path / "o"
    )
    assert result.holdout is not None
    assert (result.holdout.sets, result.holdout.counterexamples) == (1, ("tiny_fc.tflite wide:1000000",))


def _interrupt_after(runs: int) -> Callable[[Progress], None]:
    def progress(event: Progress) -> None:
        if event.runs >= runs:
            raise KeyboardInterrupt

    return progress


def test_resume_after_a_counterexample_repeats_no_run_and_gives_the_same_wheel(
    wheels: list[Path], tmp_path: Path
) -> None:

    def run(out: Path, **options: Any) -> Result:
        return minimize(
            wheels, oracles=[MODEL], passes=["files"], jobs=1, verify=False, output_dir=out, **options
        )

    whole = run(tmp_path / "whole")
    assert whole.holdout is not None and whole.holdout.counterexamples
    # Cut two runs before the end: after the counterexamples joined the oracle's inputs.
    cut = run(tmp_path / "cut", progress=_interrupt_after(whole.oracle_runs - 2))
    assert cut.stop_reason == INTERRUPTED and cut.holdout is not None and cut.holdout.counterexamples
    output = cut.wheels[0].output
    assert output is not None and "numpy/_large.py" in _members(output), "best so far must pass them too"
    resumed = run(tmp_path / "cut", resume=True)
    assert resumed.complete and resumed.resumed == cut.oracle_runs
    assert cut.oracle_runs + resumed.oracle_runs == whole.oracle_runs
    assert resumed.wheels[0].output is not None and whole.wheels[0].output is not None
    assert resumed.wheels[0].output.read_bytes() == whole.wheels[0].output.read_bytes()


@given(st.lists(st.booleans(), max_size=40))
@example([False] * 40)
@example([True] + [False] * 39)
def test_last_passing_finds_a_passing_index(passes: list[bool]) -> None:
    tested: list[int] = []

    def test(index: int) -> bool:
        tested.append(index)
        return passes[index]

    found = last_passing(len(passes), test)
    assert found is None or passes[found]
    assert len(tested) <= 2 * max(len(passes), 1).bit_length() + 1


@given(st.integers(0, 40), st.integers(0, 40))
def test_last_passing_is_the_last_one_when_passing_is_monotone(count: int, passing: int) -> None:
    passing = min(passing, count)  # indices below it pass, the others fail
    found = last_passing(count, lambda i: i < passing)
    assert found == (passing - 1 if passing else None)


def test_a_run_stopped_before_the_check_says_so(wheels: list[Path], tmp_path: Path) -> None:
    result = minimize(
        wheels, oracles=[MODEL], jobs=1, verify=False, budget=Budget(runs=2), output_dir=tmp_path / "o"
    )
    assert not result.complete and result.holdout is not None
    assert (result.holdout.usable, result.holdout.screening_runs, result.holdout.passed) == (0, 0, False)
    assert "6 sets planned, not checked" in text_summary(result)


def test_the_same_wheel_for_any_number_of_jobs(wheels: list[Path], tmp_path: Path) -> None:
    results = [
        minimize(
            wheels,
            oracles=[MODEL],
            passes=["files"],
            jobs=jobs,
            verify=False,
            output_dir=tmp_path / f"j{jobs}",
        )
        for jobs in (1, 3)
    ]
    found = [r.holdout.counterexamples if r.holdout else () for r in results]
    assert found[0] and found[0] == found[1]
    outputs = [r.wheels[0].output for r in results]
    assert outputs[0] is not None and outputs[1] is not None
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
