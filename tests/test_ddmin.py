"""Unit and property tests for the pure delta-debugging core in minimizer.ddmin."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimizer.ddmin import FirstPassing, ddmin, serial, sweep

Config = tuple[int, ...]
Shrink = Callable[[Config], Sequence[Config]]

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


# Predicates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    """Passes when every required item is present and, if ``unless`` is present, ``rescue`` is too.

    With ``unless`` set this is non-monotone: adding ``unless`` to a passing configuration can make it
    fail, and adding ``rescue`` back makes it pass again.
    """

    required: frozenset[int]
    rescue: int | None = None
    unless: int | None = None

    def __call__(self, config: Config) -> bool:
        present = set(config)
        if not self.required <= present:
            return False
        if self.unless is None or self.unless not in present:
            return True
        return self.rescue in present


@dataclass
class Recorder:
    """A predicate wrapper that remembers every configuration it was asked about, in order."""

    test: Callable[[Config], bool]
    seen: list[Config] = field(default_factory=list)

    def __call__(self, config: Config) -> bool:
        self.seen.append(config)
        return self.test(config)

    def repeated(self) -> list[frozenset[int]]:
        keys = [frozenset(config) for config in self.seen]
        return [key for index, key in enumerate(keys) if key in keys[:index]]


def windowed(test: Callable[[Config], bool], width: int) -> FirstPassing[int]:
    """A parallel-style evaluator: tests whole windows of ``width``, answers the first pass in order."""

    def first_passing(configs: Sequence[Config]) -> int | None:
        for start in range(0, len(configs), width):
            verdicts = [test(config) for config in configs[start : start + width]]
            if any(verdicts):
                return start + verdicts.index(True)
        return None

    return first_passing


def keep_only(*supersets: frozenset[int]) -> Shrink:
    """A ``shrink`` that proposes ``config ∩ superset`` for each superset, boldest (first) first."""

    def shrink(config: Config) -> list[Config]:
        return [tuple(item for item in config if item in superset) for superset in supersets]

    return shrink


def is_subsequence(small: Iterable[int], big: Iterable[int]) -> bool:
    rest = iter(big)
    return all(item in rest for item in small)


def without(config: Config, index: int) -> Config:
    return config[:index] + config[index + 1 :]


Reducer = Callable[[Config, Callable[[Config], bool]], Config]
REDUCERS: dict[str, Reducer] = {
    "ddmin": lambda items, test: ddmin(items, serial(test)),
    "sweep": lambda items, test: sweep(items, serial(test)),
}


# Unit tests with known minima ------------------------------------------------------------------


@pytest.mark.parametrize("reduce", REDUCERS.values(), ids=REDUCERS.keys())
def test_contains_pair_reduces_to_the_pair(reduce: Reducer) -> None:
    assert reduce(tuple(range(10)), Needs(frozenset({3, 7}))) == (3, 7)


@pytest.mark.parametrize("reduce", REDUCERS.values(), ids=REDUCERS.keys())
def test_empty_passing_gives_empty(reduce: Reducer) -> None:
    assert reduce(tuple(range(8)), Needs(frozenset())) == ()


@pytest.mark.parametrize("reduce", REDUCERS.values(), ids=REDUCERS.keys())
def test_everything_needed_keeps_everything(reduce: Reducer) -> None:
    items = (5, 1, 4, 2, 3)
    assert reduce(items, Needs(frozenset(items))) == items


@pytest.mark.parametrize("reduce", REDUCERS.values(), ids=REDUCERS.keys())
def test_no_items_gives_empty_without_error(reduce: Reducer) -> None:
    recorder = Recorder(Needs(frozenset()))
    assert reduce((), recorder) == ()
    assert len(recorder.seen) <= 1


@pytest.mark.parametrize("reduce", REDUCERS.values(), ids=REDUCERS.keys())
def test_one_of_two_alternatives(reduce: Reducer) -> None:
    def either(config: Config) -> bool:
        return {1, 2} <= set(config) or 6 in config

    result = reduce(tuple(range(10)), either)
    assert result in ((1, 2), (6,))


@pytest.mark.parametrize("reduce", REDUCERS.values(), ids=REDUCERS.keys())
def test_non_monotone_predicate_reaches_its_minimum(reduce: Reducer) -> None:
    # 4 is required; 8 breaks a run unless 2 is there too. The only 1-minimal answer is (4,).
    result = reduce(tuple(range(10)), Needs(frozenset({4}), rescue=2, unless=8))
    assert result == (4,)


def test_ddmin_keeps_input_order() -> None:
    items = (9, 2, 7, 0, 5, 3)
    assert ddmin(items, serial(Needs(frozenset({0, 9, 3})))) == (9, 0, 3)


def test_sweep_shrink_jumps_straight_to_the_proposal() -> None:
    needed = frozenset({2, 11})
    plain = Recorder(Needs(needed))
    helped = Recorder(Needs(needed))
    items = tuple(range(16))
    assert sweep(items, serial(plain)) == (2, 11)
    assert sweep(items, serial(helped), shrink=keep_only(needed)) == (2, 11)
    assert len(helped.seen) < len(plain.seen)


def test_sweep_ignores_proposals_that_do_not_shrink() -> None:
    recorder = Recorder(Needs(frozenset({1})))
    result = sweep((0, 1, 2), serial(recorder), shrink=lambda config: [config, (*config, 99)])
    assert result == (1,)
    assert not recorder.repeated()


def test_serial_stops_at_the_first_pass() -> None:
    recorder = Recorder(lambda config: 1 in config)
    assert serial(recorder)([(0,), (1,), (1, 2)]) == 1
    assert recorder.seen == [(0,), (1,)]


def test_serial_none_when_nothing_passes() -> None:
    assert serial(lambda config: False)([(0,), (1,)]) is None
    assert serial(lambda config: True)([]) is None


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_windowed_helper_answers_first_pass_in_order(width: int) -> None:
    configs = [(0,), (1,), (2,), (3,), (4,)]
    assert windowed(lambda config: config[0] >= 2, width)(configs) == 2
    assert windowed(lambda config: False, width)(configs) is None


# Properties ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A reduction problem: items in order, a predicate the full input passes, and a shrink."""

    items: Config
    test: Needs
    supersets: tuple[frozenset[int], ...]

    def shrink(self) -> Shrink | None:
        return keep_only(*self.supersets) if self.supersets else None


@st.composite
def cases(draw: st.DrawFn, *, monotone: bool | None = None, with_shrink: bool | None = None) -> Case:
    items = tuple(draw(st.permutations(range(draw(st.integers(0, 14))))))
    pool = st.sampled_from(items) if items else st.nothing()
    required = frozenset(draw(st.sets(pool, max_size=min(5, len(items))))) if items else frozenset()
    non_monotone = draw(st.booleans()) if monotone is None else not monotone
    test = Needs(required)
    if non_monotone and len(items) >= 2:
        rescue, unless = draw(st.lists(pool, min_size=2, max_size=2, unique=True))
        test = Needs(required, rescue, unless)
    assert test(items)
    shrinking = draw(st.booleans()) if with_shrink is None else with_shrink
    supersets: tuple[frozenset[int], ...] = ()
    if shrinking:
        extras = st.sets(pool, max_size=len(items)) if items else st.just(frozenset[int]())
        supersets = tuple(required | frozenset(e) for e in draw(st.lists(extras, min_size=1, max_size=3)))
    return Case(items, test, supersets)


def reduce_case(case: Case, reducer: str, first_passing: FirstPassing[int]) -> Config:
    if reducer == "ddmin":
        return ddmin(case.items, first_passing)
    return sweep(case.items, first_passing, shrink=case.shrink())


def check_invariants(case: Case, reducer: str) -> None:
    recorder = Recorder(case.test)
    result = reduce_case(case, reducer, serial(recorder))
    assert case.test(result), "the result must pass"
    assert is_subsequence(result, case.items), "the result must keep the input order"
    failing = [without(result, i) for i in range(len(result)) if case.test(without(result, i))]
    assert not failing, f"not 1-minimal: {failing} pass"
    assert not recorder.repeated(), "a configuration was tested twice"
    again = Recorder(case.test)
    assert reduce_case(case, reducer, serial(again)) == result
    assert again.seen == recorder.seen


@PROPERTY_SETTINGS
@given(cases(monotone=True))
def test_ddmin_invariants_monotone(case: Case) -> None:
    check_invariants(case, "ddmin")


@PROPERTY_SETTINGS
@given(cases(monotone=False))
def test_ddmin_invariants_non_monotone(case: Case) -> None:
    check_invariants(case, "ddmin")


@PROPERTY_SETTINGS
@given(cases(with_shrink=False))
def test_sweep_invariants_without_shrink(case: Case) -> None:
    check_invariants(case, "sweep")


@PROPERTY_SETTINGS
@given(cases(with_shrink=True))
def test_sweep_invariants_with_shrink(case: Case) -> None:
    check_invariants(case, "sweep")


@PROPERTY_SETTINGS
@given(cases(), st.sampled_from(["ddmin", "sweep"]), st.integers(1, 4))
def test_parallel_windows_give_the_serial_result(case: Case, reducer: str, width: int) -> None:
    expected = reduce_case(case, reducer, serial(case.test))
    assert reduce_case(case, reducer, windowed(case.test, width)) == expected
