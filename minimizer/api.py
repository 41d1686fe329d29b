"""``minimize``: the library call behind the CLI, from input wheels to verified output wheels."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from minimizer import options
from minimizer.driver import reduce_to_fixpoint
from minimizer.errors import BudgetExhausted, OracleError, VerificationError
from minimizer.journal import FILENAME as JOURNAL
from minimizer.journal import Journal
from minimizer.passes import Pass
from minimizer.search import Budget, Checker, PassStats, Progress, Search
from minimizer.state import State
from minimizer.wheelfile import DEFAULT_MAX_UNPACKED, read_wheel
from minimizer.workspace import Workspace
from oracles import pip, runtime
from oracles.command import CommandOracle
from oracles.inference import InferenceOracle
from oracles.protocol import Oracle, Outcome, Verdict, union_opened
from oracles.venv import fresh_venv

MIN_TIMEOUT = 10.0
TIMEOUT_FACTOR = 10.0
VERIFY_TIMEOUT = 300.0
INTERRUPTED = "interrupted"


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


def minimize(
    wheels: Sequence[str | Path],
    *,
    oracles: Sequence[str | Path] = (),
    inputs: Mapping[str, Sequence[str | Path]] | None = None,
    checks: Sequence[str] = (),
    output_dir: str | Path = "wheel-ddmin-out",
    jobs: int | None = None,
    passes: Sequence[str] | None = None,
    keep: Sequence[str] = (),
    budget: Budget | None = None,
    timeout: float | None = None,
    runtime_choice: str | None = None,
    verify: bool = True,
    resume: bool = False,
    max_unpacked: int = DEFAULT_MAX_UNPACKED,
    progress: Callable[[Progress], None] | None = None,
) -> Result:
    """Shrink ``wheels`` to the smallest wheels whose inference stays bit-identical.

    ``wheels`` are paths or requirements (``numpy==1.26.4``). ``oracles`` are ``.tflite`` models
    (none: the small model shipped with wheel-ddmin); ``inputs`` maps a model to ``.npz`` sample sets;
    ``checks`` are shell commands that must exit 0 and print what they print with the original.
    Raises ``InputError`` for unusable input, ``OracleError`` when the original does not pass or
    the runtime cannot be installed, ``VerificationError`` when the result fails after a real
    ``pip install`` (nothing is written then). A budget or Ctrl-C (KeyboardInterrupt) ends the search
    early: the best wheel so far, every step of it oracle-checked, is still written, without the
    final pip check; ``Result.complete`` is False and ``Result.stop_reason`` says why. Every verdict
    is journaled in the output folder until the run completes; ``resume=True`` takes the verdicts of
    an interrupted run of the same job from there, so no oracle run is repeated and the search
    reaches the same wheel.
    """
    started = time.monotonic()
    out = options.output_dir(Path(output_dir))
    cache = runtime.cache_root()
    read = [read_wheel(options.wheel_path(w, cache), max_unpacked=max_unpacked) for w in wheels]
    options.check_tags(read)
    options.check_not_overwriting(read, out)
    pass_list = options.passes(passes)
    models = options.models(oracles, inputs or {}, use_default=not checks)
    chosen = options.runtime_for(read, runtime_choice, cache) if models else None
    with Workspace(read, max_unpacked=max_unpacked) as workspace:
        judges: list[Oracle] = []
        if chosen is not None:
            judges.append(InferenceOracle(models, chosen, workspace.scratch))
        extra_paths = [chosen.tree] if chosen is not None else []
        judges += [CommandOracle(c, extra_paths, workspace.scratch, cwd=Path.cwd()) for c in checks]
        checker = Checker(
            workspace, judges, timeout or 0.0, jobs or os.cpu_count() or 1, budget or Budget(), progress
        )
        search = Search(checker, tuple(keep))
        original = workspace.original()
        _reference(workspace, judges, checker, original, timeout)
        header = options.job_header(read, models, checks, pass_list, keep)
        with Journal(out / JOURNAL, header, resume=resume) as checker.journal:
            _must_fail_empty(search, original)
            final, complete, reason = _search(original, pass_list, search)
            result_paths, verified = _write(workspace, final, judges, chosen, out, verify and complete)
            if complete:
                checker.journal.discard()
        result = _result(
            workspace, original, final, result_paths, checker, started, complete, reason, verified, chosen
        )
    return result


def _reference(
    workspace: Workspace, judges: Sequence[Oracle], checker: Checker, original: State, timeout: float | None
) -> None:
    with workspace.materialize(original) as tree:
        verdicts = [judge.reference(tree) for judge in judges]
    seconds = sum(v.seconds for v in verdicts)
    checker.timeout = timeout or max(MIN_TIMEOUT, TIMEOUT_FACTOR * seconds)
    checker.accept(original, Verdict(Outcome.PASS, "reference", seconds, union_opened(verdicts)))


def _must_fail_empty(search: Search, original: State) -> None:
    """If a candidate without any package file passes, the oracle tests nothing."""
    empty = original.keeping(k for k in original.files if search.protected(k))
    if empty != original and search.test(empty):
        raise OracleError("the oracle passes even with every package file removed: it tests nothing")


def _search(original: State, passes: list[Pass], search: Search) -> tuple[State, bool, str]:
    try:
        return reduce_to_fixpoint(original, passes, search), True, ""
    except BudgetExhausted as stop:
        return search.checker.best or original, False, str(stop)
    except KeyboardInterrupt:
        return search.checker.best or original, False, INTERRUPTED


def _write(
    workspace: Workspace,
    final: State,
    judges: Sequence[Oracle],
    chosen: runtime.Runtime | None,
    out: Path,
    verify: bool,
) -> tuple[list[Path], bool]:
    """Write into a staging folder, check the real install there, then move into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        staged = workspace.write(final, staging)
        if verify:
            _verify(staged, judges, chosen, workspace.scratch)
        finals = []
        for path in staged:
            os.replace(path, out / path.name)
            finals.append(out / path.name)
        return finals, verify
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _verify(
    wheels: Sequence[Path], judges: Sequence[Oracle], chosen: runtime.Runtime | None, scratch: Path
) -> None:
    with fresh_venv(scratch) as python:
        staged = {w.name for w in wheels}
        runtime_wheels = [chosen.wheel] if chosen is not None and chosen.wheel.name not in staged else []
        pip.install_venv(python, [*wheels, *runtime_wheels], deps=chosen.dependencies if chosen else ())
        for judge in judges:
            verdict = judge.check_installed(python, timeout=VERIFY_TIMEOUT)
            if not verdict.passed:
                raise VerificationError(
                    f"the minimized wheel fails after pip install ({judge.name}): {verdict.reason}"
                )


def _result(
    workspace: Workspace,
    original: State,
    final: State,
    paths: list[Path],
    checker: Checker,
    started: float,
    complete: bool,
    reason: str,
    verified: bool,
    chosen: runtime.Runtime | None,
) -> Result:
    wheels = []
    for index, wheel in enumerate(workspace.wheels):
        mine = final.keeping(k for k in final.files if k.wheel == index)
        output = paths[index] if index < len(paths) else None
        wheels.append(
            WheelResult(
                wheel.path,
                output,
                wheel.size_bytes,
                output.stat().st_size if output else 0,
                wheel.installed_bytes,
                workspace.installed_bytes(mine),
                len(wheel.members),
                len(mine.files),
            )
        )
    return Result(
        tuple(wheels),
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
        _environment(workspace, chosen),
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
    return "shared object rewritten (dependencies dropped or stripped)"


def _environment(workspace: Workspace, chosen: runtime.Runtime | None) -> dict[str, str]:
    numpy = [str(w.version) for w in workspace.wheels if w.name == "numpy"]
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "numpy": numpy[0] if numpy else "",
        "runtime": f"{chosen.name}=={chosen.version}" if chosen is not None else "",
    }
