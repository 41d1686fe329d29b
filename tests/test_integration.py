"""The whole tool on a small synthetic wheel, with a real subprocess oracle (a user check command)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from minimizer import cli, minimize
from minimizer.search import Progress

TOY = {
    "toypkg/__init__.py": "from .core import answer\n",
    "toypkg/core.py": "def answer():\n    return 42\n",
    "toypkg/unused.py": "def main():\n    print('never needed')\n",
    "toypkg/data/big.bin": bytes(range(256)) * 400,
    "toypkg/sub/__init__.py": "",
    "toypkg/sub/helper.py": "X = 1\n",
    "toypkg/LICENSE.txt": "Permission is hereby granted...\n",
}
ENTRY_POINTS = "[console_scripts]\ntoy = toypkg.unused:main\ntoy-core = toypkg.core:answer\n"
CHECK = 'python -c "import toypkg; print(toypkg.answer())"'


@pytest.fixture
def toy_wheel(wheel_factory: Callable[..., Path]) -> Path:
    return wheel_factory(TOY, entry_points=ENTRY_POINTS)


def _members(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_cli_minimizes_to_exactly_what_the_check_needs(toy_wheel: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    code = cli.main([str(toy_wheel), "--check", CHECK, "-o", str(out), "--report", str(report), "--quiet"])
    assert code == 0
    result = out / toy_wheel.name
    package = {m for m in _members(result) if not m.startswith("toypkg-1.0.dist-info/")}
    # The license travels with the result whatever the check says.
    assert package == {"toypkg/__init__.py", "toypkg/core.py", "toypkg/LICENSE.txt"}
    with zipfile.ZipFile(result) as archive:
        entry_points = archive.read("toypkg-1.0.dist-info/entry_points.txt").decode()
    assert "toy-core = toypkg.core:answer" in entry_points
    assert "toypkg.unused" not in entry_points
    data = json.loads(report.read_text())
    assert data["schema_version"] == 2
    assert data["input"]["files"] == len(TOY) + 4
    assert data["output"]["files"] == 3 + 4
    assert data["output"]["size_bytes"] == result.stat().st_size < toy_wheel.stat().st_size
    assert data["oracle_runs"] > 0 and data["verified"] is True
    assert not any(p.name.startswith(".") for p in out.iterdir()), "staging files left behind"


def test_same_result_for_any_number_of_jobs(toy_wheel: Path, tmp_path: Path) -> None:
    results = [
        minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / f"j{jobs}", jobs=jobs, verify=False)
        for jobs in (1, 3)
    ]
    outputs = [r.wheels[0].output for r in results]
    assert outputs[0] is not None and outputs[1] is not None
    assert outputs[0].read_bytes() == outputs[1].read_bytes()


def test_input_wheel_is_never_modified(toy_wheel: Path, tmp_path: Path) -> None:
    before = toy_wheel.read_bytes()
    minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / "out", verify=False, jobs=1)
    assert toy_wheel.read_bytes() == before


def test_a_check_that_fails_on_the_original_is_an_input_error(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [str(toy_wheel), "--check", "python -c 'import sys; sys.exit(3)'", "-o", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fails with the original wheel" in err[0]


def test_a_check_that_tests_nothing_is_refused(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([str(toy_wheel), "--check", "python -c 'print(1)'", "-o", str(tmp_path / "o"), "--quiet"])
    assert code == 2
    assert "tests nothing" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["missing.whl"], "missing.whl: no such file"),
        (["--jobs", "0", "x.whl"], "argument --jobs: must be at least 1"),
        (["--passes", "nonsense", "x.whl"], "argument --passes: choose from files,"),
        (["--frobnicate", "x.whl"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_usage_and_input_errors_exit_2(
    argv_tail: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main([*argv_tail, "--check", "true", "-o", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wheel-ddmin: error: ") and message in err[0], err


def test_not_a_wheel_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "numpy-1.0-cp311-cp311-linux_x86_64.whl"
    bogus.write_bytes(b"this is not a zip")
    assert cli.main([str(bogus), "--check", "true", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a valid zip" in err[0]


def test_output_path_that_is_a_file_is_refused(toy_wheel: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("")
    assert cli.main([str(toy_wheel), "--check", CHECK, "-o", str(blocker)]) == 2


def test_library_never_prints(toy_wheel: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    minimize([toy_wheel], checks=[CHECK], output_dir=tmp_path / "out", verify=False, jobs=1)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_isolated_from_host_site_packages(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """A module the host has (pytest) must not stand in for a removed one."""
    wheel = wheel_factory({"shadow/__init__.py": "import pytest as _p\nVALUE = 7\n"}, name="shadow")
    code = cli.main(
        [
            str(wheel),
            "--check",
            'python -c "import shadow; print(shadow.VALUE)"',
            "-o",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    # With site-packages hidden, the original itself cannot import pytest: a clear input error.
    assert code == 2, "host site-packages leaked into the check"
    assert sys.executable


def test_a_hanging_candidate_is_killed_and_fails(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """Without its marker module the check hangs: the timeout must kill it and count a failure."""
    files = {
        "hang/__init__.py": "",
        "hang/marker.py": "",
        "hang/unused.py": "",
    }
    wheel = wheel_factory(files, name="hang")
    check = (
        'python -c "import time, importlib.util as u; '
        "u.find_spec('hang.marker') or time.sleep(300); print('ok')\""
    )
    out = tmp_path / "o"
    code = cli.main(
        [str(wheel), "--check", check, "-o", str(out), "--timeout", "2", "--jobs", "1", "--quiet"]
    )
    # A hanging run that counted as anything but a failure would let the marker go (tests/test_harness.py
    # shows the whole process group is killed).
    assert code == 0
    assert "hang/marker.py" in _members(out / wheel.name)
    assert "hang/unused.py" not in _members(out / wheel.name)


def test_a_nondeterministic_check_is_refused(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check = 'python -c "import os, toypkg; print(os.urandom(8).hex())"'
    assert cli.main([str(toy_wheel), "--check", check, "-o", str(tmp_path / "o"), "--quiet"]) == 2
    assert "nondeterministic" in capsys.readouterr().err


def test_decompression_bomb_cap_is_configurable(
    toy_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main([str(toy_wheel), "--check", CHECK, "-o", str(tmp_path / "o"), "--max-unpacked", "10kB"]) == 2
    )
    assert "decompression bomb" in capsys.readouterr().err


def test_a_crashing_candidate_fails(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """Without its marker module the check segfaults: that is a failing candidate, not a tool error."""
    wheel = wheel_factory(
        {"crash/__init__.py": "", "crash/marker.py": "", "crash/unused.py": ""}, name="crash"
    )
    check = (
        'python -c "import ctypes, importlib.util as u; '
        "u.find_spec('crash.marker') or ctypes.string_at(0); print('ok')\""
    )
    out = tmp_path / "o"
    assert cli.main([str(wheel), "--check", check, "-o", str(out), "--jobs", "1", "--quiet"]) == 0
    assert "crash/marker.py" in _members(out / wheel.name)
    assert "crash/unused.py" not in _members(out / wheel.name)


def test_temporary_folders_are_removed(toy_wheel: Path, tmp_path: Path, private_tmp: Path) -> None:
    """A run (the final pip install and its venv included) leaves nothing in the temp folder."""
    assert cli.main([str(toy_wheel), "--check", CHECK, "-o", str(tmp_path / "a"), "--quiet"]) == 0
    assert cli.main([str(toy_wheel), "--check", "false", "-o", str(tmp_path / "b"), "--quiet"]) == 2
    assert list(private_tmp.iterdir()) == []


def test_a_requirement_that_cannot_be_downloaded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["wheel-ddmin-no-such-package-for-tests==1.0", "--check", "true", "-o", str(tmp_path)])
    assert code == 2
    assert "cannot download" in capsys.readouterr().err


def test_statements_pass_frees_files(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """An import nobody needs goes from __init__.py, and then the module it imported goes too."""
    files = {
        "stmts/__init__.py": "from . import heavy\nfrom .core import answer\n_unused_call = print\n",
        "stmts/core.py": "def answer():\n    return 42\n",
        "stmts/heavy.py": "DATA = " + repr(list(range(2000))) + "\n",
    }
    wheel = wheel_factory(files, name="stmts")
    check = 'python -c "import stmts; print(stmts.answer())"'
    out = tmp_path / "o"
    assert cli.main([str(wheel), "--check", check, "-o", str(out), "--jobs", "1", "--quiet"]) == 0
    assert "stmts/heavy.py" not in _members(out / wheel.name)
    with zipfile.ZipFile(out / wheel.name) as archive:
        init = archive.read("stmts/__init__.py").decode()
    assert "from .core import answer" in init and "heavy" not in init


@pytest.mark.parametrize("form", ["script", "module"])
def test_check_commands_are_traced_in_every_form(
    toy_wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """A traced check lets the search start from what the check used: a handful of runs."""
    (tmp_path / "app_check.py").write_text("import toypkg\nprint(toypkg.answer())\n")
    monkeypatch.chdir(tmp_path)
    check = "python app_check.py" if form == "script" else "python -m app_check"
    result = minimize([toy_wheel], checks=[check], output_dir=tmp_path / "o", jobs=1, verify=False)
    assert result.wheels[0].output_files == 3 + 4
    assert result.oracle_runs <= 6


STUBBY = {
    "stubby/__init__.py": '"""Docs."""\nfrom .core import *\n',
    "stubby/core.py": (
        '"""A module."""\n__all__ = ["answer", "never", "Shape"]\n\n\n'
        "def _only_for_never():\n    return " + repr(list(range(300))) + "\n\n\n"
        'def answer():\n    """The answer."""\n    return 42\n\n\n'
        "def never(x):\n    return _only_for_never()[x]\n\n\n"
        "class Shape:\n    def used(self):\n        return 1\n\n    def unused(self):\n        return 2\n\n\n"
        "_NOBODY_READS = " + repr(list(range(300, 600))) + "\n"
    ),
}


def _run(wheel: Path, tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with the wheel's contents importable, the way a user's program would."""
    tree = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tree)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=False
    )


def test_statements_pass_stubs_what_never_ran(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    wheel = wheel_factory(STUBBY, name="stubby")
    check = 'python -c "from stubby import *; print(answer(), Shape().used())"'
    out = tmp_path / "o"
    report = tmp_path / "report.json"
    argv = [str(wheel), "--check", check, "-o", str(out), "--jobs", "1", "--quiet", "--report", str(report)]
    assert cli.main(argv) == 0
    result = out / wheel.name
    with zipfile.ZipFile(result) as archive:
        core = archive.read("stubby/core.py").decode()
    assert "return 42" in core  # ran: kept as it was
    assert "def never(x):" in core and "_only_for_never" not in core and "_NOBODY_READS" not in core
    assert "The answer" not in core and "A module" not in core
    assert "return 2" not in core and "return 1" in core
    # One proposal, and it passed.
    passes = {p["name"]: p["runs"] for p in json.loads(report.read_text())["passes"]}
    assert passes["statements"] == 1
    # A name of __all__ still imports; calling what never ran stops the program and names it.
    listed = _run(result, tmp_path, "from stubby import *; print(answer(), never, Shape)")
    assert listed.returncode == 0 and listed.stdout.startswith("42 <function never")
    called = _run(result, tmp_path, "import stubby; stubby.never(1); print('went on')")
    assert called.returncode == 1 and "went on" not in called.stdout
    assert "stubby.core.never: removed by wheel-ddmin" in called.stderr
    method = _run(result, tmp_path, "import stubby; stubby.Shape().unused()")
    assert method.returncode == 1 and "stubby.core.Shape.unused: removed" in method.stderr


def test_an_untraced_check_leaves_functions_alone(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """A python the boot script cannot trace (an interpreter flag): what ran is unknown, not nothing."""
    wheel = wheel_factory(STUBBY, name="stubby")
    check = 'python -X utf8 -c "from stubby import *; print(answer(), Shape().used())"'
    out = tmp_path / "o"
    assert cli.main([str(wheel), "--check", check, "-o", str(out), "--jobs", "1", "--quiet"]) == 0
    with zipfile.ZipFile(out / wheel.name) as archive:
        core = archive.read("stubby/core.py").decode()
    assert "removed by wheel-ddmin" not in core and "_NOBODY_READS" in core
    assert "The answer" not in core  # docstrings still go: that needs no trace


def test_a_resumed_run_plans_the_same_edits(wheel_factory: Callable[..., Path], tmp_path: Path) -> None:
    """The journal keeps each verdict's coverage: resumed, the statements pass plans as before."""
    # An unused file, so that the statements pass starts from a state the journal judged.
    wheel = wheel_factory({**STUBBY, "stubby/extra.py": "X = 1\n"}, name="stubby")
    check = 'python -c "from stubby import *; print(answer(), Shape().used())"'
    common = {"checks": [check], "jobs": 1, "verify": False}
    whole = minimize([wheel], output_dir=tmp_path / "whole", **common)  # type: ignore[arg-type]

    def interrupt(event: Progress) -> None:
        if event.pass_name == "statements":  # as it starts: it will plan from a journaled verdict
            raise KeyboardInterrupt

    cut = minimize([wheel], output_dir=tmp_path / "cut", progress=interrupt, **common)  # type: ignore[arg-type]
    assert not cut.complete
    resumed = minimize([wheel], output_dir=tmp_path / "cut", resume=True, **common)  # type: ignore[arg-type]
    assert resumed.complete and resumed.resumed == cut.oracle_runs
    assert cut.oracle_runs + resumed.oracle_runs == whole.oracle_runs  # the same proposals, no others
    assert resumed.wheels[0].output is not None and whole.wheels[0].output is not None
    assert resumed.wheels[0].output.read_bytes() == whole.wheels[0].output.read_bytes()


def test_a_failing_proposal_loses_only_its_bad_edits(
    wheel_factory: Callable[..., Path], tmp_path: Path
) -> None:
    """A function called only by an untraced python is stubbed by the proposal; ddmin puts it back."""
    files = {
        "hidden/__init__.py": (
            "def hidden():\n    return 'seen'\n\n\ndef answer():\n    return 42\n\n\n"
            "def unused():\n    return " + repr(list(range(300))) + "\n"
        )
    }
    wheel = wheel_factory(files, name="hidden")
    inner = "import hidden; print(hidden.hidden())"
    check = (
        'python -c "import hidden, subprocess, sys; '
        f"child = subprocess.run([sys.executable, '-c', '{inner}'], capture_output=True, text=True); "
        'print(child.stdout.strip(), hidden.answer())"'
    )
    out, report = tmp_path / "o", tmp_path / "report.json"
    argv = [str(wheel), "--check", check, "-o", str(out), "--jobs", "1", "--quiet", "--report", str(report)]
    assert cli.main(argv) == 0
    with zipfile.ZipFile(out / wheel.name) as archive:
        source = archive.read("hidden/__init__.py").decode()
    assert "return 'seen'" in source and "return 42" in source
    assert "def unused" not in source
    passes = {p["name"]: p["runs"] for p in json.loads(report.read_text())["passes"]}
    assert passes["statements"] > 1  # the proposal failed, ddmin found the edit to hold back


def test_output_into_the_input_folder_is_refused(toy_wheel: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = toy_wheel.read_bytes()
    assert cli.main([str(toy_wheel), "--check", CHECK, "-o", str(toy_wheel.parent)]) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert toy_wheel.read_bytes() == before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_outputs_get_the_permissions_the_umask_gives(
    toy_wheel: Path, tmp_path: Path, umask: int, mode: int
) -> None:
    """Like pip and wheel: what the user gets is an ordinary file, not a private temporary one."""
    out = tmp_path / "o"
    argv = [str(toy_wheel), "--check", CHECK, "-o", str(out), "--quiet", "--no-verify"]
    previous = os.umask(umask)
    try:
        assert cli.main([*argv, "--report", str(out / "r.json"), "--summary", str(out / "s.md")]) == 0
    finally:
        os.umask(previous)
    for name in (toy_wheel.name, "r.json", "s.md", "s.svg"):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode, name
