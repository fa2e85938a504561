"""Signed chain heads published outside the database: tamper evidence a writer cannot undo.

The hash chain (``eventstore.hashing``) shows a change to a stored event, but someone who
can write the events table and also holds the chain key could rewrite a stream and its
head consistently. So each service publishes, every ``anchor_interval_s`` and at
shutdown, an *anchor* for each stream whose head moved since its last anchor:
``(service, stream_id, version, hash, anchored_at)`` signed with the service's Ed25519
key, keyed ``<service>/<stream_id>`` on the compacted topic ``oms.audit.anchors`` (the
latest anchor of every stream survives compaction). ``oms audit verify`` reads the topic
and reports each stream whose store no longer holds the anchored hash at the anchored
version (``rewritten``), ends before it (``truncated``) or is gone (``deleted``).

Progress is a checkpoint in the service's own database: the commit-order position of the
last head anchored, ``(head_tx, stream_id)``, read below the same horizon as the relay
(``pg_snapshot_xmin``) so that a head written by a transaction still open is never
passed over. A page of heads is sent, every send acknowledged (``acks=all``), then the
checkpoint saved: a crash or a broker outage resends (an anchor is idempotent), never
skips; the loop keeps failing, and ``/ready`` says so, until the broker is back.

Replicas of a service on one database each publish: the same anchors twice, harmless
(the checkpoint and ``anchor_heads`` only move forward, and a reader keeps the highest
version per stream).

Before anchoring, the publisher recomputes with the chain key the hashes written since
the stream's last anchor (``anchor_heads``, one row per stream, also in the database). A
head that does not chain is not anchored: it is logged (``anchor.refused``) and makes the
service not ready, since the stream was changed behind the store's back.

What this cannot show: a change made by someone holding the chain key before the first
anchor covering it (up to one interval after the write), or a stream such a writer made
up entirely; a rewrite by someone holding the chain key who also edits ``anchor_heads``
(the publisher then anchors the rewritten head, and the genuine anchor survives on the
topic only until compaction); anything done by someone holding the anchor signing key;
events that were never written (a handler that did not append). Deleting the topic or
its records is not silent: ``oms audit verify`` fails without the topic, and a stream
whose anchor is gone is checked by its keyed chain alone.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from oms_platform.eventstore.hashing import GENESIS, chain, chain_key_from_hex
from oms_platform.eventstore.model import RecordedEvent
from oms_platform.eventstore.postgres import PostgresEventStore, read_since
from oms_platform.health import LoopStatus, ProbeResult, sleep_or_stop
from oms_platform.logging import get_logger
from oms_platform.settings import ServiceSettings

log = get_logger(__name__)

ANCHOR_FORMAT = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS anchor_progress (
    name       text PRIMARY KEY,
    head_tx    xid8 NOT NULL,
    stream_id  text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS anchor_heads (
    stream_id  text PRIMARY KEY,
    version    integer NOT NULL,
    hash       bytea NOT NULL
);
"""

# Heads written by transactions all committed (below the horizon), after the checkpoint,
# in commit order; with each stream's last anchored head, the base to chain from.
_MOVED = """
SELECT s.stream_id, s.version, s.head, s.head_tx::text::bigint, a.version, a.hash
FROM streams s LEFT JOIN anchor_heads a USING (stream_id)
WHERE s.head_tx < pg_snapshot_xmin(pg_current_snapshot())
  AND (s.head_tx, s.stream_id) > (%s::text::xid8, %s)
ORDER BY s.head_tx, s.stream_id LIMIT %s
"""


class AnchorError(ValueError):
    """An anchor that cannot be read or whose signature does not verify."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A stream's head as one service published it, at one moment."""

    service: str
    stream_id: str
    version: int
    hash: bytes
    anchored_at: datetime

    @property
    def key(self) -> str:
        """The record key: the latest anchor per key survives compaction."""
        return f"{self.service}/{self.stream_id}"

    def signed_text(self) -> bytes:
        """The bytes the signature covers: every field, in one canonical JSON text."""
        return json.dumps(
            {
                "format": ANCHOR_FORMAT,
                "service": self.service,
                "stream_id": self.stream_id,
                "version": self.version,
                "hash": self.hash.hex(),
                "anchored_at": self.anchored_at.astimezone(UTC).isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()


def signing_key_from_pem(pem: str | None) -> Ed25519PrivateKey:
    if pem is None or not pem.strip():
        raise AnchorError("no anchor signing key: set OMS_<SERVICE>_ANCHOR_SIGNING_KEY (PEM)")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError:
        raise AnchorError("the anchor signing key is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError("the anchor signing key must be an Ed25519 key")
    return key


def public_key_from_pem(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise AnchorError("the anchor public key is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError("the anchor public key must be an Ed25519 key")
    return key


def encode_anchor(anchor: Anchor, key: Ed25519PrivateKey) -> bytes:
    """The record value: the signed text's fields and the signature (base64)."""
    signed = anchor.signed_text()
    doc = json.loads(signed)
    doc["signature"] = base64.b64encode(key.sign(signed)).decode()
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def decode_anchor(record_key: bytes | None, value: bytes | None, key: Ed25519PublicKey) -> Anchor:
    """The anchor of one record, its signature verified and its key matching its fields;
    raises ``AnchorError`` otherwise."""
    try:
        doc = json.loads(value or b"")
        signature = base64.b64decode(doc.pop("signature"), validate=True)
        anchor = Anchor(
            service=str(doc["service"]),
            stream_id=str(doc["stream_id"]),
            version=int(doc["version"]),
            hash=bytes.fromhex(doc["hash"]),
            anchored_at=datetime.fromisoformat(doc["anchored_at"]),
        )
        if doc.get("format") != ANCHOR_FORMAT:
            raise AnchorError(f"unknown anchor format {doc.get('format')!r}")
    except AnchorError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise AnchorError(f"unreadable anchor: {type(err).__name__}") from None
    try:
        key.verify(signature, anchor.signed_text())
    except InvalidSignature:
        raise AnchorError("the signature does not verify") from None
    if record_key is None or record_key.decode(errors="replace") != anchor.key:
        raise AnchorError("the record key does not match the anchor's service and stream")
    return anchor


@dataclass(frozen=True, slots=True)
class AnchorSet:
    """What an auditor read from the anchor topic: the latest verified anchor per key;
    the keys with a record that did not verify (``bad``) and those with two verified
    anchors at one version but different hashes (``conflicts``: the stream was anchored
    again after a rewrite), each with the reason."""

    anchors: dict[str, Anchor]
    bad: dict[str, str]
    conflicts: dict[str, str] = field(default_factory=dict)

    def of(self, service: str) -> dict[str, tuple[int, bytes]]:
        """``service``'s anchored heads: stream id -> (version, hash), for ``verify``."""
        return {
            a.stream_id: (a.version, a.hash) for a in self.anchors.values() if a.service == service
        }


def latest_anchors(
    records: Iterable[tuple[bytes | None, bytes | None]], key: Ed25519PublicKey
) -> AnchorSet:
    """Fold the topic's records (key, value), oldest first: a record that verifies
    replaces its key's anchor when it is at a later version (a resent older anchor does
    not roll a stream back); one that does not verify is reported under its key, whatever
    comes after it (someone wrote the topic without the signing key)."""
    anchors: dict[str, Anchor] = {}
    bad: dict[str, str] = {}
    conflicts: dict[str, str] = {}
    for record_key, value in records:
        name = (record_key or b"").decode(errors="replace")
        try:
            anchor = decode_anchor(record_key, value, key)
        except AnchorError as err:
            bad[name] = str(err)
            continue
        known = anchors.get(anchor.key)
        if known is not None and known.version == anchor.version and known.hash != anchor.hash:
            conflicts[anchor.key] = f"two signed anchors at version {anchor.version} differ"
        if known is None or anchor.version >= known.version:
            anchors[anchor.key] = anchor
    return AnchorSet(anchors, bad, conflicts)


async def read_anchors(
    options: Mapping[str, Any], topic: str, key: Ed25519PublicKey, *, timeout_s: float = 60
) -> AnchorSet:
    """Every record of the anchor ``topic`` from the beginning up to its end as it is now
    (``options``: the aiokafka connection options), folded by ``latest_anchors``.

    Raises ``AnchorError`` when the topic does not exist: with no topic there is no
    evidence to check against, which an auditor must hear about rather than a pass.
    """
    partitions = await _partitions(options, topic)
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise AnchorError(f"reading {topic} took longer than {timeout_s:.0f}s")
            batches = await consumer.getmany(*parts, timeout_ms=500)
            for tp in parts:  # per partition in offset order; keys never span partitions
                records += [(r.key, r.value) for r in batches.get(tp, [])]
    finally:
        await consumer.stop()
    return latest_anchors(records, key)


async def _partitions(options: Mapping[str, Any], topic: str) -> set[int]:
    admin = AIOKafkaAdminClient(**options, client_id="oms-audit")
    await admin.start()
    try:
        described: list[Any] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for found in described:
        if found.get("topic") == topic and found.get("error_code", 0) == 0:
            return {p["partition"] for p in found["partitions"]}
    raise AnchorError(f"the anchor topic {topic} does not exist")


ProducerFactory = Callable[[], AIOKafkaProducer]


class AnchorPublisher:
    """Publishes the service's moved stream heads as signed anchors (see the module)."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        service: str,
        topic: str,
        chain_key: bytes,
        signing_key: Ed25519PrivateKey,
        producer: ProducerFactory,
        interval_s: float = 5.0,
        page_size: int = 1000,
        status: LoopStatus | None = None,
    ) -> None:
        self.store = store
        self.service = service
        self.topic = topic
        self._chain_key = chain_key
        self._signing_key = signing_key
        self._producer_factory = producer
        self.interval_s = interval_s
        self.page_size = page_size
        self.status = status or LoopStatus("anchors")
        self.published = 0
        self.last_round: float | None = None
        """``time.monotonic()`` when a round last finished (every moved head anchored)."""
        self.refused: dict[str, str] = {}
        """Streams whose head did not chain with the key: stream id -> reason. Such a head
        is passed over (not anchored); the service stays not ready until it restarts, and
        ``oms audit verify`` reports the stream."""

    async def setup(self) -> None:
        async with self.store.connection() as conn:
            await conn.execute(SCHEMA)

    async def run(self, stop: asyncio.Event) -> None:
        """Anchor every ``interval_s`` until ``stop``, then once more (shutdown)."""
        producer = self._producer_factory()
        try:
            await producer.start()
            while not stop.is_set():
                await self.publish_moved(producer)
                self.last_round = time.monotonic()
                self._report()
                await sleep_or_stop(stop, self.interval_s)
            await self.publish_moved(producer)
        finally:
            await producer.stop()

    async def probe(self) -> ProbeResult:
        """Not ready while rounds stop finishing (a broker away, a send hanging) for
        longer than three intervals and 30 s, or while a head was refused."""
        age = None if self.last_round is None else time.monotonic() - self.last_round
        details = {
            "published": self.published,
            "refused": len(self.refused),
            "last_round_s": None if age is None else round(age, 1),
        }
        if self.refused:
            return ProbeResult(False, details, f"{len(self.refused)} stream head(s) refused")
        stuck = age is not None and age > max(3 * self.interval_s, 30.0)
        return ProbeResult(not stuck, details, f"no anchors for {age:.0f}s" if stuck else None)

    def _report(self) -> None:
        if self.refused:
            names = ", ".join(sorted(self.refused)[:5])
            self.status.failing(f"{len(self.refused)} stream head(s) do not chain: {names}")
        else:
            self.status.ok()

    async def publish_moved(self, producer: AIOKafkaProducer) -> int:
        """Anchor every head moved since the checkpoint, page by page; how many were sent."""
        sent = 0
        async with self.store.connection() as conn:
            cur = await conn.execute(
                "SELECT head_tx::text::bigint, stream_id FROM anchor_progress WHERE name = %s",
                (self.service,),
            )
            row = await cur.fetchone()
            after: tuple[int, str] = (row[0], row[1]) if row else (0, "")
            while True:
                cur = await conn.execute(_MOVED, (str(after[0]), after[1], self.page_size))
                rows = await cur.fetchall()
                if not rows:
                    return sent
                now = datetime.now(UTC)
                bases = {
                    r[0]: (r[4] or 0, bytes(r[5]) if r[5] is not None else GENESIS) for r in rows
                }
                segments = await read_since(conn, {sid: b[0] for sid, b in bases.items()})
                anchors = []
                for stream_id, version, head, *_ in rows:
                    problem = self._unchained(
                        bases[stream_id], version, bytes(head), segments[stream_id]
                    )
                    if problem is not None:
                        if stream_id not in self.refused:
                            log.error("anchor.refused", stream_id=stream_id, reason=problem)
                        self.refused[stream_id] = problem
                        continue
                    self.refused.pop(stream_id, None)
                    anchors.append(Anchor(self.service, stream_id, version, bytes(head), now))
                deliveries = [
                    await producer.send(
                        self.topic,
                        encode_anchor(a, self._signing_key),
                        key=a.key.encode(),
                    )
                    for a in anchors
                ]
                await asyncio.gather(*deliveries)  # every one acknowledged, or raise
                after = (rows[-1][3], rows[-1][0])
                await save_progress(conn, self.service, anchors, after)
                sent += len(anchors)
                self.published += len(anchors)
                if anchors:
                    log.info("anchor.published", count=len(anchors), topic=self.topic)

    def _unchained(
        self,
        base: tuple[int, bytes],
        version: int,
        head: bytes,
        events: Sequence[RecordedEvent],
    ) -> str | None:
        """Why ``head`` does not follow, under the chain key, from the last anchored
        ``base`` through ``events``, those written since; None when it does."""
        base_version, previous = base
        if version < base_version:
            return f"the head went back from anchored version {base_version} to {version}"
        expected = base_version + 1
        # Chained from the anchored hash, not from the stored one before the segment: an
        # anchored event changed since would not let the segment chain.
        for rec in events:
            if rec.envelope.stream_version != expected:
                return f"version {expected} is missing"
            previous = chain(self._chain_key, previous, rec.envelope)
            if not hmac.compare_digest(previous, rec.hash):
                return f"version {expected} does not chain with the key"
            expected += 1
        if expected - 1 != version or not hmac.compare_digest(previous, head):
            return f"the head (version {version}) is not the last event's hash"
        return None


async def save_progress(
    conn: Any, service: str, anchors: Sequence[Anchor], after: tuple[int, str]
) -> None:
    """Record ``anchors`` as the streams' last anchored heads and ``after`` as the
    checkpoint, in one transaction; both only ever move forward (replicas race)."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO anchor_heads (stream_id, version, hash) "
            "SELECT * FROM unnest(%s::text[], %s::int[], %s::bytea[]) "
            "ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, "
            "hash = EXCLUDED.hash WHERE anchor_heads.version <= EXCLUDED.version",
            (
                [a.stream_id for a in anchors],
                [a.version for a in anchors],
                [a.hash for a in anchors],
            ),
        )
        await conn.execute(
            "INSERT INTO anchor_progress (name, head_tx, stream_id) "
            "VALUES (%s, %s::text::xid8, %s) ON CONFLICT (name) DO UPDATE "
            "SET head_tx = EXCLUDED.head_tx, stream_id = EXCLUDED.stream_id, "
            "updated_at = now() WHERE (anchor_progress.head_tx, "
            "anchor_progress.stream_id) < (EXCLUDED.head_tx, EXCLUDED.stream_id)",
            (service, str(after[0]), after[1]),
        )


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def service_chain_key(settings: ServiceSettings) -> bytes:
    """The service's chain key; raises ``ChainKeyError`` without one (no unkeyed chain)."""
    return chain_key_from_hex(_secret(settings.chain_key))


def publisher_for(
    settings: ServiceSettings,
    store: PostgresEventStore,
    *,
    topic: str,
    producer: ProducerFactory,
    status: LoopStatus,
) -> AnchorPublisher:
    """The service's publisher; raises ``AnchorError`` without a signing key."""
    return AnchorPublisher(
        store,
        service=settings.service,
        topic=topic,
        chain_key=service_chain_key(settings),
        signing_key=signing_key_from_pem(_secret(settings.anchor_signing_key)),
        producer=producer,
        interval_s=settings.anchor_interval_s,
        status=status,
    )
