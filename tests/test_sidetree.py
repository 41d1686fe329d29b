"""What a check sees besides the candidate: the runtime, and the app's own dependencies (``--with``).

A local package folder stands in for the package index: tiny wheels built at test time, with a fake
numpy and a fake runtime, so no test here needs the network. The ``--with`` packages are resolved
beside the candidate's numpy, cached, and never bring a numpy or a runtime of their own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from minimizer import cli
from minimizer.errors import InputError
from oracles import sidetree
from oracles.command import CommandOracle
from oracles.target import probe
from tests.conftest import build_wheel

# The fake numpy, both as the wheel being minimized and as the index's copy: byte for byte the same,
# so a numpy left in the side tree would stand in for whatever the candidate lost.
NUMPY = {
    "numpy/__init__.py": "from numpy.core import VALUE\n__version__ = 'fake'\n",
    "numpy/core.py": "VALUE = 7\n",
    "numpy/unused.py": "X = 1\n",
}
RUNTIME = {"tflite_runtime/__init__.py": "", "tflite_runtime/interpreter.py": "NAME = 'fake runtime'\n"}
CHECK = (
    'python -c "import numpy, toydep, tflite_runtime.interpreter as rt; '
    'print(numpy.VALUE, toydep.VERSION, toydep.shout(rt.NAME))"'
)


def _toydep(version: str) -> dict[str, str]:
    return {"toydep/__init__.py": f"VERSION = {version!r}\n\ndef shout(text):\n    return text.upper()\n"}


@pytest.fixture
def index(tmp_path: Path) -> Path:
    """A find-links folder: toydep 1.0 (numpy 1.x) and 2.0 (numpy 2), two numpys, two runtimes, toyrt."""
    folder = tmp_path / "index"
    folder.mkdir()
    build_wheel(
        folder, _toydep("1.0"), name="toydep", version="1.0", metadata="Requires-Dist: numpy>=1.20,<2\n"
    )
    build_wheel(folder, _toydep("2.0"), name="toydep", version="2.0", metadata="Requires-Dist: numpy>=2\n")
    build_wheel(folder, NUMPY, name="numpy", version="1.26.4")
    build_wheel(folder, NUMPY, name="numpy", version="2.0.0")
    build_wheel(folder, RUNTIME, name="tflite_runtime", version="2.14.0")
    build_wheel(folder, RUNTIME, name="tflite_runtime", version="2.15.0")
    # A package built for one runtime release: the candidate's runtime decides which one fits.
    for version, runtime in (("1.0", "<2.15"), ("2.0", ">=2.15")):
        requires = f"Requires-Dist: tflite-runtime{runtime}\n"
        build_wheel(folder, {"toyrt.py": ""}, name="toyrt", version=version, metadata=requires)
    return folder


@pytest.fixture
def local_index(index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees only the local folder, and wheel-ddmin caches into the test's own folder."""
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    monkeypatch.setenv("WHEEL_DDMIN_CACHE", str(tmp_path / "cache"))
    return index


def _request(*requirements: str) -> sidetree.Request:
    return sidetree.Request(tuple(requirements))


def test_resolves_for_the_candidate_numpy_and_leaves_numpy_out(local_index: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = sidetree.provide(_request("toydep", "tflite-runtime"), {"numpy": "1.26.4"}, cache)
    new = sidetree.provide(_request("toydep"), {"numpy": "2.0.0"}, cache)
    assert old.packages == ("toydep==1.0",) and new.packages == ("toydep==2.0",)
    assert old.tree != new.tree
    for side in (old, new):
        names = {p.name for p in side.tree.iterdir()}
        assert "toydep" in names
        assert not names & {"numpy", "tflite_runtime"}, "the candidate's must be the only ones"
        assert [w.name.split("-")[0] for w in side.wheels] == ["toydep"]


def test_a_warm_cache_needs_no_index(local_index: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = sidetree.provide(_request("toydep"), {"numpy": "1.26.4"}, cache)
    shutil.rmtree(local_index)
    again = sidetree.provide(_request("toydep"), {"numpy": "1.26.4"}, cache)
    assert again == first and (again.tree / "toydep" / "__init__.py").is_file()
    assert [p.name for p in (cache / "with").iterdir()] == [first.tree.parent.name], "a build folder was left"


def test_a_requirements_file_with_its_own_find_links(index: Path, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--no-index\n--find-links {index}\ntoydep\n")
    side = sidetree.provide(sidetree.Request((), (requirements,)), {"numpy": "1.26.4"}, tmp_path / "cache")
    assert side.packages == ("toydep==1.0",)


@pytest.mark.parametrize(
    "requirement, pins, message",
    [
        ("toydep>=2", {"numpy": "1.26.4"}, "the candidate's numpy 1.26.4: toydep 2.0 depends on numpy>=2"),
        ("toydepp", {"numpy": "1.26.4"}, "no wheel of toydepp"),
        ("toydep==3", {}, "no version matches toydep==3 (the index has 1.0, 2.0)"),
    ],
)
def test_unresolvable_requirements_are_one_clear_input_error(
    local_index: Path, tmp_path: Path, requirement: str, pins: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        sidetree.provide(_request(requirement), pins, tmp_path / "cache")
    text = str(caught.value)
    assert message in text and "\n" not in text, text
    assert not list((tmp_path / "cache" / "with").iterdir()), "a failed build left a folder"


def test_offline_with_a_cold_cache_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "https://127.0.0.1:9/simple")  # nothing listens: refused at once
    monkeypatch.setenv("PIP_RETRIES", "1")
    with pytest.raises(InputError, match=r"unreachable \(offline\?\) and the cache has no copy"):
        sidetree.provide(_request("pillow"), {"numpy": "1.26.4"}, tmp_path / "cache")


@pytest.mark.parametrize("bad", ["pillow>>1", "-r x.txt"])
def test_malformed_requirements_fail_before_pip(bad: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a requirement"):
        sidetree.provide(_request(bad), {}, tmp_path / "cache")
    with pytest.raises(InputError, match="requirements file not found"):
        sidetree.provide(sidetree.Request((), (tmp_path / "nope.txt",)), {}, tmp_path / "cache")


def test_the_check_sees_runtime_and_side_tree_and_the_result_is_verified(
    local_index: Path, tmp_path: Path
) -> None:
    """A check alone (no --oracle) gets the runtime and the side packages; numpy is the candidate's."""
    numpy = build_wheel(tmp_path, NUMPY, name="numpy", version="1.26.4")
    runtime_wheel = local_index / "tflite_runtime-2.14.0-py3-none-any.whl"
    out, report = tmp_path / "out", tmp_path / "report.json"
    packages = ["--with", "toydep", "--with", "toyrt"]
    argv = [str(numpy), "--runtime", str(runtime_wheel), *packages, "--check", CHECK]
    assert cli.main([*argv, "-o", str(out), "--report", str(report), "--jobs", "1", "--quiet"]) == 0
    data = json.loads(report.read_text())
    assert data["verified"] is True, "the side packages must reach the final venv too"
    # Resolved for the candidate's numpy 1.26.4 and for the runtime given (2.14.0).
    assert data["environment"]["with"] == "toydep==1.0 toyrt==1.0"
    assert data["output"]["files"] == 2 + 3, "numpy/__init__.py and numpy/core.py, plus dist-info"


def test_a_check_alone_sees_the_runtime(local_index: Path, tmp_path: Path) -> None:
    """No --oracle: the check still gets the runtime (here the one given), and so does the final venv."""
    numpy = build_wheel(tmp_path, NUMPY, name="numpy", version="1.26.4")
    runtime_wheel = local_index / "tflite_runtime-2.14.0-py3-none-any.whl"
    check = 'python -c "import numpy, tflite_runtime.interpreter as rt; print(numpy.VALUE, rt.NAME)"'
    argv = [str(numpy), "--runtime", str(runtime_wheel), "--check", check, "--jobs", "1", "--quiet"]
    result = tmp_path / "out" / numpy.name
    assert cli.main([*argv, "-o", str(tmp_path / "out")]) == 0
    assert result.is_file()


def test_unresolvable_with_exits_2_before_any_oracle_run(
    local_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    numpy = build_wheel(tmp_path, NUMPY, name="numpy", version="1.26.4")
    runtime_wheel = local_index / "tflite_runtime-2.14.0-py3-none-any.whl"
    marker = tmp_path / "ran"
    check = f"touch {marker} && python -c 'import numpy'"
    argv = [str(numpy), "--runtime", str(runtime_wheel), "--with", "toydep>=2", "--check", check]
    assert cli.main([*argv, "-o", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no version of --with toydep>=2 fits the candidate's numpy 1.26.4" in err[0], err
    assert not marker.exists(), "the check ran before the requirements were resolved"


def test_side_tree_files_never_count_as_the_candidate(tmp_path: Path) -> None:
    """The trace roots at the candidate tree: the side tree's imports are not the candidate's files."""
    tree, side, scratch = tmp_path / "tree", tmp_path / "side", tmp_path / "scratch"
    (tree / "toypkg").mkdir(parents=True)
    (tree / "toypkg" / "__init__.py").write_text("import toydep\nVALUE = toydep.shout('x')\n")
    (side / "toydep").mkdir(parents=True)
    (side / "toydep" / "__init__.py").write_text(_toydep("1.0")["toydep/__init__.py"])
    scratch.mkdir()
    oracle = CommandOracle('python -c "import toypkg; print(toypkg.VALUE)"', [side], scratch, probe())
    verdict = oracle.reference(tree)
    assert verdict.opened is not None
    # The check's python may write bytecode into the bare tree; only sources matter here.
    assert {p for p in verdict.opened if "__pycache__" not in p} == {"toypkg/__init__.py"}
