"""Small parsing helpers of the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from oms_order.api import field_name, parse_as_of
from oms_order.streams import idempotency_stream, platform_order_stream


def test_field_names_read_like_paths() -> None:
    assert field_name(("lines", 0, "unit_price", "amount")) == "lines[0].unit_price.amount"
    assert field_name(()) == "body"


def test_as_of_accepts_offsets_utc_and_a_plus_decoded_as_space() -> None:
    assert parse_as_of("2026-03-02T10:00:00Z") == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert parse_as_of("2026-03-02T10:00:00") == datetime(2026, 3, 2, 10, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert parse_as_of("2026-03-02T12:00:00 02:00") == datetime(2026, 3, 2, 12, tzinfo=plus_two)
    with pytest.raises(ValueError):
        parse_as_of("yesterday")


def test_platform_order_streams_cannot_collide_and_stay_short() -> None:
    assert platform_order_stream("web-nl", "1") != platform_order_stream("web", "nl-1")
    assert platform_order_stream("a/b", "c") != platform_order_stream("a", "b/c")
    assert len(platform_order_stream("c" * 200, "r" * 100)) <= 200
    assert len(idempotency_stream("k" * 300)) <= 200
