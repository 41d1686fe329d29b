"""Shared test helpers: synthetic wheels built at test time."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def build_wheel(
    folder: Path,
    files: Mapping[str, bytes | str],
    *,
    name: str = "toypkg",
    version: str = "1.0",
    tag: str = "py3-none-any",
    entry_points: str | None = None,
    metadata: str = "",
) -> Path:
    """A valid wheel with the given package files, correct RECORD, WHEEL and METADATA (plus ``metadata``)."""
    dist_info = f"{name}-{version}.dist-info"
    members: dict[str, bytes] = {p: d.encode() if isinstance(d, str) else d for p, d in files.items()}
    head = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}"
    members[f"{dist_info}/METADATA"] = head.encode()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    )
    if entry_points is not None:
        members[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    rows = [(p, _hash(d), str(len(d))) for p, d in members.items()]
    rows.append((f"{dist_info}/RECORD", "", ""))
    record = io.StringIO()
    csv.writer(record, lineterminator="\n").writerows(rows)
    members[f"{dist_info}/RECORD"] = record.getvalue().encode()
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def _hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


@pytest.fixture
def wheel_factory(tmp_path: Path) -> Callable[..., Path]:
    def make(files: Mapping[str, bytes | str], **kwargs: object) -> Path:
        return build_wheel(tmp_path, files, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp folder of this test's own, for this process and its children: what is left there is ours.

    The system's temp folder is shared with other processes (other runs of wheel-ddmin among them),
    so a test that looks for leftovers there would see theirs.
    """
    folder = tmp_path / "tmp"
    folder.mkdir()
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
