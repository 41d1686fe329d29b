"""The inference oracle: a candidate passes when every model's outputs are bit-identical to the reference."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minimizer.errors import InputError, OracleError, ReferenceTimeout
from oracles import _inputs, harness
from oracles._trace import relative, relative_coverage
from oracles.code_trace import env_key
from oracles.codetrace import TracedRun, traced_run_for
from oracles.npz import Array
from oracles.protocol import REFERENCE_TIMEOUT, Coverage, Outcome, Traps, Verdict
from oracles.runtime import Runtime
from oracles.target import Target

PROBE = Path(__file__).with_name("_probe.py")
DEFAULT_MODEL = Path(__file__).with_name("data") / "default_model.tflite"
_TFLITE_IDENTIFIER = b"TFL3"


@dataclass(frozen=True, slots=True)
class Model:
    """A model to run, and its input sets: none given means two generated, deterministic sets."""

    path: Path
    samples: tuple[Mapping[str, Array], ...] = field(default=())

    def validate(self) -> None:
        """Refuse what is clearly not a TensorFlow Lite model before any run."""
        try:
            head = self.path.read_bytes()[:8]
        except OSError as error:
            raise InputError(f"cannot read model {self.path}: {error.strerror}") from error
        if head[4:8] != _TFLITE_IDENTIFIER:
            raise InputError(f"{self.path} is not a TensorFlow Lite model (no TFL3 identifier)")


class InferenceOracle:
    """Runs all models in one fresh, isolated interpreter of the target per candidate."""

    name = "inference"

    def __init__(
        self,
        models: Sequence[Model],
        runtime: Runtime,
        scratch: Path,
        target: Target,
    ) -> None:
        for model in models:
            model.validate()
        self.runtime = runtime
        self.target = target
        self._scratch = scratch
        self._counter = itertools.count()
        self._models = [self._model_spec(i, m) for i, m in enumerate(models)]
        self._expected: list[Any] | None = None
        self._variants: dict[str, list[Any]] = {}  # outputs under an added environment, by env_key

    @property
    def model_paths(self) -> list[Path]:
        return [Path(m["path"]) for m in self._models]

    def _model_spec(self, index: int, model: Model) -> dict[str, Any]:
        sets = _inputs.search_sets(index, len(model.samples) or 2)
        for number, arrays in enumerate(model.samples):
            # An input a sample set lacks is generated with the seed the set would have had.
            sets[number] = {
                **sets[number],
                "kind": _inputs.GIVEN,
                "arrays": self._write_samples(index, number, arrays),
            }
        return {"path": str(model.path.resolve()), "input_sets": sets}

    def _write_samples(self, model: int, number: int, arrays: Mapping[str, Array]) -> dict[str, Any]:
        folder = self._scratch / "samples" / f"{model}-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        spec = {}
        for position, (key, array) in enumerate(arrays.items()):
            raw = folder / f"{position}.bin"
            raw.write_bytes(array.data)
            spec[key] = {"raw": str(raw), "descr": array.descr, "shape": list(array.shape)}
        return spec

    def reference(self, tree: Path, *, timeout: float = REFERENCE_TIMEOUT) -> Verdict:
        """Run the original twice: it must work, and agree with itself, or nothing can be compared."""
        first = self._probe(tree, [tree], timeout=timeout, trace=True)
        _raise_unless_ok(first, self.runtime, timeout)
        second = self._probe(tree, [tree], timeout=timeout, trace=False)
        _raise_unless_ok(second, self.runtime, timeout)
        if second.get("outputs") != first["outputs"]:
            raise OracleError("the original wheel gives different outputs on two runs (nondeterministic)")
        self._expected = first["outputs"]
        return _passed(first, tree, "reference")

    def check(self, tree: Path, *, timeout: float) -> Verdict:
        if self._expected is None:
            raise OracleError("check() before reference()")
        return self._judge(self._probe(tree, [tree], timeout=timeout, trace=True), tree, self._expected)

    def reference_env(self, tree: Path, env: Mapping[str, str | None]) -> None:
        """Record the original's outputs with ``env`` added to its environment, for ``trace``."""

        def run() -> dict[str, Any]:
            return self._probe(tree, [], timeout=REFERENCE_TIMEOUT, trace=False, env=env)

        first = run()
        # A first run that fails settles it: a second would only cost another timeout.
        if not first.get("ok") or run().get("outputs") != first["outputs"]:
            raise OracleError(f"the original wheel fails or varies with {dict(env)}")
        self._variants[env_key(env)] = first["outputs"]

    def trace(self, tree: Path, traps: Traps, *, timeout: float) -> Verdict:
        """``check`` under the code tracer: the verdict also says which entry traps were hit.

        With traps planted, each model also runs on sets at the edges (zeros, extremes, inf and
        NaN, the dtype's whole range) after its own, outputs and errors ignored: code only such
        values reach is seen to run. Only the usual sets are compared.
        """
        expected = self._variants.get(env_key(traps.env)) if traps.env else self._expected
        if expected is None:
            return Verdict(Outcome.UNRESOLVED, "no reference run in this environment")
        # Python is traced only in a run that stands for check's own, as in CommandOracle.trace.
        python = not traps.planted and not traps.env
        with traced_run_for(self.target, tree, traps, self._scratch) as run:
            if traps.planted:
                models = [
                    {**m, "input_sets": [*m["input_sets"], *_edge_sets(i, m)]}
                    for i, m in enumerate(self._models)
                ]
                found = self._probe(
                    tree, [tree], timeout=timeout, trace=python, run=run, models=models, keep_going=True
                )
                result = _usual_sets(found, self._models)
            else:
                result = self._probe(tree, [tree], timeout=timeout, trace=python, run=run)
            return run.verdict(self._judge(result, tree, expected))

    def _judge(self, result: dict[str, Any], tree: Path, expected: list[Any]) -> Verdict:
        seconds = float(result.get("seconds", 0.0))
        if result.get("unresolved"):
            return Verdict(Outcome.UNRESOLVED, result["error"], seconds)
        if not result.get("ok"):
            return Verdict(Outcome.FAIL, result.get("error", "failed"), seconds)
        if result["outputs"] != expected:
            return Verdict(Outcome.FAIL, "outputs differ from the original", seconds)
        return _passed(result, tree)

    def check_installed(self, venv_python: Path, *, timeout: float) -> Verdict:
        """The final check: numpy and the runtime as pip installed them into a venv."""
        if self._expected is None:
            raise OracleError("check_installed() before reference()")
        result = self._probe(None, [], timeout=timeout, trace=False, python=str(venv_python))
        if not result.get("ok"):
            return Verdict(Outcome.FAIL, result.get("error", "failed"), result.get("seconds", 0.0))
        if result["outputs"] != self._expected:
            return Verdict(Outcome.FAIL, "outputs differ from the original", result["seconds"])
        return Verdict(Outcome.PASS, "", result["seconds"])

    def run_sets(
        self,
        tree: Path | None,
        sets: Sequence[Sequence[dict[str, Any]]],
        *,
        timeout: float,
        keep_going: bool = False,
        trace: bool = False,
        python: str | None = None,
    ) -> dict[str, Any]:
        """Run every model on other input sets: one list of descriptors (``oracles._inputs``) per model.

        The raw probe result: ``ok``; ``outputs[model][set]``, a list of output digests, or with
        ``keep_going`` ``{"error": ...}`` for a set that raised; ``opened``, ``ran`` and ``reads``
        (absolute paths under ``tree``, see ``_trace.Tracer.collect``) when traced; ``unresolved``
        when the harness broke. ``tree`` None with ``python`` a
        venv's interpreter runs what pip installed there.
        """
        models = [{**m, "input_sets": list(s)} for m, s in zip(self._models, sets, strict=True)]
        roots = [tree] if tree is not None else []
        return self._probe(
            tree, roots, timeout=timeout, trace=trace, python=python, models=models, keep_going=keep_going
        )

    def add_inputs(self, model: int, spec: dict[str, Any], expected: list[Any]) -> None:
        """From now on every check also feeds ``spec`` to ``model`` and wants ``expected`` back."""
        if self._expected is None:
            raise OracleError("add_inputs() before reference()")
        self._models[model] = {
            **self._models[model],
            "input_sets": [*self._models[model]["input_sets"], spec],
        }
        self._expected[model] = [*self._expected[model], expected]

    def _probe(
        self,
        tree: Path | None,
        trace_roots: list[Path],
        *,
        timeout: float,
        trace: bool,
        python: str | None = None,
        models: list[dict[str, Any]] | None = None,
        keep_going: bool = False,
        run: TracedRun | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> dict[str, Any]:
        folder = Path(tempfile.mkdtemp(prefix=f"probe{next(self._counter)}-", dir=self._scratch))
        try:
            spec = {
                "paths": [str(tree), str(self.runtime.tree)] if tree is not None else [],
                "runtime_module": self.runtime.module,
                "models": self._models if models is None else models,
                "trace_roots": [str(r) for r in trace_roots] if trace else [],
                "keep_going": keep_going,
                "out": str(folder / "result.json"),
            }
            (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
            # -I -S: no site-packages, no PYTHON* variables, no script folder: nothing but the spec's paths.
            # A venv's own python keeps its site-packages (that is what was installed there).
            flags = ["-I", "-S"] if python is None else ["-I"]
            argv = self.target.argv(*flags, PROBE, folder / "spec.json", executable=python)
            environ = harness.python_env(env)
            if run is not None:
                argv, environ = run.argv(argv), run.env(environ)
            done = harness.run(argv, timeout=timeout, env=environ, cwd=folder)
            return _result(done, folder / "result.json")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _passed(result: dict[str, Any], tree: Path, reason: str = "") -> Verdict:
    coverage = Coverage(*relative_coverage([result], tree)) if "ran" in result else None
    opened = relative(result.get("opened", []), tree)
    return Verdict(Outcome.PASS, reason, float(result["seconds"]), opened, coverage)


def _edge_sets(model: int, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Sets at the edges for a traced run, with seeds in the search's range (never held-out ones)."""
    first = len(spec["input_sets"])
    kinds = [*_inputs.BOUNDARY, _inputs.WIDE]
    return [_inputs.descriptor(kind, 1000 * model + 100 * (first + n)) for n, kind in enumerate(kinds)]


def _usual_sets(result: dict[str, Any], models: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A keep-going result cut to each model's usual sets: ok only if every one of those ran."""
    if not result.get("ok"):
        return result
    outputs = [found[: len(m["input_sets"])] for found, m in zip(result["outputs"], models, strict=True)]
    failed = [o["error"] for sets in outputs for o in sets if isinstance(o, dict) and "error" in o]
    if failed:
        return {**result, "ok": False, "error": failed[0]}
    return {**result, "outputs": outputs}


def _result(done: harness.Completed, path: Path) -> dict[str, Any]:
    base: dict[str, Any] = {"seconds": done.seconds}
    if done.timed_out:
        return {**base, "ok": False, "timed_out": True, "error": f"timed out after {done.seconds:.1f} s"}
    if done.returncode == 3 and not path.exists():
        return {**base, "unresolved": True, "error": done.last_error_line() or "probe broke"}
    try:
        return {**base, **json.loads(path.read_text(encoding="utf-8"))}
    except (OSError, ValueError):
        detail = done.last_error_line() or f"exit code {done.returncode}"
        return {**base, "ok": False, "error": f"crashed ({detail})"}


def _raise_unless_ok(result: Mapping[str, Any], runtime: Runtime, timeout: float) -> None:
    if result.get("timed_out"):
        raise ReferenceTimeout(f"inference with the original wheels did not finish in {timeout:g} s")
    if not result.get("ok"):
        raise OracleError(_reference_failure(result, runtime))


def _reference_failure(result: Mapping[str, Any], runtime: Runtime) -> str:
    """Why the original fails, blaming what is at fault: a model the runtime cannot run is not the wheel's."""
    error = str(result.get("error", "no result"))
    on = f"{runtime.name} {runtime.version}"
    stage = result.get("stage")
    if stage is None:
        return f"the reference run of the original wheels fails: {error}"
    error = error.removeprefix(f"{stage}: ")
    if stage == "import":
        return f"numpy and {on} do not import together from the original wheels: {error}"
    if "Didn't find op" in error or "builtin_code out of range" in error or "custom op" in error:
        return (
            f"{stage} needs an operator {on} does not have (the model's fault, not the wheel's: convert it "
            f"for this runtime, or choose another with --runtime): {error}"
        )
    return f"{stage} fails with the original wheels on {on} (check the model and its --inputs): {error}"
