"""Property and edge-case tests for minimizer.pysource on stdlib modules and tricky snippets."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import json.decoder
import random
import re
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimizer.pysource import Stmt, delete, docstrings, statements

PASS_LINE = re.compile(rb"[ \t\f]*pass(?:\r\n|\n|\r)?")
BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 6
HAS_EXCEPT_STAR = sys.version_info >= (3, 11)

NUMPY_INIT = b'''\
"""
NumPy
=====
"""
import sys
import warnings

from ._globals import _NoValue, _CopyMode

try:
    __NUMPY_SETUP__
except NameError:
    __NUMPY_SETUP__ = False

if __NUMPY_SETUP__:
    sys.stderr.write('Running from numpy source directory.\\n')
else:
    from . import core
    from .core import *
    from . import lib
    from . import linalg
    from . import random
    from . import ctypeslib

    __all__ = ['exceptions', 'core', 'lib', 'linalg', 'random']

    def _sanity_check():
        """Quick sanity checks for common bugs."""
        try:
            x = ones(2, dtype=float32)
            if not abs(x.dot(x) - float32(2.0)) < 1e-5:
                raise AssertionError()
        except AssertionError:
            msg = "The current Numpy installation fails to pass simple sanity checks."
            raise RuntimeError(msg) from None

    _sanity_check()
    del _sanity_check
'''

SNIPPETS: dict[str, bytes] = {
    "numpy_init": NUMPY_INIT,
    "semicolons": b"a = 1; b = 2\nc = 3;\nd = 4 ;  # tail\nif c:\n    e = 5; f = 6\n    g = 7\n",
    "one_line_bodies": (
        b"if x: y = 1\nfor i in r: pass\nwhile 0: z = 2\nclass C: pass\n"
        b"def f(): return 1\ntry: import os\nexcept ImportError: os = None\n"
    ),
    "backslashes": (
        b"x = 1 + \\\n    2\ny = [1,\n     2]  # tail\nz = 3; \\\nw = 4\n"
        b"if x and \\\n        y:\n    v = 1 \\\n        + 2\n    u = 3\n# comment \\\nt = 4\n"
    ),
    "multiline_strings": (
        b"s = \"\"\"\nif x:\n    pass\n\"\"\"\nt = '''a\\\nb'''\n"
        b'def f():\n    """Doc.\n\n    More.\n    """\n    return """\nx\n"""\n'
        b'u = """a\n"""; v = 1\n'
    ),
    "docstrings": (
        b'"""Module doc."""\n\n\nclass C:\n    """Only a docstring."""\n\n\n'
        b'class D:\n    """Doc."""\n    x = 1\n\n\ndef f():\n    """Doc."""\n\n\n'
        b'async def g():\n    """Doc."""\n    def h():\n        "nested doc"\n'
        b"    return h\n"
    ),
    "decorators": (
        b"import functools\n\n\n@functools.cache\n# between decorators\n@ functools.wraps(\n"
        b"    print)\ndef f():\n    pass\n\n\nclass K:\n    @staticmethod\n    def s():\n"
        b"        return 1\n\n    @property\n    def p(self):\n        return 2\n"
    ),
    "try_blocks": (
        b"try:\n    import json\n    x = 1\nexcept ImportError:\n    json = None\n"
        b"except (KeyError, ValueError) as exc:\n    print(exc)\nelse:\n    y = 2\n"
        b"finally:\n    z = 3\n"
    ),
    "match": (
        b"def m(cmd):\n    match cmd:\n        case [x, *rest]:\n            print(x)\n"
        b"            print(rest)\n        case {'k': v, **others}:\n            print(v)\n"
        b"        case _:\n            pass\n"
    ),
    "type_checking": (
        b"from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n"
        b"if TYPE_CHECKING:\n    from collections.abc import Iterator\n    import os\n\n\n"
        b"def f() -> Iterator[int]:\n    yield 1\n"
    ),
    "nested": (
        b"def outer(a):\n    def inner(b):\n        class Local:\n            attr = 1\n\n"
        b"            def method(self):\n                return b\n\n        return Local\n"
        b"    async def agen():\n        async with a as c:\n            async for d in c:\n"
        b"                yield d\n    return inner, agen\n"
    ),
    "elif_chain": (
        b"if a:\n    x = 1\nelif b:\n    x = 2\nelif c:\n    x = 3\nelse:\n    if d:\n"
        b"        x = 4\n    else:\n        x = 5\n"
    ),
    "loops_else": (
        b"for i in range(3):\n    x = i\nelse:\n    y = 1\nwhile False:\n    z = 2\n"
        b"else:\n    w = 3\nwith open('f') as fh, open('g') as gh:\n    data = fh.read()\n"
    ),
    "crlf": (
        b"import os\r\n\r\nclass A:\r\n    x = 1\r\n    def f(self):\r\n"
        b"        return 1  # c\r\n\r\nif os:\r\n    y = 2\r\nelse:\r\n    y = 3\r\n"
    ),
    "lone_cr": b"import os\rif os:\r    x = 1\relse:\r    x = 2\r",
    "no_trailing_newline": b"def f():\n    return 1",
    "no_trailing_newline_crlf": b"class C:\r\n    x = 1\r\n    y = 2",
    "cookie_latin1": b"# -*- coding: latin-1 -*-\nx = '\xe9'\nif x:\n    y = '\xe8'\n",
    "cookie_line_two": b"#!/usr/bin/env python\n# vim: set fileencoding=latin-1 :\nx = '\xe9'\n",
    "sleeper_cookie": b"x = 1\n# coding: latin-1\ny = '\xc3\xa9'\nz = 2\n",
    "deep_sleeper_cookie": b"a = 1\nb = 2\nc = 3\n# coding: latin-1\ny = '\xc3\xa9'\n",
    "bom": BOM + b"import os\nif os:\n    x = 1\n",
    "future_and_docstring": b'"""Doc."""\nfrom __future__ import annotations\nx: int = 1\n',
    "nonlocal": (
        b"def f():\n    total = 0\n    other = 1\n    seen = 2\n\n    def g():\n        nonlocal total\n"
        b"        total += 1\n\n        def h():\n            nonlocal total\n            total = 3\n\n"
        b"        return h\n\n    class C:\n        nonlocal seen\n        seen = 4\n\n"
        b"    return g, other, C\n"
    ),
    "tabs_and_formfeed": b"if x:\n\ty = 1\n\tz = 2\n\x0c\ndef f():\n\treturn 1\n",
    "unicode_columns": "é = 1; ü = 2\nx = 'é'  # ç\nif x:\n    ñ = 'ü'\n".encode(),
    "global_and_walrus": (
        b"g = 0\n\n\ndef f(xs):\n    global g\n    g = 1\n    ys = [y := x for x in xs]\n    return ys, y\n"
    ),
    "comments_in_blocks": (
        b"def f():\n# a comment at column 0\n    x = 1\n        # deeper comment\n"
        b"    y = 2\n\n    # trailing comment\n\n\nz = 3\n"
    ),
    **({"try_star": b"try:\n    a = 1\nexcept* ValueError:\n    b = 2\n"} if HAS_EXCEPT_STAR else {}),
    "empty": b"",
    "only_comments": b"# nothing here\n\n",
}


def _stdlib(module: ModuleType) -> bytes:
    path = inspect.getsourcefile(module)
    assert path is not None
    return Path(path).read_bytes()


STDLIB: dict[str, bytes] = {
    module.__name__: _stdlib(module) for module in (json, json.decoder, argparse, dataclasses, typing)
}
CORPUS: dict[str, bytes] = {**SNIPPETS, **STDLIB}


def _compiles(source: bytes) -> None:
    compile(source, "<test>", "exec", dont_inherit=True)


def _all_statements(source: bytes) -> list[Stmt]:
    return [s for depth in range(MAX_DEPTH) for s in statements(source, depth)]


def _body(source: bytes) -> tuple[bytes, list[bytes]]:
    bom = BOM if source.startswith(BOM) else b""
    return bom, source[len(bom) :].splitlines(keepends=True)


def _assert_only_lines_removed(source: bytes, result: bytes, doomed: Sequence[Stmt]) -> None:
    """``result`` is ``source`` minus the doomed lines, plus at most one pass line per statement."""
    bom, lines = _body(source)
    assert result.startswith(bom)
    removed = {n for s in doomed for n in range(s.start, s.end + 1)}
    expected = [line for number, line in enumerate(lines, start=1) if number not in removed]
    position = inserted = 0
    for line in result[len(bom) :].splitlines(keepends=True):
        if position < len(expected) and line == expected[position]:
            position += 1
        else:
            assert PASS_LINE.fullmatch(line), line
            inserted += 1
    assert position == len(expected)
    assert inserted <= len(doomed)


@st.composite
def _subsets(draw: st.DrawFn, stmts: Sequence[Stmt]) -> list[Stmt]:
    # One seed instead of a draw per statement keeps Hypothesis' input small for big modules.
    density = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return [s for s in stmts if rng.random() < density]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_compiles_and_empty_deletion_is_identity(name: str) -> None:
    source = CORPUS[name]
    _compiles(source)
    assert delete(source, []) == source
    assert delete(source, iter(())) == source


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_deleting_all_of_depth_zero_leaves_no_offered_statement(name: str) -> None:
    source = CORPUS[name]
    doomed = statements(source, 0)
    result = delete(source, doomed)
    _compiles(result)
    _assert_only_lines_removed(source, result, doomed)
    remaining = ast.parse(result).body
    assert len(remaining) == len(ast.parse(source).body) - len(doomed)
    # The module body may end up empty: no pass line is ever added there.
    bom, lines = _body(source)
    removed = {n for s in doomed for n in range(s.start, s.end + 1)}
    assert result == bom + b"".join(line for n, line in enumerate(lines, start=1) if n not in removed)


@pytest.mark.parametrize("name", sorted(STDLIB))
def test_stdlib_module_deletes_down_to_nothing(name: str) -> None:
    result = delete(STDLIB[name], statements(STDLIB[name], 0))
    assert ast.parse(result).body == []


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_deleting_every_depth_at_once_compiles(name: str) -> None:
    source = CORPUS[name]
    for depth in range(1, MAX_DEPTH):
        doomed = statements(source, depth)
        result = delete(source, doomed)
        _compiles(result)
        _assert_only_lines_removed(source, result, doomed)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_subsets_at_one_depth_compile(data: st.DataObject) -> None:
    source = CORPUS[data.draw(st.sampled_from(sorted(CORPUS)), label="module")]
    depth = data.draw(st.integers(0, 4), label="depth")
    doomed = data.draw(_subsets(statements(source, depth)), label="doomed")
    result = delete(source, doomed)
    _compiles(result)
    _assert_only_lines_removed(source, result, doomed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_subsets_across_depths_compile(data: st.DataObject) -> None:
    source = CORPUS[data.draw(st.sampled_from(sorted(CORPUS)), label="module")]
    doomed = data.draw(_subsets(_all_statements(source)), label="doomed")
    result = delete(source, doomed)
    _compiles(result)
    _assert_only_lines_removed(source, result, doomed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_deleting_one_statement_removes_exactly_its_lines(data: st.DataObject) -> None:
    source = CORPUS[data.draw(st.sampled_from(sorted(CORPUS)), label="module")]
    candidates = _all_statements(source)
    if not candidates:
        return
    stmt = data.draw(st.sampled_from(candidates), label="stmt")
    bom, lines = _body(source)
    before, doomed, after = lines[: stmt.start - 1], lines[stmt.start - 1 : stmt.end], lines[stmt.end :]
    result = delete(source, [stmt])
    plain = bom + b"".join(before + after)
    indent = doomed[0][: len(doomed[0]) - len(doomed[0].lstrip(b" \t\f"))]
    ending = doomed[0][len(doomed[0].rstrip(b"\r\n")) :]
    padded = bom + b"".join([*before, indent + b"pass" + ending, *after])
    assert result in (plain, padded)
    _compiles(result)


# Generated programs: random nesting of every block kind, with awkward line layouts.
SIMPLE_LINES = [
    ["x = 1"],
    ["import os"],
    ["from . import random"],
    ["'''a string statement'''"],
    ["y = (1,", "     2)"],
    ["z = 1 + \\", "    2"],
    ["a = 1; b = 2"],
    ["s = '''", "multi", "'''"],
    ["f()  # trailing comment"],
    ["c = 'é'"],
    ["# a comment line"],
    [""],
    ["pass"],
    ["del x"],
    ["t: int = 3"],
    ["w = 1;"],
    ["# comment ending with a backslash \\"],
    ["#! comment at column zero"],
    ["\x0c"],
    ["if q: r = 1"],
    ["@ deco", "class Z: pass"],
    [
        "def outer_fn():",
        "    bound = 1",
        "    def inner_fn():",
        "        nonlocal bound",
        "        bound = 2",
        "    return inner_fn",
    ],
]
HEADERS = [
    (["if a:"], []),
    (["if a:"], ["else:"]),
    (["if a:"], ["elif b:", "else:"]),
    (["while a:"], ["else:"]),
    (["for i in r:"], []),
    (["with m as n:"], []),
    (["try:"], ["except ValueError:", "finally:"]),
    (["try:"], ["except KeyError as e:", "else:"]),
    (["def f(p):"], []),
    (["async def g():"], []),
    (["class K:"], []),
    (["@deco", "# comment", "def h():"], []),
    (["match v:"], []),
    *([(["try:"], ["except* KeyError:"])] if HAS_EXCEPT_STAR else []),
]


@st.composite
def _program_lines(draw: st.DrawFn, level: int) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        if level < 4 and draw(st.booleans()):
            lines += draw(_compound(level))
        else:
            lines += draw(st.sampled_from(SIMPLE_LINES))
    if all(not line.strip() or line.lstrip().startswith("#") for line in lines):
        lines.append("pass")
    return lines


@st.composite
def _compound(draw: st.DrawFn, level: int) -> list[str]:
    head, clauses = draw(st.sampled_from(HEADERS))
    indent = draw(st.sampled_from(["    ", "  ", "\t"]))

    def body() -> list[str]:
        lines = draw(_program_lines(level + 1))
        return [line if not line.strip() or line.startswith("#!") else indent + line for line in lines]

    if head == ["match v:"]:
        return [
            "match v:",
            f"{indent}case [q]:",
            *(indent + line for line in body()),
            f"{indent}case _:",
            *(indent + line for line in body()),
        ]
    lines = [*head, *body()]
    for clause in clauses:
        lines += [clause, *body()]
    return lines


@st.composite
def _programs(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(draw(_program_lines(0)))
    if draw(st.booleans()):
        text += "\n"
    data = text.encode()
    if draw(st.booleans()):
        data = BOM + data
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs(), st.data())
def test_generated_programs(source: bytes, data: st.DataObject) -> None:
    _compiles(source)
    doomed = data.draw(_subsets(_all_statements(source)), label="doomed")
    result = delete(source, doomed)
    _compiles(result)
    _assert_only_lines_removed(source, result, doomed)


def _find(source: bytes, summary: str) -> Stmt:
    (found,) = [s for s in _all_statements(source) if s.summary == summary]
    return found


def test_numpy_init_random_import_deletes_alone() -> None:
    stmt = _find(NUMPY_INIT, "from . import random")
    assert (stmt.depth, stmt.kind, stmt.imports) == (1, "ImportFrom", True)
    assert stmt.path == (5, "orelse", 4)
    assert stmt in statements(NUMPY_INIT, 1)
    result = delete(NUMPY_INIT, [stmt])
    assert result == NUMPY_INIT.replace(b"    from . import random\n", b"", 1)
    _compiles(result)


def test_summaries_and_kinds() -> None:
    top = {s.summary: s.kind for s in statements(NUMPY_INIT, 0)}
    assert top == {
        '"""NumPy"""': "Expr",
        "import sys": "Import",
        "import warnings": "Import",
        "from ._globals import _NoValue, _CopyMode": "ImportFrom",
        "try: ...": "Try",
        "if __NUMPY_SETUP__: ...": "If",
    }
    assert _find(NUMPY_INIT, "def _sanity_check").depth == 1


def test_stmt_is_frozen_and_slotted() -> None:
    stmt = statements(NUMPY_INIT, 0)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stmt.start = 3  # type: ignore[misc]
    assert not hasattr(stmt, "__dict__")
    assert hash(stmt) == hash(dataclasses.replace(stmt))


def test_shared_lines_and_continuations_are_not_offered() -> None:
    source = SNIPPETS["semicolons"]
    assert [s.summary for s in statements(source, 0)] == ["c = 3", "d = 4", "if c: ..."]
    assert [s.summary for s in statements(source, 1)] == ["g = 7"]
    one_liners = SNIPPETS["one_line_bodies"]
    assert len(statements(one_liners, 0)) == 6
    assert statements(one_liners, 1) == ()
    cont = SNIPPETS["backslashes"]
    assert [(s.summary, s.start, s.end) for s in statements(cont, 0)] == [
        ("x = 1 + \\ ...", 1, 2),
        ("y = [1, ...", 3, 4),
        ("if x and \\ ...", 7, 11),
    ]
    assert [s.summary for s in statements(cont, 1)] == ["v = 1 \\ ...", "u = 3"]


def test_emptied_blocks_get_pass_with_block_indentation() -> None:
    source = SNIPPETS["try_blocks"]
    result = delete(source, statements(source, 1))
    assert result == (
        b"try:\n    pass\nexcept ImportError:\n    pass\n"
        b"except (KeyError, ValueError) as exc:\n    pass\nelse:\n    pass\n"
        b"finally:\n    pass\n"
    )


@pytest.mark.skipif(not HAS_EXCEPT_STAR, reason="except* needs Python 3.11")
def test_except_star_bodies_get_pass() -> None:
    source = SNIPPETS["try_star"]
    assert delete(source, statements(source, 1)) == b"try:\n    pass\nexcept* ValueError:\n    pass\n"


def test_crlf_lone_cr_and_missing_final_newline() -> None:
    crlf = SNIPPETS["crlf"]
    result = delete(crlf, statements(crlf, 1))
    assert result == (
        b"import os\r\n\r\nclass A:\r\n    pass\r\n\r\nif os:\r\n    pass\r\nelse:\r\n    pass\r\n"
    )
    lone = SNIPPETS["lone_cr"]
    assert delete(lone, statements(lone, 1)) == b"import os\rif os:\r    pass\relse:\r    pass\r"
    bare = SNIPPETS["no_trailing_newline"]
    assert delete(bare, statements(bare, 1)) == b"def f():\n    pass"
    bare_crlf = SNIPPETS["no_trailing_newline_crlf"]
    assert delete(bare_crlf, statements(bare_crlf, 1)[1:]) == b"class C:\r\n    x = 1\r\n"


def test_docstring_only_bodies_get_pass() -> None:
    source = SNIPPETS["docstrings"]
    docs = docstrings(source)
    assert [(s.start, s.depth) for s in docs] == [(1, 0), (5, 1), (9, 1), (14, 1), (18, 1), (20, 2)]
    result = delete(source, docs)
    _compiles(result)
    assert b'"' not in result
    assert result.count(b"pass") == 3  # class C, def f and the nested h


def test_decorators_belong_to_their_definition() -> None:
    source = SNIPPETS["decorators"]
    f = _find(source, "def f")
    assert (f.start, f.end) == (4, 9)
    assert [(s.summary, s.start) for s in statements(source, 1)] == [
        ("pass", 9),
        ("def s", 13),
        ("def p", 17),
    ]
    assert delete(source, statements(source, 1)).endswith(b"class K:\n    pass\n\n")


def test_elif_bodies_share_the_if_depth() -> None:
    source = SNIPPETS["elif_chain"]
    assert [s.path for s in statements(source, 0)] == [(0,)]
    assert [s.path for s in statements(source, 1)] == [
        (0, "body", 0),
        (0, "orelse", 0, "body", 0),
        (0, "orelse", 0, "orelse", 0, "body", 0),
        (0, "orelse", 0, "orelse", 0, "orelse", 0),
    ]
    result = delete(source, statements(source, 1))
    assert result == b"if a:\n    pass\nelif b:\n    pass\nelif c:\n    pass\nelse:\n    pass\n"


def test_match_cases_are_blocks() -> None:
    source = SNIPPETS["match"]
    cases = statements(source, 2)
    assert [s.path for s in cases][:2] == [
        (0, "body", 0, "cases", 0, "body", 0),
        (0, "body", 0, "cases", 0, "body", 1),
    ]
    assert b"        case _:\n            pass\n" in delete(source, cases)


def test_future_imports_stay_and_type_checking_imports_go_first() -> None:
    source = SNIPPETS["type_checking"]
    top = statements(source, 0)
    assert [s.summary for s in top] == ["from typing import TYPE_CHECKING", "if TYPE_CHECKING: ...", "def f"]
    assert [s.imports for s in top] == [True, True, False]
    future = SNIPPETS["future_and_docstring"]
    assert [s.kind for s in statements(future, 0)] == ["Expr", "AnnAssign"]
    _compiles(delete(future, statements(future, 0)))


def test_encodings_and_bom() -> None:
    latin = SNIPPETS["cookie_latin1"]
    result = delete(latin, statements(latin, 1))
    assert result == b"# -*- coding: latin-1 -*-\nx = '\xe9'\nif x:\n    pass\n"
    assert len(statements(SNIPPETS["cookie_line_two"], 0)) == 1
    bom = SNIPPETS["bom"]
    assert delete(bom, statements(bom, 0)) == BOM


def test_comments_that_could_become_cookies_are_protected() -> None:
    # Deleting ``x = 1`` would promote the comment to a live latin-1 cookie.
    sleeper = SNIPPETS["sleeper_cookie"]
    assert [s.summary for s in statements(sleeper, 0)] == ["y = 'é'", "z = 2"]
    deep = SNIPPETS["deep_sleeper_cookie"]
    assert [s.summary for s in statements(deep, 0)] == ["y = 'é'"]
    # Far enough down, behind lines that always stay, such comments cost nothing.
    far = b"import os\n\n\ndef f():\n    # load with encoding='bytes'\n    x = 1\n"
    assert len(statements(far, 0)) == 2
    assert len(statements(far, 1)) == 1


def test_nonlocal_bindings_are_kept() -> None:
    source = SNIPPETS["nonlocal"]
    # f's own bindings serve the nonlocals below them; g and h only rebind f's name;
    # ``seen = 4`` is kept because only f's declarations are considered (conservative).
    assert [s.summary for s in statements(source, 1)] == [
        "other = 1",
        "def g",
        "class C",
        "return g, other, C",
    ]
    assert [s.summary for s in statements(source, 2)] == [
        "nonlocal total",
        "total += 1",
        "def h",
        "return h",
        "nonlocal seen",
    ]
    assert [s.summary for s in statements(source, 3)] == ["nonlocal total", "total = 3"]


def test_unicode_columns() -> None:
    source = SNIPPETS["unicode_columns"]
    assert [s.summary for s in statements(source, 0)] == ["x = 'é'", "if x: ..."]
    assert [s.summary for s in statements(source, 1)] == ["ñ = 'ü'"]


def test_stale_or_foreign_statements_are_rejected() -> None:
    stmt = statements(NUMPY_INIT, 0)[1]
    with pytest.raises(ValueError, match="not a deletable statement"):
        delete(b"\n" + NUMPY_INIT, [stmt])
    with pytest.raises(ValueError, match="not a deletable statement"):
        delete(NUMPY_INIT, [dataclasses.replace(stmt, path=(99,))])


def test_invalid_source_raises_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        statements(b"def f(:\n", 0)
    with pytest.raises(SyntaxError):
        statements(b"x = 1\x00\n", 0)


def test_fixed_seed_sweep_over_every_depth() -> None:
    # A fixed-seed sweep over every depth of every corpus module, cheap and deterministic.
    rng = random.Random(20240229)
    for source in CORPUS.values():
        for depth in range(MAX_DEPTH):
            doomed = [s for s in statements(source, depth) if rng.random() < 0.5]
            result = delete(source, doomed)
            _compiles(result)
            _assert_only_lines_removed(source, result, doomed)
