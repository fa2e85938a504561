"""RMA numbers: readable, deterministic, and the id of the return's stream.

An RMA number is read out on the phone and written on a parcel, so it uses Crockford's
base 32 (no I, L, O or U: nothing to confuse with 1, 0 or V) in two groups of four:
``RMA-7KQ2-M9XD``. It is derived from an id the caller passes in (the request's
idempotency key or a generated UUID), never drawn at random inside the domain: the same
request always names the same return, so a retried request finds the return it created.
Eight characters hold 40 bits; a collision lands on an existing stream, which the decider
refuses (``return_exists``) rather than merging two returns.
"""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHARS = 8


def rma_number(seed: str) -> str:
    """The RMA number for ``seed``: ``RMA-XXXX-XXXX``, the same for the same seed."""
    value = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:5], "big")
    chars = []
    for _ in range(_CHARS):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    code = "".join(reversed(chars))
    return f"RMA-{code[:4]}-{code[4:]}"


def stream_id(rma: str) -> str:
    """The event stream of the return ``rma``."""
    return f"return-{rma}"
