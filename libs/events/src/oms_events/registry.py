"""The registry of event contracts and upcasters, and the default instance.

Reading an event always goes: envelope -> upcast the payload to the latest version of its
type -> validate it with that version's model. So a consumer only ever handles the latest
model of each type, however old the stored event is.

Canonical use::

    from oms_events.registry import registry      # the default, with every contract

    event = registry.parse(envelope)               # -> Event (latest version)
    env = registry.envelope_for(event, stream_id=..., ...)

The module-level functions :func:`parse`, :func:`payload_of`, :func:`envelope_for`,
:func:`upcast` and :func:`latest` are the same operations on the default registry.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_events.errors import (
    ContractViolation,
    RegistryError,
    UnknownEventType,
    UnknownEventVersion,
)

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]
"""Turns a payload of version ``n`` into the equivalent payload of version ``n + 1``."""

E = TypeVar("E", bound=Event)


class Registry:
    """Contracts keyed by ``(type name, version)``, plus upcasters between versions."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    # -- registration -------------------------------------------------------------------

    def register(self, cls: type[E]) -> type[E]:
        """Register a concrete contract; usable as a class decorator.

        Raises :class:`RegistryError` for an abstract class or a duplicate key.
        """
        if not (isinstance(cls, type) and issubclass(cls, Event)):
            raise RegistryError(f"{cls!r} is not an Event subclass")
        key = cls.contract_key()
        if key in self._models:
            other = self._models[key]
            raise RegistryError(
                f"{key[0]} v{key[1]} is already registered by {other.__module__}."
                f"{other.__qualname__}"
            )
        self._models[key] = cls
        return cls

    def register_upcaster(self, type_name: str, from_version: int, fn: Upcaster) -> None:
        """Register ``fn`` to turn ``type_name`` payloads of ``from_version`` into the next."""
        key = (type_name, from_version)
        if key in self._upcasters:
            raise RegistryError(f"an upcaster for {type_name} v{from_version} already exists")
        self._upcasters[key] = fn

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator form of :meth:`register_upcaster`; returns the function unchanged."""

        def decorate(fn: Upcaster) -> Upcaster:
            self.register_upcaster(type_name, from_version, fn)
            return fn

        return decorate

    # -- lookup -------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._models

    def __iter__(self) -> Iterator[type[Event]]:
        """Every registered contract, sorted by type name then version."""
        return iter([self._models[k] for k in sorted(self._models)])

    def __len__(self) -> int:
        return len(self._models)

    def types(self) -> list[str]:
        """The registered type names, sorted."""
        return sorted({name for name, _ in self._models})

    def versions(self, type_name: str) -> list[int]:
        """The registered versions of ``type_name``, ascending (raises if the type is unknown)."""
        found = sorted(v for name, v in self._models if name == type_name)
        if not found:
            raise UnknownEventType(f"unknown event type {type_name!r}", type_name=type_name)
        return found

    def get(self, type_name: str, version: int) -> type[Event]:
        """The model registered for exactly this type and version."""
        try:
            return self._models[(type_name, version)]
        except KeyError:
            self.versions(type_name)  # raises UnknownEventType for an unknown type
            raise UnknownEventVersion(
                f"{type_name} v{version} is not registered", type_name=type_name, version=version
            ) from None

    def latest(self, type_name: str) -> type[Event]:
        """The model of the newest registered version of ``type_name``."""
        return self._models[(type_name, self.versions(type_name)[-1])]

    def missing_upcasters(self) -> list[str]:
        """Gaps in upcaster chains: each registered old version must reach the latest one.

        Meant for a test that runs on every build; an empty list means consistent.
        """
        problems = []
        for type_name in self.types():
            versions = self.versions(type_name)
            for v in range(versions[0], versions[-1]):
                if (type_name, v) not in self._upcasters:
                    problems.append(f"{type_name}: no upcaster from v{v} to v{v + 1}")
        return problems

    # -- reading ------------------------------------------------------------------------

    def upcast(self, type_name: str, version: int, payload: Payload) -> tuple[int, Payload]:
        """Bring ``payload`` from ``version`` to the latest version of ``type_name``.

        Returns ``(latest_version, new_payload)``; the input dict is never modified (at
        the latest version already, it is returned itself: read it, do not change it).
        Raises :class:`UnknownEventType`, :class:`UnknownEventVersion` (newer than this
        code, or a missing upcaster) or :class:`ContractViolation` (an upcaster failed,
        which means the old payload was not valid for its version).
        """
        latest = self.versions(type_name)[-1]
        if version > latest:
            raise UnknownEventVersion(
                f"{type_name} v{version} is newer than the latest known v{latest}; "
                "this consumer needs the newer contracts",
                type_name=type_name,
                version=version,
            )
        if version == latest:
            return latest, payload  # nothing to do: no copy (most reads; a replay's cost)
        # Upcasters are plain functions written by people: give them their own copy so a
        # careless in-place edit cannot corrupt the caller's envelope.
        current = copy.deepcopy(payload)
        for v in range(version, latest):
            fn = self._upcasters.get((type_name, v))
            if fn is None:
                raise UnknownEventVersion(
                    f"{type_name} v{version} cannot be read: no upcaster from v{v} to v{v + 1}",
                    type_name=type_name,
                    version=version,
                )
            try:
                current = fn(current)
            except Exception as exc:
                raise ContractViolation(
                    f"{type_name} v{version}: upcasting v{v} to v{v + 1} failed: "
                    f"{type(exc).__name__}: {exc}",
                    type_name=type_name,
                    version=version,
                ) from exc
            if not isinstance(current, dict):
                raise ContractViolation(
                    f"{type_name}: upcaster from v{v} returned {type(current).__name__}, "
                    "not a dict",
                    type_name=type_name,
                    version=version,
                )
        return latest, current

    def parse(self, envelope: Envelope) -> Event:
        """Upcast and validate the envelope's payload into the latest model of its type."""
        latest, payload = self.upcast(envelope.type, envelope.version, envelope.payload)
        model = self._models[(envelope.type, latest)]
        try:
            return model.model_validate(payload)
        except ValidationError as err:
            note = f" (upcast from v{envelope.version})" if envelope.version != latest else ""
            raise ContractViolation.from_validation_error(
                err, type_name=envelope.type, version=latest, note=note
            ) from err

    def parse_as(self, envelope: Envelope, cls: type[E]) -> E:
        """Like :meth:`parse`, but also check the result is a ``cls`` (typed for mypy)."""
        event = self.parse(envelope)
        if not isinstance(event, cls):
            raise ContractViolation(
                f"expected {cls.event_type}, got {envelope.type} v{envelope.version}",
                type_name=envelope.type,
                version=envelope.version,
            )
        return event

    # -- writing ------------------------------------------------------------------------

    @staticmethod
    def payload_of(event: Event) -> Payload:
        """The JSON-ready payload of ``event`` (decimals as strings, datetimes ISO 8601)."""
        return event.model_dump(mode="json")

    def envelope_for(
        self,
        event: Event,
        *,
        stream_id: str,
        stream_version: int,
        correlation_id: str,
        causation_id: str | None,
        actor: str,
        producer: str,
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> Envelope:
        """Wrap ``event`` in an :class:`Envelope` with its type, version and payload.

        Refuses events whose contract is not registered here: no consumer could read them.
        ``occurred_at`` defaults to now (UTC) and ``event_id`` to a random UUID.
        """
        key = type(event).contract_key()
        if self._models.get(key) is not type(event):
            raise UnknownEventType(
                f"{key[0]} v{key[1]} ({type(event).__qualname__}) is not registered",
                type_name=key[0],
                version=key[1],
            )
        return Envelope(
            event_id=event_id or uuid.uuid4(),
            type=key[0],
            version=key[1],
            stream_id=stream_id,
            stream_version=stream_version,
            occurred_at=occurred_at or datetime.now(UTC),
            correlation_id=correlation_id,
            causation_id=causation_id,
            actor=actor,
            producer=producer,
            payload=self.payload_of(event),
        )


registry = Registry()
"""The default registry; every contract in :mod:`oms_events.contracts` registers here."""


def parse(envelope: Envelope) -> Event:
    """:meth:`Registry.parse` on the default registry."""
    return registry.parse(envelope)


def parse_as(envelope: Envelope, cls: type[E]) -> E:
    """:meth:`Registry.parse_as` on the default registry."""
    return registry.parse_as(envelope, cls)


def payload_of(event: Event) -> Payload:
    """:meth:`Registry.payload_of`: the JSON-ready payload of ``event``."""
    return Registry.payload_of(event)


def upcast(type_name: str, version: int, payload: Payload) -> tuple[int, Payload]:
    """:meth:`Registry.upcast` on the default registry."""
    return registry.upcast(type_name, version, payload)


def latest(type_name: str) -> type[Event]:
    """:meth:`Registry.latest` on the default registry."""
    return registry.latest(type_name)


def envelope_for(
    event: Event,
    *,
    stream_id: str,
    stream_version: int,
    correlation_id: str,
    causation_id: str | None,
    actor: str,
    producer: str,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """:meth:`Registry.envelope_for` on the default registry."""
    return registry.envelope_for(
        event,
        stream_id=stream_id,
        stream_version=stream_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor=actor,
        producer=producer,
        occurred_at=occurred_at,
        event_id=event_id,
    )
