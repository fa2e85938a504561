"""OMS event contracts: envelope, payload contracts, registry, upcasters and JSON Schemas.

Typical imports::

    from oms_events import Envelope, Event, Money, decode_envelope, encode_envelope
    from oms_events.registry import registry          # parse / envelope_for / upcast
    from oms_events.contracts import OrderPlaced       # the contracts themselves
    from oms_events import topics                      # topic names and routing

Importing this package (or any module in it) registers every contract in the default
registry, so ``registry.parse`` can read every known event type.
"""

# Importing ``contracts`` registers every contract into the default registry.
from oms_events import contracts, topics
from oms_events.base import ContractModel, Event
from oms_events.codec import decode_envelope, encode_envelope
from oms_events.envelope import Envelope
from oms_events.errors import (
    ContractViolation,
    EventContractError,
    MalformedMessage,
    RegistryError,
    UnknownEventType,
    UnknownEventVersion,
)
from oms_events.limits import JsonRejected, parse_json
from oms_events.money import CurrencyMismatchError, Money
from oms_events.registry import Registry, envelope_for, parse, parse_as, payload_of, upcast

__all__ = [
    "ContractModel",
    "ContractViolation",
    "CurrencyMismatchError",
    "Envelope",
    "Event",
    "EventContractError",
    "JsonRejected",
    "MalformedMessage",
    "Money",
    "Registry",
    "RegistryError",
    "UnknownEventType",
    "UnknownEventVersion",
    "contracts",
    "decode_envelope",
    "encode_envelope",
    "envelope_for",
    "parse",
    "parse_as",
    "parse_json",
    "payload_of",
    "topics",
    "upcast",
]
