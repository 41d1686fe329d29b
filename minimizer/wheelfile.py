"""Wheels as data: read a wheel into checked members, write members back into a valid wheel.

The round-trip law: ``write(read(w))`` installs exactly as ``w`` does. Reading refuses anything that
could write outside the destination or exhaust the disk; writing regenerates RECORD and replaces the
output file atomically, so an interrupted run never leaves half a wheel.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import posixpath
import secrets
import stat
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from installer.records import Hash, RecordEntry
from installer.sources import WheelFile as InstallerWheel
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, NormalizedName, parse_wheel_filename
from packaging.version import Version

from minimizer.errors import InputError

DEFAULT_MAX_UNPACKED = 4 * 1024**3  # a numpy wheel unpacks to 65 MB; 4 GB is no wheel
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Member:
    """A file inside a wheel."""

    path: str
    size: int
    compressed_size: int
    mode: int  # POSIX permission bits; 0o644 when the archive has none


@dataclass(frozen=True, slots=True)
class Wheel:
    """A wheel that was read and checked: its name, tags and members (directories excluded)."""

    path: Path
    name: NormalizedName
    version: Version
    tags: frozenset[Tag]
    dist_info: str
    members: tuple[Member, ...]
    _index: Mapping[str, Member] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Sizes are looked up per member on every candidate: index them once.
        object.__setattr__(self, "_index", {member.path: member for member in self.members})

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def installed_bytes(self) -> int:
        return sum(member.size for member in self.members)

    def member(self, path: str) -> Member:
        return self._index[path]

    def is_metadata(self, path: str) -> bool:
        return path.startswith(self.dist_info + "/")


def read_wheel(path: Path, *, max_unpacked: int = DEFAULT_MAX_UNPACKED) -> Wheel:
    """Open and check a wheel; every problem is an InputError naming it."""
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    try:
        name, version, _, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as error:
        raise InputError(f"{path.name} is not a wheel file name: {error}") from error
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            _check_members(path, infos, max_unpacked)
            dist_info = _check_metadata(path, archive)
            _check_record(path, archive)
    except InputError:
        raise
    # zipfile reports corrupt headers in several ways: an unknown version or compression
    # method (NotImplementedError), an undecodable name (UnicodeDecodeError), bad fields.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError) as error:
        raise InputError(f"{path.name} is not a valid zip archive: {error}") from error
    except OSError as error:
        raise InputError(f"cannot read {path}: {error}") from error
    members = tuple(Member(i.filename, i.file_size, i.compress_size, _mode(i)) for i in infos)
    return Wheel(path, name, version, frozenset(tags), dist_info, members)


def _mode(info: zipfile.ZipInfo) -> int:
    bits = stat.S_IMODE(info.external_attr >> 16)
    return bits or 0o644


def _check_members(path: Path, infos: list[zipfile.ZipInfo], max_unpacked: int) -> None:
    total = 0
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts or "\\" in name:
            raise InputError(f"{path.name}: member {name!r} would be written outside the target")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InputError(f"{path.name}: member {name!r} is a symbolic link")
        total += info.file_size
        if total > max_unpacked:
            raise InputError(f"{path.name} unpacks to more than {max_unpacked} bytes (a decompression bomb?)")


def _check_metadata(path: Path, archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    dist_infos = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
    if len(dist_infos) != 1:
        raise InputError(f"{path.name} is not a wheel: expected one .dist-info folder")
    dist_info = dist_infos.pop()
    for required in ("WHEEL", "METADATA", "RECORD"):
        if f"{dist_info}/{required}" not in names:
            raise InputError(f"{path.name} is not a wheel: {dist_info}/{required} is missing")
    return dist_info


def _check_record(path: Path, archive: zipfile.ZipFile) -> None:
    try:
        InstallerWheel(archive).validate_record(validate_contents=True)
    except Exception as error:
        issues = getattr(error, "issues", None) or [str(error)]
        raise InputError(f"{path.name}: RECORD does not match its contents: {issues[0]}") from error


def extract(wheel: Wheel, dest: Path, *, max_unpacked: int = DEFAULT_MAX_UNPACKED) -> None:
    """Unpack the checked members; sizes are enforced while reading, not only as declared."""
    budget = max_unpacked
    with zipfile.ZipFile(wheel.path) as archive:
        for member in wheel.members:
            target = dest.joinpath(*member.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member.path) as source, open(target, "wb") as sink:
                while chunk := source.read(_CHUNK):
                    budget -= len(chunk)
                    if budget < 0:
                        raise InputError(f"{wheel.path.name} unpacks to more than declared")
                    sink.write(chunk)
            os.chmod(target, member.mode)


def unpacked_size(path: Path) -> tuple[int, int]:
    """How many files a wheel holds, and their bytes unpacked."""
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
    return len(infos), sum(info.file_size for info in infos)


def file_sha256(path: Path) -> str:
    """Hex digest of a file, read in chunks (wheels can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def record_row(path: str, data: bytes) -> tuple[str, str, str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    row = RecordEntry(path, Hash("sha256", digest), len(data)).to_row()
    return (row[0], row[1], row[2])


def write_wheel(dest: Path, wheel: Wheel, contents: Mapping[str, bytes | Path], *, level: int = 9) -> Path:
    """Write ``contents`` (member path -> bytes or a file to copy) as a wheel named like ``wheel``.

    RECORD is regenerated; the original WHEEL and METADATA travel as given. The file appears at
    ``dest/<original name>`` only when complete.
    """
    dest.mkdir(parents=True, exist_ok=True)
    record_path = f"{wheel.dist_info}/RECORD"
    ordered = sorted(p for p in contents if p != record_path)
    # Convention (and what pip reads first): package files, then dist-info, RECORD last.
    ordered.sort(key=lambda p: p.startswith(wheel.dist_info + "/"))
    modes = {member.path: member.mode for member in wheel.members}
    final = dest / wheel.path.name
    with (
        atomic_file(final) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as out,
    ):
        rows = []
        for path in ordered:
            data = _bytes(contents[path])
            out.writestr(_zipinfo(path, modes.get(path, 0o644)), data)
            rows.append(record_row(path, data))
        rows.append((record_path, "", ""))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        out.writestr(_zipinfo(record_path, 0o644), buffer.getvalue())
    return final


def _bytes(source: bytes | Path) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def _zipinfo(path: str, mode: int) -> zipfile.ZipInfo:
    # A fixed timestamp makes the output reproducible: the same reduction gives the same bytes.
    info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


@contextmanager
def atomic_file(final: Path) -> Iterator[io.BufferedWriter]:
    """A temporary file beside ``final`` that replaces it on success and vanishes otherwise.

    It gets the permissions of any file the user writes (0666 less the umask, like pip and wheel
    give), not a temporary file's private 0600.
    """
    if final.is_dir():
        raise InputError(f"cannot write {final}: a folder is in the way")
    fd, tmp = _create_beside(final)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_beside(final: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.part")
        try:
            return os.open(tmp, flags, 0o666), tmp  # the kernel applies the umask, race-free
        except FileExistsError:
            continue


def tree_path(path: str) -> str | None:
    """Where a member lands in site-packages; None for data that is not importable."""
    head, _, rest = path.partition("/")
    if head.endswith(".data"):
        scheme, _, inner = rest.partition("/")
        return inner if scheme in ("purelib", "platlib") and inner else None
    return path


def is_license(path: str) -> bool:
    """License files must travel with binary redistributions: no pass may remove them."""
    name = posixpath.basename(path).upper()
    return name.startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS"))
