"""Tamper evidence: each event's hash chains it to the previous event of its stream.

``hash(n) = sha256(hash(n-1) || sha256(canonical(event n)))`` with 32 zero bytes before
the first event. Changing any stored field of an event changes its hash, and deleting an
event breaks the chain of the next one (or the stream head, for the last one).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from oms_events.envelope import Envelope

GENESIS = bytes(32)


def canonical_payload(payload: dict[str, Any]) -> str:
    """The one JSON text of a payload that is hashed and stored.

    Sorted keys and no whitespace; jsonb keeps these values intact (payloads hold no
    floats: money is a decimal string), so a payload read back hashes the same.
    """
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_digest(env: Envelope, payload_text: str | None = None) -> bytes:
    if payload_text is None:
        payload_text = canonical_payload(env.payload)
    head = "\x1f".join(
        (
            str(env.event_id),
            env.type,
            str(env.version),
            env.stream_id,
            str(env.stream_version),
            env.occurred_at.astimezone(UTC).isoformat(),
            env.correlation_id,
            env.causation_id or "",
            env.actor,
            env.producer,
        )
    )
    return hashlib.sha256(f"{head}\x1e{payload_text}".encode()).digest()


def chain(previous: bytes, env: Envelope, payload_text: str | None = None) -> bytes:
    return hashlib.sha256(previous + content_digest(env, payload_text)).digest()
