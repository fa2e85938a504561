"""Keyed chain hashes and signed anchors: what a forger without the keys cannot produce."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from oms_platform.anchors import (
    Anchor,
    AnchorError,
    decode_anchor,
    encode_anchor,
    latest_anchors,
    public_key_from_pem,
    signing_key_from_pem,
)
from oms_platform.eventstore.hashing import GENESIS, ChainKeyError, chain, chain_key_from_hex
from oms_platform.service import ServiceHost
from oms_platform.settings import ServiceSettings
from oms_platform.testing.builders import envelope
from oms_platform.testing.keys import (
    TEST_ANCHOR_PRIVATE_PEM,
    TEST_ANCHOR_PUBLIC_PEM,
    TEST_AUTH_PUBLIC_PEM,
    TEST_CHAIN_KEY,
    TEST_CHAIN_KEY_HEX,
)

SIGNER = signing_key_from_pem(TEST_ANCHOR_PRIVATE_PEM)
VERIFIER = public_key_from_pem(TEST_ANCHOR_PUBLIC_PEM)
AT = datetime(2026, 5, 3, 14, 2, tzinfo=UTC)


def anchor(stream_id: str = "order-1", version: int = 3, digest: bytes = b"\x01" * 32) -> Anchor:
    return Anchor("order", stream_id, version, digest, AT)


def record(a: Anchor, key: Ed25519PrivateKey = SIGNER) -> tuple[bytes, bytes]:
    return a.key.encode(), encode_anchor(a, key)


def test_the_chain_hash_depends_on_the_key() -> None:
    env = envelope("s", 1)
    keyed = chain(TEST_CHAIN_KEY, GENESIS, env)
    assert keyed == chain(TEST_CHAIN_KEY, GENESIS, env)
    assert keyed != chain(b"another key of sixteen+ bytes", GENESIS, env)
    assert keyed != chain(TEST_CHAIN_KEY, b"\x02" * 32, env)


def test_a_chain_key_is_hex_of_sixteen_bytes_or_more() -> None:
    assert chain_key_from_hex(f" {TEST_CHAIN_KEY_HEX}\n") == TEST_CHAIN_KEY
    for bad in (None, "", "zz" * 16, "ab" * 15):
        with pytest.raises(ChainKeyError):
            chain_key_from_hex(bad)


def test_an_anchor_round_trips_with_its_signature() -> None:
    key, value = record(anchor())
    assert key == b"order/order-1"
    assert decode_anchor(key, value, VERIFIER) == anchor()


@pytest.mark.parametrize("field,value", [("version", 4), ("hash", "02" * 32), ("service", "x")])
def test_a_changed_field_breaks_the_signature(field: str, value: object) -> None:
    key, raw = record(anchor())
    doc = json.loads(raw)
    doc[field] = value
    with pytest.raises(AnchorError, match="signature"):
        decode_anchor(key, json.dumps(doc).encode(), VERIFIER)


def test_an_anchor_signed_by_another_key_or_unreadable_is_refused() -> None:
    forger = Ed25519PrivateKey.generate()
    with pytest.raises(AnchorError, match="signature"):
        decode_anchor(*record(anchor(), forger), VERIFIER)
    for junk in (b"", b"{}", b"[1]", b'{"signature": "!!"}'):
        with pytest.raises(AnchorError):
            decode_anchor(b"order/order-1", junk, VERIFIER)


def test_a_genuine_anchor_under_another_streams_key_is_refused() -> None:
    _, value = record(anchor("order-2"))
    with pytest.raises(AnchorError, match="record key"):
        decode_anchor(b"order/order-1", value, VERIFIER)


def test_the_latest_anchor_per_key_wins_and_an_older_resend_does_not_roll_back() -> None:
    v3, v5 = anchor(version=3), anchor(version=5, digest=b"\x05" * 32)
    other = anchor("order-9", 1)
    found = latest_anchors([record(v3), record(other), record(v5), record(v3)], VERIFIER)
    assert found.anchors == {"order/order-1": v5, "order/order-9": other}
    assert found.bad == {}
    assert found.of("order") == {"order-1": (5, b"\x05" * 32), "order-9": (1, b"\x01" * 32)}
    assert found.of("payments") == {}


def test_a_forged_record_is_reported_under_its_key_before_or_after_genuine_ones() -> None:
    forged = record(anchor(version=7), Ed25519PrivateKey.generate())
    for records in ([record(anchor()), forged], [forged, record(anchor())]):
        found = latest_anchors(records, VERIFIER)
        assert found.anchors == {"order/order-1": anchor()}  # the genuine one still counts
        assert list(found.bad) == ["order/order-1"]
        assert "signature" in found.bad["order/order-1"]


def test_two_signed_anchors_of_one_version_that_differ_are_a_conflict() -> None:
    genuine, again = anchor(version=3), anchor(version=3, digest=b"\x09" * 32)
    found = latest_anchors([record(genuine), record(again)], VERIFIER)
    assert found.conflicts == {"order/order-1": "two signed anchors at version 3 differ"}
    assert latest_anchors([record(genuine), record(genuine)], VERIFIER).conflicts == {}


def _settings(**keys: object) -> ServiceSettings:
    return ServiceSettings(
        service="order",
        database_dsn=SecretStr("postgresql://u@127.0.0.1:1/none"),
        auth_public_key=TEST_AUTH_PUBLIC_PEM,
        **keys,
    )


def test_a_service_refuses_to_start_without_its_chain_key_or_signing_key() -> None:
    with pytest.raises(ChainKeyError):
        ServiceHost(_settings())
    with pytest.raises(AnchorError, match="signing key"):
        ServiceHost(_settings(chain_key=SecretStr(TEST_CHAIN_KEY_HEX)))
    not_ed25519 = SecretStr("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(AnchorError):
        ServiceHost(
            _settings(chain_key=SecretStr(TEST_CHAIN_KEY_HEX), anchor_signing_key=not_ed25519)
        )
