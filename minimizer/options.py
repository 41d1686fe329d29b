"""What a run is given, checked before the first oracle run: settings, models and samples, wheels, paths.

Every check here fails with one ``InputError`` line naming what to fix; none of them runs an oracle,
so a typo costs seconds, not a search.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from minimizer.checker import Budget
from minimizer.errors import InputError
from minimizer.journal import FILENAME as JOURNAL
from minimizer.outdir import LOCKNAME
from minimizer.passes import ALL, CPU_MODES, DEFAULT, Pass, by_name
from minimizer.wheelfile import Wheel, file_sha256, read_wheel
from oracles import runtime, sidetree, tflite
from oracles.inference import DEFAULT_MODEL, Model
from oracles.npz import Array, read_npz
from oracles.target import Target

NO_APP = sidetree.Request()  # no --with packages

# numpy's names for the dtypes an .npy descriptor spells as kind and size.
_DTYPES = {
    "f2": "float16", "f4": "float32", "f8": "float64", "c8": "complex64", "c16": "complex128",
    "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
    "u1": "uint8", "u2": "uint16", "u4": "uint32", "u8": "uint64", "b1": "bool",
}  # fmt: skip


def check_settings(
    *, jobs: int | None, timeout: float | None, budget: Budget | None, max_unpacked: int
) -> None:
    """Numbers that would make the search meaningless (NaN turns every comparison off)."""
    if jobs is not None and jobs < 1:
        raise InputError(f"jobs must be at least 1, not {jobs}")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise InputError(f"the timeout must be a positive number of seconds, not {timeout}")
    if budget is not None and budget.runs is not None and budget.runs < 0:
        raise InputError(f"the run budget must be 0 or more, not {budget.runs}")
    if (
        budget is not None
        and budget.seconds is not None
        and not (math.isfinite(budget.seconds) and budget.seconds >= 0)
    ):
        raise InputError(f"the time budget must be a number of seconds, not {budget.seconds}")
    if max_unpacked <= 0:
        raise InputError(f"the unpacked-size cap must be positive, not {max_unpacked}")


def passes(names: Sequence[str] | None, *, cpu: str = "portable") -> list[Pass]:
    chosen = list(names) if names is not None else list(DEFAULT)
    unknown = [n for n in chosen if n not in ALL]
    if unknown:
        raise InputError(f"unknown pass {unknown[0]!r}: choose from {', '.join(ALL)}")
    if not chosen:
        raise InputError("no passes chosen")
    twice = sorted({n for n in chosen if chosen.count(n) > 1})
    if twice:
        raise InputError(f"pass {twice[0]!r} is listed twice: passes already run until none changes anything")
    if cpu not in CPU_MODES:
        raise InputError(f"unknown cpu mode {cpu!r}: choose from {', '.join(CPU_MODES)}")
    return list(by_name(chosen, cpu=cpu))


def models(
    paths: Sequence[str | Path], inputs: Mapping[str, Sequence[str | Path]], *, use_default: bool
) -> list[Model]:
    """The models, each readable, with the user's sample sets matched to its inputs exactly."""
    if not paths and use_default:
        paths = [DEFAULT_MODEL]
    by_model = {Path(k).resolve(): v for k, v in inputs.items()}
    found: list[Model] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise InputError(f"model not found: {path}")
        if any(m.path.resolve() == path.resolve() for m in found):
            raise InputError(f"model {path} is given twice")
        specs = tflite.inputs(path)
        samples = tuple(
            match_samples(Path(s), read_npz(Path(s)), path, specs) for s in by_model.pop(path.resolve(), ())
        )
        found.append(Model(path, samples))
    if by_model:
        raise InputError(f"sample inputs given for {next(iter(by_model))}, which is not an --oracle model")
    return found


def match_samples(
    where: Path, arrays: Mapping[str, Array], model: Path, specs: Sequence[tflite.Tensor]
) -> dict[str, Array]:
    """One array for each input (by name, or by position: ``0`` or ``arr_0``), of its dtype and shape.

    A sample that fits no input, or fits it wrongly, is refused here: used silently it would be replaced
    by generated inputs, and fed wrongly it would read as the original wheel failing.
    """
    expected = f"{model.name} takes {'; '.join(map(str, specs)) or 'no inputs'}"
    names = [spec.name for spec in specs]
    unique = len(set(names)) == len(names)
    matched: dict[str, Array] = {}
    used = set()
    for position, spec in enumerate(specs):
        key = next((k for k in (spec.name, str(position), f"arr_{position}") if k in arrays), None)
        if key is None:
            raise InputError(
                f"{where} has no array for input {spec.name!r} ({expected}; arrays match by name or position)"
            )
        array = arrays[key]
        if _dtype(array.descr) != spec.dtype or array.shape != spec.shape:
            shape = ", ".join(map(str, array.shape))
            raise InputError(f"{where}: array {key!r} is {_dtype(array.descr)}[{shape}], but {expected}")
        matched[spec.name if unique else str(position)] = array
        used.add(key)
    extra = sorted(set(arrays) - used)
    if extra:
        raise InputError(f"{where} holds arrays no input takes: {', '.join(extra)} ({expected})")
    return matched


def _dtype(descr: str) -> str:
    """numpy's name for an .npy descriptor; a big-endian one says so (the runtime wants native order)."""
    order, code = descr[:1], descr[1:]
    name = _DTYPES.get(code, descr)
    return f"big-endian {name}" if order == ">" and code not in ("i1", "u1", "b1") else name


def read_wheels(
    specs: Sequence[str | Path],
    cache: Path,
    out: Path,
    target: Target,
    *,
    max_unpacked: int,
    refresh: bool = False,
) -> list[Wheel]:
    """Each wheel read and checked once; a wheel given twice would have two outputs of one name."""
    if not specs:
        raise InputError("no wheels given")
    paths = [wheel_path(s, cache, target, refresh=refresh) for s in specs]
    wheels = [read_wheel(path, max_unpacked=max_unpacked) for path in paths]
    seen: dict[str, Path] = {}
    for wheel in wheels:
        if wheel.path.name in seen:
            same = seen[wheel.path.name].resolve() == wheel.path.resolve()
            raise InputError(
                f"{wheel.path.name} is given twice"
                if same
                else f"two wheels are named {wheel.path.name}: their outputs would replace each other"
            )
        seen[wheel.path.name] = wheel.path
    check_tags(wheels, target)
    check_not_overwriting(wheels, out)
    return wheels


def wheel_path(spec: str | Path, cache: Path, target: Target, *, refresh: bool = False) -> Path:
    """A wheel's path, downloading a requirement (``numpy==1.26.4``) for ``target`` into the cache first."""
    text = str(spec)
    if text.endswith(".whl") or os.sep in text or Path(text).exists():
        return Path(text)
    try:
        Requirement(text)
    except InvalidRequirement as error:
        raise InputError(f"{text!r} is neither a wheel path nor a requirement: {error}") from error
    return runtime.cached_download(text, cache / "wheels", target, refresh=refresh)


def output_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise InputError(f"output path {path} is a file, not a folder")
    return path


def check_not_overwriting(wheels: Sequence[Wheel], out: Path) -> None:
    """Outputs keep the input's file name: in the input's own folder they would replace it."""
    for wheel in wheels:
        if (out / wheel.path.name).resolve() == wheel.path.resolve():
            raise InputError(f"the output would overwrite the input {wheel.path}: choose another -o folder")


def check_tags(wheels: Sequence[Wheel], target: Target) -> None:
    for wheel in wheels:
        if not target.accepts(wheel.tags):
            raise InputError(
                f"{wheel.path.name} does not fit the target interpreter ({target.describe()}):"
                " give --python an interpreter the wheel is built for"
            )


def check_keep(patterns: Sequence[str], wheels: Sequence[Wheel]) -> None:
    """A ``--keep`` that matches nothing protects nothing: most likely a typo."""
    paths = [m.path for w in wheels for m in w.members]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(p, pattern) for p in paths):
            raise InputError(
                f"--keep {pattern!r} matches no member of the input wheels (patterns match paths inside "
                "the wheel, such as numpy/core/*.py)"
            )


def needs_runtime(wheels: Sequence[Wheel], models: Sequence[Model]) -> bool:
    """Models run on it; a check sees it too whenever a numpy is there for it to import."""
    return bool(models) or any(w.name == "numpy" for w in wheels)


def check_runtime(wheels: Sequence[Wheel], choice: str | None) -> None:
    """Refuse what cannot import together, before a failing reference run blames the wheel for it."""
    given = [w for w in wheels if runtime.is_runtime(w.path.name)]
    numpy = [w for w in wheels if w.name == "numpy"]
    if not numpy:
        name = given[0].path.name if given else "the inference oracle"
        raise InputError(
            f"{name} needs numpy: give the numpy wheel too (wheel-ddmin numpy.whl ...), "
            "or judge with --check alone"
        )
    name = _runtime_name(given, choice) or default_runtime(wheels)
    if name == "tflite-runtime" and numpy[0].version.major >= 2:
        raise InputError(
            f"tflite-runtime is built for numpy 1.x and cannot import with numpy {numpy[0].version}: "
            "use --runtime ai-edge-litert (the default for numpy 2)"
        )


def _runtime_name(given: Sequence[Wheel], choice: str | None) -> str | None:
    if choice is None:
        return str(given[0].name) if given else None
    if not choice.endswith(".whl"):
        if choice not in runtime.KNOWN:
            raise InputError(f"unknown runtime {choice!r}: use tflite-runtime, ai-edge-litert or a .whl")
        return choice
    try:
        return str(parse_wheel_filename(Path(choice).name)[0])
    except InvalidWheelFilename as error:
        raise InputError(f"--runtime {choice}: not a wheel file name ({error})") from error


def check_holdout(count: int) -> None:
    if count < 0:
        raise InputError(f"holdout wants a number of input sets, 0 or more, got {count}")


def pins(wheels: Sequence[Wheel], chosen: runtime.Runtime | None) -> dict[str, str]:
    """The versions the app's dependencies must work with: the candidate's numpy and runtime."""
    candidate = [w for w in wheels if w.name == "numpy" or runtime.is_runtime(w.path.name)]
    found = {str(w.name): str(w.version) for w in candidate}
    if chosen is not None:
        found.setdefault(chosen.name, chosen.version)
    return found


def app_request(requirements: Sequence[str], files: Sequence[str | Path]) -> sidetree.Request:
    """``--with`` and ``--with-requirements``, checked before anything is downloaded."""
    request = sidetree.Request(tuple(requirements), tuple(map(Path, files)))
    sidetree.validate(request)
    return request


def runtime_for(
    wheels: Sequence[Wheel], choice: str | None, cache: Path, target: Target, *, refresh: bool = False
) -> runtime.Runtime:
    """The runtime models run on: one of the input wheels if it is one (it is minimized too)."""
    given = [w for w in wheels if runtime.is_runtime(w.path.name)]
    if given and choice is None:
        return runtime.install(given[0].path, cache, target, itself=False)
    return runtime.provide(choice or default_runtime(wheels), cache, target, refresh=refresh)


def default_runtime(wheels: Sequence[Wheel]) -> str:
    numpy = [w for w in wheels if w.name == "numpy"]
    return runtime.default_for(numpy[0].version) if numpy else "tflite-runtime"


def check_output_files(
    files: Mapping[str, Path], *, inputs: Mapping[Path, str], out: Path, wheel_names: Sequence[str]
) -> None:
    """Files written after the run (report, summary) may replace nothing that is not the tool's."""
    theirs = {p.resolve(): what for p, what in inputs.items()}
    ours = {(out / name).resolve(): "an output wheel" for name in wheel_names}
    ours |= {out.resolve(): "the output folder", (out / JOURNAL).resolve(): "the journal"}
    ours[(out / LOCKNAME).resolve()] = "the output folder's lock"
    taken: dict[Path, str] = {}
    for option, path in files.items():
        where = path.resolve()
        if path.is_dir():
            raise InputError(f"{option} {path} is a folder: give a file name")
        if where in theirs:
            raise InputError(
                f"{option} {path} is {theirs[where]}, which is never overwritten: choose another name"
            )
        if where in ours:
            raise InputError(f"{option} {path} would replace {ours[where]}: choose another name")
        if where in taken:
            raise InputError(f"{option} and {taken[where]} both name {path}")
        parent = next(p for p in where.parents if p.exists())
        if not parent.is_dir():
            raise InputError(f"{option} {path}: {parent} is a file, not a folder")
        taken[where] = option


def job_header(
    wheels: Sequence[Wheel],
    models: Sequence[Model],
    checks: Sequence[str],
    passes: Sequence[Pass],
    keep: Sequence[str],
    chosen: runtime.Runtime | None,
    timeout: float | None,
    target: Target,
    app: sidetree.Request = NO_APP,
) -> dict[str, Any]:
    """What a journal must match to be resumed: whatever could change a verdict, and the search settings."""
    from minimizer import __version__

    return {
        "wheel-ddmin": __version__,
        "python": target.key,  # the target: its tags and markers
        "wheels": [file_sha256(w.path) for w in wheels],
        "models": [file_sha256(m.path) for m in models],
        "samples": [[_samples_digest(s) for s in m.samples] for m in models],
        "runtime": chosen.wheel.name if chosen is not None else None,
        "checks": list(checks),
        "with": [*app.requirements, *(file_sha256(f) for f in app.files)],
        "check folder": str(Path.cwd()) if checks else None,
        "timeout": timeout,
        "passes": [p.name for p in passes],
        "keep": list(keep),
    }


def _samples_digest(arrays: Mapping[str, Array]) -> str:
    digest = hashlib.sha256()
    for key, array in arrays.items():
        digest.update(f"{key}\0{array.descr}\0{array.shape}\0".encode())
        digest.update(array.data)
    return digest.hexdigest()
