"""The inputs a TensorFlow Lite model takes (names, dtypes, shapes), read from its flatbuffer.

Neither TensorFlow nor numpy is needed: a ``.tflite`` file is a FlatBuffer of the ``Model`` table,
and the first subgraph's ``inputs`` name the tensors ``Interpreter.get_input_details()`` reports,
in the same order. Every offset is bounds-checked, so a damaged file is an ``InputError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from minimizer.errors import InputError

IDENTIFIER = b"TFL3"
# schema.fbs, enum TensorType, as numpy names.
_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
    7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
    13: "resource", 14: "variant", 15: "uint32", 16: "uint16", 17: "int4",
}  # fmt: skip
# Field numbers of the tables read here (schema.fbs).
_MODEL_SUBGRAPHS, _SUBGRAPH_TENSORS, _SUBGRAPH_INPUTS = 2, 0, 1
_TENSOR_SHAPE, _TENSOR_TYPE, _TENSOR_NAME = 0, 1, 3


@dataclass(frozen=True, slots=True)
class Tensor:
    """One model input, as ``get_input_details()`` describes it."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name} {self.dtype}[{', '.join(map(str, self.shape))}]"


def inputs(path: Path) -> tuple[Tensor, ...]:
    """The model's inputs in order; an ``InputError`` for anything that is no TensorFlow Lite model."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read model {path}: {error.strerror}") from error
    if data[4:8] != IDENTIFIER:
        raise InputError(f"{path} is not a TensorFlow Lite model (no TFL3 identifier)")
    try:
        model = _Table(data, _u32(data, 0))
        subgraphs = model.tables(_MODEL_SUBGRAPHS)
        if not subgraphs:
            raise ValueError("no subgraph")
        tensors = subgraphs[0].tables(_SUBGRAPH_TENSORS)
        indices = subgraphs[0].ints(_SUBGRAPH_INPUTS)
        if not all(0 <= i < len(tensors) for i in indices):
            raise ValueError("an input names a tensor that does not exist")
        return tuple(_tensor(tensors[i]) for i in indices)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not a readable TensorFlow Lite model ({error})") from error


def _tensor(table: _Table) -> Tensor:
    code = table.scalar(_TENSOR_TYPE, "<b", 0)
    return Tensor(
        table.string(_TENSOR_NAME), _TYPES.get(code, f"type {code}"), tuple(table.ints(_TENSOR_SHAPE))
    )


class _Table:
    """A FlatBuffer table: a signed offset back to its vtable, which holds each field's offset."""

    def __init__(self, data: bytes, position: int) -> None:
        self.data, self.position = data, position
        self.vtable = position - _i32(data, position)
        self.vtable_size = _u16(data, self.vtable)

    def _field(self, number: int) -> int | None:
        entry = 4 + 2 * number
        if entry + 2 > self.vtable_size:
            return None
        offset = _u16(self.data, self.vtable + entry)
        return self.position + offset if offset else None

    def scalar(self, number: int, fmt: str, default: int) -> int:
        where = self._field(number)
        return default if where is None else int(_unpack(fmt, self.data, where))

    def _vector(self, number: int, item_size: int) -> tuple[int, int]:
        """Where a vector's items start, and how many there are (none when the field is absent)."""
        where = self._field(number)
        if where is None:
            return 0, 0
        start = where + _u32(self.data, where)
        count = _u32(self.data, start)
        if start + 4 + count * item_size > len(self.data):
            raise ValueError("a vector runs past the end of the file")
        return start + 4, count

    def tables(self, number: int) -> list[_Table]:
        start, count = self._vector(number, 4)
        items = (start + 4 * i for i in range(count))
        return [_Table(self.data, item + _u32(self.data, item)) for item in items]

    def ints(self, number: int) -> list[int]:
        start, count = self._vector(number, 4)
        return [_i32(self.data, start + 4 * i) for i in range(count)]

    def string(self, number: int) -> str:
        start, count = self._vector(number, 1)
        return self.data[start : start + count].decode("utf-8")


def _unpack(fmt: str, data: bytes, position: int) -> int:
    if position < 0:
        raise ValueError("an offset points before the start of the file")
    value: int = struct.unpack_from(fmt, data, position)[0]
    return value


def _u32(data: bytes, position: int) -> int:
    return _unpack("<I", data, position)


def _i32(data: bytes, position: int) -> int:
    return _unpack("<i", data, position)


def _u16(data: bytes, position: int) -> int:
    return _unpack("<H", data, position)
