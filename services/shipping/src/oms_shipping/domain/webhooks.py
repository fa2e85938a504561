"""Carrier webhooks: is the request really from the carrier, and what does it report?

Each carrier signs a status update with an HMAC-SHA256 of the **raw** request body under
the secret it shares with the shop, hex-encoded in a header (``X-Carrier-Signature``,
optionally prefixed ``sha256=``). :func:`verify_signature` checks it in constant time, so
the time taken does not tell an attacker how much of a forged signature was right; the
HTTP layer answers 401 and changes nothing when it fails. The body must be checked as
received: parsing and re-serialising first would let a tampered body with the same
meaning, or a different one, slip through.

:func:`parse_update` reads a verified body into a :class:`CarrierUpdate`. The body is the
carriers' common webhook format (each carrier adapter maps its own into it)::

    {"update_id": "evt-81", "tracking_number": "3SOMSN000000042",
     "status": "delivery_failed", "occurred_at": "2026-03-03T14:05:00+01:00",
     "location": "Utrecht", "reason": "nobody at home"}

Anything else (not JSON, a field missing or of the wrong type, an unknown status, a time
without its offset) is :class:`Refusal` ``invalid_carrier_update`` (422) naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from oms_events.limits import MAX_ID_LENGTH, MAX_NAME_LENGTH, JsonRejected, parse_json
from oms_platform.refusal import Refusal

SIGNATURE_HEADER = "X-Carrier-Signature"
_PREFIX = "sha256="


class CarrierStatus(StrEnum):
    """What a carrier can report about a parcel after collection."""

    IN_TRANSIT = "in_transit"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"
    LOST = "lost"

    @property
    def final(self) -> bool:
        """Delivered, returned to sender and lost end a shipment."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {CarrierStatus.DELIVERED, CarrierStatus.RETURNED_TO_SENDER, CarrierStatus.LOST}
)


def sign(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``secret`` (what a carrier, or its simulator,
    puts in the signature header)."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the HMAC-SHA256 of ``body`` under ``secret``, hex-encoded.

    An empty secret verifies nothing (a carrier without a configured secret must not be
    accepted by a signature anyone can compute). Hex is compared case-insensitively.
    """
    if not secret or not header:
        return False
    given = header.strip()
    if given.lower().startswith(_PREFIX):
        given = given[len(_PREFIX) :]
    # compare_digest on ASCII bytes: constant time in the content; a non-ASCII header is
    # simply wrong (compare_digest refuses non-ASCII str).
    try:
        given_bytes = given.lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given_bytes, sign(secret, body).encode("ascii"))


@dataclass(frozen=True, slots=True)
class CarrierUpdate:
    """One status update from a carrier, as reported (not yet matched to a shipment)."""

    carrier: str
    update_id: str
    tracking_number: str
    status: CarrierStatus
    occurred_at: datetime
    location: str | None = None
    reason: str | None = None


def _invalid(field: str, why: str) -> Refusal:
    return Refusal.invalid("invalid_carrier_update", f"{field}: {why}", field)


def _text(
    body: dict[str, Any], field: str, *, required: bool, limit: int = MAX_ID_LENGTH
) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise _invalid(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "must be a non-empty string")
    if len(value) > limit or not value.isprintable():
        raise _invalid(field, f"must be one line of at most {limit} characters")
    return value


def parse_update(carrier: str, body: bytes) -> CarrierUpdate:
    """The update in a (verified) webhook body from ``carrier`` (see the module doc)."""
    try:
        data = parse_json(body)
    except JsonRejected as err:
        raise _invalid("body", err.reason) from None
    if not isinstance(data, dict):
        raise _invalid("body", "must be a JSON object")
    update_id = _text(data, "update_id", required=True)
    tracking = _text(data, "tracking_number", required=True)
    raw_status = _text(data, "status", required=True)
    raw_time = _text(data, "occurred_at", required=True)
    assert update_id and tracking and raw_status and raw_time, "required fields are set"
    try:
        status = CarrierStatus(raw_status)
    except ValueError:
        known = ", ".join(s.value for s in CarrierStatus)
        raise _invalid("status", f"must be one of {known}") from None
    try:
        occurred_at = datetime.fromisoformat(raw_time)
    except ValueError:
        raise _invalid("occurred_at", "must be an ISO 8601 date and time") from None
    if occurred_at.tzinfo is None:
        raise _invalid("occurred_at", "must carry its UTC offset")
    return CarrierUpdate(
        carrier=carrier,
        update_id=update_id,
        tracking_number=tracking,
        status=status,
        occurred_at=occurred_at,
        location=_text(data, "location", required=False, limit=MAX_NAME_LENGTH),
        reason=_text(data, "reason", required=False, limit=MAX_NAME_LENGTH),
    )
