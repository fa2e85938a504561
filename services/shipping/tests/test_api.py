"""The service on the in-memory store: bookings from packed parcels, the HTTP API.

The host is built by ``create_app`` with an injected ``InMemoryEventStore`` (and so an
in-memory directory), so the routes, the problem handlers and the input limits run as in
production, without a database. Parcels are booked through the consumer's handler, as
the ``ParcelsPacked`` consumer would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_events.base import Event
from oms_events.contracts import OrderPlaced
from oms_events.contracts.common import SkuQuantity
from oms_events.contracts.fulfilment import PackedParcel, ParcelsPacked
from oms_events.envelope import Envelope
from oms_events.examples import eur, example
from oms_events.limits import MAX_BODY_BYTES
from oms_events.registry import envelope_for
from oms_platform.commands import run_command
from oms_platform.eventstore import InMemoryEventStore
from oms_platform.refusal import Refusal
from oms_platform.testing import auth
from oms_platform.testing.keys import TEST_CHAIN_KEY, service_keys
from oms_shipping.api.context import ApiContext
from oms_shipping.app import create_app
from oms_shipping.directory import MemoryDirectory
from oms_shipping.domain.tracking import is_valid
from oms_shipping.domain.webhooks import sign
from oms_shipping.handlers import OrderNotYetKnown
from oms_shipping.settings import DEVELOPMENT_SECRETS, ShippingSettings

PROBLEM = "application/problem+json"
PACKED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, before every cut-off


def packed(order_id: str = "ord-1", warehouse: str = "AMS", parcels: int = 2) -> ParcelsPacked:
    boxes = tuple(
        PackedParcel(
            parcel_id=f"ful-{order_id}-{n}",
            box="BOX-M",
            lines=(SkuQuantity(sku=f"SKU-{n}", quantity=n),),
            weight_grams=700 * n,
            packaging_cost=eur("0.95"),
        )
        for n in range(1, parcels + 1)
    )
    return ParcelsPacked(
        fulfilment_id=f"ful-{order_id}",
        order_id=order_id,
        warehouse_id=warehouse,
        parcels=boxes,
        packaging_cost=eur("0.95") * parcels,
    )


def envelope(event: Event, key: str) -> Envelope:
    return envelope_for(
        event,
        stream_id=f"src-{key}",
        stream_version=1,
        correlation_id=key,
        causation_id=None,
        actor="service:test",
        producer="test",
        occurred_at=PACKED_AT,
    )


@dataclass
class Service:
    client: httpx.AsyncClient
    ctx: ApiContext
    store: InMemoryEventStore

    async def place(self, order_id: str = "ord-1") -> None:
        placed = example(OrderPlaced).model_copy(update={"order_id": order_id})
        await run_command(self.store, lambda uow: self.ctx.shipping.remember_order(uow, placed))

    async def book(self, event: ParcelsPacked) -> list[Event]:
        env = envelope(event, event.order_id)
        return await run_command(
            self.store, lambda uow: self.ctx.shipping.book_parcels(uow, env, event)
        )

    async def count(self) -> int:
        return len(await self.store.read_all(limit=10_000))

    async def webhook(
        self, carrier: str, body: bytes, *, secret: str | None = None, signature: str | None = None
    ) -> httpx.Response:
        key = (secret if secret is not None else DEVELOPMENT_SECRETS[carrier]).encode()
        sig = signature if signature is not None else sign(key, body)
        return await self.client.post(
            f"/v1/carriers/{carrier}/events",
            content=body,
            headers={
                "X-Carrier-Signature": sig.encode("latin-1"),
                "Content-Type": "application/json",
            },
        )


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    settings = ShippingSettings(
        **service_keys(), database_dsn=SecretStr("postgresql://unused@127.0.0.1:1/none")
    )
    store = InMemoryEventStore(TEST_CHAIN_KEY)
    host = create_app(settings, store=store)
    ctx = host.api.state.shipping
    assert isinstance(ctx, ApiContext)
    # Unexpected exceptions become 500 answers here, so a test sees the status it got.
    transport = httpx.ASGITransport(app=host.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shipping", headers=auth.headers()
    ) as c:
        yield Service(c, ctx, store)


def update(tracking: str, status: str, at: str, update_id: str = "u-1", **extra: Any) -> bytes:
    body = {"update_id": update_id, "tracking_number": tracking, "status": status}
    return json.dumps({**body, "occurred_at": at, **extra}).encode()


async def booked(service: Service) -> list[dict[str, Any]]:
    await service.place()
    await service.book(packed())
    resp = await service.client.get("/v1/orders/ord-1/shipments")
    assert resp.status_code == 200
    shipments: list[dict[str, Any]] = resp.json()["shipments"]
    return shipments


# -- booking -------------------------------------------------------------------------------------


async def test_each_parcel_is_booked_and_dispatched_the_first_carrying_the_charge(
    service: Service,
) -> None:
    await service.place()
    events = await service.book(packed())
    assert [e.event_type for e in events] == ["ShipmentBooked", "ShipmentDispatched"] * 2
    shipments = await booked(service)
    assert [s["shipment_id"] for s in shipments] == ["ful-ord-1-1", "ful-ord-1-2"]
    first, second = shipments
    for s in shipments:
        assert is_valid(s["carrier"], s["tracking_number"]), s
        assert s["status"] == "dispatched" and s["promised_method"] == "standard"
        assert s["warehouse_id"] == "AMS" and s["destination_country"] == "NL"
        assert s["explanation"] and s["passed_over"]
    assert first["tracking_number"] != second["tracking_number"]
    # The example order's shipping charge (4.95) goes with its first shipment only.
    assert first["shipping_charged"] == {"amount": "4.95", "currency": "EUR"}
    assert second["shipping_charged"] == {"amount": "0", "currency": "EUR"}
    assert (first["weight_grams"], second["weight_grams"]) == (700, 1400)
    assert second["lines"] == [{"sku": "SKU-2", "quantity": 2}]
    assert [t["type"] for t in first["timeline"]] == ["ShipmentBooked", "ShipmentDispatched"]
    one = await service.client.get("/v1/shipments/ful-ord-1-1")
    assert one.status_code == 200 and one.json() == first


async def test_a_redelivered_parcel_books_nothing_and_draws_no_number(service: Service) -> None:
    await booked(service)
    before = await service.count()
    directory = service.ctx.shipping.directory
    assert isinstance(directory, MemoryDirectory)
    assert await service.book(packed()) == []
    assert await service.count() == before
    assert next(directory.sequence) == 3  # two numbers drawn, for the two parcels


async def test_a_parcel_of_an_unknown_order_or_warehouse_is_not_booked(service: Service) -> None:
    with pytest.raises(OrderNotYetKnown):
        await service.book(packed("ord-unseen"))
    await service.place("ord-2")
    with pytest.raises(Refusal) as refused:
        await service.book(packed("ord-2", warehouse="NOWHERE"))
    assert refused.value.code == "unknown_warehouse"
    assert await service.count() == 0


# -- webhooks ------------------------------------------------------------------------------------


async def test_a_signed_delivery_is_recorded_once(service: Service) -> None:
    first = (await booked(service))[0]
    carrier, tracking = first["carrier"], first["tracking_number"]
    body = update(tracking, "delivered", "2026-03-03T14:05:00+01:00")
    resp = await service.webhook(carrier, body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "shipment_id": "ful-ord-1-1",
        "update_id": "u-1",
        "status": "delivered",
        "recorded": ["ShipmentDelivered"],
    }
    again = await service.webhook(carrier, body)
    assert again.status_code == 200 and again.json()["recorded"] == []
    view = (await service.client.get("/v1/shipments/ful-ord-1-1")).json()
    assert view["status"] == "delivered"
    assert view["delivered_at"] == "2026-03-03T14:05:00+01:00"
    # A later, different end contradicts the delivery: 409, nothing recorded.
    lost = update(tracking, "lost", "2026-03-09T10:00:00+01:00", update_id="u-2")
    closed = await service.webhook(carrier, lost)
    assert closed.status_code == 409 and closed.json()["code"] == "shipment_closed"


async def test_scans_and_failed_attempts_show_in_the_timeline(service: Service) -> None:
    first = (await booked(service))[0]
    carrier, tracking = first["carrier"], first["tracking_number"]
    scan = update(tracking, "in_transit", "2026-03-02T18:00:00+01:00", "u-1", location="Hub")
    failed = update(tracking, "delivery_failed", "2026-03-03T11:00:00+01:00", "u-2", reason="out")
    assert (await service.webhook(carrier, scan)).json()["recorded"] == ["ShipmentInTransit"]
    assert (await service.webhook(carrier, failed)).json()["status"] == "delivery_failed"
    view = (await service.client.get("/v1/shipments/ful-ord-1-1")).json()
    assert view["status"] == "delivery_failed"
    assert view["timeline"][2]["location"] == "Hub"
    assert (view["timeline"][3]["attempt"], view["timeline"][3]["reason"]) == (1, "out")


@pytest.mark.parametrize(
    "signature",
    [
        "",  # empty
        "0" * 64,  # well formed, wrong
        "not hex at all",
        "é" * 10,  # not ASCII
        "other-carrier",  # signed with another carrier's secret (filled in below)
        "tampered",  # the right signature of another body (filled in below)
    ],
)
async def test_a_bad_signature_is_401_and_records_nothing(service: Service, signature: str) -> None:
    first = (await booked(service))[0]
    carrier, tracking = first["carrier"], first["tracking_number"]
    body = update(tracking, "delivered", "2026-03-03T14:05:00+01:00")
    other = next(c for c in DEVELOPMENT_SECRETS if c != carrier)
    if signature == "other-carrier":
        signature = sign(DEVELOPMENT_SECRETS[other].encode(), body)
    elif signature == "tampered":
        signature = sign(DEVELOPMENT_SECRETS[carrier].encode(), body.replace(b"u-1", b"u-9"))
    before = await service.count()
    resp = await service.webhook(carrier, body, signature=signature)
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert resp.json()["code"] == "invalid_signature"
    assert await service.count() == before
    view = (await service.client.get("/v1/shipments/ful-ord-1-1")).json()
    assert view["status"] == "dispatched"


async def test_a_missing_signature_or_an_unset_secret_is_401(service: Service) -> None:
    first = (await booked(service))[0]
    body = update(first["tracking_number"], "delivered", "2026-03-03T14:05:00+01:00")
    resp = await service.client.post(f"/v1/carriers/{first['carrier']}/events", content=body)
    assert resp.status_code == 401 and resp.json()["code"] == "invalid_signature"
    settings = ShippingSettings(
        **service_keys(),
        database_dsn=SecretStr("postgresql://unused@127.0.0.1:1/none"),
        webhook_secret_dhl=SecretStr(""),
    )
    assert settings.webhook_secrets()["dhl"] == b""
    # An empty secret verifies nothing, not even the HMAC under the empty key.
    unset = create_app(settings, store=InMemoryEventStore(TEST_CHAIN_KEY))
    transport = httpx.ASGITransport(app=unset.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://shipping", headers=auth.headers()
    ) as c:
        dhl = await c.post(
            "/v1/carriers/dhl/events",
            content=body,
            headers={"X-Carrier-Signature": sign(b"", body)},
        )
    assert dhl.status_code == 401


async def test_webhook_input_is_refused_with_problems(service: Service) -> None:
    first = (await booked(service))[0]
    carrier, tracking = first["carrier"], first["tracking_number"]
    cases: list[tuple[httpx.Response, int, str]] = [
        (await service.webhook("fedex", b"{}", secret="x"), 404, "unknown_carrier"),
        (
            await service.webhook(
                carrier, update("3SOMSN000999999", "delivered", "2026-03-03T14:05:00Z")
            ),
            404,
            "unknown_tracking_number",
        ),
        (
            await service.webhook(carrier, update(tracking, "teleported", "2026-03-03T14:05:00Z")),
            422,
            "invalid_carrier_update",
        ),
        (
            await service.webhook(carrier, update(tracking, "delivered", "2026-03-03T14:05:00")),
            422,
            "invalid_carrier_update",
        ),
        (await service.webhook(carrier, b"[1, 2]"), 422, "invalid_carrier_update"),
        (await service.webhook(carrier, b"{not json"), 422, "invalid_request"),
        (await service.webhook(carrier, b"[" * 5000 + b"]" * 5000), 422, "invalid_request"),
        (
            await service.webhook(carrier, b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}'),
            413,
            "body_too_large",
        ),
        (
            await service.webhook(carrier, b"{}", signature="a" * 500),
            422,
            "invalid_request",
        ),
        (
            await service.webhook(
                carrier, update(tracking, "in_transit", "2026-03-03T14:05:00Z", "u-\x00")
            ),
            422,
            "invalid_carrier_update",
        ),
    ]
    for resp, status, code in cases:
        assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)
    view = (await service.client.get("/v1/shipments/ful-ord-1-1")).json()
    assert view["status"] == "dispatched" and len(view["timeline"]) == 2


# -- reads ---------------------------------------------------------------------------------------


async def manifest_of(service: Service, carrier: str, **params: Any) -> dict[str, Any]:
    resp = await service.client.get(f"/v1/carriers/{carrier}/manifest", params=params)
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    return doc


async def test_the_manifest_lists_open_shipments_oldest_first_until_they_end(
    service: Service,
) -> None:
    shipments = await booked(service)
    by_carrier: dict[str, list[dict[str, Any]]] = {}
    for s in shipments:
        by_carrier.setdefault(s["carrier"], []).append(s)
    for carrier, mine in by_carrier.items():
        doc = await manifest_of(service, carrier)
        assert doc["carrier"] == carrier and doc["count"] == len(mine) and not doc["more"]
        listed = doc["shipments"]
        assert [e["shipment_id"] for e in listed] == [s["shipment_id"] for s in mine]
        for entry, s in zip(listed, mine, strict=True):
            assert entry["tracking_number"] == s["tracking_number"]
            assert entry["order_id"] == "ord-1" and entry["service"] == s["service"]
            assert entry["status"] == "dispatched"
            assert entry["dispatched_at"] == entry["updated_at"]
    others = set(DEVELOPMENT_SECRETS) - set(by_carrier)
    for carrier in others:
        assert (await manifest_of(service, carrier))["shipments"] == []

    first, second = shipments
    scan = update(first["tracking_number"], "in_transit", "2026-03-02T18:00:00+01:00", "u-1")
    assert (await service.webhook(first["carrier"], scan)).status_code == 200
    entry = next(
        e
        for e in (await manifest_of(service, first["carrier"]))["shipments"]
        if e["shipment_id"] == first["shipment_id"]
    )
    assert entry["status"] == "in_transit" and entry["updated_at"] >= entry["dispatched_at"]
    # A duplicate changes nothing; the end takes the shipment off the manifest.
    assert (await service.webhook(first["carrier"], scan)).json()["recorded"] == []
    done = update(first["tracking_number"], "delivered", "2026-03-03T14:05:00+01:00", "u-2")
    assert (await service.webhook(first["carrier"], done)).status_code == 200
    remaining = (await manifest_of(service, first["carrier"]))["shipments"]
    assert first["shipment_id"] not in [e["shipment_id"] for e in remaining]
    lost = update(second["tracking_number"], "lost", "2026-03-05T10:00:00+01:00", "u-3")
    assert (await service.webhook(second["carrier"], lost)).status_code == 200
    assert (await manifest_of(service, second["carrier"]))["shipments"] == []


async def test_the_manifest_is_bounded_and_knows_its_carriers(service: Service) -> None:
    shipments = await booked(service)
    carrier = shipments[0]["carrier"]
    total = sum(1 for s in shipments if s["carrier"] == carrier)
    page = await manifest_of(service, carrier, limit=1)
    assert page["count"] == 1 and page["more"] is (total > 1)
    assert page["shipments"][0]["shipment_id"] == shipments[0]["shipment_id"]
    unknown = await service.client.get("/v1/carriers/fedex/manifest")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_carrier"
    assert unknown.headers["content-type"].startswith(PROBLEM)
    for bad in ("0", "501", "x"):
        resp = await service.client.get(f"/v1/carriers/{carrier}/manifest", params={"limit": bad})
        assert resp.status_code == 422, bad


async def test_reads_of_unknown_or_malformed_ids(service: Service) -> None:
    c = service.client
    missing = await c.get("/v1/shipments/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "shipment_not_found"
    assert missing.headers["content-type"].startswith(PROBLEM)
    assert (await c.get("/v1/orders/nope/shipments")).json() == {
        "order_id": "nope",
        "shipments": [],
    }
    for path in ("/v1/shipments/a%00b", "/v1/shipments/" + "x" * 101, "/v1/orders/o%0A/shipments"):
        resp = await c.get(path)
        assert resp.status_code == 422 and resp.json()["code"] == "invalid_request", path


async def test_the_api_description_lists_the_routes(service: Service) -> None:
    paths = (await service.client.get("/openapi.json")).json()["paths"]
    assert {
        "/v1/carriers/{carrier}/events",
        "/v1/carriers/{carrier}/manifest",
        "/v1/shipments/{shipment_id}",
        "/v1/orders/{order_id}/shipments",
    } <= set(paths)
