"""How each platform signs the webhooks it sends, checked on the raw body before anything
is read from it.

- Shopify: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body under the
  app's client secret.
- Adobe Commerce: ``x-adobe-commerce-webhook-signature`` is the base64 RSA (PKCS#1 v1.5,
  SHA-256) signature of the *base64 encoding* of the raw body (Adobe's "Webhooks signature
  verification" page verifies it that way) by the key pair generated in the Admin (Stores >
  Configuration > Adobe Services > Webhooks); the connector holds the public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

SHOPIFY_HEADER = "X-Shopify-Hmac-Sha256"
SHOPIFY_WEBHOOK_ID = "X-Shopify-Webhook-Id"
SHOPIFY_TOPIC = "X-Shopify-Topic"
ADOBE_HEADER = "x-adobe-commerce-webhook-signature"


def shopify_signature(secret: bytes, body: bytes) -> str:
    """What Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``body``."""
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def shopify_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header or not secret:
        return False
    try:
        given = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, hmac.new(secret, body, hashlib.sha256).digest())


class AdobeVerifier:
    """Checks ``x-adobe-commerce-webhook-signature`` with a shop's public key (PEM)."""

    def __init__(self, public_key_pem: str) -> None:
        key = load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the Adobe Commerce webhook key must be an RSA public key")
        self._key = key

    def valid(self, body: bytes, header: str | None) -> bool:
        if not header:
            return False
        try:
            signature = base64.b64decode(header, validate=True)
            signed = base64.b64encode(body)
            self._key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except (binascii.Error, ValueError, InvalidSignature):
            return False
        return True
