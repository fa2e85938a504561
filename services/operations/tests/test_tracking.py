"""Tracking tokens: a token verifies for its order under its key, and for nothing else."""

from __future__ import annotations

import base64

import pytest

from oms_operations.web.tracking import MAX_TOKEN_LENGTH, sign, verify

KEY = b"test-tracking-key"


def test_a_token_verifies_as_its_order() -> None:
    token = sign(KEY, "ord-3f2a9c01b7de")
    assert verify(KEY, token) == "ord-3f2a9c01b7de"
    assert "ord-3f2a9c01b7de" not in token  # the link is not the order id


def test_each_order_has_its_own_token() -> None:
    assert sign(KEY, "ord-1") != sign(KEY, "ord-2")
    assert sign(KEY, "ord-1") == sign(KEY, "ord-1")


def test_another_orders_id_with_this_mac_is_refused() -> None:
    other_id = sign(KEY, "ord-2").split(".")[0]
    mac = sign(KEY, "ord-1").split(".")[1]
    assert verify(KEY, f"{other_id}.{mac}") is None


def test_a_changed_mac_is_refused() -> None:
    encoded_id, mac = sign(KEY, "ord-1").split(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    assert verify(KEY, f"{encoded_id}.{flipped}") is None
    assert verify(KEY, f"{encoded_id}.{mac[:-2]}") is None


def test_a_token_of_another_key_is_refused() -> None:
    assert verify(KEY, sign(b"another-key", "ord-1")) is None


def test_a_second_spelling_of_the_same_token_is_refused() -> None:
    # base64 ignores the unused low bits of the last character; a token has one spelling.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    encoded_id, mac = sign(KEY, "ord-1").split(".")
    sibling = alphabet[alphabet.index(mac[-1]) ^ 1]  # differs in an unused bit only
    assert base64.urlsafe_b64decode(mac[:-1] + sibling + "=") == base64.urlsafe_b64decode(mac + "=")
    assert verify(KEY, f"{encoded_id}.{mac[:-1]}{sibling}") is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "abc",
        "a.b.c",
        "not base64!.xx",
        "%%%.%%%",
        "b3JkLTE.",
        ".b3JkLTE",
        "//8.AAAA",  # bytes that are not UTF-8
        "x" * (MAX_TOKEN_LENGTH + 1),
        "b3JkLTE=.AAAA",  # padding is not part of a token
    ],
)
def test_garbage_is_refused(garbage: str) -> None:
    assert verify(KEY, garbage) is None
