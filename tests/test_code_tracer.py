"""The ptrace supervisor: entry traps lifted and recorded, threads and forks followed, signals passed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from minimizer.elf_code import CodeTable, fill_traps, function_table, plant_entry_traps
from oracles.code_trace import TRACER
from tests.native import build_library, needs_gcc

pytestmark = [needs_gcc, pytest.mark.skipif(sys.platform != "linux", reason="ptrace is Linux's")]

# Two threads, a forked child and the main thread each call one function; the output says who did.
THREADS = """
import ctypes, os, sys, threading
lib = ctypes.CDLL(sys.argv[1])
threads = [threading.Thread(target=lambda: print("used", lib.used(1), flush=True)),
           threading.Thread(target=lambda: print("calls_helper", lib.calls_helper(1), flush=True))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
child = os.fork()
if child == 0:
    print("alias", lib.alias(3), flush=True)
    os._exit(0)
os.waitpid(child, 0)
print("checked", lib.checked(2), flush=True)
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, CodeTable]:
    data = build_library(tmp_path_factory.mktemp("toy")).read_bytes()
    table = function_table(data)
    assert table is not None
    return data, table


def _supervise(
    tmp_path: Path, sites: dict[str, dict[int, bytes]], argv: list[str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    spec = tmp_path / "spec.json"
    out = tmp_path / "out.json"
    found = {path: {str(o): b.hex() for o, b in offsets.items()} for path, offsets in sites.items()}
    spec.write_text(json.dumps({"sites": found, "out": str(out)}))
    command = [sys.executable, "-I", str(TRACER), str(spec), "--", *argv]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return done, json.loads(out.read_text())


def _names(table: CodeTable, offsets: list[int]) -> set[str]:
    return {
        "/".join(sorted(table.functions[table.entry_of[o]].names)) for o in offsets if o in table.entry_of
    }


def test_traps_are_recorded_and_lifted_across_threads_and_forks(
    library: tuple[bytes, CodeTable], tmp_path: Path
) -> None:
    data, table = library
    planted, sites = plant_entry_traps(data, table)
    path = tmp_path / "libtoy.so"
    path.write_bytes(planted)
    done, result = _supervise(tmp_path, {str(path): sites}, [sys.executable, "-c", THREADS, str(path)])
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["alias 2", "calls_helper 5", "checked 4", "used 2"]
    entered = result["entered"]
    assert isinstance(entered, dict)
    assert _names(table, entered[str(path)]) == {"used", "calls_helper", "helper", "alias/target", "checked"}
    # Without the supervisor the same program dies on the first planted trap.
    untraced = subprocess.run([sys.executable, "-c", THREADS, str(path)], capture_output=True, check=False)
    assert untraced.returncode == -signal.SIGTRAP


def test_a_trap_the_candidate_holds_kills_it_and_says_where(
    library: tuple[bytes, CodeTable], tmp_path: Path
) -> None:
    data, table = library
    unused = next(i for i, f in enumerate(table.functions) if "unused" in f.names)
    path = tmp_path / "libtoy.so"
    path.write_bytes(fill_traps(data, table, [unused]))
    call = "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); print(lib.used(1), flush=True); lib.unused(1)"
    done, result = _supervise(tmp_path, {str(path): {}}, [sys.executable, "-c", call, str(path)])
    assert done.returncode == -signal.SIGTRAP
    assert done.stdout == "2\n"
    entered = result["entered"]
    assert isinstance(entered, dict)
    (offset,) = entered[str(path)]
    function = table.functions[unused]
    assert function.offset <= offset < function.end


def test_signals_and_exit_codes_reach_the_caller_unchanged(tmp_path: Path) -> None:
    program = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGUSR1, lambda *_: print('handled', flush=True))\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "sys.exit(3)\n"
    )
    done, result = _supervise(tmp_path, {}, [sys.executable, "-c", program])
    assert (done.returncode, done.stdout, result) == (3, "handled\n", {"entered": {}, "signal": None})
    killed, found = _supervise(tmp_path, {}, [sys.executable, "-c", "import os; os.kill(os.getpid(), 15)"])
    assert killed.returncode == -signal.SIGTERM and found["signal"] == signal.SIGTERM


def test_a_command_that_cannot_start_is_reported_unavailable(tmp_path: Path) -> None:
    done, result = _supervise(tmp_path, {}, [str(tmp_path / "no-such-program")])
    assert done.returncode == 125
    assert "no-such-program" in str(result["unavailable"])


def test_a_traced_model_run_adds_edge_sets_and_compares_only_the_usual_ones() -> None:
    from oracles import _inputs
    from oracles.inference import _edge_sets, _usual_sets

    model = {"path": "m.tflite", "input_sets": _inputs.search_sets(1, 2)}
    edges = _edge_sets(1, model)
    assert [s["kind"] for s in edges] == [*_inputs.BOUNDARY, _inputs.WIDE]
    seeds = [s["seed"] for s in [*model["input_sets"], *edges]]
    assert len(set(seeds)) == len(seeds) and max(seeds) < _inputs.HOLDOUT_SEED
    usual = [[{"sha256": "a"}], [{"sha256": "b"}]]
    result = {"ok": True, "outputs": [[*usual, {"error": "NaN refused"}, [{"sha256": "c"}]]]}
    assert _usual_sets(result, [model])["outputs"] == [usual]
    broken = {"ok": True, "outputs": [[usual[0], {"error": "boom"}, [{"sha256": "c"}]]]}
    assert _usual_sets(broken, [model]) == {**broken, "ok": False, "error": "boom"}


def test_a_run_killed_after_its_outputs_is_a_failure(tmp_path: Path) -> None:
    """The probe writes its outputs before it exits: a trap at exit must still fail the run."""
    from oracles.code_trace import TracedRun
    from oracles.protocol import Outcome, Traps, Verdict

    run = TracedRun(tmp_path, Traps({"lib.so": {}}), tmp_path)
    (tmp_path / "entered.json").write_text(json.dumps({"entered": {}, "signal": 5}))
    assert run.verdict(Verdict(Outcome.PASS)).outcome is Outcome.FAIL
    (tmp_path / "entered.json").write_text(json.dumps({"entered": {}, "signal": None}))
    assert run.verdict(Verdict(Outcome.PASS)).outcome is Outcome.PASS
