"""Public tracking links: a signed token per order, so the link is not the order id.

A token is ``base64url(order_id) + "." + base64url(HMAC-SHA256(key, order_id))`` (no
padding). Whoever holds the link may see the order's parcels; nobody can make one for
another order without the key. Verification compares the MAC in constant time and answers
``None`` for anything else: tampered, signed with another key, or not a token at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

MAX_TOKEN_LENGTH = 400
"""Longer than any token of an order id (at most 100 characters) could be."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # one spelling per value: no second token for the same link
        raise ValueError("not canonical base64url")
    return raw


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _mac(key: bytes, order_id: str) -> bytes:
    return hmac.new(key, b"oms-tracking:" + order_id.encode(), hashlib.sha256).digest()


def sign(key: bytes, order_id: str) -> str:
    """The tracking token of ``order_id``."""
    return f"{_b64(order_id.encode())}.{_b64(_mac(key, order_id))}"


def verify(key: bytes, token: str) -> str | None:
    """The order id ``token`` was signed for with ``key``, else ``None``."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    encoded_id, encoded_mac = token.split(".")
    try:
        order_id = _unb64(encoded_id).decode("utf-8")
        mac = _unb64(encoded_mac)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(mac, _mac(key, order_id)):
        return None
    return order_id
