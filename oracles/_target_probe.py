"""Runs inside the target interpreter once: print, as JSON, the facts wheel-ddmin needs about it.

Started as ``python -I -S _target_probe.py`` (behind an emulator, maybe), so it uses the standard
library only and works on every Python wheel-ddmin supports as a target. The host turns these facts
into wheel tags, pip options and cache keys (``oracles.target``); nothing here decides anything.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import platform
import sys
import sysconfig
from typing import Any


def _glibc() -> str:
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        return ""
    name, _, version = (found or "").partition(" ")
    return version if name == "glibc" else ""


def _markers() -> dict[str, str]:
    """PEP 508's environment markers, as ``packaging.markers.default_environment()`` has them."""
    info = sys.implementation.version
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _pip_wheel() -> str:
    """The pip wheel ensurepip would install, found without running ensurepip (it spawns processes)."""
    folders = [str(sysconfig.get_config_var("WHEEL_PKG_DIR") or "")]
    spec = importlib.util.find_spec("ensurepip")
    if spec is not None and spec.origin:
        folders.append(os.path.join(os.path.dirname(spec.origin), "_bundled"))
    for folder in filter(None, folders):
        wheels = glob.glob(os.path.join(folder, "pip-*.whl"))
        if wheels:
            return max(wheels, key=_version_key)
    return ""


def _version_key(path: str) -> tuple[int, ...]:
    version = os.path.basename(path).split("-")[1]
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def facts() -> dict[str, Any]:
    """Everything the host needs; all of it plain JSON."""
    return {
        "implementation": sys.implementation.name,
        "version": list(sys.version_info[:3]),
        "version_nodot": str(sysconfig.get_config_var("py_version_nodot") or ""),
        "ext_suffix": str(sysconfig.get_config_var("EXT_SUFFIX") or ""),
        "debug": bool(sysconfig.get_config_var("Py_DEBUG")) or hasattr(sys, "gettotalrefcount"),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "system": platform.system(),
        "machine": platform.machine(),
        "sysconfig_platform": sysconfig.get_platform(),
        "pointer_bits": 64 if sys.maxsize > 2**32 else 32,
        "glibc": _glibc(),
        "mac_version": platform.mac_ver()[0],
        "byteorder": sys.byteorder,
        "cache_tag": sys.implementation.cache_tag or "",
        "magic": importlib.util.MAGIC_NUMBER.hex(),
        "executable": sys.executable,
        "markers": _markers(),
        "pip_wheel": _pip_wheel(),
    }


if __name__ == "__main__":
    json.dump(facts(), sys.stdout)
