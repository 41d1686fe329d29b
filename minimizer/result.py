"""What ``minimize`` returns, and how it is measured from the written wheels and the search's counters."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from minimizer.checker import Checker, PassStats
from minimizer.holdout import HoldoutReport
from minimizer.passes import MachineCodePass, Pass
from minimizer.passes.machine_code import ObjectReport
from minimizer.state import State
from minimizer.wheelfile import unpacked_size
from minimizer.workspace import Workspace
from oracles import runtime
from oracles.target import Target

INTERRUPTED = "interrupted"  # the stop reason of a run Ctrl-C or SIGTERM cut short


@dataclass(frozen=True, slots=True)
class WheelResult:
    """One input wheel and what became of it."""

    input: Path
    output: Path | None
    input_bytes: int
    output_bytes: int
    input_installed_bytes: int
    output_installed_bytes: int
    input_files: int
    output_files: int


@dataclass(frozen=True, slots=True)
class Removed:
    """A removed or edited member, with the compressed bytes it saved."""

    wheel: str
    path: str
    bytes_saved: int
    edited: bool = False
    detail: str = ""  # for an edit: what changed ("12 lines deleted", "shared object rewritten")


@dataclass(frozen=True, slots=True)
class MachineCode:
    """What the machine pass did: each shared object, and the CPU features its traces ran with."""

    objects: tuple[ObjectReport, ...] = ()
    cpu: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Result:
    """What ``minimize`` did: outputs, sizes, what went, what it cost."""

    wheels: tuple[WheelResult, ...]
    removed: tuple[Removed, ...]
    oracle_runs: int
    cache_hits: int
    resumed: int
    wall_seconds: float
    passes: Mapping[str, PassStats]
    complete: bool
    stop_reason: str
    verified: bool
    runtime: str
    environment: Mapping[str, str] = field(default_factory=dict)
    holdout: HoldoutReport | None = None  # None: turned off, or no models (a --check has no inputs)
    app_packages: tuple[str, ...] = ()  # name==version of each --with package the checks saw
    machine_code: MachineCode = field(default_factory=MachineCode)


def result_of(
    workspace: Workspace,
    original: State,
    final: State,
    paths: list[Path],
    checker: Checker,
    *,
    started: float,
    complete: bool,
    reason: str,
    verified: bool,
    chosen: runtime.Runtime | None,
    target: Target,
    passes: Sequence[Pass],
    holdout: HoldoutReport | None,
    app_packages: tuple[str, ...] | None,
) -> Result:
    """The result of a run that began at ``started`` (``time.monotonic()``) and wrote ``paths``.

    ``app_packages``: the ``--with`` packages as resolved, None when there were none to resolve.
    """
    environment = _environment(workspace, chosen, target)
    if app_packages is not None:
        environment["with"] = " ".join(app_packages)
    return Result(
        tuple(_wheel_result(workspace, final, paths, index) for index in range(len(workspace.wheels))),
        _removed(workspace, original, final),
        checker.runs,
        checker.cache_hits,
        checker.resumed,
        time.monotonic() - started,
        dict(checker.per_pass),
        complete,
        reason,
        verified,
        f"{chosen.name} {chosen.version}" if chosen is not None else "none",
        environment,
        holdout,
        app_packages or (),
        machine_code(passes),
    )


def machine_code(passes: Sequence[Pass]) -> MachineCode:
    """What the machine pass among ``passes`` did, largest savings first; empty without one."""
    for reduction in passes:
        if isinstance(reduction, MachineCodePass):
            objects = tuple(sorted(reduction.objects.values(), key=lambda o: -o.bytes_saved))
            return MachineCode(objects, dict(reduction.trace_cpu))
    return MachineCode()


def _wheel_result(workspace: Workspace, final: State, paths: list[Path], index: int) -> WheelResult:
    wheel = workspace.wheels[index]
    mine = final.keeping(k for k in final.files if k.wheel == index)
    output = paths[index] if index < len(paths) else None
    # Measured on the written wheel (RECORD regenerated, entry points pruned), not estimated.
    files, installed = unpacked_size(output) if output else (len(mine.files), workspace.installed_bytes(mine))
    return WheelResult(
        wheel.path,
        output,
        wheel.size_bytes,
        output.stat().st_size if output else 0,
        wheel.installed_bytes,
        installed,
        len(wheel.members),
        files,
    )


def _removed(workspace: Workspace, original: State, final: State) -> tuple[Removed, ...]:
    edits = final.edit_map
    gone = []
    for key in original.files:
        wheel = workspace.wheels[key.wheel]
        before = wheel.member(key.path).compressed_size
        if key not in final.files:
            gone.append(Removed(wheel.path.name, key.path, before))
        elif key in edits:
            after = workspace.deflated_size(edits[key])
            detail = _edit_detail(workspace.read(key), edits[key], key.path)
            gone.append(Removed(wheel.path.name, key.path, before - after, edited=True, detail=detail))
    return tuple(sorted(gone, key=lambda r: (-r.bytes_saved, r.path)))


def _edit_detail(before: bytes, after: bytes, path: str) -> str:
    if path.endswith(".py"):
        deleted = len(before.splitlines()) - len(after.splitlines())
        return f"{deleted} line{'' if deleted == 1 else 's'} deleted"
    return "shared object rewritten (unused functions trapped, dependencies dropped or stripped)"


def _environment(workspace: Workspace, chosen: runtime.Runtime | None, target: Target) -> dict[str, str]:
    """The target interpreter the result was minimized and checked for."""
    numpy = [str(w.version) for w in workspace.wheels if w.name == "numpy"]
    return {
        "python": ".".join(map(str, target.version)),
        "implementation": target.implementation,
        "platform": f"{target.system}-{target.machine}" + (f"-glibc{target.glibc}" if target.glibc else ""),
        "machine": target.machine,
        "emulator": " ".join(target.launcher),
        "numpy": numpy[0] if numpy else "",
        "runtime": f"{chosen.name}=={chosen.version}" if chosen is not None else "",
    }
