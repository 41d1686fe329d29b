"""The machine pass end to end on synthetic wheels holding a gcc-built shared object."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import Progress, minimize
from minimizer.api import INTERRUPTED, Result
from minimizer.elf_code import CodeTable, function_table
from oracles import code_trace
from tests.native import build_library, needs_gcc

pytestmark = [needs_gcc, pytest.mark.skipif(sys.platform != "linux", reason="the pass traces with ptrace")]

INIT = "import ctypes, os\nlib = ctypes.CDLL(os.path.join(os.path.dirname(__file__), 'libtoy.so'))\n"
CHECK = 'python -c "import toynative as t; print(t.lib.used(1), t.lib.calls_helper(2), t.lib.checked(3))"'
# Calls unused() only when used() does not start with a trap: never in the traced run, in every other.
SHY_CHECK = (
    'python -c "import ctypes, toynative as t; '
    "entry = ctypes.string_at(ctypes.cast(t.lib.used, ctypes.c_void_p).value, 1); "
    "entry == bytes([204]) or t.lib.unused(1); "
    'print(t.lib.used(1))"'
)
# Three ISA variants of one kernel, chosen at run time as numpy chooses its dispatch targets, after
# CPU probing that calls a helper only on another vendor's CPU (as cpuinfo does).
DISPATCH = r"""
#include <stdlib.h>
__attribute__((noinline)) int kernel(int x) { return x + 1; }
__attribute__((noinline)) int kernel_AVX2(int x) { return x + 1; }
__attribute__((noinline)) int kernel_AVX512F(int x) { return x + 1; }
static __attribute__((noinline)) int spell_vendor(int x) { return x - 3; }
__attribute__((noinline)) int cpuinfo_probe(int x) { return getenv("TOY_VENDOR") ? spell_vendor(x) + 3 : x; }
int other(int x) { return x * 2; }
int dispatch(int x) {
    const char *cpu = getenv("TOY_CPU");
    x = cpuinfo_probe(x);
    if (cpu && cpu[0] == '2') return kernel_AVX2(x);
    if (cpu && cpu[0] == '5') return kernel_AVX512F(x);
    return kernel(x);
}
"""
CALL = "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); print(getattr(lib, sys.argv[2])(1))"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("toy"))


@pytest.fixture
def native_wheel(wheel_factory: Callable[..., Path], library: Path) -> Path:
    files = {"toynative/__init__.py": INIT, "toynative/libtoy.so": library.read_bytes()}
    return wheel_factory(files, name="toynative")


def _minimize(wheel: Path, out: Path, check: str = CHECK, **options: object) -> Result:
    defaults: dict[str, object] = {"passes": ["machine"], "jobs": 1, "verify": False}
    return minimize([wheel], checks=[check], output_dir=out, **{**defaults, **options})  # type: ignore[arg-type]


def _library_of(result: Result) -> bytes:
    output = result.wheels[0].output
    assert output is not None
    with zipfile.ZipFile(output) as archive:
        return archive.read("toynative/libtoy.so")


def _call(data: bytes, folder: Path, name: str, env: dict[str, str] | None = None) -> int:
    path = folder / f"call-{name}.so"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-S", "-c", CALL, str(path), name], env=env, check=False)
    return done.returncode


def _table(data: bytes) -> CodeTable:
    table = function_table(data)
    assert table is not None
    return table


def _bytes_of(data: bytes, table: CodeTable, name: str) -> bytes:
    function = next(f for f in table.functions if name in f.names)
    return data[function.offset : function.end]


def test_called_functions_stay_the_rest_become_traps(
    native_wheel: Path, library: Path, tmp_path: Path
) -> None:
    result = _minimize(native_wheel, tmp_path / "out", verify=True)
    assert result.verified
    original = library.read_bytes()
    reduced = _library_of(result)
    table = _table(original)
    assert len(reduced) == len(original)
    for name in ("used", "calls_helper", "helper", "checked", "checked.cold", "complain"):
        assert _bytes_of(reduced, table, name) == _bytes_of(original, table, name), name
    for name in ("unused", "alias", "tail_calls", "helper2"):
        trapped = _bytes_of(reduced, table, name)
        assert trapped == b"\xcc" * len(trapped), name
    assert _call(reduced, tmp_path, "used") == 0
    assert _call(reduced, tmp_path, "unused") == -signal.SIGTRAP
    # One run to ask for numpy (there is none), one traced run, the proposal as the oracle runs it
    # and as the traced run ran (with the host's thread settings).
    assert result.passes["machine"].runs == 4
    (report,) = result.machine_code.objects
    assert (report.path, report.functions, report.kept, report.how) == ("toynative/libtoy.so", 10, 6, "trace")
    removed = ("unused", "alias", "tail_calls", "helper2")
    assert report.removed_bytes == sum(len(_bytes_of(original, table, n)) for n in removed)


def test_report_and_summary_show_the_machine_pass(native_wheel: Path, tmp_path: Path) -> None:
    from minimizer import cli

    report, summary = tmp_path / "r.json", tmp_path / "s.md"
    argv = [str(native_wheel), "--check", CHECK, "--passes", "machine", "-o", str(tmp_path / "o")]
    assert (
        cli.main([*argv, "--report", str(report), "--summary", str(summary), "--quiet", "--no-verify"]) == 0
    )
    data = json.loads(report.read_text())
    assert data["schema_version"] == 2
    (obj,) = data["machine_code"]["objects"]
    assert obj["wheel_path"] == "toynative/libtoy.so" and obj["removed"] == 4 and obj["bytes_saved"] > 0
    assert data["machine_code"]["cpu"]["mode"] == "portable"
    assert data["machine_code"]["cpu"]["traced_with"] == ["native"]
    assert (
        "## Machine code" in summary.read_text() and "`toynative/libtoy.so` | 6 of 10" in summary.read_text()
    )


def test_a_function_the_trace_missed_comes_back(native_wheel: Path, library: Path, tmp_path: Path) -> None:
    result = _minimize(native_wheel, tmp_path / "out", check=SHY_CHECK)
    (report,) = result.machine_code.objects
    assert report.how == "trace+repair"
    table = _table(library.read_bytes())
    assert _bytes_of(_library_of(result), table, "unused") == _bytes_of(library.read_bytes(), table, "unused")


def test_without_a_tracer_ddmin_decides(
    native_wheel: Path, library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse = tmp_path / "refuse.py"
    refuse.write_text(
        "import json, sys\n"
        "out = json.load(open(sys.argv[1]))['out']\n"
        "json.dump({'unavailable': 'ptrace: Operation not permitted'}, open(out, 'w'))\n"
        "sys.exit(125)\n"
    )
    monkeypatch.setattr(code_trace, "TRACER", refuse)
    result = _minimize(native_wheel, tmp_path / "out", verify=True)
    (report,) = result.machine_code.objects
    assert report.how == "ddmin (no trace)" and result.verified
    reduced = _library_of(result)
    assert _call(reduced, tmp_path, "used") == 0
    assert _call(reduced, tmp_path, "unused") == -signal.SIGTRAP
    assert "ptrace" in str(result.machine_code.cpu.get("unavailable (native)"))


def _wheel_of(source: str, wheel_factory: Callable[..., Path], folder: Path) -> Path:
    (folder / "lib.c").write_text(source)
    built = folder / "libbuilt.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(built), str(folder / "lib.c")], check=True)
    files = {"toynative/__init__.py": INIT, "toynative/libtoy.so": built.read_bytes()}
    return wheel_factory(files, name="toynative")


@pytest.mark.parametrize("cpu", ["portable", "native"])
def test_isa_siblings_of_a_kernel_stay_unless_native(
    cpu: str, wheel_factory: Callable[..., Path], tmp_path: Path
) -> None:
    wheel = _wheel_of(DISPATCH, wheel_factory, tmp_path)
    check = 'TOY_CPU=5 python -c "import toynative as t; print(t.lib.dispatch(1))"'
    reduced = _library_of(_minimize(wheel, tmp_path / cpu, check=check, cpu=cpu))
    on = {
        "avx512": {"TOY_CPU": "5"},
        "avx2": {"TOY_CPU": "2"},
        "baseline": {"TOY_CPU": "0"},
        "vendor": {"TOY_CPU": "5", "TOY_VENDOR": "1"},
    }
    codes = {name: _call(reduced, tmp_path, "dispatch", env) for name, env in on.items()}
    expected = 0 if cpu == "portable" else -signal.SIGTRAP
    assert codes == {"avx512": 0, "avx2": expected, "baseline": expected, "vendor": expected}
    assert _call(reduced, tmp_path, "other") == -signal.SIGTRAP


def test_an_interrupted_run_resumes_without_repeating_traced_runs(native_wheel: Path, tmp_path: Path) -> None:
    whole = _minimize(native_wheel, tmp_path / "whole")

    def stop_after_trace(event: Progress) -> None:
        if event.runs >= 3:  # the reference, the numpy question, the traced run
            raise KeyboardInterrupt

    cut = _minimize(native_wheel, tmp_path / "cut", progress=stop_after_trace)
    assert cut.stop_reason == INTERRUPTED
    resumed = _minimize(native_wheel, tmp_path / "cut", resume=True)
    assert resumed.complete and resumed.resumed == cut.oracle_runs
    assert cut.oracle_runs + resumed.oracle_runs == whole.oracle_runs
    assert _library_of(resumed) == _library_of(whole)


# Starts "threads" only without OPENBLAS_NUM_THREADS=1, which the oracle sets and users rarely do.
THREADS = r"""
#include <stdlib.h>
static __attribute__((noinline)) int start_threads(int x) { return x + 100; }
int threads(int x) {
    const char *wanted = getenv("OPENBLAS_NUM_THREADS");
    return wanted && wanted[0] == '1' ? x : start_threads(x) - 100;
}
"""


def test_traced_with_the_hosts_thread_settings(
    wheel_factory: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    wheel = _wheel_of(THREADS, wheel_factory, tmp_path)
    check = 'python -c "import toynative as t; print(t.lib.threads(1))"'
    reduced = _library_of(_minimize(wheel, tmp_path / "out", check=check))
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _call(reduced, tmp_path, "threads", env) == 0
    assert _call(reduced, tmp_path, "threads", {**env, "OPENBLAS_NUM_THREADS": "1"}) == 0


def test_an_object_strip_took_the_symbols_of_stays_whole(native_wheel: Path, tmp_path: Path) -> None:
    """Without its names no ISA family is known: what strip ran first on, machine leaves alone."""
    result = _minimize(native_wheel, tmp_path / "out", passes=["strip", "machine"])
    (report,) = result.machine_code.objects
    assert report.how == "untouched: its symbols were stripped before this pass"
    assert result.passes["machine"].runs == 0


# Calls unused() at exit, as numpy frees its dispatchers at exit, only when no tracer of the
# oracle's keeps objects alive: the run a user makes, not the one the search judges.
AT_EXIT_CHECK = (
    'python -c "import atexit, os, toynative as t; '
    "os.environ.get('WHEEL_DDMIN_TRACE_ROOT') or atexit.register(t.lib.unused, 1); "
    'print(t.lib.used(1))"'
)


def test_code_a_user_run_enters_at_exit_stays(native_wheel: Path, library: Path, tmp_path: Path) -> None:
    result = _minimize(native_wheel, tmp_path / "out", check=AT_EXIT_CHECK, verify=True)
    assert result.verified
    table = _table(library.read_bytes())
    assert _bytes_of(_library_of(result), table, "unused") == _bytes_of(library.read_bytes(), table, "unused")
