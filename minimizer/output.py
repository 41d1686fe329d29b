"""The output wheels: written in a staging folder, checked by a real pip install, then moved into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from minimizer.checker import Checker
from minimizer.errors import OracleError, VerificationError
from minimizer.state import State
from minimizer.workspace import Workspace
from oracles import pip, runtime, sidetree
from oracles.protocol import Oracle
from oracles.target import Target
from oracles.venv import fresh_venv

VERIFY_TIMEOUT = 300.0
# What a check sees besides the candidate: the runtime, and the tree of the app's own packages.
Beside = tuple[runtime.Runtime | None, sidetree.SideTree | None]


def write(
    workspace: Workspace,
    final: State,
    judges: Sequence[Oracle],
    beside: Beside,
    out: Path,
    verify: bool,
    checker: Checker,
    target: Target,
) -> tuple[list[Path], bool, bool]:
    """Write into a staging folder, check the real install there, then move into ``out``.

    Returns the paths, whether pip verified them, and whether an interrupt cut writing or
    verification short: the wheels are complete all the same (only not verified), and are moved.
    """
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        staged, cut = _stage(workspace, final, staging, checker)
        verified = False
        if verify and not cut:
            try:
                checker.begin("verifying")
                _verify(staged, judges, beside, workspace.scratch, target)
                verified = True
            except KeyboardInterrupt:
                cut = True
        finals = []
        for path in staged:
            os.replace(path, out / path.name)
            finals.append(out / path.name)
        return finals, verified, cut
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage(workspace: Workspace, final: State, staging: Path, checker: Checker) -> tuple[list[Path], bool]:
    """The output wheels, written in ``staging``; an interrupt while writing them writes them again, once."""
    try:
        checker.begin("writing")
        return workspace.write(final, staging), False
    except KeyboardInterrupt:
        return workspace.write(final, staging), True


def _verify(
    wheels: Sequence[Path], judges: Sequence[Oracle], beside: Beside, scratch: Path, target: Target
) -> None:
    """A real pip install into a fresh venv, then every oracle; any failure is the result's (exit 1).

    The venv is made by the target's ``venv`` module and the wheels installed by the target's pip.
    The result, the runtime and the app's packages all go in with --no-deps: none replaces the numpy.
    """
    chosen, side = beside
    staged = {w.name for w in wheels}
    runtime_wheels = [chosen.wheel] if chosen is not None and chosen.wheel.name not in staged else []
    dependencies = list(chosen.dependency_wheels) if chosen is not None else []
    side_wheels = list(side.wheels) if side is not None else []
    try:
        with fresh_venv(target, scratch) as python:
            pip.install_venv(target, python, [*wheels, *runtime_wheels, *dependencies, *side_wheels])
            for judge in judges:
                verdict = judge.check_installed(python, timeout=VERIFY_TIMEOUT)
                if not verdict.passed:
                    raise VerificationError(
                        f"the minimized wheel fails after pip install ({judge.name}): {verdict.reason}"
                    )
    except OracleError as error:
        raise VerificationError(f"the final check failed: {error}") from error
