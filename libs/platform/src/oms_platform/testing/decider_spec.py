"""Given events, when a command, then events (or a refusal): the one way deciders are tested.

::

    spec = DeciderSpec(order_decider)
    spec.given(placed).when(RecordStock(...)).then(stock_recorded, confirmed)
    spec.given().when(CancelOrder(...)).then_refused("order_not_found")

``given`` takes events (never commands): the state is what those events fold to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from oms_events.base import Event
from oms_platform.decider import Decider, fold
from oms_platform.refusal import Refusal

C = TypeVar("C")
S = TypeVar("S")


@dataclass(frozen=True)
class DeciderSpec(Generic[C, S]):
    decider: Decider[C, S]

    def given(self, *events: Event) -> _Given[C, S]:
        return _Given(self.decider, events)


@dataclass(frozen=True)
class _Given(Generic[C, S]):
    decider: Decider[C, S]
    events: Sequence[Event]

    @property
    def state(self) -> S:
        return fold(self.decider, self.events)

    def when(self, command: C) -> _When[C, S]:
        return _When(self.decider, self.events, command)


@dataclass(frozen=True)
class _When(Generic[C, S]):
    decider: Decider[C, S]
    events: Sequence[Event]
    command: C

    def _decide(self) -> list[Event]:
        return self.decider.decide(self.command, fold(self.decider, self.events))

    def then(self, *expected: Event) -> list[Event]:
        """Assert the decided events equal ``expected``, in order; returns them."""
        decided = self._decide()
        assert decided == list(expected), f"decided {decided!r}, expected {list(expected)!r}"
        return decided

    def then_matches(self, check: Callable[[list[Event]], Any]) -> list[Event]:
        """Decide and hand the events to ``check`` (for events with generated ids)."""
        decided = self._decide()
        result = check(decided)
        assert result is None or result, f"check failed for {decided!r}"
        return decided

    def then_nothing(self) -> None:
        decided = self._decide()
        assert decided == [], f"expected no events, decided {decided!r}"

    def then_refused(self, code: str, *, status: int | None = None) -> Refusal:
        """Assert ``decide`` raises a :class:`Refusal` with ``code`` (and ``status``)."""
        try:
            decided = self._decide()
        except Refusal as refusal:
            assert refusal.code == code, f"refused with {refusal.code!r}, expected {code!r}"
            if status is not None:
                assert refusal.status == status, f"status {refusal.status}, expected {status}"
            return refusal
        raise AssertionError(f"expected refusal {code!r}, decided {decided!r}")

    def state_after(self) -> S:
        """The state after the given events and the decided ones."""
        state = fold(self.decider, self.events)
        for event in self._decide():
            state = self.decider.evolve(state, event)
        return state
