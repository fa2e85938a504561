"""The envelope every OMS event travels in, in the store and on Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from oms_events.limits import MAX_PG_INTEGER, SINGLE_LINE_PATTERN

# Envelope strings end up in PostgreSQL text columns (which cannot hold NUL) and in logs and
# Kafka headers: bounded, one line, no control characters. Versions fit an ``integer``.
_Line200 = Annotated[str, Field(min_length=1, max_length=200, pattern=SINGLE_LINE_PATTERN)]


class Envelope(BaseModel):
    """Metadata plus a JSON payload; the payload's shape is given by ``type`` and ``version``.

    ``stream_id``/``stream_version`` place the event in its aggregate's stream (versions start
    at 1). ``correlation_id`` is the order id for order flows and is the Kafka key, so every
    event of one order lands on one partition, in order. ``causation_id`` is the event id
    (or request id) that caused this one. ``actor`` is who asked for it: a platform app,
    a staff user or a service. ``producer`` is the service that wrote it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: _Line200
    version: int = Field(default=1, ge=1, le=MAX_PG_INTEGER)
    stream_id: _Line200
    stream_version: int = Field(ge=1, le=MAX_PG_INTEGER)
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: _Line200
    causation_id: _Line200 | None = None
    actor: _Line200
    producer: Annotated[str, Field(min_length=1, max_length=100, pattern=SINGLE_LINE_PATTERN)]
    payload: dict[str, Any]

    @classmethod
    def trusted(cls, **fields: Any) -> Envelope:
        """An envelope from already-validated data (an event store's own rows), unchecked.

        What ``model_construct`` does for a complete set of fields, minus its generic
        bookkeeping: reads build one envelope per row, and this is several times cheaper.
        Every field must be given; ``tests`` compare the result with a validated envelope.
        """
        env = cls.__new__(cls)
        object.__setattr__(env, "__dict__", fields)
        object.__setattr__(env, "__pydantic_fields_set__", set(_FIELDS))
        object.__setattr__(env, "__pydantic_extra__", None)
        object.__setattr__(env, "__pydantic_private__", None)
        return env


_FIELDS = frozenset(Envelope.model_fields)
