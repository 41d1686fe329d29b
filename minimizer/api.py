"""``minimize``: the library call behind the CLI, from input wheels to verified output wheels."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from minimizer import options
from minimizer.checker import Budget, Checker, PassStats, Progress
from minimizer.errors import BudgetExhausted, InputError, OracleError, VerificationError
from minimizer.holdout import DEFAULT_SETS, Holdout, HoldoutReport, reduce_with_holdout
from minimizer.journal import FILENAME as JOURNAL
from minimizer.journal import Journal
from minimizer.outdir import OutputFolder
from minimizer.passes import MachineCodePass, Pass
from minimizer.passes.machine_code import ObjectReport
from minimizer.search import Search
from minimizer.state import State
from minimizer.wheelfile import DEFAULT_MAX_UNPACKED, Wheel, unpacked_size
from minimizer.workspace import Workspace
from oracles import pip, runtime, sidetree
from oracles.command import CommandOracle
from oracles.holdout import HeldOutOracle
from oracles.inference import InferenceOracle, Model
from oracles.protocol import Oracle, Outcome, Verdict, union_coverage, union_opened
from oracles.target import Target, compile_bytecode, probe
from oracles.venv import fresh_venv

MIN_TIMEOUT = 10.0
TIMEOUT_FACTOR = 10.0
VERIFY_TIMEOUT = 300.0
INTERRUPTED = "interrupted"
# What a check sees besides the candidate: the runtime, and the tree of the app's own packages.
Beside = tuple[runtime.Runtime | None, sidetree.SideTree | None]


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


def minimize(
    wheels: Sequence[str | Path],
    *,
    oracles: Sequence[str | Path] = (),
    inputs: Mapping[str, Sequence[str | Path]] | None = None,
    checks: Sequence[str] = (),
    app_requirements: Sequence[str] = (),
    app_requirements_files: Sequence[str | Path] = (),
    output_dir: str | Path = "wheel-ddmin-out",
    jobs: int | None = None,
    passes: Sequence[str] | None = None,
    keep: Sequence[str] = (),
    budget: Budget | None = None,
    timeout: float | None = None,
    runtime_choice: str | None = None,
    verify: bool = True,
    resume: bool = False,
    holdout: int = DEFAULT_SETS,
    max_unpacked: int = DEFAULT_MAX_UNPACKED,
    refresh: bool = False,
    cpu: str = "portable",
    progress: Callable[[Progress], None] | None = None,
    python: str | Sequence[str] | Target | None = None,
) -> Result:
    """Shrink ``wheels`` to the smallest wheels whose inference stays bit-identical.

    ``wheels`` are paths or requirements (``numpy==1.26.4``; an unpinned one is resolved once and
    cached, ``refresh=True`` asks the index again). ``oracles`` are ``.tflite`` models (none: the
    small model shipped with wheel-ddmin); ``inputs`` maps a model to ``.npz`` sample sets, each
    holding exactly one array per model input; ``checks`` are shell commands that must exit 0 and
    print what they print with the original; they see the runtime, and the app's own dependencies:
    ``app_requirements`` (``"pillow"``) and ``app_requirements_files`` (requirements.txt), resolved by
    pip to fit the candidate's numpy. ``python`` is the interpreter to minimize for, as a command
    line whose last word is the interpreter and whose words before it are an emulator and its
    arguments (``"qemu-aarch64 -L /srv/arm64 /srv/arm64/usr/bin/python3.11"``), or a ``Target``
    that ``oracles.target.probe`` returned; None: this interpreter. Wheels must fit it, downloads
    (the app's dependencies too) fit it, and every oracle run, check and the final pip install run
    on it. Everything is checked before the first oracle run.
    Raises ``InputError`` for unusable input, ``OracleError`` when the original does not pass or
    the runtime cannot be installed, ``VerificationError`` when the result fails after a real
    ``pip install`` (nothing is written then). A budget or Ctrl-C (KeyboardInterrupt) ends the search
    early: the best wheel so far, every step of it oracle-checked, is still written, without the
    final pip check; ``Result.complete`` is False and ``Result.stop_reason`` says why. A
    KeyboardInterrupt before the original passed its reference run propagates, and nothing is
    written. Every verdict is journaled in the output folder until the run completes;
    ``resume=True`` takes the verdicts of an interrupted run of the same job from there, so no
    oracle run is repeated and the search reaches the same wheel. One run at a time may use an
    output folder. Things worth knowing that do not stop the run are ``WheelDdminWarning``s.
    ``holdout`` input sets per model that the search never sees check its result afterwards (0:
    none); a set the result fails joins the oracle's inputs and the search goes on, so the written
    wheel passes every set the original runs deterministically.
    ``cpu="portable"`` (the default) keeps the machine code other CPUs of this architecture run for
    the same models and checks (every ISA variant of a kept kernel, numpy down to its baseline);
    ``cpu="native"`` keeps only what this CPU runs.
    """
    started = time.monotonic()
    _announce(progress, "reading")
    options.check_settings(jobs=jobs, timeout=timeout, budget=budget, max_unpacked=max_unpacked)
    out = options.output_dir(Path(output_dir))
    pass_list = options.passes(passes, cpu=cpu)
    options.check_holdout(holdout)
    models = options.models(oracles, inputs or {}, use_default=not checks)
    app = options.app_request(app_requirements, app_requirements_files)
    cache = runtime.cache_root()
    target = python if isinstance(python, Target) else probe(python)
    read = options.read_wheels(wheels, cache, out, target, max_unpacked=max_unpacked, refresh=refresh)
    options.check_keep(keep, read)
    needed = options.needs_runtime(read, models)
    if needed:
        options.check_runtime(read, runtime_choice)
    with OutputFolder(out):
        chosen = options.runtime_for(read, runtime_choice, cache, target, refresh=refresh) if needed else None
        side = sidetree.provide(app, options.pins(read, chosen), cache, target=target) if app else None
        header = {
            **options.job_header(read, models, checks, pass_list, keep, chosen, timeout, target, app),
            "holdout": holdout,
            "cpu": cpu,
        }
        journal = Journal(out / JOURNAL, header, resume=resume)
        _announce(progress, "unpacking")
        with workspace_for(read, target, max_unpacked=max_unpacked) as workspace:
            judges = _judges(models, checks, (chosen, side), workspace, target)
            checker = Checker(
                workspace, judges, timeout or 0.0, jobs or os.cpu_count() or 1, budget or Budget(), progress
            )
            search = Search(checker, tuple(keep), target)
            held = _holdout(judges, holdout, checker)
            original = workspace.original()
            _reference(workspace, judges, checker, original, timeout)
            with journal:
                checker.journal = journal
                final, complete, reason = _search(original, pass_list, search, held)
                verifiers = [*judges, held.oracle] if held is not None and held.passed else judges
                try:
                    paths, verified, cut = _write(
                        workspace, final, verifiers, (chosen, side), out, verify and complete, checker, target
                    )
                except VerificationError:
                    journal.discard()  # the search is over: nothing is left to resume
                    raise
                if cut:
                    complete, reason = False, INTERRUPTED
                if complete:
                    journal.discard()
            result = _result(
                workspace,
                original,
                final,
                paths,
                checker,
                started,
                complete,
                reason,
                verified,
                chosen,
                target,
            )
    if side is not None:
        environment = {**result.environment, "with": " ".join(side.packages)}
        result = replace(result, app_packages=side.packages, environment=environment)
    result = replace(result, machine_code=_machine_code(pass_list))
    return replace(result, holdout=held.report()) if held is not None else result


def workspace_for(
    wheels: Sequence[Wheel], target: Target, *, max_unpacked: int = DEFAULT_MAX_UNPACKED
) -> Workspace:
    """A workspace whose bytecode the target reads: the host's when it is the same format, else its own."""
    compiler = None if target.shares_host_bytecode else functools.partial(compile_bytecode, target)
    return Workspace(wheels, max_unpacked=max_unpacked, cache_tag=target.cache_tag, compiler=compiler)


def _announce(progress: Callable[[Progress], None] | None, stage: str) -> None:
    """A stage before the checker exists: nothing is known about sizes yet."""
    if progress is not None:
        progress(Progress(stage, 0, 0, 0, 0, None, stage))


def _judges(
    models: Sequence[Model],
    checks: Sequence[str],
    beside: Beside,
    workspace: Workspace,
    target: Target,
) -> list[Oracle]:
    """The inference oracle for the models; a command oracle per check, with the runtime and side tree."""
    chosen, side = beside
    judges: list[Oracle] = []
    if chosen is not None and models:
        judges.append(InferenceOracle(models, chosen, workspace.scratch, target))
    extra_paths = [p.tree for p in (chosen, side) if p is not None]
    judges += [CommandOracle(c, extra_paths, workspace.scratch, target, cwd=Path.cwd()) for c in checks]
    return judges


def _holdout(judges: Sequence[Oracle], per_model: int, checker: Checker) -> Holdout | None:
    """The held-out check of the inference oracle's models; none without models or with 0 sets."""
    inference = next((j for j in judges if isinstance(j, InferenceOracle)), None)
    return Holdout(HeldOutOracle(inference, per_model), checker) if inference and per_model else None


def _reference(
    workspace: Workspace, judges: Sequence[Oracle], checker: Checker, original: State, timeout: float | None
) -> None:
    checker.begin("reference")
    with workspace.materialize(original) as tree:
        verdicts = [judge.reference(tree) for judge in judges]
    slowest = max((v.seconds for v in verdicts), default=0.0)
    if timeout is not None and timeout < slowest:
        raise InputError(
            f"a timeout of {timeout:g} s is shorter than one run of the original wheel ({slowest:.2f} s): "
            "every candidate would time out; leave --timeout out for the default (10x the reference run)"
        )
    seconds = sum(v.seconds for v in verdicts)
    checker.timeout = timeout or max(MIN_TIMEOUT, TIMEOUT_FACTOR * seconds)
    traced = union_opened(verdicts), union_coverage(verdicts)
    checker.accept(original, Verdict(Outcome.PASS, "reference", seconds, *traced))


def _must_fail_empty(search: Search, original: State) -> None:
    """If a candidate without any package file passes, the oracle tests nothing."""
    search.checker.begin("empty check")
    empty = original.keeping(k for k in original.files if search.protected(k))
    if empty != original and search.test(empty):
        raise OracleError("the oracle passes even with every package file removed: it tests nothing")


def _search(
    original: State, passes: list[Pass], search: Search, held: Holdout | None
) -> tuple[State, bool, str]:
    """The budget counts from here, the empty check included; so does an interrupt's best-so-far."""
    search.checker.start_clock()
    try:
        _must_fail_empty(search, original)
        return reduce_with_holdout(original, passes, search, held), True, ""
    except BudgetExhausted as stop:
        return search.checker.best or original, False, str(stop)
    except KeyboardInterrupt:
        return search.checker.best or original, False, INTERRUPTED


def _write(
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
    target: Target,
) -> Result:
    wheels = []
    for index, wheel in enumerate(workspace.wheels):
        mine = final.keeping(k for k in final.files if k.wheel == index)
        output = paths[index] if index < len(paths) else None
        # Measured on the written wheel (RECORD regenerated, entry points pruned), not estimated.
        files, installed = (
            unpacked_size(output) if output else (len(mine.files), workspace.installed_bytes(mine))
        )
        wheels.append(
            WheelResult(
                wheel.path,
                output,
                wheel.size_bytes,
                output.stat().st_size if output else 0,
                wheel.installed_bytes,
                installed,
                len(wheel.members),
                files,
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
        _environment(workspace, chosen, target),
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


def _machine_code(passes: Sequence[Pass]) -> MachineCode:
    for reduction in passes:
        if isinstance(reduction, MachineCodePass):
            objects = tuple(sorted(reduction.objects.values(), key=lambda o: -o.bytes_saved))
            return MachineCode(objects, dict(reduction.trace_cpu))
    return MachineCode()


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
