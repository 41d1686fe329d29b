"""oracles.tflite: a model's inputs read from its flatbuffer agree with the schema's own reader."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.errors import InputError
from oracles import tflite
from oracles.inference import DEFAULT_MODEL
from tests.conftest import FIXTURES

MODELS = [*sorted(p for p in FIXTURES.glob("*.tflite") if p.name != "garbage.tflite"), DEFAULT_MODEL]
# schema.fbs TensorType numbers of the dtypes the fixtures use.
TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_inputs_agree_with_the_schema_package(path: Path) -> None:
    schema = pytest.importorskip("tflite")
    model = schema.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    expected = []
    for i in range(graph.InputsLength()):
        tensor = graph.Tensors(graph.Inputs(i))
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        expected.append(tflite.Tensor(tensor.Name().decode(), TYPES[tensor.Type()], shape))
    assert list(tflite.inputs(path)) == expected


def test_every_dtype_of_the_multi_dtype_fixture() -> None:
    found = tflite.inputs(FIXTURES / "multi_dtype.tflite")
    assert [t.dtype for t in found] == [
        "float32",
        "float16",
        "int8",
        "uint8",
        "int16",
        "int32",
        "int64",
        "bool",
    ]
    assert str(found[0]) == "in_f32 float32[1, 4]"


def test_not_a_model_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no TFL3 identifier"):
        tflite.inputs(FIXTURES / "garbage.tflite")
    with pytest.raises(InputError, match="cannot read model"):
        tflite.inputs(tmp_path / "missing.tflite")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_damaged_models_give_the_tools_own_error_only(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    original = bytearray((FIXTURES / "multi_dtype.tflite").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        where = data.draw(st.integers(0, len(original) - 1))
        original[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(8, len(original)))
    path = tmp_path_factory.mktemp("m") / "damaged.tflite"
    path.write_bytes(bytes(original[:cut]))
    with contextlib.suppress(InputError):
        tflite.inputs(path)
