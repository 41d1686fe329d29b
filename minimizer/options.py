"""What a run is given, checked before the first oracle run: wheels, models, passes, paths, runtime."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import sys_tags

from minimizer.errors import InputError
from minimizer.passes import ALL, DEFAULT, Pass, by_name
from minimizer.wheelfile import Wheel, file_sha256
from oracles import runtime
from oracles.inference import DEFAULT_MODEL, Model
from oracles.npz import read_npz


def job_header(
    wheels: Sequence[Wheel],
    models: Sequence[Model],
    checks: Sequence[str],
    passes: Sequence[Pass],
    keep: Sequence[str],
) -> dict[str, Any]:
    """What a journal must match to be resumed: the same inputs, oracles and search settings."""
    return {
        "wheels": [file_sha256(w.path) for w in wheels],
        "models": [file_sha256(m.path) for m in models],
        "samples": [[sorted(s) for s in m.samples] for m in models],
        "checks": list(checks),
        "passes": [p.name for p in passes],
        "keep": list(keep),
    }


def output_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise InputError(f"output path {path} is a file, not a folder")
    return path


def wheel_path(spec: str | Path, cache: Path) -> Path:
    text = str(spec)
    if text.endswith(".whl") or os.sep in text or Path(text).exists():
        return Path(text)
    try:
        Requirement(text)
    except InvalidRequirement as error:
        raise InputError(f"{text!r} is neither a wheel path nor a requirement: {error}") from error
    return runtime.cached_download(text, cache / "wheels")


def check_not_overwriting(wheels: Sequence[Wheel], out: Path) -> None:
    """Outputs keep the input's file name: in the input's own folder they would replace it."""
    for wheel in wheels:
        if (out / wheel.path.name).resolve() == wheel.path.resolve():
            raise InputError(f"the output would overwrite the input {wheel.path}: choose another -o folder")


def check_tags(wheels: Sequence[Wheel]) -> None:
    supported = set(sys_tags())
    for wheel in wheels:
        if not wheel.tags & supported:
            raise InputError(
                f"{wheel.path.name} does not fit this interpreter (Python {platform.python_version()}"
                f" on {platform.machine()}): run wheel-ddmin with a Python the wheel is built for"
            )


def passes(names: Sequence[str] | None) -> list[Pass]:
    chosen = list(names) if names is not None else list(DEFAULT)
    unknown = [n for n in chosen if n not in ALL]
    if unknown or not chosen:
        raise InputError(
            f"unknown pass {unknown[0]!r}: choose from {', '.join(ALL)}" if unknown else "no passes chosen"
        )
    return list(by_name(chosen))


def models(
    paths: Sequence[str | Path], inputs: Mapping[str, Sequence[str | Path]], *, use_default: bool
) -> list[Model]:
    if not paths and use_default:
        paths = [DEFAULT_MODEL]
    by_model = {Path(k).resolve(): v for k, v in inputs.items()}
    models = []
    for path in map(Path, paths):
        if not path.is_file():
            raise InputError(f"model not found: {path}")
        samples = tuple(read_npz(Path(s)) for s in by_model.pop(path.resolve(), ()))
        models.append(Model(path, samples))
    if by_model:
        raise InputError(f"sample inputs given for {next(iter(by_model))}, which is not an --oracle model")
    return models


def runtime_for(wheels: Sequence[Wheel], choice: str | None, cache: Path) -> runtime.Runtime:
    """The runtime models run on: one of the input wheels if it is one (it is minimized too)."""
    given = [w for w in wheels if runtime.is_runtime(w.path.name)]
    if given and choice is None:
        return runtime.install(given[0].path, cache, itself=False)
    return runtime.provide(choice or default_runtime(wheels), cache)


def default_runtime(wheels: Sequence[Wheel]) -> str:
    numpy = [w for w in wheels if w.name == "numpy"]
    return runtime.default_for(numpy[0].version) if numpy else "tflite-runtime"
