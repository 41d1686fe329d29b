"""Read sample inputs from an ``.npz`` without numpy: the tool itself must not need numpy."""

from __future__ import annotations

import ast
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from minimizer.errors import InputError

_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True, slots=True)
class Array:
    """One array as raw C-order bytes, its numpy dtype descriptor and its shape."""

    descr: str
    shape: tuple[int, ...]
    data: bytes


def read_npz(path: Path) -> dict[str, Array]:
    """Arrays of an ``.npz`` by key (``x.npy`` is key ``x``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {
                name.removesuffix(".npy"): _parse_npy(archive.read(name), f"{path}:{name}")
                for name in archive.namelist()
                if name.endswith(".npy")
            }
    except InputError:
        raise
    # A corrupt archive shows as any of these, depending on which header or stream is broken.
    except (OSError, zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, EOFError) as error:
        raise InputError(f"cannot read sample inputs {path}: {error}") from error
    if not arrays:
        raise InputError(f"{path} holds no arrays")
    return arrays


def _parse_npy(blob: bytes, where: str) -> Array:
    major = blob[6] if len(blob) > 6 else 0
    if not blob.startswith(_MAGIC) or len(blob) < (10 if major == 1 else 12):
        raise InputError(f"{where} is not an .npy array")
    if major == 1:
        (length,) = struct.unpack("<H", blob[8:10])
        start = 10
    else:
        (length,) = struct.unpack("<I", blob[8:12])
        start = 12
    try:
        header = ast.literal_eval(blob[start : start + length].decode("latin1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(header["shape"])
    except (ValueError, SyntaxError, KeyError, TypeError) as error:
        raise InputError(f"{where} has an unreadable .npy header") from error
    if fortran or not isinstance(descr, str) or "O" in descr:
        raise InputError(f"{where}: only C-ordered plain arrays are supported as inputs")
    data = blob[start + length :]
    if not all(isinstance(d, int) and d >= 0 for d in shape) or len(data) != _nbytes(descr, shape):
        raise InputError(f"{where}: its data does not match its header (dtype {descr}, shape {shape})")
    return Array(descr, shape, data)


def _nbytes(descr: str, shape: tuple[int, ...]) -> int:
    digits = "".join(c for c in descr if c.isdigit())
    count = 1
    for dim in shape:
        count *= dim
    return count * int(digits or 0)
