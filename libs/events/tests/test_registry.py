"""Unit tests for Registry: registration, upcasting chains, parsing and envelopes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_events.errors import (
    ContractViolation,
    EventContractError,
    RegistryError,
    UnknownEventType,
    UnknownEventVersion,
)
from oms_events.money import Money
from oms_events.registry import Registry


class ParcelV1(Event, type_name="Parcel", version=1):
    """v1: weight in kilograms as a string."""

    parcel_id: str
    weight_kg: str


class ParcelV2(Event, type_name="Parcel", version=2):
    """v2: weight in grams."""

    parcel_id: str
    weight_grams: int


class Parcel(Event, type_name="Parcel", version=3):
    """v3: adds the declared value."""

    parcel_id: str
    weight_grams: int
    declared_value: Money


def kg_to_grams(payload: dict[str, Any]) -> dict[str, Any]:
    kilos = payload.pop("weight_kg")
    payload["weight_grams"] = int(float(kilos) * 1000)
    return payload


def add_declared_value(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "declared_value": {"amount": "0.00", "currency": "EUR"}}


@pytest.fixture
def reg() -> Registry:
    reg = Registry()
    for cls in (ParcelV1, ParcelV2, Parcel):
        reg.register(cls)
    reg.register_upcaster("Parcel", 1, kg_to_grams)
    reg.upcaster("Parcel", from_version=2)(add_declared_value)
    return reg


def envelope(type_name: str, version: int, payload: dict[str, Any]) -> Envelope:
    return Envelope(
        type=type_name,
        version=version,
        stream_id="parcel-1",
        stream_version=1,
        correlation_id="ord-1",
        actor="test",
        producer="test",
        payload=payload,
    )


def test_lookup(reg: Registry) -> None:
    assert reg.types() == ["Parcel"]
    assert reg.versions("Parcel") == [1, 2, 3]
    assert reg.latest("Parcel") is Parcel
    assert reg.get("Parcel", 2) is ParcelV2
    assert ("Parcel", 1) in reg
    assert list(reg) == [ParcelV1, ParcelV2, Parcel]
    assert len(reg) == 3
    assert reg.missing_upcasters() == []


def test_register_returns_the_class_for_decorator_use() -> None:
    reg = Registry()
    assert reg.register(Parcel) is Parcel


def test_duplicate_registration_is_refused(reg: Registry) -> None:
    class Clash(Event, type_name="Parcel", version=3):
        pass

    with pytest.raises(RegistryError, match="Parcel v3 is already registered"):
        reg.register(Clash)
    with pytest.raises(RegistryError, match="already exists"):
        reg.register_upcaster("Parcel", 1, kg_to_grams)


def test_abstract_and_foreign_classes_are_refused() -> None:
    class Abstract(Event):
        pass

    with pytest.raises(RegistryError, match="abstract"):
        Registry().register(Abstract)
    with pytest.raises(RegistryError, match="not an Event"):
        Registry().register(Money)  # type: ignore[type-var]


def test_unknown_type_and_version_lookups(reg: Registry) -> None:
    with pytest.raises(UnknownEventType, match="'Box'"):
        reg.latest("Box")
    with pytest.raises(UnknownEventVersion, match="Parcel v7"):
        reg.get("Parcel", 7)


def test_upcast_chains_to_the_latest_version(reg: Registry) -> None:
    payload = {"parcel_id": "p1", "weight_kg": "1.25"}
    version, upcast = reg.upcast("Parcel", 1, payload)
    assert version == 3
    assert upcast == {
        "parcel_id": "p1",
        "weight_grams": 1250,
        "declared_value": {"amount": "0.00", "currency": "EUR"},
    }
    assert payload == {"parcel_id": "p1", "weight_kg": "1.25"}, "input must not be modified"
    assert reg.upcast("Parcel", 3, upcast) == (3, upcast)


def test_upcast_from_a_newer_version_is_refused(reg: Registry) -> None:
    with pytest.raises(UnknownEventVersion, match="newer than the latest known v3"):
        reg.upcast("Parcel", 4, {})


def test_upcast_with_a_gap_in_the_chain_is_refused() -> None:
    reg = Registry()
    reg.register(ParcelV1)
    reg.register(Parcel)
    assert reg.missing_upcasters() == [
        "Parcel: no upcaster from v1 to v2",
        "Parcel: no upcaster from v2 to v3",
    ]
    with pytest.raises(UnknownEventVersion, match="no upcaster from v1 to v2"):
        reg.upcast("Parcel", 1, {"parcel_id": "p1", "weight_kg": "1"})


def test_failing_upcaster_is_a_contract_violation(reg: Registry) -> None:
    with pytest.raises(ContractViolation, match=r"upcasting v1 to v2 failed: KeyError"):
        reg.upcast("Parcel", 1, {"parcel_id": "p1"})


def test_upcaster_must_return_a_dict() -> None:
    reg = Registry()
    reg.register(ParcelV2)
    reg.register(Parcel)
    reg.register_upcaster("Parcel", 2, lambda payload: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ContractViolation, match="returned NoneType"):
        reg.upcast("Parcel", 2, {})


def test_parse_upcasts_then_validates(reg: Registry) -> None:
    event = reg.parse(envelope("Parcel", 1, {"parcel_id": "p1", "weight_kg": "0.5"}))
    assert event == Parcel(parcel_id="p1", weight_grams=500, declared_value=Money.of("0.00", "EUR"))
    assert reg.parse_as(envelope("Parcel", 2, {"parcel_id": "p1", "weight_grams": 5}), Parcel)


def test_parse_reports_validation_errors_readably(reg: Registry) -> None:
    env = envelope("Parcel", 2, {"parcel_id": "p1", "weight_grams": "heavy", "colour": "red"})
    with pytest.raises(ContractViolation) as caught:
        reg.parse(env)
    reason = caught.value.reason
    assert reason.startswith("Parcel v3 (upcast from v2): ")
    assert "weight_grams: Input should be a valid integer" in reason
    assert "colour: Extra inputs are not permitted" in reason
    assert "heavy" not in reason, "payload values stay out of reasons (may be personal data)"
    assert {tuple(e["loc"]) for e in caught.value.errors} >= {("weight_grams",), ("colour",)}  # type: ignore[arg-type]
    assert isinstance(caught.value, EventContractError)
    assert caught.value.headers()["oms-error-code"] == "contract_violation"


def test_parse_as_checks_the_type(reg: Registry) -> None:
    class Other(Event, type_name="Other", version=1):
        pass

    reg.register(Other)
    with pytest.raises(ContractViolation, match="expected Parcel, got Other v1"):
        reg.parse_as(envelope("Other", 1, {}), Parcel)


def test_envelope_for_fills_identity_and_payload(reg: Registry) -> None:
    event = Parcel(parcel_id="p1", weight_grams=10, declared_value=Money.of("9.99", "EUR"))
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event_id = uuid.uuid4()
    env = reg.envelope_for(
        event,
        stream_id="parcel-p1",
        stream_version=4,
        correlation_id="ord-1",
        causation_id="cause-1",
        actor="svc:shipping",
        producer="shipping",
        occurred_at=when,
        event_id=event_id,
    )
    assert (env.type, env.version, env.event_id, env.occurred_at) == ("Parcel", 3, event_id, when)
    assert env.payload == {
        "parcel_id": "p1",
        "weight_grams": 10,
        "declared_value": {"amount": "9.99", "currency": "EUR"},
    }
    assert reg.parse(env) == event

    defaulted = reg.envelope_for(
        event,
        stream_id="s",
        stream_version=1,
        correlation_id="c",
        causation_id=None,
        actor="a",
        producer="p",
    )
    assert defaulted.occurred_at.tzinfo is not None
    assert defaulted.event_id != env.event_id


def test_envelope_for_refuses_unregistered_contracts() -> None:
    class Unregistered(Event, type_name="Unregistered", version=1):
        pass

    with pytest.raises(UnknownEventType, match="not registered"):
        Registry().envelope_for(
            Unregistered(),
            stream_id="s",
            stream_version=1,
            correlation_id="c",
            causation_id=None,
            actor="a",
            producer="p",
        )
