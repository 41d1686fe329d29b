"""The target interpreter: one probe, its tags (as its own ``sys_tags()`` has them), pip options."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import packaging
import pytest
from packaging.markers import Marker
from packaging.tags import Tag, sys_tags

from minimizer.errors import InputError
from minimizer.options import job_header
from minimizer.wheelfile import read_wheel
from oracles import runtime, wheeltags
from oracles._target_probe import facts as host_facts
from oracles.target import Target, from_facts, probe, split_command
from tests.targets import arm64_python, pyenv_python

SYS_TAGS = (
    "import sys; sys.path.insert(0, sys.argv[1]); from packaging.tags import sys_tags; print(*sys_tags())"
)


def _own_sys_tags(target: Target, tmp_path: Path) -> list[str]:
    """What ``packaging.tags.sys_tags()`` says inside the target, with the host's packaging copied there."""
    copy = tmp_path / "packaging-copy"
    shutil.copytree(Path(packaging.__file__).parent, copy / "packaging")
    done = subprocess.run(
        target.argv("-I", "-S", "-c", SYS_TAGS, copy), capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.split()


def test_the_default_is_this_interpreter_and_its_tags_are_sys_tags() -> None:
    target = probe()
    assert target.launcher == () and target.executable == sys.executable
    assert list(target.tags) == list(sys_tags())
    assert target.shares_host_bytecode and not target.emulated
    assert target.argv("-c", "pass") == [sys.executable, "-c", "pass"]


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_other_cpythons_get_their_own_tags(version: str, tmp_path: Path) -> None:
    target = probe(str(pyenv_python(version)))
    assert [str(t) for t in target.tags] == _own_sys_tags(target, tmp_path)
    assert target.version[:2] == tuple(int(v) for v in version.split("."))
    assert not target.shares_host_bytecode and target.cache_tag == f"cpython-{version.replace('.', '')}"
    assert target.key != probe().key


def test_an_emulated_aarch64_python(tmp_path: Path) -> None:
    target = probe(arm64_python())
    assert [str(t) for t in target.tags] == _own_sys_tags(target, tmp_path)
    assert (target.machine, target.system, target.emulated) == ("aarch64", "Linux", True)
    assert Path(target.launcher[0]).name == "qemu-aarch64"
    assert "under qemu-aarch64" in target.describe() and "aarch64" in target.key
    assert target.pip_wheel.endswith(".whl")
    # tflite-runtime 2.14.0 ships manylinux_2_34 for aarch64: pip must be allowed to pick it.
    assert Tag("cp311", "cp311", "manylinux_2_34_aarch64") in target.tags
    assert "manylinux_2_34_aarch64" in target.pip_options
    assert target.wants(Marker('platform_machine == "aarch64"'))
    assert not probe().wants(Marker('platform_machine == "aarch64"'))


def test_split_command() -> None:
    assert split_command(None) == ((), sys.executable)
    launcher, python = split_command(f"env -i {sys.executable}")
    assert launcher == ("env", "-i") and python == sys.executable
    assert split_command(["env", sys.executable]) == (("env",), sys.executable)


@pytest.mark.parametrize("command", ["", "no-such-emulator /usr/bin/python3", "/no/such/python"])
def test_unusable_commands_are_input_errors(command: str) -> None:
    with pytest.raises(InputError):
        probe(command)


def test_an_interpreter_that_fails_the_probe_is_an_input_error(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'not a python' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(InputError, match="not a python"):
        probe(str(fake))


# The tag logic alone, on facts no machine here has.


def _facts(**changes: Any) -> dict[str, Any]:
    base = host_facts()
    base.update(
        implementation="cpython",
        version=[3, 11, 2],
        version_nodot="311",
        debug=False,
        free_threaded=False,
        system="Linux",
        machine="aarch64",
        sysconfig_platform="linux-aarch64",
        pointer_bits=64,
        glibc="2.36",
    )
    base.update(changes)
    return base


def _platforms(**changes: Any) -> list[str]:
    return wheeltags.platforms(_facts(**changes))


def test_manylinux_platforms_follow_glibc_and_architecture() -> None:
    arm = _platforms()
    assert arm[0] == "linux_aarch64" and arm[1] == "manylinux_2_36_aarch64"
    assert "manylinux2014_aarch64" in arm and "manylinux_2_17_aarch64" in arm
    assert "manylinux_2_16_aarch64" not in arm and "manylinux1_aarch64" not in arm
    old = _platforms(machine="x86_64", sysconfig_platform="linux-x86_64", glibc="2.17")
    assert "manylinux_2_18_x86_64" not in old
    assert {
        "manylinux2014_x86_64",
        "manylinux2010_x86_64",
        "manylinux1_x86_64",
        "manylinux_2_5_x86_64",
    } <= set(old)
    assert "manylinux_2_4_x86_64" not in old


def test_without_glibc_only_the_plain_linux_platform() -> None:
    assert _platforms(glibc="") == ["linux_aarch64"]


def test_a_32_bit_interpreter_on_a_64_bit_arm_kernel() -> None:
    plats = _platforms(pointer_bits=32)
    assert plats[:2] == ["linux_armv8l", "linux_armv7l"]
    assert "manylinux_2_17_armv7l" in plats and not any("aarch64" in p for p in plats)


def test_abis_of_debug_and_free_threaded_builds() -> None:
    assert wheeltags.abis(_facts(debug=True)) == ["cp311d", "cp311"]
    assert wheeltags.abis(_facts(version=[3, 13, 0], version_nodot="313", free_threaded=True)) == ["cp313t"]
    pypy = _facts(implementation="pypy", version_nodot="310", ext_suffix=".pypy310-pp73-aarch64-linux-gnu.so")
    assert wheeltags.abis(pypy) == ["pypy310_pp73"]
    assert Tag("pp3", "none", "any") in wheeltags.supported(pypy)


def test_other_systems() -> None:
    mac = wheeltags.platforms(_facts(system="Darwin", machine="arm64", mac_version="14.2"))
    assert "macosx_14_0_arm64" in mac and "macosx_11_0_universal2" in mac
    assert wheeltags.platforms(_facts(system="Windows", machine="AMD64", sysconfig_platform="win-amd64")) == [
        "win_amd64"
    ]


def test_pip_options_name_every_platform_and_abi() -> None:
    options = wheeltags.pip_options(_facts())
    assert options[:5] == ["--only-binary=:all:", "--implementation", "cp", "--python-version", "3.11"]
    assert options.count("--platform") == len(_platforms())
    assert "cp311" in options


# What is cached is cached per target.


def test_a_cached_wheel_serves_only_targets_it_fits(tmp_path: Path) -> None:
    for name in (
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl",
        "numpy-1.26.4-cp311-cp311-win_amd64.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    arm = from_facts(_facts(), ("qemu-aarch64",), "/sysroot/usr/bin/python3.11")
    windows = from_facts(
        _facts(system="Windows", machine="AMD64", sysconfig_platform="win-amd64"), (), "python"
    )
    assert runtime.cached_download("numpy==1.26.4", tmp_path, arm).name.endswith("aarch64.whl")
    assert runtime.cached_download("numpy==1.26.4", tmp_path, windows).name.endswith("win_amd64.whl")


def test_runtime_trees_are_kept_apart_by_target(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    wheel = wheel_factory({"tflite_runtime/__init__.py": ""}, name="tflite_runtime", version="2.14.0")
    host = probe()
    other = from_facts(_facts(version=[3, 12, 1], version_nodot="312"), (), "python3.12")
    trees = {runtime.install(wheel, tmp_path, t).tree for t in (host, other)}
    assert len(trees) == 2 and all((tree / "tflite_runtime" / "__init__.py").is_file() for tree in trees)


def test_a_journal_of_one_target_never_resumes_another(wheel_factory: Callable[..., Path]) -> None:
    wheel = read_wheel(wheel_factory({"toypkg/__init__.py": ""}))
    other = from_facts(_facts(), ("qemu-aarch64",), "/sysroot/usr/bin/python3.11")
    headers = [job_header([wheel], [], ["true"], [], [], None, None, t) for t in (probe(), other)]
    assert headers[0] != headers[1]
