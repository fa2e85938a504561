"""Parsing of ``as_of`` and the stream ids of intake keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from oms_order.bodies import parse_as_of
from oms_order.streams import idempotency_stream, platform_order_stream


def test_as_of_accepts_offsets_utc_and_a_plus_decoded_as_space() -> None:
    assert parse_as_of("2026-03-02T10:00:00Z") == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert parse_as_of("2026-03-02T10:00:00") == datetime(2026, 3, 2, 10, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert parse_as_of("2026-03-02T12:00:00 02:00") == datetime(2026, 3, 2, 12, tzinfo=plus_two)
    for bad in ("yesterday", "2026-03-02T10:00:00\x00", "9" * 100):
        with pytest.raises(ValueError):
            parse_as_of(bad)


def test_platform_order_streams_cannot_collide_and_stay_short() -> None:
    assert platform_order_stream("web-nl", "1") != platform_order_stream("web", "nl-1")
    assert platform_order_stream("a/b", "c") != platform_order_stream("a", "b/c")
    assert len(platform_order_stream("c" * 200, "r" * 100)) <= 200
    assert len(idempotency_stream("k" * 300)) <= 200
