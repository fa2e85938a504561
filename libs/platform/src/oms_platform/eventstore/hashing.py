"""Tamper evidence: each event's hash chains it, under a secret key, to the previous one.

``hash(n) = HMAC-SHA256(key, hash(n-1) || content_digest(n))`` with 32 zero bytes before
the first event. Changing any stored field of an event changes its digest, deleting an
event breaks the chain of the next one (or the stream head, for the last one), and
without the key nobody can compute the hash a changed event would need: a database
writer who rewrites a stream and its head consistently still leaves every rewritten
hash wrong. The key is held outside the database (``ServiceSettings.chain_key``) and
the hashes are computed here, in the process, never in SQL (a statement's parameters
can end up in the server's log).

There is one chain, the keyed one: rows hashed by the earlier unkeyed chain (plain
sha256) show as ``altered``; a local stack from before is wiped with ``make clean``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC
from typing import Any

from oms_events.envelope import Envelope

GENESIS = bytes(32)
MIN_KEY_BYTES = 16


class ChainKeyError(ValueError):
    """The chain key is missing or not a usable key."""


def chain_key_from_hex(text: str | None) -> bytes:
    """The chain key from its hex text (``oms up`` writes 32 random bytes as hex)."""
    if text is None or not text.strip():
        raise ChainKeyError("no chain key: set OMS_<SERVICE>_CHAIN_KEY (hex, 16+ bytes)")
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ChainKeyError("the chain key must be hex") from None
    if len(key) < MIN_KEY_BYTES:
        raise ChainKeyError(f"the chain key must be at least {MIN_KEY_BYTES} bytes")
    return key


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


def chain(key: bytes, previous: bytes, env: Envelope, payload_text: str | None = None) -> bytes:
    """The hash of ``env`` following an event hashed ``previous`` (``GENESIS`` first)."""
    return link(key, previous, content_digest(env, payload_text))


def link(key: bytes, previous: bytes, digest: bytes) -> bytes:
    return hmac.new(key, previous + digest, hashlib.sha256).digest()
