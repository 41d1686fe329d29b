"""``minimize``: the library call behind the CLI, from input wheels to verified output wheels."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from minimizer import options
from minimizer.checker import Budget, Checker, Progress
from minimizer.errors import BudgetExhausted, InputError, OracleError, ReferenceTimeout, VerificationError
from minimizer.holdout import DEFAULT_SETS, Holdout, reduce_with_holdout
from minimizer.journal import FILENAME as JOURNAL
from minimizer.journal import Journal
from minimizer.outdir import OutputFolder
from minimizer.output import Beside, write
from minimizer.passes import Pass
from minimizer.result import INTERRUPTED, MachineCode, Removed, Result, WheelResult, result_of
from minimizer.search import Search
from minimizer.state import State
from minimizer.wheelfile import DEFAULT_MAX_UNPACKED, Wheel
from minimizer.workspace import Workspace
from oracles import runtime, sidetree
from oracles.command import CommandOracle
from oracles.holdout import HeldOutOracle
from oracles.inference import InferenceOracle, Model
from oracles.protocol import REFERENCE_TIMEOUT, Oracle, Outcome, Verdict, union_coverage, union_opened
from oracles.target import Target, compile_bytecode, probe

# Re-exported: the result types, and the stop reason of an interrupted run, were always found here.
__all__ = [
    "INTERRUPTED",
    "MIN_TIMEOUT",
    "TIMEOUT_FACTOR",
    "MachineCode",
    "Removed",
    "Result",
    "WheelResult",
    "minimize",
    "workspace_for",
]

MIN_TIMEOUT = 10.0
TIMEOUT_FACTOR = 10.0


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
            search = Search(checker, target, tuple(keep))
            held = _holdout(judges, holdout, checker)
            original = workspace.original()
            _reference(workspace, judges, checker, original, timeout)
            with journal:
                checker.journal = journal
                final, complete, reason = _search(original, pass_list, search, held)
                verifiers = [*judges, held.oracle] if held is not None and held.passed else judges
                try:
                    paths, verified, cut = write(
                        workspace, final, verifiers, (chosen, side), out, verify and complete, checker, target
                    )
                except VerificationError:
                    journal.discard()  # the search is over: nothing is left to resume
                    raise
                if cut:
                    complete, reason = False, INTERRUPTED
                if complete:
                    journal.discard()
            result = result_of(
                workspace,
                original,
                final,
                paths,
                checker,
                started=started,
                complete=complete,
                reason=reason,
                verified=verified,
                chosen=chosen,
                target=target,
                passes=pass_list,
                holdout=held.report() if held is not None else None,
                app_packages=side.packages if side is not None else None,
            )
    return result


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
    # A --timeout bounds the original's runs too: one that takes longer is refused at the first.
    try:
        with workspace.materialize(original) as tree:
            verdicts = [judge.reference(tree, timeout=timeout or REFERENCE_TIMEOUT) for judge in judges]
    except ReferenceTimeout as error:
        if timeout is None:
            raise
        raise _too_short(timeout, f"{error}") from None
    slowest = max((v.seconds for v in verdicts), default=0.0)
    if timeout is not None and timeout < slowest:
        raise _too_short(timeout, f"it took {slowest:.2f} s")
    seconds = sum(v.seconds for v in verdicts)
    checker.timeout = timeout or max(MIN_TIMEOUT, TIMEOUT_FACTOR * seconds)
    traced = union_opened(verdicts), union_coverage(verdicts)
    checker.accept(original, Verdict(Outcome.PASS, "reference", seconds, *traced))


def _too_short(timeout: float, why: str) -> InputError:
    return InputError(
        f"a timeout of {timeout:g} s is shorter than one run of the original wheel ({why}): "
        "every candidate would time out; leave --timeout out for the default (10x the reference run)"
    )


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
