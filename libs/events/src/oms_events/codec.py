"""Envelopes to and from Kafka message values: compact UTF-8 JSON."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from oms_events.envelope import Envelope
from oms_events.errors import MalformedMessage


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialise ``envelope`` as compact JSON (no spaces, non-ASCII kept as UTF-8)."""
    try:
        return envelope.model_dump_json().encode("utf-8")
    except PydanticSerializationError as exc:
        # Only possible for an envelope built by hand with a non-JSON value in its payload.
        raise MalformedMessage(f"envelope payload is not JSON-serialisable: {exc}") from exc


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity, which are not JSON and which no other
    # consumer of the topic would parse.
    raise ValueError(f"{name} is not valid JSON")


def decode_envelope(raw: bytes) -> Envelope:
    """Parse a Kafka message value into an :class:`Envelope`.

    Raises :class:`MalformedMessage` when the bytes are not UTF-8 JSON, the JSON is not an
    object, or the object is not a valid envelope. The payload is not checked against its
    contract here; that is :meth:`Registry.parse`'s job.
    """
    try:
        data: Any = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"message is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise MalformedMessage(f"message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedMessage(f"message is JSON {type(data).__name__}, not an envelope object")
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        details = exc.errors(include_url=False, include_input=False, include_context=False)
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(envelope)'}: {e['msg']}" for e in details
        )
        raise MalformedMessage(f"invalid envelope: {summary}") from exc
