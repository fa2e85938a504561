"""`oms replay all` and `oms audit` on the demo run's system (the session's whole system,
operations service running).

Once the operations service has taken every event of the run, every read model is
snapshotted and emptied; `oms replay all` against the system's databases rebuilds them
with the service still running, and they equal the snapshot row for row (inbox rows
included). `oms audit verify` passes on the system's stores, reports an event altered
in the database (service, stream, version, kind), and passes again once it is put back;
`oms audit order` shows a delivered order's timeline across the services.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from oms_cli.audit import SOURCE_SERVICES
from oms_cli.main import app
from oms_operations.replay import plan
from oms_platform.testing.kafka import eventually
from tests.browser.demo import Demo
from tests.e2e.system import System

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})


def db_options(system: System) -> list[str]:
    return [o for name, dsn in system.databases.items() for o in ("--db", f"{name}={dsn}")]


def generation(system: System) -> str:
    return system.processes["operations"].env.get("OMS_OPERATIONS_GENERATION", "1")


async def snapshot(dsn: str) -> dict[str, list[tuple[str, ...]]]:
    """Every read model's rows and the inbox, sorted, as comparable tuples."""
    found = {}
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for table in [*plan().tables, "inbox"]:
            columns = "consumer, event_id" if table == "inbox" else "*"
            cur = await conn.execute(f"SELECT {columns} FROM {table}")
            found[table] = sorted(tuple(map(str, row)) for row in await cur.fetchall())
    return found


async def taken_everything(system: System) -> bool:
    """Each operations consumer's inbox holds every stored event of the types it takes."""
    stored: dict[str, int] = {}
    # The demo's system runs no connector (its orders come over HTTP and the ingress topic).
    for service in (s for s in SOURCE_SERVICES if s in system.databases):
        async with await psycopg.AsyncConnection.connect(system.databases[service]) as conn:
            cur = await conn.execute("SELECT type, count(*) FROM events GROUP BY type")
            for kind, n in await cur.fetchall():
                stored[kind] = stored.get(kind, 0) + int(n)
    chosen = plan()
    want = {
        f"{name}-g{generation(system)}": sum(stored.get(t, 0) for t in chosen.types_of(name))
        for name in chosen.consumers
    }
    async with await psycopg.AsyncConnection.connect(system.databases["operations"]) as conn:
        cur = await conn.execute("SELECT consumer, count(*) FROM inbox GROUP BY consumer")
        have = {str(k): int(v) for k, v in await cur.fetchall()}
    if all(have.get(name, 0) == n for name, n in want.items()):
        return True
    await asyncio.sleep(1)
    return False


async def test_replay_all_rebuilds_the_demos_read_models_row_for_row(demo: Demo) -> None:
    system = demo.system
    ops = system.databases["operations"]
    await eventually(
        lambda: taken_everything(system), timeout_s=120, what="operations to take every event"
    )
    before = await snapshot(ops)
    assert len(before["ops_orders"]) == len(demo.orders)
    assert len(before["ops_feedback"]) == len(demo.ratings)

    async with await psycopg.AsyncConnection.connect(ops, autocommit=True) as conn:
        await conn.execute(f"TRUNCATE {', '.join(plan().tables)}")
    emptied = await snapshot(ops)
    assert all(not rows for table, rows in emptied.items() if table != "inbox")

    result = await asyncio.to_thread(
        cli, "replay", "all", "--json", "--generation", generation(system), *db_options(system)
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    after = await snapshot(ops)
    for table in before:
        assert after[table] == before[table], table
    assert figures["rows_written"] == sum(len(v) for k, v in before.items() if k != "inbox")
    assert figures["inbox_rows"] == len(before["inbox"])
    assert figures["events_read"] > len(demo.orders) * 10


async def test_audit_verify_passes_on_the_demo_then_reports_an_altered_event(demo: Demo) -> None:
    system = demo.system
    options = db_options(system)
    services = [o for s in system.databases for o in ("--service", s)]
    # The demo's services publish their signed chain heads on the system's own topics.
    services += ["--topic-prefix", system.prefix]
    clean = await asyncio.to_thread(cli, "audit", "verify", *services, *options)
    assert clean.exit_code == 0, clean.output
    assert " events verified" in clean.stdout

    order = demo.delivered()[0].order_id
    async with await psycopg.AsyncConnection.connect(system.databases["order"]) as conn:
        cur = await conn.execute(
            "SELECT stream_id, stream_version, payload::text FROM events "
            "WHERE type = 'OrderPlaced' AND payload->>'order_id' = %s",
            (order,),
        )
        row = await cur.fetchone()
    assert row is not None
    stream, version, original = row
    alter = "UPDATE events SET payload = %s::jsonb WHERE stream_id = %s AND stream_version = %s"
    tampered = json.loads(original)
    tampered["shipping_charge"]["amount"] = "0.00"
    async with await psycopg.AsyncConnection.connect(system.databases["order"]) as conn:
        await conn.execute(alter, (json.dumps(tampered), stream, version))
    try:
        broken = await asyncio.to_thread(cli, "audit", "verify", "--json", *services, *options)
        assert broken.exit_code == 1
        assert [
            (b["service"], b["stream_id"], b["stream_version"], b["kind"])
            for b in json.loads(broken.stdout)["breaks"]
        ] == [("order", stream, version, "altered")]
    finally:
        async with await psycopg.AsyncConnection.connect(system.databases["order"]) as conn:
            await conn.execute(alter, (original, stream, version))
    again = await asyncio.to_thread(cli, "audit", "verify", *services, *options)
    assert again.exit_code == 0, again.output

    shown = await asyncio.to_thread(cli, "audit", "order", order, "--json", *options)
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert {"order", "payments", "fulfilment", "shipping"} <= {
        e["service"] for e in doc["timeline"]
    }
    assert doc["state"]["orders"][0]["status"] in ("delivered", "partially_returned", "returned")
