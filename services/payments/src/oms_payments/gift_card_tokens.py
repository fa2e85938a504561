"""Gift card codes are secrets: a card travels as a token, the keyed hash of its code.

Whoever knows a card's code can spend it, so the code is seen only by the payments HTTP API
on its way in (issuing a card, exchanging a code for its token) and goes no further: stream
ids (``giftcard-<token>``), event payloads, Kafka keys and log lines carry the token.

The token is ``gc_`` and the first 26 base32 characters (130 bits) of
HMAC-SHA256(key, normalised code). The key (``OMS_PAYMENTS_GIFT_CARD_KEY``, hex) is held by
the payments service only: without it nobody can compute a card's token from a guessed
code, nor try codes against tokens read from a topic. The token is deterministic, so the
exchange needs no storage and answers the same way for a code that was never issued (no
oracle): such a token is declined when an order tries to pay with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

TOKEN_PREFIX = "gc_"
TOKEN_CHARACTERS = 26
"""Base32 characters of the digest in a token: 130 bits, far beyond any guessing."""
MIN_KEY_BYTES = 16

_CODE = re.compile(r"^[A-Z0-9_]{3,64}$")
_IGNORED = re.compile(r"[\s-]+")
_DOMAIN = b"oms-gift-card-code\x00"
"""Separates this use of the key from any other the key might (wrongly) be given."""


def normalise(code: str) -> str:
    """The code as the hash sees it: spaces and hyphens dropped, upper case.

    ``gc-7q4m 2291`` and ``GC7Q4M2291`` are one card, as printed codes are typed either way.
    Raises ``ValueError`` (with a reason that does not quote the code) for anything else than
    3 to 64 letters, digits or underscores.
    """
    normal = _IGNORED.sub("", code).upper()
    if not _CODE.fullmatch(normal):
        raise ValueError(
            "a gift card code is 3 to 64 letters, digits or underscores "
            "(spaces and hyphens are ignored)"
        )
    return normal


class GiftCardTokens:
    """Turns codes into tokens with the service's key (built once, from the settings)."""

    def __init__(self, key_hex: str) -> None:
        try:
            key = bytes.fromhex(key_hex.strip())
        except ValueError:
            raise ValueError("the gift card key must be hex") from None
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the gift card key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def token(self, code: str) -> str:
        """The card's token for ``code`` (normalised first; ``ValueError`` if malformed)."""
        digest = hmac.new(self._key, _DOMAIN + normalise(code).encode(), hashlib.sha256).digest()
        text = base64.b32encode(digest).decode().lower()
        return TOKEN_PREFIX + text[:TOKEN_CHARACTERS]

    def __repr__(self) -> str:
        return "GiftCardTokens(key=<secret>)"
