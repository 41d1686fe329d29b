"""Tests for oracles.npz.read_npz: arrays read without numpy, and bad sample files refused."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from minimizer.errors import InputError
from oracles.npz import read_npz

MAGIC = b"\x93NUMPY"
PLAIN_HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"


@pytest.fixture
def np() -> ModuleType:
    return pytest.importorskip("numpy")


def npy(header: str, data: bytes = b"", *, version: int = 1) -> bytes:
    """A hand-built .npy: magic, version, header length, the header padded to 64 bytes, the data."""
    size_field = 2 if version == 1 else 4
    raw = header.encode("latin1")
    raw += b" " * (-(len(MAGIC) + 2 + size_field + len(raw) + 1) % 64) + b"\n"
    length = struct.pack("<H" if version == 1 else "<I", len(raw))
    return MAGIC + bytes([version, 0]) + length + raw + data


def npz(path: Path, members: Mapping[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def assert_same(arrays: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    assert set(arrays) == set(expected)
    for key, array in expected.items():
        got = arrays[key]
        assert (got.descr, got.shape, got.data) == (array.dtype.str, array.shape, array.tobytes()), key


# Reading ---------------------------------------------------------------------------------------


def test_hand_built_array(tmp_path: Path) -> None:
    data = struct.pack("<2f", 1.5, -2.0)
    arrays = read_npz(npz(tmp_path / "a.npz", {"x.npy": npy(PLAIN_HEADER, data)}))
    assert list(arrays) == ["x"]
    assert (arrays["x"].descr, arrays["x"].shape, arrays["x"].data) == ("<f4", (2,), data)


def test_reading_does_not_import_numpy(tmp_path: Path) -> None:
    path = npz(tmp_path / "a.npz", {"x.npy": npy(PLAIN_HEADER, bytes(8))})
    script = (
        "import sys; sys.modules['numpy'] = None\n"  # any 'import numpy' now raises ImportError
        "from pathlib import Path\nfrom oracles.npz import read_npz\n"
        f"print(read_npz(Path({str(path)!r}))['x'].shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.strip() == b"(2,)"


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_numpy_written_arrays(tmp_path: Path, np: Any, compressed: bool) -> None:
    expected = {
        "image": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7,
        "scalar": np.array(42, dtype=np.int64),
        "empty": np.zeros((0, 4), dtype=np.uint8),
        "flags": np.array([True, False, True]),
        "big_endian": np.arange(5, dtype=">i2"),
        "complex": np.array([1 + 2j, -3j], dtype=np.complex64),
        "strided": np.arange(20, dtype=np.int32)[::3],  # saved C-contiguous
    }
    path = tmp_path / "samples.npz"
    (np.savez_compressed if compressed else np.savez)(path, **expected)
    assert_same(read_npz(path), expected)


def test_positional_arrays_get_numpy_keys(tmp_path: Path, np: Any) -> None:
    first, second = np.ones(3, dtype=np.float16), np.zeros((1, 1), dtype=np.int8)
    np.savez(tmp_path / "p.npz", first, second)
    assert_same(read_npz(tmp_path / "p.npz"), {"arr_0": first, "arr_1": second})


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_npy_format_versions(tmp_path: Path, np: Any, version: tuple[int, int]) -> None:
    array = np.arange(12, dtype="<u2").reshape(3, 4)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version)
    assert_same(read_npz(npz(tmp_path / "v.npz", {"x.npy": buffer.getvalue()})), {"x": array})


def test_other_members_are_ignored(tmp_path: Path) -> None:
    members = {"README.txt": b"not an array", "x.npy": npy(PLAIN_HEADER, bytes(8))}
    assert list(read_npz(npz(tmp_path / "a.npz", members))) == ["x"]


# Refusals --------------------------------------------------------------------------------------


def test_fortran_order_is_refused(tmp_path: Path, np: Any) -> None:
    np.savez(tmp_path / "f.npz", x=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    with pytest.raises(InputError, match="C-ordered"):
        read_npz(tmp_path / "f.npz")


def test_object_arrays_are_refused(tmp_path: Path, np: Any) -> None:
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(InputError, match="plain arrays"):
        read_npz(tmp_path / "o.npz")


def test_structured_arrays_are_refused(tmp_path: Path, np: Any) -> None:
    np.savez(tmp_path / "s.npz", x=np.zeros(2, dtype=[("a", "<f4"), ("b", "<i2")]))
    with pytest.raises(InputError, match="plain arrays"):
        read_npz(tmp_path / "s.npz")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read sample inputs"):
        read_npz(tmp_path / "absent.npz")


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read sample inputs"):
        read_npz(tmp_path)


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(b"\x00\x01garbage" * 40)
    with pytest.raises(InputError, match="cannot read sample inputs"):
        read_npz(path)


BAD_MEMBERS: dict[str, tuple[bytes, str]] = {
    "no-magic": (b"just some bytes here", "not an .npy array"),
    "magic-only": (MAGIC + b"\x01", "not an .npy array"),
    "header-not-python": (npy("{'descr': '<f4', oops"), "unreadable .npy header"),
    "header-not-a-dict": (npy("[1, 2, 3]"), "unreadable .npy header"),
    "header-missing-shape": (npy("{'descr': '<f4', 'fortran_order': False}"), "unreadable .npy header"),
    "header-cut-short": (MAGIC + b"\x01\x00\xff\x00{'descr': '<f4'", "unreadable .npy header"),
    "fortran-flag": (npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", bytes(4)), "C-ordered"),
}


@pytest.mark.parametrize(("member", "message"), BAD_MEMBERS.values(), ids=BAD_MEMBERS.keys())
def test_bad_npy_members_are_refused(tmp_path: Path, member: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_npz(npz(tmp_path / "bad.npz", {"x.npy": member}))


def test_cut_short_v2_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_npz(npz(tmp_path / "bad.npz", {"x.npy": MAGIC + b"\x02\x00\x40\x00"}))


def test_corrupt_compressed_member_is_refused(tmp_path: Path) -> None:
    path = npz(tmp_path / "c.npz", {"x.npy": npy(PLAIN_HEADER, bytes(range(256)) * 64)}, zipfile.ZIP_DEFLATED)
    blob = bytearray(path.read_bytes())
    start = len(b"PK\x03\x04") + 26 + len("x.npy")  # the deflate stream follows the local header
    blob[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(blob))
    with pytest.raises(InputError):
        read_npz(path)


def test_unsupported_compression_is_refused(tmp_path: Path) -> None:
    path = npz(tmp_path / "m.npz", {"x.npy": npy(PLAIN_HEADER, bytes(8))})
    blob = bytearray(path.read_bytes())
    central = blob.index(b"PK\x01\x02")
    blob[central + 10 : central + 12] = struct.pack("<H", 99)  # compression method 99 (AES)
    path.write_bytes(bytes(blob))
    with pytest.raises(InputError):
        read_npz(path)


INCONSISTENT: dict[str, bytes] = {
    "data-shorter-than-shape": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", bytes(20)),
    "data-longer-than-shape": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", bytes(12)),
    "shape-not-integers": npy("{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}", bytes(4)),
    "negative-shape": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", bytes(4)),
}


@pytest.mark.parametrize("member", INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_inconsistent_arrays_are_refused(tmp_path: Path, member: bytes) -> None:
    with pytest.raises(InputError):
        read_npz(npz(tmp_path / "bad.npz", {"x.npy": member}))
