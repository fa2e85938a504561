"""The simulators' decisions (which unit is short, which scans when) and their HTTP side
against fakes of fulfilment, inventory and shipping (``httpx.MockTransport``).

The fakes answer as the services do where the simulators depend on it: the same pick
report again is a duplicate (200), a different one 409 ``already_picked``; a webhook must
carry the carrier's signature and a repeated ``update_id`` records nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog

from oms_cli.simulators.carrier import CarrierSimulator, Odds, journey
from oms_cli.simulators.runtime import Answer, call
from oms_cli.simulators.settings import CarrierSimSettings, WarehouseSimSettings
from oms_cli.simulators.warehouse import Line, WarehouseSimulator, pick_report
from oms_shipping.domain.webhooks import SIGNATURE_HEADER, verify_signature
from oms_shipping.settings import DEVELOPMENT_SECRETS

LOG = structlog.get_logger("test")

# -- decisions: the pick ---------------------------------------------------------------------

LINES = [Line("TEE", 2), Line("MUG", 1), Line("BAG", 3)]


def test_a_pick_finds_everything_unless_the_roll_says_short() -> None:
    assert pick_report(1, "ful-1", LINES, 0.0) == LINES
    short = pick_report(1, "ful-1", LINES, 1.0)
    missing = [a.quantity - f.quantity for a, f in zip(LINES, short, strict=True)]
    assert sorted(missing) == [0, 0, 1]  # one unit short, on one line
    assert [f.sku for f in short] == ["TEE", "MUG", "BAG"]


def test_the_pick_report_is_the_same_for_the_same_seed_and_fulfilment() -> None:
    reports = {str(pick_report(7, f"ful-{i}", LINES, 0.5)) for i in range(3) for _ in range(3)}
    assert len(reports) <= 3
    assert pick_report(7, "ful-1", LINES, 0.5) == pick_report(7, "ful-1", LINES, 0.5)
    differ = [pick_report(s, "ful-1", LINES, 1.0) for s in range(20)]
    assert len({str(r) for r in differ}) > 1  # the seed decides which unit


def test_a_single_unit_is_never_short_and_the_rate_holds_over_many() -> None:
    assert pick_report(1, "ful-1", [Line("TEE", 1)], 1.0) == [Line("TEE", 1)]
    shorts = sum(pick_report(3, f"ful-{i}", LINES, 0.05) != LINES for i in range(4000))
    assert 120 < shorts < 280  # 5 % of 4000 = 200


# -- decisions: the journey ------------------------------------------------------------------


def test_a_parcel_is_in_transit_half_way_and_delivered_at_the_end() -> None:
    scans = journey(0, "dhl", "ful-1-1", Odds(10, 0, 0, 0))
    assert [(s.after_s, s.status) for s in scans] == [(5, "in_transit"), (10, "delivered")]
    assert scans[0].location == "DHL sorting centre"


@pytest.mark.parametrize(
    ("odds", "expected"),
    [
        (Odds(8, 1.0, 0, 0), [(4, "in_transit"), (6, "delivery_failed"), (8, "delivered")]),
        (Odds(8, 0, 1.0, 0), [(4, "in_transit"), (8, "lost")]),
        (
            Odds(8, 0, 0, 1.0),
            [(4, "in_transit"), (6, "delivery_failed"), (8, "returned_to_sender")],
        ),
    ],
)
def test_failed_attempts_losses_and_returns_follow_the_rates(
    odds: Odds, expected: list[tuple[float, str]]
) -> None:
    assert [(s.after_s, s.status) for s in journey(0, "ups", "s-1", odds)] == expected


def test_journeys_are_deterministic_with_unique_bounded_update_ids() -> None:
    odds = Odds(10, 0.3, 0.1, 0.1)
    assert journey(5, "dpd", "s-1", odds) == journey(5, "dpd", "s-1", odds)
    ids = [s.update_id for i in range(200) for s in journey(5, "dpd", f"s-{i}" * 30, odds)]
    assert len(ids) == len(set(ids)) and max(map(len, ids)) <= 100
    ends = {journey(5, "dpd", f"s-{i}", odds)[-1].status for i in range(200)}
    assert ends == {"delivered", "lost", "returned_to_sender"}


# -- the warehouse against a fake fulfilment -------------------------------------------------


@dataclass
class FakeFulfilment:
    """Fulfilment's warehouse routes and inventory's warehouse list, in memory."""

    fulfilments: dict[str, dict[str, Any]] = field(default_factory=dict)
    recorded: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False
    fail_next: int = 0

    def add(self, fid: str, warehouse: str, lines: list[Line]) -> None:
        self.fulfilments[fid] = {
            "fulfilment_id": fid,
            "warehouse": warehouse,
            "status": "open",
            "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in lines],
            "picked": None,
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.fail_next:
            self.fail_next -= 1
            return httpx.Response(503, json={"code": "unavailable"})
        parts = request.url.path.strip("/").split("/")
        if request.url.path == "/v1/warehouses":
            return httpx.Response(200, json=[{"code": "AMS", "active": True}])
        if parts[1] == "warehouses":
            status = request.url.params["status"]
            found = [
                f
                for f in self.fulfilments.values()
                if f["warehouse"] == parts[2] and f["status"] == status
            ]
            return httpx.Response(200, json={"picklists": found, "more": False})
        fid, action = parts[2], parts[3]
        doc = self.fulfilments[fid]
        if action == "picked":
            lines = json.loads(request.content)["lines"]
            if doc["picked"] is not None:
                same = doc["picked"] == lines
                return httpx.Response(200 if same else 409, json={"code": "already_picked"})
            doc["picked"], doc["status"] = lines, "picked"
        elif action == "packed":
            if doc["status"] == "packed":
                return httpx.Response(200, json={"parcels": [{"box": "BOX-S"}]})
            doc["status"] = "packed"
        self.recorded.append((fid, action))
        return httpx.Response(201, json={"parcels": [{"box": "BOX-S"}], "recorded": [action]})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def warehouse(fake: FakeFulfilment, clock: Clock, **settings: Any) -> WarehouseSimulator:
    config = WarehouseSimSettings(
        fulfilment_url="http://fulfilment", inventory_url="http://inventory", **settings
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    return WarehouseSimulator(config, client, LOG, clock=clock)


async def test_the_warehouse_picks_then_packs_after_the_delays() -> None:
    fake, clock = FakeFulfilment(), Clock()
    fake.add("ful-1", "AMS", LINES)
    sim = warehouse(fake, clock, pick_delay_s=2, pack_delay_s=3, short_pick_rate=0)
    assert await sim.tick() and fake.recorded == []  # seen, not yet due
    clock.now += 2
    assert await sim.tick()
    assert fake.recorded == [("ful-1", "picked")]
    assert fake.fulfilments["ful-1"]["picked"] == [
        {"sku": "TEE", "quantity": 2},
        {"sku": "MUG", "quantity": 1},
        {"sku": "BAG", "quantity": 3},
    ]
    clock.now += 2.9
    await sim.tick()
    assert fake.recorded == [("ful-1", "picked")]
    clock.now += 0.2
    await sim.tick()
    assert fake.recorded == [("ful-1", "picked"), ("ful-1", "packed")]
    assert (sim.picked, sim.packed, sim.tasks) == (1, 1, {})


async def test_a_restarted_warehouse_repeats_its_report_harmlessly() -> None:
    fake, clock = FakeFulfilment(), Clock()
    fake.add("ful-1", "AMS", LINES)
    fake.add("ful-2", "AMS", LINES)
    first = warehouse(fake, clock, pick_delay_s=0, pack_delay_s=5, short_pick_rate=1.0, seed=4)
    await first.tick()
    assert fake.recorded == [("ful-1", "picked"), ("ful-2", "picked")]
    # Restarted before packing; the fake's pick lists still show them as open (a lagging
    # read model): the same short report again is a duplicate, then each is packed once.
    for doc in fake.fulfilments.values():
        doc["status"] = "open"
    again = warehouse(fake, clock, pick_delay_s=0, pack_delay_s=5, short_pick_rate=1.0, seed=4)
    await again.tick()
    assert len(fake.recorded) == 2 and again.picked == 0
    clock.now += 5
    await again.tick()
    assert sorted(fake.recorded[2:]) == [("ful-1", "packed"), ("ful-2", "packed")]


async def test_the_warehouse_survives_errors_and_a_service_that_is_down() -> None:
    fake, clock = FakeFulfilment(), Clock()
    fake.add("ful-1", "AMS", LINES)
    sim = warehouse(fake, clock, pick_delay_s=0, pack_delay_s=0, warehouses="AMS")
    fake.down = True
    assert await sim.tick() is False
    fake.down = False
    await sim.tick()  # seen and picked at once
    fake.fail_next = 3  # both pick list reads and the pack answer 503: retried after a backoff
    clock.now += 0.01
    assert await sim.tick() is False
    assert fake.fulfilments["ful-1"]["status"] == "picked" and sim.tasks["ful-1"].attempts == 1
    clock.now += 1
    await sim.tick()
    assert fake.fulfilments["ful-1"]["status"] == "packed"


async def test_the_warehouse_reads_its_warehouses_from_inventory() -> None:
    fake, clock = FakeFulfilment(), Clock()
    sim = warehouse(fake, clock)
    fake.down = True  # inventory not up yet: asked again next round, not in 30 s
    await sim.tick()
    fake.down = False
    clock.now += 1
    await sim.tick()
    assert sim.codes == ("AMS",)
    fixed = warehouse(fake, clock, warehouses="BER, MAD")
    assert fixed.codes == ("BER", "MAD")


# -- the carrier against a fake shipping -----------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class FakeShipping:
    manifest: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, list[str]] = field(default_factory=dict)
    """Shipment id -> update ids recorded."""
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        carrier = request.url.path.split("/")[3]
        if request.url.path.endswith("/manifest"):
            entries = [e for e in self.manifest.values() if e["carrier"] == carrier]
            return httpx.Response(200, json={"shipments": entries, "more": False})
        secret = DEVELOPMENT_SECRETS[carrier].encode()
        if not verify_signature(secret, request.content, request.headers.get(SIGNATURE_HEADER)):
            return httpx.Response(401, json={"code": "invalid_signature"})
        body = json.loads(request.content)
        entry = next(
            e for e in self.manifest.values() if e["tracking_number"] == body["tracking_number"]
        )
        seen = self.updates.setdefault(entry["shipment_id"], [])
        recorded = [] if body["update_id"] in seen else [body["status"]]
        if recorded:
            seen.append(body["update_id"])
            self.bodies.append(body)
        if body["status"] in {"delivered", "lost", "returned_to_sender"}:
            del self.manifest[entry["shipment_id"]]
        return httpx.Response(200, json={"recorded": recorded})


def carrier(fake: FakeShipping, at: list[datetime], **settings: Any) -> CarrierSimulator:
    config = CarrierSimSettings(shipping_url="http://shipping", **settings)
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    secrets = {c: s.encode() for c, s in DEVELOPMENT_SECRETS.items()}
    return CarrierSimulator(config, client, secrets, ["dhl"], LOG, clock=lambda: at[0])


async def test_the_carrier_scans_on_time_signed_and_once() -> None:
    fake = FakeShipping()
    fake.manifest["s-1"] = {
        "shipment_id": "s-1",
        "carrier": "dhl",
        "tracking_number": "1234567890",
        "order_id": "ord-1",
        "dispatched_at": T0.isoformat(),
    }
    now = [T0 + timedelta(seconds=4)]
    sim = carrier(fake, now, transit_s=10, delivery_failure_rate=0)
    assert await sim.tick() and fake.bodies == []
    now[0] = T0 + timedelta(seconds=5)
    await sim.tick()
    assert [b["status"] for b in fake.bodies] == ["in_transit"]
    assert fake.bodies[0]["occurred_at"] == (T0 + timedelta(seconds=5)).isoformat()
    # Restarted: the same scan again records nothing; the delivery comes at the end.
    restarted = carrier(fake, now, transit_s=10, delivery_failure_rate=0)
    await restarted.tick()
    assert len(fake.bodies) == 1
    now[0] = T0 + timedelta(seconds=30)
    await restarted.tick()
    assert [b["status"] for b in fake.bodies] == ["in_transit", "delivered"]
    assert fake.manifest == {}


async def test_the_carrier_backs_off_a_shipment_it_cannot_report() -> None:
    fake = FakeShipping()
    fake.manifest["s-1"] = {
        "shipment_id": "s-1",
        "carrier": "dhl",
        "tracking_number": "1234567890",
        "order_id": "ord-1",
        "dispatched_at": T0.isoformat(),
    }
    now = [T0 + timedelta(seconds=60)]
    sim = carrier(fake, now)
    sim.secrets["dhl"] = b"wrong"  # every webhook refused 401: logged, never a crash
    assert await sim.tick()
    assert fake.bodies == [] and sim.retry["s-1"][1] == 1
    await sim.tick()  # within the backoff: not tried again
    assert sim.retry["s-1"][1] == 1
    now[0] += timedelta(seconds=2)
    await sim.tick()
    assert sim.retry["s-1"][1] == 2


async def test_an_unreachable_service_is_an_answer_not_an_exception() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        answer = await call(client, "GET", "http://nowhere/v1/x")
    assert answer == Answer(None, error="ConnectError: refused") and answer.transient
