"""Stubs, emptied docstrings and module facts (minimizer.pysource): unit and property tests."""

from __future__ import annotations

import ast
import random
import types
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.pysource import Stub, comments, docstrings, facts, rewrite, statements, stubs
from tests.test_pysource import CORPUS, MAX_DEPTH, _programs

STUB_LINE = b'raise SystemExit(__name__ + ".%s: removed by wheel-ddmin, it never ran under its oracles")'

MODULE = b'''\
"""Module doc."""
import functools

REGISTRY = []


def register(function):
    REGISTRY.append(function.__name__)
    return function


def default():
    REGISTRY.append("default")
    return 3


@register
@functools.lru_cache(maxsize=None)
def cached(a, b=default(), *rest, key: int = 1, **options) -> int:
    """Doc of cached."""
    return a + b


class Shape:
    """Doc of Shape."""

    sides = 4

    @property
    def area(self):
        return self.sides * 2

    def grow(self, by=default()):
        def inner():
            return by

        return inner()


def generator():
    yield 1
'''


def _exec(source: bytes) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "mod"}
    exec(compile(source, "mod.py", "exec", dont_inherit=True), namespace)
    return namespace


def _all_stubs(source: bytes) -> tuple[Stub, ...]:
    return stubs(source)


def _code_objects(source: bytes) -> Iterator[types.CodeType]:
    stack = [compile(source, "<test>", "exec", dont_inherit=True)]
    while stack:
        code = stack.pop()
        yield code
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))


def test_every_function_of_a_module_can_be_stubbed() -> None:
    names = {s.qualname for s in stubs(MODULE)}
    assert names == {
        "register",
        "default",
        "cached",
        "Shape.area",
        "Shape.grow",
        "Shape.grow.<locals>.inner",
        "generator",
    }


def test_a_stub_keeps_signature_decorators_and_defaults_and_raises() -> None:
    (cached,) = [s for s in stubs(MODULE) if s.name == "cached"]
    result = rewrite(MODULE, stub=[cached])
    namespace = _exec(result)
    # Decorators and default arguments still run at import, in the same order.
    assert namespace["REGISTRY"] == _exec(MODULE)["REGISTRY"] == ["default", "cached", "default"]
    function = namespace["cached"]
    assert callable(function)
    assert function.__wrapped__.__doc__ == ""  # type: ignore[attr-defined]
    with pytest.raises(SystemExit, match=r"^mod\.cached: removed by wheel-ddmin"):
        function(1)
    # Every line before the body is the original's.
    before = MODULE.splitlines(keepends=True)[: cached.start - 1]
    assert result.splitlines(keepends=True)[: cached.start - 1] == before


def test_a_stubbed_method_and_generator_raise_and_the_rest_still_works() -> None:
    chosen = [s for s in stubs(MODULE) if s.name in ("area", "generator")]
    namespace = _exec(rewrite(MODULE, stub=chosen))
    shape = namespace["Shape"]()  # type: ignore[operator]
    assert shape.grow() == 3
    with pytest.raises(SystemExit, match=r"mod\.Shape\.area:"):
        _ = shape.area
    with pytest.raises(SystemExit, match=r"mod\.generator:"):
        namespace["generator"]()  # type: ignore[operator]


def test_stubbing_is_idempotent_and_nested_stubs_go_with_their_function() -> None:
    every = stubs(MODULE)
    once = rewrite(MODULE, stub=every)
    assert rewrite(once, stub=stubs(once)) == once
    # ``inner`` went with ``grow``: one stub line for each outermost function only.
    assert once.count(b"raise SystemExit") == len(every) - 1


def test_docstrings_become_empty_strings() -> None:
    result = rewrite(MODULE, blank=docstrings(MODULE))
    namespace = _exec(result)
    assert namespace["__doc__"] == ""
    assert namespace["Shape"].__doc__ == ""  # type: ignore[attr-defined]
    assert b"Doc of" not in result
    assert rewrite(result, blank=docstrings(result)) == result


def test_comment_lines_go_but_not_in_strings_nor_on_the_first_two_lines() -> None:
    source = (
        b"#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nx = 1  # trailing\n# alone\n"
        b"s = '''\n# in a string\n'''\nitems = [\n    1,\n    # between items\n    2,\n]\n"
        b"def f():\n    # first\n    return 1\n"
    )
    assert comments(source) == (4, 10, 14)
    result = rewrite(source, comments=comments(source))
    assert result == (
        b"#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nx = 1  # trailing\n"
        b"s = '''\n# in a string\n'''\nitems = [\n    1,\n    2,\n]\ndef f():\n    return 1\n"
    )
    with pytest.raises(ValueError, match="not a comment line"):
        rewrite(source, comments=[3])


def test_a_stub_of_a_function_without_docstring_is_one_line() -> None:
    (generator,) = [s for s in stubs(MODULE) if s.name == "generator"]
    result = rewrite(MODULE, stub=[generator])
    assert result.endswith(b"def generator():\n    " + STUB_LINE % b"generator" + b"\n")


def test_bodies_on_the_def_line_are_not_offered() -> None:
    source = b"def f(): return 1\nclass C:\n    def g(self): pass\n    def h(self):\n        return 2\n"
    assert [s.name for s in stubs(source)] == ["h"]


def test_module_level_getattr_stub_raises_attribute_error() -> None:
    source = b"def __getattr__(name):\n    return 1\n"
    namespace = _exec(rewrite(source, stub=stubs(source)))
    module = types.ModuleType("mod")
    module.__dict__.update(namespace)
    assert not hasattr(module, "anything")


def test_first_line_and_name_match_the_code_objects() -> None:
    """The coverage keys on co_firstlineno and co_name: every function must be found by them."""
    for name, source in CORPUS.items():
        codes = {(c.co_firstlineno, c.co_name) for c in _code_objects(source)}
        found = facts(source, "mod", package=False).functions
        assert all((f.first, f.name) in codes for f in found), name


def test_facts_of_a_small_package() -> None:
    source = (
        b"from . import core\nfrom .core import *\nfrom .lib import helper as h\nimport os.path\n"
        b"__all__ = ['a'] + core.__all__\n__all__.extend(['b'])\nx: int = 1\nx += 2\n"
        b"try:\n    import json\nexcept ImportError:\n    json = None\n"
        b"def a(p=os.sep):\n    return h(p)\n_setup()\ndel x\n"
    )
    found = facts(source, "pkg", package=True)
    by_line = {u.start: u for u in found.units}
    assert by_line[1].binds == {"core"} and by_line[1].imports == {"pkg", "pkg.core"}
    assert by_line[2].star == "pkg.core" and not by_line[2].binds
    assert by_line[3].binds == {"h"} and "pkg.lib.helper" in by_line[3].imports
    assert by_line[4].binds == {"os"} and by_line[4].imports == {"os", "os.path"}
    assert by_line[5].strings == {"a"} and by_line[5].reads == {"core"}
    assert by_line[6].mutates == {"__all__"} and by_line[6].effect
    assert by_line[8].reads == {"x"} and by_line[8].binds == {"x"}
    assert by_line[9].stmt is None and by_line[9].binds == frozenset()  # the try block: a root
    assert by_line[10].binds == {"json"} and by_line[12].binds == {"json"}
    assert by_line[13].reads == {"os"}  # the default, not the body
    (function,) = found.functions
    assert function.reads == {"h", "p"} and function.first == 13
    assert by_line[15].calls == {"_setup"} and by_line[15].effect
    assert not by_line[16].effect and not by_line[16].binds


def test_an_expression_in_a_try_body_stays() -> None:
    source = b"try:\n    SETUP\nexcept NameError:\n    SETUP = False\n"
    units = {u.start: u for u in facts(source, "m", package=False).units}
    assert units[2].stmt is None  # it is there to raise
    assert units[4].stmt is not None


def test_relative_imports_resolve_against_the_package() -> None:
    source = b"from .. import top\nfrom ..sibling import s\nfrom . import mine\n"
    units = facts(source, "pkg.sub.mod", package=False).units
    assert [sorted(u.imports) for u in units] == [
        ["pkg", "pkg.top"],
        ["pkg.sibling", "pkg.sibling.s"],
        ["pkg.sub", "pkg.sub.mine"],
    ]


@st.composite
def _edits(draw: st.DrawFn, source: bytes) -> dict[str, list[object]]:
    rng = random.Random(draw(st.integers(0, 2**32)))
    density = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    pick = lambda items: [i for i in items if rng.random() < density]  # noqa: E731
    every = [s for depth in range(MAX_DEPTH) for s in statements(source, depth)]
    return {
        "delete": pick(every),
        "stub": pick(stubs(source)),
        "blank": pick(docstrings(source)),
        "comments": pick(comments(source)),
    }


def _check_rewrite(source: bytes, edits: dict[str, list[object]]) -> None:
    result = rewrite(source, **edits)  # type: ignore[arg-type]
    compile(result, "<test>", "exec", dont_inherit=True)
    # Stubs keep every def line, decorator and default: the same signatures, in the same order,
    # but for the functions defined inside a stubbed body.
    stubbed = edits["stub"]
    tidy = {"blank": edits["blank"], "comments": edits["comments"]}
    kept = rewrite(source, stub=stubbed, **tidy)  # type: ignore[arg-type]
    gone = [(s.start, s.end) for s in stubbed]  # type: ignore[attr-defined]
    expected = [sig for line, sig in _signatures(source) if not any(a <= line <= b for a, b in gone)]
    assert [sig for _, sig in _signatures(kept)] == expected


def _signatures(source: bytes) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found.append(
                (first, node.name + ast.dump(node.args) + "".join(map(ast.dump, node.decorator_list)))
            )
    return sorted(found, key=lambda pair: pair[0])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_mix_of_edits_on_the_corpus_compiles_and_keeps_signatures(data: st.DataObject) -> None:
    source = CORPUS[data.draw(st.sampled_from(sorted(CORPUS)), label="module")]
    _check_rewrite(source, data.draw(_edits(source), label="edits"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs(), st.data())
def test_any_mix_of_edits_on_generated_programs_compiles(source: bytes, data: st.DataObject) -> None:
    _check_rewrite(source, data.draw(_edits(source), label="edits"))


def test_edits_from_another_version_of_the_file_are_refused() -> None:
    (cached,) = [s for s in stubs(MODULE) if s.name == "cached"]
    with pytest.raises(ValueError, match="not a function"):
        rewrite(b"\n" + MODULE, stub=[cached])
