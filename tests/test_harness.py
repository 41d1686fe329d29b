"""Tests for oracles.harness.run: output, return codes, and killing the whole group on timeout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from oracles.harness import Completed, python_env, run

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="process groups and sh are POSIX")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs; a zombie (killed, not yet reaped by init) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    if not Path("/proc").is_dir():
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_gone(pids: list[int], seconds: float = 5.0) -> list[int]:
    """The pids still alive after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_stdout_stderr_and_return_code() -> None:
    done = run(python("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"), timeout=60)
    assert (done.returncode, done.stdout.strip(), done.stderr.strip()) == (3, b"out", b"err")
    assert not done.timed_out
    assert done.seconds > 0


def test_success_is_return_code_zero() -> None:
    done = run(python("print('ok')"), timeout=60)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [b"ok"]


def test_stdin_cwd_and_env_reach_the_child(tmp_path: Path) -> None:
    code = "import os, sys; print(sys.stdin.read().upper(), os.getcwd(), os.environ['HARNESS_TEST'])"
    env = {**os.environ, "HARNESS_TEST": "marker"}
    done = run(python(code), timeout=60, cwd=tmp_path, env=env, stdin=b"hello")
    words = done.stdout.decode().split()
    assert words[0] == "HELLO"
    assert Path(words[1]).resolve() == tmp_path.resolve()
    assert words[2] == "marker"


def test_no_stdin_means_end_of_file() -> None:
    done = run(python("import sys; print(repr(sys.stdin.read()))"), timeout=60)
    assert done.stdout.strip() == b"''"


def test_last_error_line_skips_blank_lines() -> None:
    done = run(python("import sys; sys.stderr.write('first\\n  second problem \\n\\n  \\n')"), timeout=60)
    assert done.last_error_line() == "second problem"
    assert Completed(0, b"", b"", 0.0).last_error_line() == ""


@POSIX_ONLY
def test_timeout_returns_none_and_keeps_partial_output(tmp_path: Path) -> None:
    finished = tmp_path / "finished"
    done = run(["sh", "-c", f"echo started; sleep 300; touch {finished}"], timeout=1.0)
    assert done.returncode is None
    assert done.timed_out
    assert done.stdout == b"started\n"
    assert not finished.exists(), "the run was waited out, not killed"


@POSIX_ONLY
def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    done = run(["sh", "-c", script], timeout=5.0)
    assert done.returncode is None
    spawned = [int(line) for line in pids.read_text().split()]
    assert len(spawned) == 3, "the shell did not start both grandchildren in time"
    # Killed, they are gone at once; alive, they would sleep long past this bound.
    assert wait_gone(spawned, seconds=60.0) == []


@POSIX_ONLY
def test_helper_sees_a_live_process() -> None:
    # Guards the test above: alive() must not call every pid gone.
    assert alive(os.getpid())


def test_python_env_strips_python_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    monkeypatch.setenv("VIRTUAL_ENV", "/venv")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    env = python_env({"EXTRA": "1"})
    assert "PYTHONPATH" not in env and "VIRTUAL_ENV" not in env
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONHASHSEED"] == "0"
    assert env["OMP_NUM_THREADS"] == "8"  # an explicit choice is kept
    assert env["EXTRA"] == "1"
