"""Read sample inputs from an ``.npz`` without numpy: the tool itself must not need numpy."""

from __future__ import annotations

import ast
import struct
import zipfile
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
            return {
                name.removesuffix(".npy"): _parse_npy(archive.read(name), f"{path}:{name}")
                for name in archive.namelist()
                if name.endswith(".npy")
            }
    except (OSError, zipfile.BadZipFile) as error:
        raise InputError(f"cannot read sample inputs {path}: {error}") from error


def _parse_npy(blob: bytes, where: str) -> Array:
    if not blob.startswith(_MAGIC) or len(blob) < 10:
        raise InputError(f"{where} is not an .npy array")
    major = blob[6]
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
    return Array(descr, shape, blob[start + length :])
