"""Small builders for envelopes in tests."""

from __future__ import annotations

from typing import Any

from oms_events.envelope import Envelope


def envelope(
    stream_id: str,
    stream_version: int,
    type: str = "Tested",
    payload: dict[str, Any] | None = None,
    correlation_id: str | None = None,
    **extra: Any,
) -> Envelope:
    return Envelope(
        type=type,
        stream_id=stream_id,
        stream_version=stream_version,
        correlation_id=correlation_id or stream_id,
        actor="test",
        producer="test",
        payload=payload if payload is not None else {"n": stream_version},
        **extra,
    )


def stream_events(stream_id: str, first: int, count: int, **kw: Any) -> list[Envelope]:
    return [envelope(stream_id, first + i, **kw) for i in range(count)]
