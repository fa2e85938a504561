"""The HTTP API on the in-memory store: answers, refusals as problems, hostile input.

The host is built by ``create_app`` with an injected ``InMemoryEventStore`` (pick lists
are then folded from the store on each query, SKU sizes kept in memory), so the routes,
the problem handlers and the input limits run as in production, without a database.
Events from other services are delivered through the consumers' routing table
(``consumers.handler``), in a unit of work of the same store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_events.base import Event
from oms_events.contracts.common import Address, Allocation
from oms_events.contracts.fulfilment import (
    FulfilmentCancellationAccepted,
    FulfilmentCancellationRefused,
    FulfilmentCancelled,
)
from oms_events.contracts.inventory import SkuRegistered
from oms_events.contracts.order import (
    CancellationReason,
    CancelledBy,
    OrderCancellationRequested,
    OrderConfirmed,
)
from oms_events.limits import MAX_BODY_BYTES, MAX_ID_LENGTH, MAX_LINES, MAX_STOCK_LEVEL
from oms_events.registry import envelope_for, registry
from oms_fulfilment.app import create_app
from oms_fulfilment.consumers import handler
from oms_fulfilment.handlers import Fulfilments
from oms_fulfilment.settings import FulfilmentSettings
from oms_fulfilment.sizes import InMemoryItemSizes
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys

PROBLEM = "application/problem+json"
ADDRESS = Address(
    recipient="Noor Jansen",
    line1="Prinsengracht 263",
    postal_code="1016 GV",
    city="Amsterdam",
    country="NL",
)
TEE = SkuRegistered(
    sku="TEE", name="Tee", weight_grams=180, length_mm=300, width_mm=250, height_mm=20
)
MUG = SkuRegistered(
    sku="MUG", name="Mug", weight_grams=350, length_mm=120, width_mm=90, height_mm=95
)
AMS_ID, BER_ID = "ful-ord-1-AMS", "ful-ord-1-BER"


def confirmed(order_id: str, *allocations: tuple[str, str, int]) -> OrderConfirmed:
    """``allocations``: (sku, warehouse, units), one order line each."""
    return OrderConfirmed(
        order_id=order_id,
        allocations=tuple(
            Allocation(line_id=str(i), sku=sku, warehouse_id=wh, quantity=q)
            for i, (sku, wh, q) in enumerate(allocations, 1)
        ),
        shipping_address=ADDRESS,
    )


# A split order: two tees and a mug from Amsterdam, one more tee from Berlin.
SPLIT = confirmed("ord-1", ("TEE", "AMS", 2), ("MUG", "AMS", 1), ("TEE", "BER", 1))


@dataclass
class Clock:
    """The service's clock, moved on by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    client: httpx.AsyncClient
    store: InMemoryEventStore
    fulfilments: Fulfilments
    clock: Clock

    async def deliver(self, event: Event, key: str) -> None:
        """``event`` as the consumer runtime hands it over, in one unit of work."""
        env = envelope_for(
            event,
            stream_id=f"upstream-{key}",
            stream_version=1,
            correlation_id=key,
            causation_id=None,
            actor="service:test",
            producer="test",
        )
        async with self.store.unit_of_work() as uow:
            await handler(self.fulfilments, type(event))(uow, env, event)

    async def events(self) -> list[Event]:
        return [registry.parse(r.envelope) for r in await self.store.read_all(limit=10_000)]

    async def picklists(self, warehouse: str, **params: Any) -> dict[str, Any]:
        resp = await self.client.get(f"/v1/warehouses/{warehouse}/picklists", params=params)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


@pytest.fixture
async def world() -> AsyncIterator[World]:
    settings = FulfilmentSettings(
        **service_keys(), database_dsn=SecretStr("postgresql://unused@127.0.0.1:1/none")
    )
    store = InMemoryEventStore(TEST_CHAIN_KEY)
    sizes = InMemoryItemSizes()
    clock = Clock()
    host = create_app(settings, store=store, sizes=sizes, clock=clock)
    # Unexpected exceptions become 500 answers here, so a test sees the status it got.
    transport = httpx.ASGITransport(app=host.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fulfilment", headers=auth.headers()
    ) as c:
        w = World(c, store, Fulfilments(sizes, clock=clock), clock)
        for sku in (TEE, MUG):
            await w.deliver(sku, sku.sku)
        await w.deliver(SPLIT, "ord-1")
        yield w


def problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"urn:oms:problem:{code}" and body["detail"]
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def lines(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "quantity": q} for s, q in pairs]


# -- a confirmed order becomes pick lists ------------------------------------------------------


async def test_a_split_order_gives_one_open_pick_list_per_warehouse(world: World) -> None:
    ams = await world.picklists("AMS")
    assert ams["status"] == "open" and ams["count"] == 1 and ams["more"] is False
    [picklist] = ams["picklists"]
    assert picklist["fulfilment_id"] == AMS_ID and picklist["order_id"] == "ord-1"
    assert picklist["lines"] == lines(("TEE", 2), ("MUG", 1))
    [ber] = (await world.picklists("BER"))["picklists"]
    assert ber["fulfilment_id"] == BER_ID and ber["lines"] == lines(("TEE", 1))
    assert (await world.picklists("MAD"))["picklists"] == []
    one = (await world.client.get(f"/v1/fulfilments/{AMS_ID}")).json()
    assert one["status"] == "open" and one["warehouse"] == "AMS" and one["version"] == 1
    assert one["shipping_address"]["city"] == "Amsterdam" and one["parcels"] == []


async def test_the_same_order_confirmed_again_requests_nothing_new(world: World) -> None:
    before = await world.events()
    assert [type(e).__name__ for e in before] == ["FulfilmentRequested"] * 2
    await world.deliver(SPLIT, "ord-1")  # another envelope, the same order
    assert await world.events() == before
    assert (await world.picklists("AMS"))["count"] == 1


async def test_pick_lists_are_oldest_first_and_bounded_by_limit(world: World) -> None:
    for order in ("ord-2", "ord-3"):
        await world.deliver(confirmed(order, ("MUG", "AMS", 1)), order)
    page = await world.picklists("AMS", limit=2)
    assert [p["order_id"] for p in page["picklists"]] == ["ord-1", "ord-2"]
    assert page["count"] == 2 and page["more"] is True
    rest = await world.picklists("AMS", limit=3)
    assert rest["count"] == 3 and rest["more"] is False


# -- pick, pack, cancel ------------------------------------------------------------------------


async def test_a_short_pick_then_packing_records_parcels(world: World) -> None:
    c = world.client
    report = {"lines": lines(("TEE", 1), ("MUG", 1))}
    headers = {**auth.headers(subject="staff:picker-7"), "X-Request-Id": "req-42"}
    picked = await c.post(f"/v1/fulfilments/{AMS_ID}/picked", json=report, headers=headers)
    assert picked.status_code == 201, picked.text
    assert picked.json()["recorded"] == ["OrderPicked", "ShortPicked"]
    assert picked.json()["status"] == "picked"
    assert picked.json()["picked"] == lines(("TEE", 1), ("MUG", 1))
    assert picked.json()["missing"] == lines(("TEE", 1))
    # The envelopes say which order, who and why.
    [rec] = [r for r in await world.store.read_all() if r.envelope.type == "ShortPicked"]
    assert rec.envelope.correlation_id == "ord-1" and rec.envelope.actor == "staff:picker-7"
    assert rec.envelope.causation_id == "req-42" and rec.envelope.producer == "fulfilment"

    again = await c.post(f"/v1/fulfilments/{AMS_ID}/picked", json=report)
    assert again.status_code == 200 and again.json()["recorded"] == []
    other = await c.post(
        f"/v1/fulfilments/{AMS_ID}/picked", json={"lines": lines(("TEE", 2), ("MUG", 1))}
    )
    problem(other, 409, "already_picked")
    assert (await world.picklists("AMS"))["picklists"] == []
    [listed] = (await world.picklists("AMS", status="picked"))["picklists"]
    assert listed["missing"] == lines(("TEE", 1))

    packed = await c.post(f"/v1/fulfilments/{AMS_ID}/packed")
    assert packed.status_code == 201, packed.text
    body = packed.json()
    assert body["recorded"] == ["OrderPacked", "ParcelsPacked"] and body["status"] == "packed"
    [parcel] = body["parcels"]
    # A tee (300x250x20, 180 g) is too wide for the mailer and the small box (x200).
    assert parcel["box"] == "BOX-M" and parcel["parcel_id"] == f"{AMS_ID}-1"
    assert parcel["lines"] == lines(("TEE", 1), ("MUG", 1))
    assert parcel["weight_grams"] == 180 + 350 + 300 == body["weight_grams"]
    assert body["packaging_cost"] == {"amount": "0.95", "currency": "EUR"}
    repack = await c.post(f"/v1/fulfilments/{AMS_ID}/packed")
    assert repack.status_code == 200 and repack.json()["recorded"] == []
    problem(
        await c.post(f"/v1/fulfilments/{AMS_ID}/cancel", json={"reason": "x"}),
        409,
        "already_packed",
    )
    [done] = (await world.picklists("AMS", status="packed"))["picklists"]
    assert done["parcels"] == 1


async def test_packing_needs_a_pick_and_the_sizes(world: World) -> None:
    c = world.client
    problem(await c.post(f"/v1/fulfilments/{BER_ID}/packed"), 409, "not_picked")
    await world.deliver(confirmed("ord-9", ("POSTER", "BER", 1)), "ord-9")
    poster = "ful-ord-9-BER"
    assert (
        await c.post(f"/v1/fulfilments/{poster}/picked", json={"lines": lines(("POSTER", 1))})
    ).status_code == 201
    problem(await c.post(f"/v1/fulfilments/{poster}/packed"), 422, "item_size_unknown")
    tube = SkuRegistered(
        sku="POSTER", name="Poster", weight_grams=200, length_mm=900, width_mm=80, height_mm=80
    )
    await world.deliver(tube, "POSTER")
    packed = await c.post(f"/v1/fulfilments/{poster}/packed")
    assert packed.status_code == 201 and packed.json()["parcels"][0]["box"] == "TUBE-L"


async def test_a_pick_that_found_nothing_cannot_be_packed_and_may_be_cancelled(
    world: World,
) -> None:
    c = world.client
    nothing = await c.post(f"/v1/fulfilments/{BER_ID}/picked", json={"lines": lines(("TEE", 0))})
    assert nothing.status_code == 201 and nothing.json()["recorded"] == ["ShortPicked"]
    problem(await c.post(f"/v1/fulfilments/{BER_ID}/packed"), 409, "nothing_to_pack")
    cancelled = await c.post(f"/v1/fulfilments/{BER_ID}/cancel", json={"reason": "not found"})
    assert cancelled.status_code == 201 and cancelled.json()["recorded"] == ["FulfilmentCancelled"]
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_reason"] == "not found"
    twice = await c.post(f"/v1/fulfilments/{BER_ID}/cancel", json={"reason": "again"})
    assert twice.status_code == 200 and twice.json()["recorded"] == []
    problem(
        await c.post(f"/v1/fulfilments/{BER_ID}/picked", json={"lines": lines(("TEE", 0))}),
        409,
        "fulfilment_cancelled",
    )
    assert (await world.picklists("BER", status="cancelled"))["count"] == 1


async def test_an_open_fulfilment_is_cancelled_with_its_pick_list(world: World) -> None:
    resp = await world.client.post(f"/v1/fulfilments/{AMS_ID}/cancel", json={"reason": "fraud"})
    assert resp.status_code == 201
    [event] = [e for e in await world.events() if isinstance(e, FulfilmentCancelled)]
    assert [(ln.sku, ln.quantity) for ln in event.lines] == [("TEE", 2), ("MUG", 1)]
    assert (await world.picklists("AMS"))["picklists"] == []


# -- a cancellation request from the order --------------------------------------------------

CANCEL_ORD_1 = OrderCancellationRequested(
    order_id="ord-1",
    reason=CancellationReason.CUSTOMER_REQUEST,
    cancelled_by=CancelledBy.CUSTOMER,
    detail="ordered twice",
)
REASON = "order cancelled (customer_request, by customer): ordered twice"


async def pick_all_of_ber(c: httpx.AsyncClient) -> None:
    resp = await c.post(f"/v1/fulfilments/{BER_ID}/picked", json={"lines": lines(("TEE", 1))})
    assert resp.status_code == 201, resp.text


async def test_a_cancellation_request_before_packing_cancels_every_fulfilment(
    world: World,
) -> None:
    await pick_all_of_ber(world.client)
    await world.deliver(CANCEL_ORD_1, "ord-1")
    cancelled = [e for e in await world.events() if isinstance(e, FulfilmentCancelled)]
    assert {(e.fulfilment_id, e.reason) for e in cancelled} == {(AMS_ID, REASON), (BER_ID, REASON)}
    held = {e.fulfilment_id: [(ln.sku, ln.quantity) for ln in e.lines] for e in cancelled}
    assert held == {AMS_ID: [("TEE", 2), ("MUG", 1)], BER_ID: [("TEE", 1)]}
    [answer] = [e for e in await world.events() if isinstance(e, FulfilmentCancellationAccepted)]
    assert answer.order_id == "ord-1" and answer.fulfilment_ids == (AMS_ID, BER_ID)
    [rec] = [r for r in await world.store.read_all() if r.envelope.type == answer.event_type]
    assert rec.envelope.stream_id == "cancellation-ord-1"
    assert rec.envelope.correlation_id == "ord-1"
    # The warehouse can no longer pack what was cancelled, nor list it as open.
    problem(
        await world.client.post(f"/v1/fulfilments/{BER_ID}/packed"), 409, "fulfilment_cancelled"
    )
    assert (await world.picklists("AMS"))["picklists"] == []
    assert (await world.picklists("BER", status="cancelled"))["count"] == 1


async def test_a_cancellation_request_after_a_pack_is_refused_and_changes_nothing(
    world: World,
) -> None:
    await pick_all_of_ber(world.client)
    assert (await world.client.post(f"/v1/fulfilments/{BER_ID}/packed")).status_code == 201
    before = await world.events()
    await world.deliver(CANCEL_ORD_1, "ord-1")
    after = await world.events()
    [refused] = after[len(before) :]
    assert isinstance(refused, FulfilmentCancellationRefused)
    assert refused.packed == (BER_ID,) and "return" in refused.reason
    ams = (await world.client.get(f"/v1/fulfilments/{AMS_ID}")).json()
    assert ams["status"] == "open" and ams["version"] == 1  # still to be picked and shipped


async def test_a_repeated_cancellation_request_decides_nothing(world: World) -> None:
    await world.deliver(CANCEL_ORD_1, "ord-1")
    once = await world.events()
    await world.deliver(CANCEL_ORD_1, "ord-1")  # another envelope, the same request
    assert await world.events() == once
    # ...nor does the order confirmed again afterwards open anything.
    await world.deliver(SPLIT, "ord-1")
    assert await world.events() == once


async def test_a_cancellation_request_for_an_order_without_fulfilments_is_accepted(
    world: World,
) -> None:
    request = CANCEL_ORD_1.model_copy(update={"order_id": "ord-none"})
    await world.deliver(request, "ord-none")
    [answer] = [e for e in await world.events() if isinstance(e, FulfilmentCancellationAccepted)]
    assert answer.order_id == "ord-none" and answer.fulfilment_ids == ()
    # Confirmed after all (ruled out by the partition order): nothing is opened for it.
    await world.deliver(confirmed("ord-none", ("MUG", "AMS", 1)), "ord-none")
    assert (await world.picklists("AMS"))["count"] == 1


async def test_a_fulfilment_cancelled_by_the_warehouse_is_not_cancelled_twice(
    world: World,
) -> None:
    resp = await world.client.post(f"/v1/fulfilments/{AMS_ID}/cancel", json={"reason": "damaged"})
    assert resp.status_code == 201
    await world.deliver(CANCEL_ORD_1, "ord-1")
    cancelled = [e for e in await world.events() if isinstance(e, FulfilmentCancelled)]
    assert [(e.fulfilment_id, e.reason) for e in cancelled] == [
        (AMS_ID, "damaged"),
        (BER_ID, REASON),
    ]
    [answer] = [e for e in await world.events() if isinstance(e, FulfilmentCancellationAccepted)]
    assert answer.fulfilment_ids == (AMS_ID, BER_ID)


# -- backlog against capacity ----------------------------------------------------------------


async def backlog(c: httpx.AsyncClient, warehouse: str) -> dict[str, Any]:
    resp = await c.get(f"/v1/warehouses/{warehouse}/backlog")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_the_backlog_counts_open_work_against_the_warehouses_capacity(world: World) -> None:
    c, t0 = world.client, world.clock.now
    ams = await backlog(c, "AMS")
    assert ams["capacity"] == {"picks_per_hour": 240, "packs_per_hour": 180, "default": False}
    assert ams["to_pick"] == {
        "fulfilments": 1,
        "units": 3,
        "oldest_requested_at": t0.isoformat(),
    }
    assert ams["to_pack"] == {"fulfilments": 0, "units": 0}
    # 3 units: 3/240 h to pick, 3/180 h to pack; packing is the slower station.
    assert ams["hours"] == {"pick": 0.01, "pack": 0.02, "backlog": 0.02}
    assert ams["bottleneck"] == "pack"

    # Later that morning Amsterdam gets 200 mugs more, and Berlin picks its tee.
    world.clock.now = t0 + timedelta(hours=2)
    await world.deliver(confirmed("ord-2", ("MUG", "AMS", 200)), "ord-2")
    await pick_all_of_ber(c)
    ams = await backlog(c, "AMS")
    assert ams["to_pick"]["fulfilments"] == 2 and ams["to_pick"]["units"] == 203
    assert ams["to_pick"]["oldest_requested_at"] == t0.isoformat()  # still ord-1
    assert ams["hours"] == {"pick": 0.85, "pack": 1.13, "backlog": 1.13}
    ber = await backlog(c, "BER")
    assert ber["to_pick"] == {"fulfilments": 0, "units": 0, "oldest_requested_at": None}
    assert ber["to_pack"] == {"fulfilments": 1, "units": 1}
    assert ber["hours"]["pick"] == 0 and ber["bottleneck"] == "pack"

    # Packed today counts today only: Berlin packs now, and the next day it is yesterday's.
    assert (await c.post(f"/v1/fulfilments/{BER_ID}/packed")).status_code == 201
    ber = await backlog(c, "BER")
    assert ber["to_pack"] == {"fulfilments": 0, "units": 0} and ber["bottleneck"] is None
    assert ber["packed_today"] == {
        "fulfilments": 1,
        "units": 1,
        "since": "2026-03-02T00:00:00+00:00",
    }
    world.clock.now = t0 + timedelta(days=1)
    assert (await backlog(c, "BER"))["packed_today"]["fulfilments"] == 0


async def test_cancelled_work_leaves_the_backlog(world: World) -> None:
    await world.deliver(CANCEL_ORD_1, "ord-1")
    ams = await backlog(world.client, "AMS")
    assert ams["to_pick"]["units"] == 0 and ams["hours"]["backlog"] == 0


async def test_an_unlisted_warehouse_has_the_default_capacity_and_no_work(world: World) -> None:
    body = await backlog(world.client, "OSL")
    assert body["capacity"] == {"picks_per_hour": 100, "packs_per_hour": 80, "default": True}
    assert body["to_pick"]["fulfilments"] == 0 and body["bottleneck"] is None


async def test_the_backlog_of_every_warehouse(world: World) -> None:
    await world.deliver(confirmed("ord-2", ("MUG", "OSL", 4)), "ord-2")
    resp = await world.client.get("/v1/backlog")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # The listed warehouses, and Oslo, which is not listed but has work.
    assert [w["warehouse"] for w in body["warehouses"]] == ["AMS", "BER", "MAD", "OSL"]
    assert body["count"] == 4 and body["as_of"] == world.clock.now.isoformat()
    units = {w["warehouse"]: w["to_pick"]["units"] for w in body["warehouses"]}
    assert units == {"AMS": 3, "BER": 1, "MAD": 0, "OSL": 4}
    [osl] = [w for w in body["warehouses"] if w["warehouse"] == "OSL"]
    assert osl["capacity"]["default"] is True and osl["hours"]["pack"] == 0.05


# -- refusals --------------------------------------------------------------------------------


async def test_an_unknown_fulfilment_is_404_everywhere(world: World) -> None:
    c = world.client
    problem(await c.get("/v1/fulfilments/ful-nope"), 404, "fulfilment_not_found")
    report = {"lines": lines(("TEE", 1))}
    problem(
        await c.post("/v1/fulfilments/ful-nope/picked", json=report), 404, "fulfilment_not_found"
    )
    problem(await c.post("/v1/fulfilments/ful-nope/packed"), 404, "fulfilment_not_found")
    cancel = await c.post("/v1/fulfilments/ful-nope/cancel", json={"reason": "x"})
    problem(cancel, 404, "fulfilment_not_found")
    assert len(await world.events()) == 2


WRONG_REPORTS: list[tuple[list[dict[str, Any]], str, str]] = [
    (lines(("TEE", 3), ("MUG", 1)), "over_picked", "lines[0].quantity"),
    (lines(("TEE", 2), ("MUG", 1), ("CAP", 1)), "unknown_sku", "lines[2].sku"),
    (lines(("TEE", 2), ("TEE", 2), ("MUG", 1)), "duplicate_line", "lines[1].sku"),
    (lines(("TEE", 2)), "line_not_reported", "lines"),
]


@pytest.mark.parametrize(
    ("report", "code", "field"), WRONG_REPORTS, ids=[w[1] for w in WRONG_REPORTS]
)
async def test_a_wrong_pick_report_is_refused_and_records_nothing(
    world: World, report: list[dict[str, Any]], code: str, field: str
) -> None:
    resp = await world.client.post(f"/v1/fulfilments/{AMS_ID}/picked", json={"lines": report})
    assert fields(problem(resp, 422, code)) == {field}
    assert len(await world.events()) == 2


async def test_a_cancellation_needs_a_reason(world: World) -> None:
    c = world.client
    blank = await c.post(f"/v1/fulfilments/{AMS_ID}/cancel", json={"reason": "   "})
    assert fields(problem(blank, 422, "reason_required")) == {"reason"}
    missing = await c.post(f"/v1/fulfilments/{AMS_ID}/cancel", json={})
    assert fields(problem(missing, 422, "invalid_request")) == {"reason"}
    assert len(await world.events()) == 2


# -- bounds and hostile input ---------------------------------------------------------------

PICKED = f"/v1/fulfilments/{AMS_ID}/picked"
OUT_OF_BOUNDS: list[tuple[str, Any, str]] = [
    (PICKED, {"lines": lines(("TEE", -1), ("MUG", 1))}, "lines[0].quantity"),
    (PICKED, {"lines": lines(("TEE", MAX_STOCK_LEVEL + 1), ("MUG", 1))}, "lines[0].quantity"),
    (PICKED, {"lines": lines(("TEE", 10**309), ("MUG", 1))}, "lines[0].quantity"),
    (PICKED, {"lines": [{"sku": "TEE", "quantity": "2"}]}, "lines[0].quantity"),
    (PICKED, {"lines": [{"sku": "TEE", "quantity": 1.5}]}, "lines[0].quantity"),
    (PICKED, {"lines": lines(("T\x00E", 1))}, "lines[0].sku"),
    (PICKED, {"lines": lines(("S" * 65, 1))}, "lines[0].sku"),
    (PICKED, {"lines": []}, "lines"),
    (PICKED, {"lines": lines(("TEE", 1)) * (MAX_LINES + 1)}, "lines"),
    (PICKED, {"lines": lines(("TEE", 1)), "note": "x"}, "note"),
    (PICKED, {"lines": [{"sku": "TEE", "quantity": 1, "bin": "A1"}]}, "lines[0].bin"),
    (PICKED, [1, 2], "body"),
    (PICKED, None, "body"),
    (f"/v1/fulfilments/{AMS_ID}/cancel", {"reason": "r" * 2001}, "reason"),
    (f"/v1/fulfilments/{AMS_ID}/cancel", {"reason": "a\x00b"}, "reason"),
    (f"/v1/fulfilments/{AMS_ID}/cancel", {"reason": 7}, "reason"),
]


@pytest.mark.parametrize(("path", "body", "field"), OUT_OF_BOUNDS)
async def test_values_beyond_their_bounds_are_refused(
    world: World, path: str, body: Any, field: str
) -> None:
    resp = await world.client.post(path, json=body)
    assert field in fields(problem(resp, 422, "invalid_request"))
    assert len(await world.events()) == 2


BAD_READS: list[tuple[str, dict[str, Any], str]] = [
    ("/v1/warehouses/A%00M/picklists", {}, "path:code"),
    ("/v1/warehouses/" + "A" * 65 + "/picklists", {}, "path:code"),
    ("/v1/warehouses/AMS/picklists", {"limit": 0}, "query:limit"),
    ("/v1/warehouses/AMS/picklists", {"limit": 501}, "query:limit"),
    ("/v1/warehouses/AMS/picklists", {"limit": "many"}, "query:limit"),
    ("/v1/warehouses/AMS/picklists", {"limit": 10**30}, "query:limit"),
    ("/v1/warehouses/AMS/picklists", {"status": "lost"}, "query:status"),
    ("/v1/warehouses/A%00M/backlog", {}, "path:code"),
    ("/v1/warehouses/" + "A" * 65 + "/backlog", {}, "path:code"),
    ("/v1/fulfilments/f%00", {}, "path:fulfilment_id"),
    ("/v1/fulfilments/" + "f" * (MAX_ID_LENGTH + 1), {}, "path:fulfilment_id"),
]


@pytest.mark.parametrize(("path", "params", "field"), BAD_READS)
async def test_bad_paths_and_queries_are_refused(
    world: World, path: str, params: dict[str, Any], field: str
) -> None:
    resp = await world.client.get(path, params=params)
    assert fields(problem(resp, 422, "invalid_request")) == {field}


WRITES = [
    (PICKED, {"lines": lines(("TEE", 2), ("MUG", 1))}),
    (f"/v1/fulfilments/{AMS_ID}/packed", None),
    (f"/v1/fulfilments/{AMS_ID}/cancel", {"reason": "customer asked"}),
]
WRITE_IDS = [path.rsplit("/", 1)[1] for path, _ in WRITES]


@pytest.mark.parametrize(("path", "body"), WRITES, ids=WRITE_IDS)
async def test_every_write_endpoint_refuses_hostile_bodies_and_headers(
    world: World, path: str, body: Any
) -> None:
    c = world.client
    headers = {"content-type": "application/json"}
    for raw in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"{nope"):
        problem(await c.post(path, content=raw, headers=headers), 422, "invalid_request")
    big = b'{"padding": "' + b"x" * MAX_BODY_BYTES + b'"}'
    problem(await c.post(path, content=big, headers=headers), 413, "body_too_large")
    anonymous = await c.post(path, json=body, headers={"Authorization": ""})
    assert fields(problem(anonymous, 401, "unauthenticated")) == {"header:Authorization"}
    request_id = await c.post(path, json=body, headers={"X-Request-Id": "a b"})
    assert fields(problem(request_id, 422, "invalid_request")) == {"header:X-Request-Id"}
    assert len(await world.events()) == 2


async def test_a_valid_body_of_every_write_endpoint_is_answered(world: World) -> None:
    # The bodies above are valid: in this order they pick, pack, then meet the packed rule.
    c = world.client
    statuses = [(await c.post(path, json=body)).status_code for path, body in WRITES]
    assert statuses == [201, 201, 409]
