"""The in-process tracer (oracles/_trace.py) under every CPython at hand: what ran, what was read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oracles import _trace

PACKAGE = {
    "tpkg/__init__.py": "from .core import *\nfrom . import core\n",
    "tpkg/core.py": (
        "import threading\n\n__all__ = ['called', 'never']\n\n\n"
        "def called():\n    return _in_thread()\n\n\n"
        "def never():\n    return 0\n\n\n"
        "def _in_thread():\n    out = []\n"
        "    worker = threading.Thread(target=lambda: out.append(_worker()))\n"
        "    worker.start()\n    worker.join()\n    return out[0]\n\n\n"
        "@staticmethod\ndef _worker():\n    return 7\n"
    ),
}
RUN = """\
import json, sys
sys.path.insert(0, {oracles!r})
from _trace import Tracer
del sys.path[0]
tracer = Tracer([{tree!r}])
if hasattr(sys, "monitoring"):  # a check that runs coverage.py or a profiler keeps its tool ids
    for tool in (sys.monitoring.COVERAGE_ID, sys.monitoring.PROFILER_ID):
        sys.monitoring.use_tool_id(tool, "the user's")
sys.path.insert(0, {tree!r})
import tpkg
tpkg.called()
with open({out!r}, "w") as handle:
    json.dump(tracer.collect(), handle)
"""


def _interpreters() -> list[str]:
    found = [sys.executable]
    for version in ("3.10", "3.12", "3.13"):
        found += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))[:1]
    return found


@pytest.mark.parametrize("python", _interpreters())
def test_what_ran_and_what_was_read(python: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for path, text in PACKAGE.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    out = tmp_path / "trace.json"
    script = RUN.format(oracles=str(Path(_trace.__file__).parent), tree=str(tree), out=str(out))
    subprocess.run([python, "-I", "-S", "-c", script], check=True, timeout=120)
    data = json.loads(out.read_text())
    ran, reads = _trace.relative_coverage([data], tree)
    names = {(path, name) for path, _, name in ran}
    assert {("tpkg/core.py", "called"), ("tpkg/core.py", "_in_thread"), ("tpkg/core.py", "_worker")} <= names
    assert ("tpkg/core.py", "never") not in names
    assert ("tpkg/core.py", 22, "_worker") in ran  # a decorated def starts at its decorator
    # The star import read each name of __all__ from core, on line 1 of the package.
    star = {(name, origin) for module, name, reader, line, origin in reads if reader == "tpkg/__init__.py"}
    assert ("called", "tpkg/core.py:6:called") in star and ("__all__", "") in star
    # The user's own code read ``called`` from the package: an outside reader.
    assert ("tpkg/__init__.py", "called", "", 0, "") in reads
    # ``from . import core`` asks hasattr from importlib: the package's line 2 is the reader.
    assert {(r, line) for m, n, r, line, _ in reads if n == "core"} == {("tpkg/__init__.py", 2)}
    assert any(path == "tpkg/core.py" for path in _trace.relative(data["opened"], tree))


def test_a_tracer_without_roots_traces_nothing(tmp_path: Path) -> None:
    assert _trace.Tracer([]).collect() == {"opened": [], "ran": [], "reads": []}


# After collect() the run must end as a user's run ends: a module freed at exit frees what it holds.
HELD = {
    "held.py": (
        "import os\n\n\nclass Noisy:\n    def __del__(self):\n        os.write(1, b'freed\\n')\n\n\n"
        "def touch():\n    return obj\n\n\nobj = Noisy()\n"
    ),
}
RELEASE = """\
import sys, types
sys.path.insert(0, {oracles!r})
from _trace import Tracer
del sys.path[0]
tracer = Tracer([{tree!r}])
sys.path.insert(0, {tree!r})
import held
held.touch()
tracer.collect()
print(type(held) is types.ModuleType, sys.getprofile() is None, held.obj is not None)
if hasattr(sys, "monitoring"):
    print([sys.monitoring.get_tool(t) for t in (3, 4)])
del held  # sys.modules holds it alone: it is freed, not cleared, at exit
"""


@pytest.mark.parametrize("python", _interpreters())
def test_after_collect_the_run_ends_as_without_a_tracer(python: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for path, text in HELD.items():
        (tree / path).write_text(text)
    script = RELEASE.format(oracles=str(Path(_trace.__file__).parent), tree=str(tree))
    done = subprocess.run([python, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "True True True"  # the module's own class again, no profiler
    if len(lines) == 3:
        assert lines[1] == "[None, None]"  # the monitoring tool id is free again
    assert lines[-1] == "freed"  # the tracer held nothing of the module's


# numpy's ufuncs: the tracer must name them without running their code (a ufunc's __name__ is
# numpy's C code, which a user's run may never run and the machine-code pass would trap).
UFUNCS = {
    "upkg/__init__.py": "from .kernels import *\nfrom .again import *\nfrom .other import *\n",
    "upkg/kernels.py": (
        "class ufunc:\n    @property\n    def __name__(self):\n"
        "        raise SystemExit('the tracer asked a ufunc its name')\n\n\n"
        "__all__ = ['add', 'absolute', 'abs']\nadd, absolute = ufunc(), ufunc()\nabs = absolute\n"
    ),
    "upkg/again.py": "from .kernels import add, ufunc\n\n__all__ = ['add', 'negative']\nnegative = ufunc()\n",
    "upkg/other.py": "from .kernels import ufunc\n\n__all__ = ['add', 'negative']\n"
    "add = negative = ufunc()\n",
}


def test_ufuncs_are_told_apart_without_running_their_code(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for path, text in UFUNCS.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    out = tmp_path / "trace.json"
    script = RUN.replace("import tpkg\ntpkg.called()\n", "import upkg\n").format(
        oracles=str(Path(_trace.__file__).parent), tree=str(tree), out=str(out)
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    _, reads = _trace.relative_coverage([json.loads(out.read_text())], tree)
    origins: dict[str, dict[str, str]] = {}
    for module, name, reader, _, origin in reads:
        if reader == "upkg/__init__.py" and name in ("add", "absolute", "abs", "negative"):
            origins.setdefault(name, {})[module] = origin
    # One object re-exported twice has one origin; two objects under one name have two.
    assert origins["add"]["upkg/kernels.py"] == origins["add"]["upkg/again.py"]
    assert origins["add"]["upkg/other.py"] != origins["add"]["upkg/kernels.py"]
    assert origins["abs"]["upkg/kernels.py"] == origins["absolute"]["upkg/kernels.py"]
    assert origins["negative"]["upkg/again.py"] != origins["negative"]["upkg/other.py"]
    assert all(o.startswith("ufunc ") for found in origins.values() for o in found.values())
