"""Replay rate: ``oms_operations.replay.rebuild`` of every read model against a raw
psycopg read of the same rows.

The sources are six scratch stores (one per producing service) holding the contract
events of whole order lives, as the services write them: placed, reserved, paid,
confirmed, picked, booked, dispatched, captured, shipped, now and then a failed delivery
attempt, delivered; some returned and refunded, most rated; one in eight declined and
cancelled. Each order's events of one service go in one append.

The rebuild reads every store in commit order (``read_all`` pages of 1,000), parses each
event's contract, folds it through every read model's pure ``apply`` in memory and
writes the rows and inbox rows in one transaction, into a scratch operations database.
Its ceiling is the raw read of the same rows, ``SELECT <the store's columns> FROM events
ORDER BY position`` in keyset pages of 1,000 on one psycopg connection per store: no
decoding, no folding, no writing.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from oms_events.base import Event
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.registry import envelope_for, latest
from oms_events.topics import topic_for
from oms_operations.replay import rebuild
from oms_platform.db import create_engine
from oms_platform.eventstore import PostgresEventStore
from oms_platform.eventstore.postgres import _COLUMNS

from .common import Meter, Result

SERVICES = ("order", "inventory", "payments", "fulfilment", "shipping", "returns")
PAGE = 1000
RAW_PAGE = f"SELECT {_COLUMNS} FROM events WHERE position > %s ORDER BY position LIMIT %s"
SKUS = ("TSHIRT-BLU-M", "MUG-ENAMEL-WHT", "SNEAKER-42", "YOGA-MAT", "LAMP-DESK", "COFFEE-1KG")
WAREHOUSES = ("AMS", "BER", "MAD")
CARRIERS = ("postnl", "dhl", "dpd")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _make(type_name: str, **changes: Any) -> Event:
    cls = latest(type_name)
    return cls.model_validate({**example(cls).model_dump(), **changes})


def order_life(n: int, rng: random.Random) -> list[tuple[str, Event]]:
    """Order ``n``'s events in the services' order: (stream, event)."""
    oid = f"ord-b{n:06d}"
    pay, wh = f"pay-{oid}", rng.choice(WAREHOUSES)
    ful, shp, rma = f"ful-{oid}-{wh}", f"shp-{oid}", f"rma-{oid}"
    qty = rng.randint(1, 3)
    line = {"sku": rng.choice(SKUS), "quantity": qty}
    price = f"{rng.randint(500, 9000) / 100:.2f}"
    total = f"{float(price) * qty + 4.95:.2f}"
    money = {"method": rng.choice(("ideal", "card", "paypal")), "payment_id": pay}
    money["amount"] = eur(total).model_dump()
    placed = _make(
        "OrderPlaced",
        order_id=oid,
        platform_order_ref=f"WEB-{n:06d}",
        payments=[{**money, "gift_card_code": None}],
        lines=[{"line_id": "1", **line, "unit_price": eur(price).model_dump()}],
    )
    if n % 8 == 7:
        return [
            (f"order-{oid}", placed),
            (f"payment-{pay}", _make("PaymentDeclined", order_id=oid, **money)),
            (f"order-{oid}", _make("OrderCancelled", order_id=oid)),
        ]
    alloc = [{"line_id": "1", **line, "warehouse_id": wh}]
    parcel = {"order_id": oid, "shipment_id": shp, "carrier": rng.choice(CARRIERS)}
    events = [
        (f"order-{oid}", placed),
        (f"reservation-{oid}", _make("StockReserved", order_id=oid, allocations=alloc)),
        (f"payment-{pay}", _make("PaymentAuthorized", order_id=oid, **money)),
        (f"order-{oid}", _make("OrderConfirmed", order_id=oid, allocations=alloc)),
        (
            f"fulfilment-{ful}",
            _make(
                "FulfilmentRequested",
                order_id=oid,
                fulfilment_id=ful,
                warehouse_id=wh,
                lines=[line],
            ),
        ),
        (f"shipment-{shp}", _make("ShipmentBooked", **parcel, fulfilment_id=ful, warehouse_id=wh)),
        (
            f"shipment-{shp}",
            _make("ShipmentDispatched", **parcel, warehouse_id=wh, lines=[line]),
        ),
        (f"payment-{pay}", _make("PaymentCaptured", order_id=oid, **money, shipment_id=shp)),
        (f"order-{oid}", _make("OrderShipped", **parcel, warehouse_id=wh, lines=[line])),
    ]
    if rng.random() < 0.1:
        events.append((f"shipment-{shp}", _make("ShipmentDeliveryFailed", **parcel, attempt=1)))
    events += [
        (f"shipment-{shp}", _make("ShipmentDelivered", **parcel)),
        (f"order-{oid}", _make("OrderDelivered", **parcel)),
    ]
    if rng.random() < 0.15:
        one = {"sku": line["sku"], "quantity": 1}
        refund = eur(price).model_dump()
        events += [
            (
                f"return-{rma}",
                _make(
                    "ReturnRequested",
                    return_id=rma,
                    order_id=oid,
                    lines=[one | {"reason": "wrong_size"}],
                ),
            ),
            (
                f"return-{rma}",
                _make(
                    "ReturnAuthorized", return_id=rma, order_id=oid, warehouse_id=wh, lines=[one]
                ),
            ),
            (
                f"return-{rma}",
                _make(
                    "ReturnReceived",
                    return_id=rma,
                    order_id=oid,
                    warehouse_id=wh,
                    lines=[one | {"condition": "resellable"}],
                    refund_amount=refund,
                ),
            ),
            (f"return-{rma}", _make("ReturnResolved", return_id=rma, order_id=oid)),
            (
                f"payment-{pay}",
                _make(
                    "RefundIssued",
                    order_id=oid,
                    **(money | {"amount": refund}),
                    refund_id=f"rfd-{oid}",
                    return_id=rma,
                ),
            ),
            (
                f"order-{oid}",
                _make("OrderReturnRecorded", order_id=oid, return_id=rma, lines=[one]),
            ),
        ]
    if rng.random() < 0.6:
        events.append(
            (f"order-{oid}", _make("FeedbackReceived", order_id=oid, rating=rng.randint(1, 5)))
        )
    return events


def envelopes(events: int, seed: int = 11) -> Iterator[list[Envelope]]:
    """Whole order lives until about ``events`` events: for each order, one list of
    envelopes per service (one append each), versions numbered per stream."""
    rng = random.Random(seed)
    written = 0
    n = 0
    at = T0
    while written < events:
        versions: dict[str, int] = {}
        per_service: dict[str, list[Envelope]] = {}
        previous: uuid.UUID | None = None
        for stream, event in order_life(n, rng):
            at += timedelta(seconds=rng.randint(1, 90))
            versions[stream] = versions.get(stream, 0) + 1
            service = topic_for(type(event).event_type).split(".")[1]
            env = envelope_for(
                event,
                stream_id=stream,
                stream_version=versions[stream],
                correlation_id=str(getattr(event, "order_id")),  # noqa: B009
                causation_id=str(previous) if previous else None,
                actor="platform:webshop" if previous is None else f"service:{service}",
                producer=service,
                occurred_at=at,
            )
            previous = env.event_id
            per_service.setdefault(service, []).append(env)
        for batch in per_service.values():
            written += len(batch)
            yield batch
        n += 1


async def fill(dsns: dict[str, str], events: int) -> int:
    """Append about ``events`` order-lifecycle events to the six stores; how many."""
    stores = {}
    for service, dsn in dsns.items():
        store = PostgresEventStore(
            create_engine(dsn, pool_size=1), chain_key=secrets.token_bytes(32), pool_size=1
        )
        await store.create_schema()
        store.notify_commits = False
        stores[service] = store
    written = 0
    try:
        for batch in envelopes(events):
            await stores[batch[0].producer].append(batch)
            written += len(batch)
    finally:
        for store in stores.values():
            await store.close()
            await store.engine.dispose()
    return written


async def replay_rate(ops_dsn: str, dsns: dict[str, str], expect: int, name: str) -> Result:
    """One ``rebuild`` of every read model from the six stores."""
    engine = create_engine(ops_dsn, pool_size=1)
    try:
        meter = Meter()
        stats = await rebuild(engine, dsns)
        meter.stop()
    finally:
        await engine.dispose()
    if stats.events_read != expect:
        raise RuntimeError(f"the rebuild read {stats.events_read} events, expected {expect}")
    result = meter.result(name, stats.events_read)
    result.extra.update(
        rows_written=stats.rows_written,
        inbox_rows=stats.inbox_rows,
        read_fold_s=round(stats.read_s, 3),
        write_s=round(stats.write_s, 3),
    )
    return result


async def raw_read_rate(dsns: dict[str, str], expect: int, name: str) -> Result:
    """The same rows, ``SELECT ... ORDER BY position`` in keyset pages, store by store."""
    conns = [await psycopg.AsyncConnection.connect(d, autocommit=True) for d in dsns.values()]
    try:
        meter = Meter()
        count = 0
        for conn in conns:
            after = 0
            while True:
                cur = await conn.execute(RAW_PAGE, (after, PAGE))
                rows = await cur.fetchall()
                if not rows:
                    break
                count += len(rows)
                after = rows[-1][0]
        meter.stop()
    finally:
        for conn in conns:
            await conn.close()
    if count != expect:
        raise RuntimeError(f"the raw read returned {count} rows, expected {expect}")
    return meter.result(name, count)
