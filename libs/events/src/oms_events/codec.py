"""Envelopes to and from Kafka message values: compact UTF-8 JSON."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from oms_events.envelope import Envelope
from oms_events.errors import MalformedMessage
from oms_events.limits import JsonRejected, parse_json


def encode_envelope(envelope: Envelope) -> bytes:
    """Serialise ``envelope`` as compact JSON (no spaces, non-ASCII kept as UTF-8)."""
    try:
        return envelope.model_dump_json().encode("utf-8")
    except PydanticSerializationError as exc:
        # Only possible for an envelope built by hand with a non-JSON value in its payload.
        raise MalformedMessage(f"envelope payload is not JSON-serialisable: {exc}") from exc


def decode_envelope(raw: bytes) -> Envelope:
    """Parse a Kafka message value into an :class:`Envelope`.

    Raises :class:`MalformedMessage` when the bytes are not JSON that
    :func:`oms_events.limits.parse_json` accepts (UTF-8, at most 1 MiB, nesting and numbers
    bounded), the JSON is not an object, or the object is not a valid envelope. The payload
    is not checked against its contract here; that is :meth:`Registry.parse`'s job.
    """
    try:
        data: Any = parse_json(raw)
    except JsonRejected as exc:
        where = f" at {'.'.join(map(str, exc.location))}" if exc.location else ""
        raise MalformedMessage(f"message is {exc.reason}{where}") from exc
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
