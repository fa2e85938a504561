"""The console's and the tracking page's SQL on a real (scratch) PostgreSQL database:
exact matches only, the e-mail in any case, at most 50 newest first, one order's file
from every read model, and a tracking record with nothing personal in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_cli.config import StackConfig
from oms_operations.projections import tables
from oms_operations.web.lookup import MAX_RESULTS, SqlLookup
from oms_platform.db import create_engine
from oms_platform.testing.databases import scratch_database

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with scratch_database(StackConfig().admin_dsn, label="ops_lookup") as found:
        yield found


@pytest.fixture(scope="module")
async def engine(dsn: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(dsn, pool_size=2, application_name="test-lookup")
    await tables.create(engine)
    async with engine.begin() as conn:
        for n in range(MAX_RESULTS + 10):  # one customer, many orders
            await conn.execute(
                text(
                    "INSERT INTO ops_orders (order_id, status, platform_ref, customer_email, "
                    "currency, order_value, lines, placed_at) VALUES (:id, 'delivered', :ref, "
                    ":email, 'EUR', 10, CAST(:lines AS jsonb), :at)"
                ),
                {
                    "id": f"ord-{n:03d}",
                    "ref": f"WEB-{n:03d}",
                    "email": "Loyal.Customer@Example.com",
                    "lines": json.dumps([["MUG", 1]]),
                    "at": T0 + timedelta(minutes=n),
                },
            )
        await conn.execute(
            text(
                "INSERT INTO ops_shipments (shipment_id, order_id, status, carrier, "
                "tracking_number, promised_date, booked_at) "
                "VALUES ('shp-1', 'ord-001', 'delivered', 'dhl', 'JVGL01', :d, :at)"
            ),
            {"d": date(2026, 5, 6), "at": T0},
        )
        await conn.execute(
            text(
                "INSERT INTO ops_payments (payment_id, order_id, method, currency, status, "
                "captured) VALUES ('WEB-001-p1', 'ord-001', 'card', 'EUR', 'captured', 10)"
            )
        )
        for i, (kind, producer) in enumerate((("OrderPlaced", "order"), ("OrderShipped", "order"))):
            await conn.execute(
                text(
                    "INSERT INTO ops_timeline (event_id, order_id, type, occurred_at, actor, "
                    "producer, correlation_id, causation_id, summary) VALUES (:eid, 'ord-001', "
                    ":type, :at, 'platform:web', :producer, 'ord-001', 'cause-1', 'what')"
                ),
                {
                    "eid": uuid.uuid4(),
                    "type": kind,
                    "at": T0 + timedelta(hours=i),
                    "producer": producer,
                },
            )
    yield engine
    await engine.dispose()


async def test_the_email_matches_in_any_case_at_most_50_newest_first(engine: AsyncEngine) -> None:
    found = await SqlLookup(engine).search("loyal.customer@example.COM")
    assert len(found) == MAX_RESULTS
    assert found[0]["order_id"] == f"ord-{MAX_RESULTS + 9:03d}"
    assert [r["placed_at"] for r in found] == sorted((r["placed_at"] for r in found), reverse=True)


@pytest.mark.parametrize(("q", "ids"), [("ord-007", ["ord-007"]), ("WEB-007", ["ord-007"])])
async def test_an_order_id_or_reference_matches_exactly(
    engine: AsyncEngine, q: str, ids: list[str]
) -> None:
    assert [r["order_id"] for r in await SqlLookup(engine).search(q)] == ids


@pytest.mark.parametrize("q", ["ord-00", "web-007", "loyal.customer", "%", "' OR 1=1 --"])
async def test_nothing_but_an_exact_match_is_found(engine: AsyncEngine, q: str) -> None:
    assert await SqlLookup(engine).search(q) == []


async def test_an_orders_file_comes_from_every_read_model(engine: AsyncEngine) -> None:
    lookup = SqlLookup(engine)
    found = await lookup.order("ord-001")
    assert found is not None
    assert found["order"]["customer_email"] == "Loyal.Customer@Example.com"
    assert [p["tracking_number"] for p in found["parcels"]] == ["JVGL01"]
    assert [p["payment_id"] for p in found["payments"]] == ["WEB-001-p1"]
    assert [e["type"] for e in found["timeline"]] == ["OrderPlaced", "OrderShipped"]
    assert found["returns"] == [] and found["feedback"] is None
    assert await lookup.order("ord-999") is None


async def test_the_tracking_record_holds_nothing_personal(engine: AsyncEngine) -> None:
    lookup = SqlLookup(engine)
    found = await lookup.tracking("ord-001")
    assert found is not None
    assert set(found) == {"status", "placed_at", "parcels"}
    assert "Loyal" not in repr(found) and "WEB-001" not in repr(found)
    assert found["parcels"][0]["promised_date"] == date(2026, 5, 6)
    assert await lookup.tracking("ord-999") is None
