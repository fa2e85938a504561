"""The platforms' webhook signatures, checked on the raw body."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from oms_connectors.signatures import AdobeVerifier, shopify_signature, shopify_valid

BODY = b'{"id": 1, "name": "#1001"}'


def test_shopify_hmac_verifies_only_with_the_secret_and_the_same_bytes() -> None:
    header = shopify_signature(b"secret", BODY)
    assert shopify_valid(b"secret", BODY, header)
    assert not shopify_valid(b"other", BODY, header)
    assert not shopify_valid(b"secret", BODY + b" ", header)
    assert not shopify_valid(b"secret", BODY, None)
    assert not shopify_valid(b"secret", BODY, "not base64 !!")


def test_adobe_signature_is_rsa_sha256_over_the_base64_body() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    verifier = AdobeVerifier(pem)
    signed = key.sign(base64.b64encode(BODY), padding.PKCS1v15(), hashes.SHA256())
    assert verifier.valid(BODY, base64.b64encode(signed).decode())
    raw_signed = key.sign(BODY, padding.PKCS1v15(), hashes.SHA256())
    assert not verifier.valid(BODY, base64.b64encode(raw_signed).decode())
    assert not verifier.valid(BODY + b"x", base64.b64encode(signed).decode())
    assert not verifier.valid(BODY, None)
