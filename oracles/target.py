"""The interpreter wheel-ddmin minimizes for: a command line, probed once into a frozen value.

``--python 'qemu-aarch64 -L /srv/arm64 /srv/arm64/usr/bin/python3.11'``: the last word is the
interpreter, the words before it (an emulator and its arguments) are the launcher that runs it.
One subprocess runs ``_target_probe.py`` there; what it reports (version, implementation,
machine, glibc, ABI, bytecode tag, environment markers, its bundled pip) becomes a ``Target`` that
the rest of wheel-ddmin passes around: tag checks of input wheels, downloads, the runtime's tree,
every oracle run, every ``--check`` and the final pip install all ask it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.tags import Tag

from minimizer.errors import InputError, OracleError
from oracles import harness, wheeltags

PROBE = Path(__file__).with_name("_target_probe.py")
COMPILER = Path(__file__).with_name("_compile.py")
PROBE_TIMEOUT = 120.0
COMPILE_TIMEOUT = 1800.0


@dataclass(frozen=True, slots=True)
class Target:
    """What an interpreter is, as far as wheels, pip and bytecode care; hashable and cheap to pass."""

    launcher: tuple[str, ...]  # an emulator and its arguments; empty for a native interpreter
    executable: str
    implementation: str  # sys.implementation.name
    version: tuple[int, int, int]
    machine: str  # platform.machine() as the target sees it: aarch64, x86_64
    system: str  # platform.system(): Linux, Darwin, Windows
    glibc: str  # "2.36", or "" without glibc
    cache_tag: str  # cpython-311: the name of its __pycache__ files
    magic: str  # importlib.util.MAGIC_NUMBER, hex: its bytecode format
    byteorder: str
    pip_wheel: str  # the pip wheel its ensurepip would install (a path the target sees), or ""
    tags: tuple[Tag, ...]  # every wheel tag it accepts, most preferred first
    pip_options: tuple[str, ...]  # host pip options that select the wheels it accepts
    markers: tuple[tuple[str, str], ...]  # PEP 508 environment

    def argv(self, *args: str | Path, executable: str | Path | None = None) -> list[str]:
        """The command line running ``args`` on the target (or on another of its executables)."""
        return [*self.launcher, str(executable or self.executable), *map(str, args)]

    @property
    def emulated(self) -> bool:
        return bool(self.launcher)

    @property
    def is_host(self) -> bool:
        """Whether this is the interpreter running wheel-ddmin (the host's pip can build for it)."""
        return not self.launcher and os.path.realpath(self.executable) == os.path.realpath(sys.executable)

    def accepts(self, tags: frozenset[Tag]) -> bool:
        return not tags.isdisjoint(self.tags)

    def wants(self, requirement_marker: Marker | None) -> bool:
        """Whether a dependency with this marker applies to the target (no extras asked for)."""
        return requirement_marker is None or requirement_marker.evaluate({**dict(self.markers), "extra": ""})

    @property
    def key(self) -> str:
        """Names what may be cached for this target: one key per tag set and marker environment."""
        identity = json.dumps([[str(t) for t in self.tags], sorted(self.markers)])
        digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
        short = wheeltags.SHORT_NAMES.get(self.implementation, self.implementation)
        return f"{short}{self.version[0]}{self.version[1]}-{self.machine}-{digest}"

    def describe(self) -> str:
        """``CPython 3.11.2 on aarch64 Linux (glibc 2.36), under qemu-aarch64``."""
        name = {"cpython": "CPython", "pypy": "PyPy"}.get(self.implementation, self.implementation)
        text = f"{name} {'.'.join(map(str, self.version))} on {self.machine} {self.system}"
        text += f" (glibc {self.glibc})" if self.glibc else ""
        return text + (f", under {Path(self.launcher[0]).name}" if self.launcher else "")

    @property
    def shares_host_bytecode(self) -> bool:
        """Whether bytecode compiled by the host interpreter is what the target would write itself."""
        return (
            self.magic == importlib.util.MAGIC_NUMBER.hex() and self.cache_tag == sys.implementation.cache_tag
        )


def split_command(command: str | Sequence[str] | None) -> tuple[tuple[str, ...], str]:
    """``(launcher, interpreter)`` of a command line; None is the interpreter running wheel-ddmin."""
    if command is None:
        return (), sys.executable
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if not words:
        raise InputError("--python is empty: give an interpreter, with an emulator before it if needed")
    launcher, executable = tuple(words[:-1]), words[-1]
    first = launcher[0] if launcher else executable
    if shutil.which(first) is None:
        raise InputError(f"--python: {first!r} is not an executable file or a command on PATH")
    return launcher, executable


def probe(command: str | Sequence[str] | None = None) -> Target:
    """Run the probe once on the interpreter ``command`` names and keep what it reports."""
    launcher, executable = split_command(command)
    argv = [*launcher, executable, "-I", "-S", str(PROBE)]
    done = harness.run(argv, timeout=PROBE_TIMEOUT, env=harness.python_env())
    shown = shlex.join([*launcher, executable])
    if done.timed_out or done.returncode != 0:
        detail = "timed out" if done.timed_out else done.last_error_line() or f"exit code {done.returncode}"
        raise InputError(f"cannot run the target python {shown}: {detail}")
    try:
        facts = json.loads(done.stdout)
    except ValueError as error:
        raise InputError(f"the target python {shown} did not answer the probe: {error}") from error
    return from_facts(facts, launcher, executable)


def from_facts(facts: Mapping[str, Any], launcher: tuple[str, ...], executable: str) -> Target:
    """A Target from a probe's answer (the tags are computed here, on the host)."""
    version = tuple(int(v) for v in facts["version"][:3])
    return Target(
        launcher=launcher,
        executable=executable,
        implementation=str(facts["implementation"]),
        version=(version[0], version[1], version[2]),
        machine=str(facts["machine"]),
        system=str(facts["system"]),
        glibc=str(facts["glibc"]),
        cache_tag=str(facts["cache_tag"]),
        magic=str(facts["magic"]),
        byteorder=str(facts["byteorder"]),
        pip_wheel=str(facts["pip_wheel"]),
        tags=wheeltags.supported(facts),
        pip_options=tuple(wheeltags.pip_options(facts)),
        markers=tuple(sorted((str(k), str(v)) for k, v in facts["markers"].items())),
    )


def compile_bytecode(target: Target, jobs: Sequence[tuple[str, str]]) -> None:
    """Byte-compile ``(source, pyc)`` pairs with the target itself, in one run (unchecked-hash pycs)."""
    if not jobs:
        return
    listing = json.dumps(list(jobs)).encode()
    argv = target.argv("-I", "-S", COMPILER)
    done = harness.run(argv, timeout=COMPILE_TIMEOUT, env=harness.python_env(), stdin=listing)
    if done.returncode != 0:
        detail = "timed out" if done.timed_out else done.last_error_line()
        raise OracleError(f"the target python could not byte-compile the wheels: {detail}")
