"""The payments domain: pure state, evolve and decide functions (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from oms_events.base import Event

S = TypeVar("S")


def fold(evolve: Callable[[S, Event], S], events: Iterable[Event], state: S) -> S:
    """``state`` after each of ``events`` in turn."""
    for event in events:
        state = evolve(state, event)
    return state
