"""Tests for minimizer.wheelfile (read, extract, write, refusals) and workspace.prune_entry_points."""

from __future__ import annotations

import configparser
import contextlib
import csv
import io
import os
import re
import stat
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from minimizer.errors import InputError
from minimizer.wheelfile import Wheel, extract, read_wheel, record_row, write_wheel
from minimizer.workspace import prune_entry_points

WHEEL_NAME = "demo-1.0-py3-none-any.whl"
DIST_INFO = "demo-1.0.dist-info"
RECORD = f"{DIST_INFO}/RECORD"
ENTRY_POINTS = "[console_scripts]\ndemo = demo.cli:main\n"

PACKAGE: dict[str, bytes] = {
    "demo/__init__.py": b"VALUE = 1\n" * 20,
    "demo/cli.py": b"def main() -> None:\n    print('demo')\n",
    "demo/data/table.bin": bytes(range(256)) * 4,
    "demo-1.0.data/scripts/demo-run": b"#!python\nprint('run')\n",
}
METADATA: dict[str, bytes] = {
    f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    f"{DIST_INFO}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    f"{DIST_INFO}/entry_points.txt": ENTRY_POINTS.encode(),
}
MODES = {"demo-1.0.data/scripts/demo-run": 0o755}
SYMLINK = 0o120777 << 16
TAGS = frozenset({Tag("py3", "none", "any")})


# Building wheels -------------------------------------------------------------------------------


def record_bytes(files: Mapping[str, bytes]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(record_row(path, data) for path, data in files.items())
    writer.writerow((RECORD, "", ""))
    return buffer.getvalue().encode()


def wheel_bytes(
    files: Mapping[str, bytes] | None = None,
    *,
    record_of: Mapping[str, bytes] | None = None,
    with_record: bool = True,
    attrs: Mapping[str, int] | None = None,
) -> bytes:
    """A wheel as bytes: ``files`` plus a RECORD of ``record_of`` (``files`` unless given)."""
    files = {**PACKAGE, **METADATA} if files is None else dict(files)
    if with_record:
        files[RECORD] = record_bytes(files if record_of is None else record_of)
    attrs = attrs or {}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = attrs.get(path, (stat.S_IFREG | MODES.get(path, 0o644)) << 16)
            archive.writestr(info, data)
    return out.getvalue()


VALID = wheel_bytes()


def save(folder: Path, data: bytes, name: str = WHEEL_NAME) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}


def modes_of(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}


def round_trip(source: Path, work: Path) -> tuple[Wheel, Path]:
    wheel = read_wheel(source)
    tree = work / "tree"
    extract(wheel, tree)
    contents: dict[str, bytes | Path] = {m.path: tree.joinpath(*m.path.split("/")) for m in wheel.members}
    return wheel, write_wheel(work / "out", wheel, contents)


def patch_central_directory(data: bytes, patch: Callable[[bytearray, int], None]) -> bytes:
    """Apply ``patch`` to the first central-directory header (the offset of its signature given)."""
    blob = bytearray(data)
    patch(blob, blob.index(b"PK\x01\x02"))
    return bytes(blob)


def future_zip_version(blob: bytearray, header: int) -> None:
    blob[header + 6 : header + 8] = struct.pack("<H", 84)  # "version needed to extract": 8.4


def bad_utf8_name(blob: bytearray, header: int) -> None:
    (flags,) = struct.unpack("<H", blob[header + 8 : header + 10])
    blob[header + 8 : header + 10] = struct.pack("<H", flags | 0x800)  # the name is UTF-8 ...
    blob[header + 46] = 0xFF  # ... but is not


def flips_between(before: bytes, after: bytes) -> list[tuple[int, int]]:
    """The (offset, xor mask) pairs that turn ``before`` into ``after`` (same length)."""
    return [(offset, x ^ y) for offset, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]


# Reading and the round-trip law ----------------------------------------------------------------


def test_read_wheel_reports_name_tags_and_members(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    assert (wheel.name, str(wheel.version), wheel.dist_info) == ("demo", "1.0", DIST_INFO)
    assert wheel.tags == TAGS
    assert {m.path for m in wheel.members} == {*PACKAGE, *METADATA, RECORD}
    assert wheel.member("demo/data/table.bin").size == 1024
    assert wheel.member("demo-1.0.data/scripts/demo-run").mode == 0o755
    assert wheel.installed_bytes == sum(len(data) for data in members_of(wheel.path).values())
    assert wheel.is_metadata(RECORD) and not wheel.is_metadata("demo/cli.py")


def test_directory_entries_are_not_members(tmp_path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(VALID)) as source, zipfile.ZipFile(out, "w") as target:
        target.writestr(zipfile.ZipInfo("demo/"), b"")
        for info in source.infolist():
            target.writestr(info, source.read(info))
    wheel = read_wheel(save(tmp_path, out.getvalue()))
    assert all(not m.path.endswith("/") for m in wheel.members)
    assert len(wheel.members) == len(PACKAGE) + len(METADATA) + 1


def test_round_trip_keeps_members_bytes_modes_and_name(tmp_path: Path) -> None:
    original, written = round_trip(save(tmp_path, VALID), tmp_path)
    again = read_wheel(written)  # read_wheel checks every RECORD hash and size
    assert written.name == WHEEL_NAME
    assert (again.name, again.version, again.tags) == (original.name, original.version, original.tags)
    before, after = members_of(original.path), members_of(written)
    assert after.keys() == before.keys()
    assert {p: d for p, d in after.items() if p != RECORD} == {p: d for p, d in before.items() if p != RECORD}
    assert modes_of(written) == modes_of(original.path)


def test_write_wheel_regenerates_a_stale_record(tmp_path: Path) -> None:
    stale = {**PACKAGE, **METADATA, "demo/gone.py": b"gone\n"}  # RECORD lists a file that is not there
    contents: dict[str, bytes | Path] = dict(members_of(save(tmp_path, wheel_bytes(record_of=stale))))
    wheel = Wheel(tmp_path / WHEEL_NAME, canonicalize_name("demo"), Version("1.0"), TAGS, DIST_INFO, ())
    written = write_wheel(tmp_path / "out", wheel, contents)
    rows = list(csv.reader(io.StringIO(members_of(written)[RECORD].decode())))
    assert rows[-1] == [RECORD, "", ""]
    expected = [list(record_row(path, data)) for path, data in members_of(written).items() if path != RECORD]
    assert sorted(rows[:-1]) == sorted(expected)
    assert read_wheel(written).dist_info == DIST_INFO


def test_write_wheel_is_reproducible(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    contents: dict[str, bytes | Path] = dict(members_of(wheel.path))
    first = write_wheel(tmp_path / "a", wheel, contents).read_bytes()
    second = write_wheel(tmp_path / "b", wheel, contents).read_bytes()
    assert first == second


def test_write_wheel_puts_package_files_first_and_record_last(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    written = write_wheel(tmp_path / "out", wheel, dict(members_of(wheel.path)))
    names = list(members_of(written))
    assert names[-1] == RECORD
    first_metadata = next(i for i, name in enumerate(names) if name.startswith(DIST_INFO + "/"))
    assert all(name.startswith(DIST_INFO + "/") for name in names[first_metadata:])


def test_write_wheel_with_fewer_members_is_a_valid_wheel(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    contents: dict[str, bytes | Path] = {
        p: d for p, d in members_of(wheel.path).items() if p != "demo/cli.py"
    }
    written = read_wheel(write_wheel(tmp_path / "out", wheel, contents))
    assert "demo/cli.py" not in {m.path for m in written.members}


def test_round_tripped_wheel_installs_with_pip(tmp_path: Path) -> None:
    _, written = round_trip(save(tmp_path, VALID), tmp_path)
    target = tmp_path / "site"
    argv = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check"]
    done = subprocess.run([*argv, "--target", str(target), str(written)], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    for path, data in PACKAGE.items():
        if not path.startswith("demo-1.0.data/"):
            assert target.joinpath(*path.split("/")).read_bytes() == data
    assert (target / DIST_INFO / "METADATA").is_file()


# Atomic writing --------------------------------------------------------------------------------


def test_write_wheel_leaves_nothing_when_contents_fail(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    dest = tmp_path / "out"
    contents: dict[str, bytes | Path] = {
        "demo/__init__.py": b"x = 1\n",
        "demo/zz.py": tmp_path / "missing.py",
    }
    with pytest.raises(FileNotFoundError):
        write_wheel(dest, wheel, contents)
    assert os.listdir(dest) == []


def test_failed_write_keeps_the_previous_wheel(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    dest = tmp_path / "out"
    previous = write_wheel(dest, wheel, dict(members_of(wheel.path))).read_bytes()
    with pytest.raises(FileNotFoundError):
        write_wheel(dest, wheel, {"demo/a.py": b"", "demo/b.py": tmp_path / "missing.py"})
    assert os.listdir(dest) == [WHEEL_NAME]
    assert (dest / WHEEL_NAME).read_bytes() == previous


def test_write_wheel_refuses_a_folder_in_the_way(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    (tmp_path / "out" / WHEEL_NAME).mkdir(parents=True)
    with pytest.raises(InputError, match="folder is in the way"):
        write_wheel(tmp_path / "out", wheel, {"demo/a.py": b""})


def test_extract_enforces_the_budget_on_real_bytes(tmp_path: Path) -> None:
    wheel = read_wheel(save(tmp_path, VALID))
    with pytest.raises(InputError, match="unpacks to more than"):
        extract(wheel, tmp_path / "tree", max_unpacked=100)


# Refusals --------------------------------------------------------------------------------------


def _without(*paths: str) -> bytes:
    return wheel_bytes({p: d for p, d in {**PACKAGE, **METADATA}.items() if p not in paths})


def _with_member(path: str, data: bytes = b"x\n", attr: int | None = None) -> bytes:
    files = {**PACKAGE, **METADATA, path: data}
    return wheel_bytes(files, attrs={path: attr} if attr is not None else None)


REFUSALS: dict[str, tuple[str, bytes, str]] = {
    "not-a-zip": (WHEEL_NAME, bytes(range(256)) * 3, "not a valid zip archive"),
    "empty-file": (WHEEL_NAME, b"", "not a valid zip archive"),
    "bad-file-name": ("demo.whl", VALID, "not a wheel file name"),
    "not-whl-suffix": ("demo-1.0-py3-none-any.zip", VALID, "not a wheel file name"),
    "no-dist-info": (WHEEL_NAME, wheel_bytes(PACKAGE, with_record=False), "expected one .dist-info folder"),
    "two-dist-infos": (WHEEL_NAME, _with_member("other-2.0.dist-info/WHEEL"), "expected one .dist-info"),
    "no-WHEEL": (WHEEL_NAME, _without(f"{DIST_INFO}/WHEEL"), f"{DIST_INFO}/WHEEL is missing"),
    "no-METADATA": (WHEEL_NAME, _without(f"{DIST_INFO}/METADATA"), f"{DIST_INFO}/METADATA is missing"),
    "no-RECORD": (WHEEL_NAME, wheel_bytes(with_record=False), f"{RECORD} is missing"),
    "hash-mismatch": (
        WHEEL_NAME,
        wheel_bytes({**PACKAGE, **METADATA, "demo/cli.py": b"tampered\n"}, record_of={**PACKAGE, **METADATA}),
        "RECORD does not match",
    ),
    "unrecorded-member": (
        WHEEL_NAME,
        wheel_bytes({**PACKAGE, **METADATA, "demo/extra.py": b""}, record_of={**PACKAGE, **METADATA}),
        "RECORD does not match",
    ),
    "parent-traversal": (WHEEL_NAME, _with_member("../evil.py"), "outside the target"),
    "inner-traversal": (WHEEL_NAME, _with_member("demo/../../evil.py"), "outside the target"),
    "absolute-path": (WHEEL_NAME, _with_member("/tmp/evil.py"), "outside the target"),
    "backslash": (WHEEL_NAME, _with_member("demo\\..\\..\\evil.py"), "outside the target"),
    "drive-letter": (WHEEL_NAME, _with_member("C:/evil.py"), "outside the target"),
    "symlink": (WHEEL_NAME, _with_member("demo/link", b"/etc/passwd", SYMLINK), "symbolic link"),
}


@pytest.mark.parametrize(("name", "data", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_read_wheel_refuses(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        read_wheel(save(tmp_path, data, name))


def test_read_wheel_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_wheel(tmp_path / WHEEL_NAME)


def test_read_wheel_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / WHEEL_NAME).mkdir()
    with pytest.raises(InputError, match="is not a file"):
        read_wheel(tmp_path / WHEEL_NAME)


def test_read_wheel_refuses_a_decompression_bomb(tmp_path: Path) -> None:
    path = save(tmp_path, VALID)
    total = sum(len(data) for data in members_of(path).values())
    assert read_wheel(path, max_unpacked=total).members
    with pytest.raises(InputError, match="decompression bomb"):
        read_wheel(path, max_unpacked=total - 1)


def test_read_wheel_refuses_an_unsupported_zip_version(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_wheel(save(tmp_path, patch_central_directory(VALID, future_zip_version)))


def test_read_wheel_refuses_a_member_name_that_is_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_wheel(save(tmp_path, patch_central_directory(VALID, bad_utf8_name)))


# Fuzzing ---------------------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def read_or_refuse(folder: Path, data: bytes) -> None:
    """Read ``data`` as a wheel: success and InputError are fine, any other exception is a bug."""
    path = save(folder, data)
    with contextlib.suppress(InputError):
        read_wheel(path, max_unpacked=1 << 20)


@FUZZ_SETTINGS
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_give_input_error(tmp_path: Path, data: bytes) -> None:
    path = save(tmp_path, data)
    with pytest.raises(InputError):
        read_wheel(path)


@FUZZ_SETTINGS
@given(
    cut=st.integers(0, len(VALID)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), max_size=8),
)
@example(cut=len(VALID), flips=flips_between(VALID, patch_central_directory(VALID, future_zip_version)))
def test_corrupted_wheels_raise_only_input_error(
    tmp_path: Path, cut: int, flips: list[tuple[int, int]]
) -> None:
    blob = bytearray(VALID)
    for offset, mask in flips:
        blob[offset] ^= mask
    read_or_refuse(tmp_path, bytes(blob[:cut]))


@FUZZ_SETTINGS
@given(cut=st.integers(0, len(VALID) - 1))
def test_truncated_wheels_are_refused(tmp_path: Path, cut: int) -> None:
    with pytest.raises(InputError):
        read_wheel(save(tmp_path, VALID[:cut]))


# Entry points ----------------------------------------------------------------------------------

TREE = {
    "demo/__init__.py",
    "demo/cli.py",
    "demo/sub/__init__.py",
    "demo/_fast.cpython-311-x86_64-linux-gnu.so",
}


def sections(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read_string(text)
    return {name: dict(parser.items(name)) for name in parser.sections()}


def test_prune_drops_scripts_whose_module_is_gone() -> None:
    text = (
        "[console_scripts]\nkeep = demo.cli:main\ngone = demo.missing:main\n"
        "sub = demo.sub:run\nfast = demo._fast:main [speed]\n\n"
        "[gui_scripts]\nwindow = demo.gui:run\n\n"
        "[demo.plugins]\nother = demo.absent:Plugin\n"
    )
    pruned = sections(prune_entry_points(text, {*TREE, None}))
    assert pruned == {
        "console_scripts": {
            "keep": "demo.cli:main",
            "sub": "demo.sub:run",
            "fast": "demo._fast:main [speed]",
        },
        "demo.plugins": {"other": "demo.absent:Plugin"},
    }


def test_prune_removes_a_section_left_empty() -> None:
    text = "[console_scripts]\ngone = demo.missing:main\n\n[gui_scripts]\nkeep = demo.cli:main\n"
    pruned = prune_entry_points(text, set(TREE))
    assert sections(pruned) == {"gui_scripts": {"keep": "demo.cli:main"}}
    assert "console_scripts" not in pruned


def test_prune_keeps_unchanged_text_byte_identical() -> None:
    text = "# generated\n[console_scripts]\nkeep=demo.cli:main\nCaps =  demo:main\n\n\n[x]\ny = z\n"
    assert prune_entry_points(text, set(TREE)) == text


def test_prune_is_case_sensitive_about_script_names() -> None:
    text = "[console_scripts]\nDemo = demo.cli:main\ngone = nope:main\n"
    assert sections(prune_entry_points(text, set(TREE))) == {"console_scripts": {"Demo": "demo.cli:main"}}


def test_prune_takes_entry_points_that_repeat_a_name() -> None:
    """pip installs such a file (importlib.metadata reads it line by line); configparser would refuse it."""
    text = "[console_scripts]\nDemo = demo.cli:main\nDemo = demo.missing:main\n\n[x]\ny = z\ny = w\n"
    expected = "[console_scripts]\nDemo = demo.cli:main\n\n[x]\ny = z\ny = w\n"
    assert prune_entry_points(text, set(TREE)) == expected
