"""The wheel tags an interpreter accepts, computed on the host from the facts its probe reported.

``packaging.tags.sys_tags()`` answers only for the interpreter running it. For another one (an
emulated aarch64 CPython, another version) the same public building blocks of ``packaging.tags``
(``cpython_tags``, ``generic_tags``, ``compatible_tags``, ``mac_platforms``) are fed the target's
version, ABI and platforms. The one piece ``packaging`` keeps private, the manylinux platforms of a
glibc version (PEP 600), is written out here. Not covered: musllinux (the probe reports no musl
version, so a musl target accepts only ``linux_<arch>`` and pure wheels).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags, generic_tags, mac_platforms

SHORT_NAMES = {"cpython": "cp", "pypy": "pp", "ironpython": "ip", "jython": "jy"}
# PEP 513/571/599 names for glibc 2.5, 2.12 and 2.17.
_LEGACY = {5: "manylinux1", 12: "manylinux2010", 17: "manylinux2014"}
# Architectures manylinux is defined for (PEP 599), and the oldest glibc each can claim.
_MANYLINUX_ARCHES = {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "riscv64"}
_MANYLINUX_ARCHES |= {"loongarch64", "armv8l"}
_OLDEST_MINOR = {"x86_64": 5, "i686": 5}
_DEFAULT_OLDEST_MINOR = 17


def interpreter(facts: Mapping[str, Any]) -> str:
    """``cp311``, ``pp310``: the interpreter part of the most specific tag."""
    short = SHORT_NAMES.get(facts["implementation"], facts["implementation"])
    nodot = facts["version_nodot"] or "".join(map(str, facts["version"][:2]))
    return f"{short}{nodot}"


def abis(facts: Mapping[str, Any]) -> list[str]:
    """The ABI tags of extension modules the interpreter loads, most specific first."""
    if facts["implementation"] == "cpython":
        base = "cp" + "".join(map(str, facts["version"][:2])) + ("t" if facts["free_threaded"] else "")
        # A debug build also loads release-built extension modules.
        return [base + "d", base] if facts["debug"] else [base]
    return _generic_abi(facts["ext_suffix"])


def _generic_abi(ext_suffix: str) -> list[str]:
    """From ``.pypy310-pp73-x86_64-linux-gnu.so``: ``pypy310_pp73``."""
    parts = ext_suffix.split(".")
    if len(parts) < 3 or not parts[1]:
        return []
    soabi = parts[1]
    kept = 3 if soabi.startswith("graalpy") else 2 if soabi.startswith("pypy") else None
    words = soabi.split("-")[:kept]
    return ["_".join(words).replace(".", "_").lower()]


def platforms(facts: Mapping[str, Any]) -> list[str]:
    """Platform tags, most specific first."""
    normalized = facts["sysconfig_platform"].replace("-", "_").replace(".", "_").replace(" ", "_")
    if facts["system"] == "Darwin" and facts["mac_version"]:
        major, minor = (int(p) for p in [*facts["mac_version"].split("."), "0"][:2])
        return list(mac_platforms((major, minor), facts["machine"]))
    if not normalized.startswith("linux_"):
        return [normalized]
    return list(linux_platforms(normalized.removeprefix("linux_"), facts))


def linux_platforms(arch: str, facts: Mapping[str, Any]) -> Iterator[str]:
    """``linux_<arch>``, then ``manylinux_2_<minor>_<arch>`` for the target's glibc downwards."""
    if facts["pointer_bits"] == 32:  # a 32-bit interpreter on a 64-bit kernel
        arch = {"x86_64": "i686", "aarch64": "armv8l"}.get(arch, arch)
    arches = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    for each in arches:
        yield f"linux_{each}"
    glibc = _glibc_minor(facts["glibc"])
    for each in arches:
        if glibc is not None and each in _MANYLINUX_ARCHES:
            yield from _manylinux(each, glibc)


def _glibc_minor(version: str) -> int | None:
    """The minor of a glibc 2.x version string; None without glibc."""
    major, _, minor = version.partition(".")
    digits = "".join(c for c in minor if c.isdigit())
    return int(digits) if major == "2" and digits else None


def _manylinux(arch: str, glibc_minor: int) -> Iterator[str]:
    for minor in range(glibc_minor, _OLDEST_MINOR.get(arch, _DEFAULT_OLDEST_MINOR) - 1, -1):
        yield f"manylinux_2_{minor}_{arch}"
        if minor in _LEGACY:
            yield f"{_LEGACY[minor]}_{arch}"


def supported(facts: Mapping[str, Any]) -> tuple[Tag, ...]:
    """Every tag the interpreter accepts, most preferred first, like ``sys_tags()`` run there."""
    version = tuple(facts["version"][:2])
    plats = platforms(facts)
    name = interpreter(facts)
    if facts["implementation"] == "cpython":
        tags: list[Tag] = list(cpython_tags(version, abis(facts), plats))
        tags += compatible_tags(version, name, plats)
    else:
        tags = list(generic_tags(name, abis(facts), plats))
        short = "pp3" if facts["implementation"] == "pypy" else None
        tags += compatible_tags(version, short, plats)
    return tuple(dict.fromkeys(tags))


def pip_options(facts: Mapping[str, Any]) -> list[str]:
    """Options that make a host ``pip download``/``pip install --target`` pick the target's wheels."""
    short = SHORT_NAMES.get(facts["implementation"], facts["implementation"])
    options = ["--only-binary=:all:", "--implementation", short]
    options += ["--python-version", ".".join(map(str, facts["version"][:2]))]
    for abi in abis(facts):
        options += ["--abi", abi]
    for plat in platforms(facts):
        options += ["--platform", plat]
    return options
