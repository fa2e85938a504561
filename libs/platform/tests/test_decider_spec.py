"""The given/when/then helper on a small decider: a ticket counter that can be closed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import assert_never

import pytest

from oms_events.base import Event
from oms_platform.decider import Decider, Decision, fold
from oms_platform.refusal import Refusal
from oms_platform.testing.decider_spec import DeciderSpec


class Issued(Event):  # unregistered test-only contracts: no type_name needed
    number: int


class Closed(Event):
    pass


@dataclass(frozen=True)
class Issue:
    pass


@dataclass(frozen=True)
class Close:
    pass


@dataclass(frozen=True)
class Counter:
    issued: int = 0
    closed: bool = False


class CounterDecider:
    def initial_state(self) -> Counter:
        return Counter()

    def evolve(self, state: Counter, event: Event) -> Counter:
        if isinstance(event, Issued):
            return replace(state, issued=event.number)
        if isinstance(event, Closed):
            return replace(state, closed=True)
        return state

    def decide(self, command: Issue | Close, state: Counter) -> Decision:
        match command:
            case Issue():
                if state.closed:
                    raise Refusal("counter_closed", "the counter is closed")
                return [Issued(number=state.issued + 1)]
            case Close():
                return [] if state.closed else [Closed()]
            case _:
                assert_never(command)


counter: Decider[Issue | Close, Counter] = CounterDecider()
spec = DeciderSpec(counter)


def test_given_events_when_a_command_then_events() -> None:
    spec.given(Issued(number=1)).when(Issue()).then(Issued(number=2))
    spec.given().when(Close()).then(Closed())
    spec.given(Closed()).when(Close()).then_nothing()
    refusal = spec.given(Closed()).when(Issue()).then_refused("counter_closed", status=409)
    assert refusal.reason == "the counter is closed"
    assert spec.given(Issued(number=4)).when(Issue()).state_after() == Counter(issued=5)
    assert fold(counter, [Issued(number=3), Closed()]) == Counter(3, True)


def test_the_spec_fails_when_the_decider_does_something_else() -> None:
    with pytest.raises(AssertionError):
        spec.given().when(Issue()).then(Issued(number=7))
    with pytest.raises(AssertionError):
        spec.given().when(Issue()).then_refused("counter_closed")
    with pytest.raises(AssertionError):
        spec.given(Closed()).when(Issue()).then_refused("something_else")
