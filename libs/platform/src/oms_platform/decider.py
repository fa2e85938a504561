"""The one shape of a domain: a decider, ``decide``, ``evolve`` and ``initial_state``.

Every aggregate of every service (an order, a SKU's stock, a payment, a gift card) is a
decider: pure functions over plain values, no database, clock or randomness inside.

* ``initial_state()`` is the state of a stream with no events;
* ``evolve(state, event)`` is the state after one more event (it never refuses: events
  are facts);
* ``decide(command, state)`` is the list of new events a command produces, in order, or
  raises :class:`~oms_platform.refusal.Refusal`. An empty list means "nothing to do"
  (a repeated command, a fact already known). That list is the one decision type.

A command that needs more than its own stream's state (stock of several SKUs, the
warehouse list) carries what it needs in its state: the decider's ``State`` is whatever
the handler loads for it, still a plain value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

from oms_events.base import Event

C_contra = TypeVar("C_contra", contravariant=True)
S = TypeVar("S")

Decision = list[Event]
"""What ``decide`` returns: the new events, in the order they happen."""


class Decider(Protocol[C_contra, S]):
    """``decide`` / ``evolve`` / ``initial_state`` of one aggregate (see the module doc)."""

    def initial_state(self) -> S: ...

    def evolve(self, state: S, event: Event) -> S: ...

    def decide(self, command: C_contra, state: S) -> Decision: ...


def fold(decider: Decider[Any, S], events: Iterable[Event]) -> S:
    """The state after ``events``, from the decider's initial state."""
    state = decider.initial_state()
    for event in events:
        state = decider.evolve(state, event)
    return state


def fold_from(decider: Decider[Any, S], state: S, events: Iterable[Event]) -> S:
    """The state after ``events``, starting from ``state``."""
    for event in events:
        state = decider.evolve(state, event)
    return state
