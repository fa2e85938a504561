"""Unit tests for the Event base class and its class-keyword declaration."""

from __future__ import annotations

import types

import pytest
from pydantic import ValidationError

from oms_events.base import Event
from oms_events.errors import RegistryError


class Thing(Event, type_name="Thing", version=3):
    """A test contract."""

    thing_id: str
    tags: tuple[str, ...] = ()


class AbstractBase(Event):
    """Shared fields without a wire identity."""

    shared: str


class Concrete(AbstractBase, type_name="Concrete", version=1):
    """A contract inheriting fields from an abstract base."""


def test_class_keywords_become_the_wire_identity() -> None:
    assert (Thing.event_type, Thing.event_version) == ("Thing", 3)
    assert Thing.contract_key() == ("Thing", 3)
    assert Concrete.contract_key() == ("Concrete", 1)
    assert Concrete(shared="x").shared == "x"


def test_identity_is_independent_of_class_and_module_names() -> None:
    class Renamed(Event, type_name="SomethingElse", version=1):
        pass

    assert Renamed.contract_key() == ("SomethingElse", 1)


def test_classes_without_keywords_are_abstract() -> None:
    assert not AbstractBase.is_concrete()
    assert not Event.is_concrete()
    with pytest.raises(RegistryError, match="abstract"):
        AbstractBase.contract_key()


def test_a_subclass_does_not_inherit_its_parents_identity() -> None:
    class Sub(Thing):
        pass

    assert not Sub.is_concrete()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type_name": "Thing"}, "both"),
        ({"version": 1}, "both"),
        ({"type_name": "thing", "version": 1}, "PascalCase"),
        ({"type_name": "Order.Placed", "version": 1}, "PascalCase"),
        ({"type_name": "Thing", "version": 0}, "version"),
        ({"type_name": "Thing", "version": True}, "version"),
        ({"type_name": "Thing", "version": "1"}, "version"),
    ],
)
def test_bad_declarations_fail_at_class_creation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        types.new_class("Bad", (Event,), kwds=kwargs)


def test_events_are_frozen_and_forbid_extra_fields() -> None:
    thing = Thing(thing_id="t1")
    with pytest.raises(ValidationError):
        thing.thing_id = "t2"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Thing.model_validate({"thing_id": "t1", "colour": "red"})
