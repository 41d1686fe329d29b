"""minimizer.usage: what a traced run needs, on small packages with hand-made traces."""

from __future__ import annotations

from minimizer.pysource import facts
from minimizer.usage import Module, Plan, plan
from oracles.protocol import Coverage

Read = tuple[str, str, str, int, str]


def _modules(sources: dict[str, str]) -> dict[str, Module]:
    found = {}
    for path, text in sources.items():
        package = path.endswith("/__init__.py")
        name = path.removesuffix("/__init__.py").removesuffix(".py").replace("/", ".")
        found[path] = Module(name, package, facts(text.encode(), name, package=package))
    return found


def _plan(
    sources: dict[str, str], ran: set[tuple[str, int, str]], reads: set[Read], extra: set[str] = frozenset()
) -> dict[str, Plan]:
    modules = _modules(sources)
    present = {m.name for m in modules.values()} | set(extra)
    return plan(modules, Coverage(frozenset(ran), frozenset(reads)), present)


def _deleted(result: Plan) -> list[str]:
    return [s.summary for s in result.delete]


def _stubbed(result: Plan) -> list[str]:
    return [s.qualname for s in result.stub]


CORE = """\
\"\"\"Core.\"\"\"
import os

__all__ = ["answer", "never"]


def _only_for_never():
    return 1


def answer():
    return 42


def never():
    return _only_for_never()


class Shape:
    def used(self):
        return 1

    def unused(self):
        return 2


_NOBODY_READS = [1, 2, 3]
"""


def test_never_called_functions_are_stubbed_and_unread_names_deleted() -> None:
    ran = {("pkg/core.py", 1, "<module>"), ("pkg/core.py", 11, "answer"), ("pkg/core.py", 20, "used")}
    reads = {("pkg/core.py", "answer", "", 0, ""), ("pkg/core.py", "Shape", "", 0, "")}
    result = _plan({"pkg/core.py": CORE}, ran, reads)["pkg/core.py"]
    # ``never`` is in __all__ but __all__ itself is read by nobody: it goes with its function.
    assert _deleted(result) == [
        "import os",
        '__all__ = ["answer", "never"]',
        "def _only_for_never",
        "def never",
        "_NOBODY_READS = [1, 2, 3]",
    ]
    assert _stubbed(result) == ["Shape.unused"]
    assert [d.summary for d in result.blank] == ['"""Core."""']


def test_a_read_all_keeps_every_name_it_lists() -> None:
    ran = {("pkg/core.py", 11, "answer")}
    reads = {("pkg/core.py", "__all__", "", 0, ""), ("pkg/core.py", "answer", "", 0, "")}
    result = _plan({"pkg/core.py": CORE}, ran, reads)["pkg/core.py"]
    assert "def never" not in _deleted(result)  # listed in __all__: it stays, stubbed
    assert "never" in _stubbed(result)
    assert "def _only_for_never" in _deleted(result)  # only the stubbed body read it


def test_names_read_by_a_kept_statement_stay_and_by_a_deleted_one_go() -> None:
    sources = {
        "pkg/__init__.py": "from .core import answer\nfrom .core import never\n",
        "pkg/core.py": "def answer():\n    return 1\n\n\ndef never():\n    return 2\n",
    }
    reads = {
        ("pkg/core.py", "answer", "pkg/__init__.py", 1, ""),
        ("pkg/core.py", "never", "pkg/__init__.py", 2, ""),
        ("pkg/__init__.py", "answer", "", 0, ""),
    }
    ran = {("pkg/core.py", 1, "answer")}
    result = _plan(sources, ran, reads)
    assert _deleted(result["pkg/__init__.py"]) == ["from .core import never"]
    assert _deleted(result["pkg/core.py"]) == ["def never"]


def test_a_module_nothing_imports_any_more_is_left_whole() -> None:
    sources = {
        "pkg/__init__.py": "from . import heavy\nfrom .core import answer\n",
        "pkg/core.py": "def answer():\n    return 1\n",
        "pkg/heavy.py": "import os\nDATA = os.sep * 3\n",
    }
    reads = {("pkg/core.py", "answer", "pkg/__init__.py", 2, ""), ("pkg/__init__.py", "answer", "", 0, "")}
    result = _plan(sources, {("pkg/core.py", 1, "answer")}, reads)
    assert _deleted(result["pkg/__init__.py"]) == ["from . import heavy"]
    assert not result["pkg/heavy.py"]  # the files pass takes it whole


def test_star_imports_of_one_object_keep_only_the_first() -> None:
    sources = {
        "pkg/__init__.py": "from .core import *\nfrom .lib import *\n",
        "pkg/core.py": "def f():\n    return 1\n",
        "pkg/lib.py": "from .core import f\n\n\ndef g():\n    return 2\n",
    }
    same = "pkg/core.py:1:f"
    reads = {
        ("pkg/core.py", "f", "pkg/__init__.py", 1, same),
        ("pkg/lib.py", "f", "pkg/__init__.py", 2, same),
        ("pkg/core.py", "f", "pkg/lib.py", 1, ""),
        ("pkg/lib.py", "g", "pkg/__init__.py", 2, "pkg/lib.py:4:g"),
        ("pkg/__init__.py", "f", "", 0, ""),
    }
    result = _plan(sources, {("pkg/core.py", 1, "f")}, reads)
    assert _deleted(result["pkg/__init__.py"]) == ["from .lib import *"]
    assert not result["pkg/lib.py"]
    # Two different objects under one name: both star imports stay (the last one wins at run time).
    different = {r if r[1] != "f" or r[0] != "pkg/lib.py" else (*r[:4], "pkg/lib.py:9:f") for r in reads}
    result = _plan(sources, {("pkg/core.py", 1, "f")}, different)
    assert _deleted(result["pkg/__init__.py"]) == []


def test_a_name_bound_where_the_source_does_not_say_keeps_every_call() -> None:
    source = "def _setup():\n    globals()['x'] = 1\n\n\n_setup()\nprint('side effect')\n"
    reads = {("pkg/m.py", "x", "", 0, "")}
    result = _plan({"pkg/m.py": source}, {("pkg/m.py", 1, "_setup")}, reads, {"pkg"})["pkg/m.py"]
    assert _deleted(result) == []


def test_calls_that_change_needed_names_stay() -> None:
    source = (
        "TABLE = {}\n\n\ndef _fill():\n    TABLE['a'] = 1\n\n\ndef _noise():\n    print(1)\n\n\n"
        "_fill()\n_noise()\n\n\ndef lookup(k):\n    return TABLE[k]\n"
    )
    ran = {("pkg/m.py", 4, "_fill"), ("pkg/m.py", 8, "_noise"), ("pkg/m.py", 16, "lookup")}
    reads = {("pkg/m.py", "lookup", "", 0, "")}
    result = _plan({"pkg/m.py": source}, ran, reads, {"pkg"})["pkg/m.py"]
    assert _deleted(result) == ["def _noise", "_noise()"]


def test_module_hooks_always_stay() -> None:
    source = "def __getattr__(name):\n    raise AttributeError(name)\n\n\ndef __dir__():\n    return []\n"
    result = _plan({"m.py": source}, set(), set())["m.py"]
    assert _deleted(result) == []
    assert _stubbed(result) == ["__getattr__", "__dir__"]


def test_a_star_import_from_an_extension_stays() -> None:
    source = "from ._native import *\n\nthing.__module__ = 'pkg'\n"
    reads = {("pkg/__init__.py", "thing", "", 0, "")}
    result = _plan({"pkg/__init__.py": source}, set(), reads, {"pkg._native"})["pkg/__init__.py"]
    assert _deleted(result) == []
