"""The system under load: order, inventory and payments as processes on scratch databases.

Started the way ``tests/e2e/system.py`` starts them (``oms_cli.services.service_env`` and
``spawn_service``), each on a fresh database and every topic and consumer group under a
prefix of its own (``bench<run>.``), so the shared stack's services and other runs never
see this traffic. Also what the report needs to know about it: consumer-group lag, rows
in each events table, committed transactions per database.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from oms_cli import kafka as stack_kafka
from oms_cli import postgres as stack_postgres
from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_cli.proc import pid_alive, stop_pid
from oms_cli.services import service_env, spawn_service, wait_healthy
from oms_platform.kafka_topics import catalogue, ensure_topics

from .common import ScratchDatabases
from .orders import CATALOGUE, STOCK_PER_WAREHOUSE, WAREHOUSES, order_body

SERVICES = ("inventory", "payments", "order")
PARTITIONS = StackConfig().kafka_partitions  # what `oms up` creates each topic with
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    name: str
    url: str
    dsn: str
    log: Path
    pid: int = 0


@dataclass
class System:
    stack: StackConfig
    run: str
    logs: Path
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"bench{self.run}."

    def topic(self, name: str) -> str:
        return self.prefix + name

    # ------------------------------------------------------------------ processes

    def start(self, dbs: ScratchDatabases) -> None:
        """Spawn all three, then wait for each: they start independently (the topics
        exist, and the order service reads inventory's catalogue from the beginning)."""
        for name in SERVICES:
            dsn = dbs.create(f"e2e_{name}")
            port = free_port()
            env = service_env(
                self.stack, name, database_dsn=dsn, port=port, topic_prefix=self.prefix
            )
            svc = Service(name, f"http://127.0.0.1:{port}", dsn, self.logs / f"{name}.log")
            svc.pid = spawn_service(name, env, svc.log)
            self.services[name] = svc
        for svc in self.services.values():
            wait_healthy(svc.url, svc.pid, svc.log, timeout_s=START_TIMEOUT_S)

    def stop(self) -> None:
        for svc in self.services.values():
            if svc.pid and pid_alive(svc.pid):
                stop_pid(svc.pid, STOP_TIMEOUT_S)

    def alive(self) -> list[str]:
        return [s.name for s in self.services.values() if pid_alive(s.pid)]

    def postmaster_pid(self) -> int | None:
        return stack_postgres.running_pid(self.stack)

    def broker_pid(self) -> int | None:
        return stack_kafka.running_pid(self.stack)

    # ------------------------------------------------------------------ topics

    async def create_topics(self) -> None:
        """The whole catalogue under this run's prefix, as `oms up` creates it."""
        await ensure_topics(self.stack.kafka, catalogue(self.prefix), partitions=PARTITIONS)

    async def delete_topics(self) -> list[str]:
        """Every topic under this run's prefix (the services create DLQ topics on use)."""
        admin = AIOKafkaAdminClient(**self.stack.kafka.options())
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                await admin.delete_topics(mine)
            return mine
        finally:
            await admin.close()

    async def consumer_lag(self) -> dict[str, int]:
        """Per consumer group of this run: end offsets minus committed offsets, summed over
        every partition of the topics the group has committed on (after the warm-up,
        every topic it reads that has messages). A partition of such a topic without a
        committed offset counts from 0: the groups start at the earliest offset.
        """
        admin = AIOKafkaAdminClient(**self.stack.kafka.options())
        ends = AIOKafkaConsumer(**self.stack.kafka.options())
        await admin.start()
        await ends.start()
        try:
            groups = sorted(
                g[0] for g in await admin.list_consumer_groups() if g[0].startswith(self.prefix)
            )
            committed = {g: await admin.list_consumer_group_offsets(g) for g in groups}
            topics = sorted({tp.topic for offsets in committed.values() for tp in offsets})
            partitions = {
                TopicPartition(t["topic"], p["partition"])
                for t in (await admin.describe_topics(topics) if topics else [])
                for p in t["partitions"]
            }
            end = await ends.end_offsets(list(partitions)) if partitions else {}
            lag: dict[str, int] = {}
            for group, offsets in committed.items():
                read = {tp.topic for tp in offsets}
                total = 0
                for tp in (tp for tp in partitions if tp.topic in read):
                    done = offsets.get(tp)
                    total += max(0, end[tp] - (done.offset if done and done.offset >= 0 else 0))
                lag[group.removeprefix(self.prefix)] = total
            return lag
        finally:
            await ends.stop()
            await admin.close()

    # ------------------------------------------------------------------ databases

    def store_counts(self) -> dict[str, dict[str, int]]:
        """Per service: rows in ``events``, distinct writing transactions, last position."""
        out = {}
        for svc in self.services.values():
            with psycopg.connect(svc.dsn, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*), count(DISTINCT tx_id), coalesce(max(position), 0) FROM events"
                ).fetchone()
            assert row is not None
            out[svc.name] = {"events": row[0], "writing_tx": row[1], "position": row[2]}
        return out

    def outbox_backlog(self) -> dict[str, int]:
        """Per service: events not yet published by its relay (after the relay's
        checkpoint position; commit order aside, which only matters at the edge)."""
        out = {}
        for svc in self.services.values():
            with psycopg.connect(svc.dsn, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM events WHERE position > coalesce("
                    "(SELECT position FROM checkpoints WHERE name = %s), 0)",
                    (f"relay:{svc.name}",),
                ).fetchone()
            assert row is not None
            out[svc.name] = int(row[0])
        return out

    def commits(self) -> dict[str, int]:
        """``pg_stat_database.xact_commit`` of each service's database (every commit,
        read-only ones included: the relay's and projections' polls count too)."""
        names = {svc.dsn.rpartition("/")[2]: svc.name for svc in self.services.values()}
        with psycopg.connect(self.stack.admin_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY(%s)",
                (list(names),),
            ).fetchall()
        return {names[name]: int(commits) for name, commits in rows}

    # ------------------------------------------------------------------ shop data

    async def seed(self) -> None:
        """Warehouses, the catalogue, stock enough for the whole run in every warehouse."""
        inv = self.services["inventory"].url
        staff = tokens.headers(self.stack, subject="staff:bench")
        async with httpx.AsyncClient(
            base_url=inv, timeout=30, trust_env=False, headers=staff
        ) as client:
            for warehouse in WAREHOUSES:
                _created(await client.post("/v1/warehouses", json=warehouse))
            for sku in CATALOGUE:
                body = {
                    "sku": sku,
                    "name": sku.title(),
                    "weight_grams": 500,
                    "length_mm": 200,
                    "width_mm": 150,
                    "height_mm": 100,
                }
                _created(await client.post("/v1/skus", json=body))
                for warehouse in WAREHOUSES:
                    receipt = {
                        "sku": sku,
                        "warehouse": warehouse["code"],
                        "quantity": STOCK_PER_WAREHOUSE,
                        "reference": f"bench-seed-{self.run}",
                    }
                    _created(await client.post("/v1/stock/receipts", json=receipt))

    async def wait_catalogue_known(self, timeout_s: float = 60) -> None:
        """Until the order service accepts every SKU (it learns them from SkuRegistered).

        The probe is an order with every SKU and a negative payment: invalid, so nothing
        is placed; while a SKU is unknown the refusal names ``unknown_sku``.
        """
        probe = order_body(random.Random(0), f"probe-{self.run}")
        probe["lines"] = [
            {"line_id": f"l{i}", "sku": s, "quantity": 1, "unit_price": _eur("1.00")}
            for i, s in enumerate(CATALOGUE, start=1)
        ]
        probe["payments"][0]["amount"] = _eur("-1")
        deadline = time.monotonic() + timeout_s
        url = self.services["order"].url
        shop = tokens.headers(self.stack, subject="platform:bench")
        async with httpx.AsyncClient(
            base_url=url, timeout=10, trust_env=False, headers=shop
        ) as client:
            while time.monotonic() < deadline:
                resp = await client.post("/v1/orders", json=probe)
                if resp.status_code < 500 and "unknown_sku" not in resp.text:
                    return
                await asyncio.sleep(0.5)
        raise RuntimeError(f"the order service did not learn the catalogue in {timeout_s:.0f}s")

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for svc in self.services.values():
            with contextlib.suppress(OSError):
                text = svc.log.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {svc.name} ({svc.log}) ---\n" + "\n".join(text))
        return "\n".join(parts)


def _eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _created(resp: httpx.Response) -> Any:
    if resp.status_code not in (200, 201):
        request = resp.request
        raise RuntimeError(f"{request.method} {request.url}: {resp.status_code} {resp.text}")
    return resp.json()
