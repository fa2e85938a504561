"""Fixed keys for tests: the chain key, the anchor and token signing pairs. Never for a
deployment.

The local stack makes its own random keys (``oms up``, see ``oms_cli.secrets``).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

TEST_CHAIN_KEY_HEX = "7e57" * 16
TEST_CHAIN_KEY = bytes.fromhex(TEST_CHAIN_KEY_HEX)
"""The chain key of every store in the tests (32 bytes)."""

_ANCHOR_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TEST_ANCHOR_PRIVATE_PEM = _ANCHOR_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
TEST_ANCHOR_PUBLIC_PEM = (
    _ANCHOR_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)

_AUTH_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
TEST_AUTH_PRIVATE_PEM = _AUTH_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
TEST_AUTH_PUBLIC_PEM = (
    _AUTH_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
"""The pair that signs and verifies bearer tokens in the tests (see ``testing.auth``)."""


def service_keys() -> dict[str, Any]:
    """The key settings of a service under test: ``ServiceSettings(..., **service_keys())``."""
    return {
        "chain_key": SecretStr(TEST_CHAIN_KEY_HEX),
        "anchor_signing_key": SecretStr(TEST_ANCHOR_PRIVATE_PEM),
        "auth_public_key": TEST_AUTH_PUBLIC_PEM,
    }
