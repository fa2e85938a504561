"""The load generator: its own process, so its CPU shows in the report and is not taken
from the services' share unseen.

For each step the parent sends ``("prepare", step, count, seed)``: the generator builds
every order of the step before the clock starts (bodies validated and encoded, as a
platform adapter would have them ready), then ``("go", t0, rate)``: it sends order
``i`` at ``t0 + i / rate`` (wall clock; all at ``t0`` when ``rate`` is None), open loop:
it never waits for the system before sending the next order. It reports how many it
sent, how far behind its schedule it fell, and its errors.

Two ways in, as the two intake paths of the order service:

* ``kafka``: ``OrderSubmitted`` on ``<prefix>oms.platform.ingress``, key = platform order
  reference, with the relay's idempotent ``acks=all`` producer (sends are not awaited one
  by one: the producer batches them, as a busy adapter's would);
* ``http``: ``POST /v1/orders`` on a pool of keep-alive connections, each request its own
  task; past ``MAX_IN_FLIGHT`` outstanding requests the generator waits, and falls behind
  its schedule, which the report shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import httpx
from hdrh.histogram import HdrHistogram

from oms_platform.kafka_client import KafkaConnection
from oms_platform.relay import create_producer

from .orders import IngressMessage, http_request, ingress_message, order_body, ref_for

MAX_IN_FLIGHT = 256
HTTP_CONNECTIONS = 64
SEND_TIMEOUT_S = 60.0  # a send that takes longer is an error, not a wait


class Schedule:
    """When order ``i`` of a step is due, and how late the generator is."""

    def __init__(self, t0: float, rate: float | None) -> None:
        self.t0 = t0
        self.rate = rate
        self.max_lag_s = 0.0

    def due(self, i: int) -> float:
        return self.t0 if not self.rate else self.t0 + i / self.rate

    async def wait_for(self, i: int) -> None:
        wait = self.due(i) - time.time()
        if wait > 0.0005:
            await asyncio.sleep(wait)
        else:
            self.max_lag_s = max(self.max_lag_s, -wait)


class KafkaSender:
    def __init__(self, kafka: KafkaConnection, topic: str) -> None:
        self.topic = topic
        self.producer = create_producer(kafka)
        self.messages: list[IngressMessage] = []

    async def start(self) -> None:
        await self.producer.start()
        await self.producer.partitions_for(self.topic)

    async def stop(self) -> None:
        await self.producer.stop()

    def prepare(self, bodies: list[dict[str, Any]]) -> None:
        self.messages = [ingress_message(b) for b in bodies]

    async def send(self, schedule: Schedule, deadline: float) -> dict[str, Any]:
        acks: list[asyncio.Future[Any]] = []
        sent = 0
        for i, msg in enumerate(self.messages):
            if time.time() > deadline:
                break
            await schedule.wait_for(i)
            acks.append(
                await self.producer.send(
                    self.topic, value=msg.value, key=msg.key, headers=msg.headers
                )
            )
            sent += 1
        send_end = time.time()
        results = await asyncio.gather(*acks, return_exceptions=True)
        errors = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
        return {
            "sent": sent,
            "send_s": round(send_end - schedule.t0, 3),
            "acked_s": round(time.time() - schedule.t0, 3),
            "errors": dict(errors),
        }


class HttpSender:
    def __init__(self, order_url: str, token: str) -> None:
        limits = httpx.Limits(
            max_connections=HTTP_CONNECTIONS, max_keepalive_connections=HTTP_CONNECTIONS
        )
        self.client = httpx.AsyncClient(
            base_url=order_url,
            limits=limits,
            timeout=SEND_TIMEOUT_S,
            trust_env=False,
            headers={"Authorization": f"Bearer {token}"},
        )
        self.requests: list[tuple[bytes, dict[str, str]]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self.client.aclose()

    def prepare(self, bodies: list[dict[str, Any]]) -> None:
        self.requests = [http_request(b) for b in bodies]

    async def send(self, schedule: Schedule, deadline: float) -> dict[str, Any]:
        answered = HdrHistogram(1, 3_600_000_000, 3)
        statuses: Counter[str] = Counter()
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def post(content: bytes, headers: dict[str, str]) -> None:
            started = time.perf_counter()
            try:
                resp = await self.client.post("/v1/orders", content=content, headers=headers)
                statuses[str(resp.status_code)] += 1
                answered.record_value(max(1, int((time.perf_counter() - started) * 1e6)))
            except httpx.HTTPError as err:
                statuses[type(err).__name__] += 1
            finally:
                gate.release()

        tasks = []
        for i, (content, headers) in enumerate(self.requests):
            if time.time() > deadline:
                break
            await schedule.wait_for(i)
            await gate.acquire()
            tasks.append(asyncio.create_task(post(content, headers)))
        send_end = time.time()
        await asyncio.gather(*tasks)

        def pct(p: float) -> float | None:
            count = answered.get_total_count()
            return round(answered.get_value_at_percentile(p) / 1000, 1) if count else None

        ok = sum(n for s, n in statuses.items() if s in ("200", "201"))
        return {
            "sent": len(tasks),
            "send_s": round(send_end - schedule.t0, 3),
            "acked_s": round(time.time() - schedule.t0, 3),
            "errors": {s: n for s, n in statuses.items() if s not in ("200", "201")},
            "accepted": ok,
            "http_response_ms": {"p50": pct(50), "p99": pct(99), "max": pct(100)},
        }


async def _generate(
    conn: Connection,
    via: str,
    kafka: KafkaConnection,
    topic: str,
    order_url: str,
    token: str,
    run: str,
) -> None:
    sender: KafkaSender | HttpSender = (
        KafkaSender(kafka, topic) if via == "kafka" else HttpSender(order_url, token)
    )
    await sender.start()
    conn.send(("ready", None))
    try:
        while True:
            # The pipe is polled off the loop: the producer's I/O goes on meanwhile.
            msg = await asyncio.to_thread(conn.recv)
            match msg:
                case ("prepare", step, count, seed):
                    started = time.perf_counter()
                    rng = random.Random(seed)
                    sender.prepare([order_body(rng, ref_for(run, step, i)) for i in range(count)])
                    conn.send(("ok", round(time.perf_counter() - started, 2)))
                case ("go", t0, rate, max_s):
                    schedule = Schedule(t0, rate)
                    report = await sender.send(schedule, t0 + max_s)
                    report["max_behind_schedule_s"] = round(schedule.max_lag_s, 3)
                    conn.send(("ok", report))
                case ("stop",):
                    return
                case _:
                    conn.send(("error", f"unknown command {msg!r}"))
    finally:
        await sender.stop()


def main(
    conn: Connection,
    via: str,
    kafka: KafkaConnection,
    topic: str,
    order_url: str,
    token: str,
    run: str,
) -> None:
    """Process entry point (``multiprocessing``); answers commands on ``conn``. ``token``
    is the shop's bearer token for the order API."""
    try:
        asyncio.run(_generate(conn, via, kafka, topic, order_url, token, run))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
