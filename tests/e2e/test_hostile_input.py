"""Hostile input on both intake paths, then ordinary orders: nothing breaks, nothing sticks.

Over HTTP every hostile body gets a 4xx RFC 9457 problem naming its reason (never a 5xx,
never a stored order); over the ingress topic every hostile message is dead-lettered with
a ``dlq.reason`` and recorded in the order database's ``dead_letters``; afterwards 20
ordinary orders, over both paths and on every partition, are all confirmed and every
service is ready.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from oms_events.topics import PLATFORM_INGRESS, dlq
from oms_platform.consumer import header_value
from tests.e2e.hostile import MIB, Hostile, dumps, http_inputs, kafka_inputs, nested, nested_array
from tests.e2e.records import (
    Publisher,
    Sent,
    dead_letter_rows,
    log_excerpt,
    read_to_end,
    wait_ready,
)
from tests.e2e.shop import get_order, order_body, place, seed_sku, seed_warehouses, settled
from tests.e2e.system import System
from tests.e2e.test_order_flow import ingress_envelope

pytestmark = pytest.mark.integration

SKU = "HOST-A"
PRICE = "10.00"
CHANNEL = "webshop-hostile"
HTTP_INPUTS = http_inputs(SKU, CHANNEL)
KAFKA_INPUTS = kafka_inputs(SKU, CHANNEL)
ORDINARY_PER_PATH = 10
DEAD_LETTER_TIMEOUT_S = 90.0
CONFIRM_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
async def shop(system: System) -> AsyncIterator[System]:
    await seed_warehouses(system)
    await seed_sku(system, SKU, {"AMS": 500, "BER": 500}, price=PRICE)
    yield system


def assert_problem(resp: httpx.Response, what: str, field: str | None = None) -> dict[str, Any]:
    """A 4xx answer whose body is an RFC 9457 problem that says what is wrong."""
    context = f"{what}: {resp.status_code} {resp.headers.get('content-type')} {resp.text[:600]}"
    assert 400 <= resp.status_code < 500, context
    assert resp.headers.get("content-type", "").startswith("application/problem+json"), context
    doc = resp.json()
    assert isinstance(doc, dict), context
    for member in ("type", "title", "code", "detail"):
        assert isinstance(doc.get(member), str) and doc[member], f"no {member!r} in {context}"
    assert doc.get("status") == resp.status_code, context
    errors = doc.get("errors")
    assert isinstance(errors, list), context
    for error in errors:
        assert all(isinstance(error.get(k), str) and error[k] for k in ("field", "reason", "code"))
    # A field at fault is named, unless the body was refused as JSON before any field was
    # read (a number no decoder holds, for instance): then the reason is about the body.
    json_level = all(e["field"] == "body" and e["code"] == "json_invalid" for e in errors)
    if field is not None and resp.status_code == 422 and not json_level:
        named = " ".join(e["field"] for e in errors)
        assert field in named, f"the problem does not name {field!r}: {context}"
    return doc


async def orders_for(system: System, ref: str) -> list[dict[str, Any]]:
    async with system.client("order") as client:
        resp = await client.get(
            "/v1/orders", params={"platform_order_ref": ref, "sales_channel": CHANNEL}
        )
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()
    return found


# -- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", HTTP_INPUTS, ids=[c.name for c in HTTP_INPUTS])
async def test_hostile_request_gets_a_4xx_problem(shop: System, case: Hostile) -> None:
    async with shop.client("order") as client:
        resp = await client.post(
            "/v1/orders", content=case.body, headers={"Content-Type": "application/json"}
        )
    doc = assert_problem(resp, case.name, case.field)
    if case.name.startswith("body over"):
        assert resp.status_code == 413, doc
    if "nested" in case.name:
        assert resp.status_code == 422, doc
    if case.ref is not None:
        assert await orders_for(shop, case.ref) == [], f"{case.name}: an order was stored"


async def test_a_streamed_body_over_one_mib_gets_413(shop: System) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked encoding
        yield b'{"platform_order_ref":"HOSTILE-STREAM","padding":"'
        for _ in range(17):
            yield b"x" * (64 * 1024)
        yield b'"}'

    async with shop.client("order") as client:
        resp = await client.post(
            "/v1/orders", content=chunks(), headers={"Content-Type": "application/json"}
        )
    doc = assert_problem(resp, "chunked body over 1 MiB")
    assert resp.status_code == 413, doc


@pytest.mark.parametrize(
    "name, body",
    [
        ("5,000-deep nested JSON", nested().encode()),
        ("5,000-deep nested array", nested_array().encode()),
        ("not JSON", b"reason=customer_request"),
        ("body over 1 MiB", dumps({"reason": "customer_request", "detail": "x" * (MIB + 1)})),
    ],
)
async def test_hostile_cancel_request_gets_a_4xx_problem_and_cancels_nothing(
    shop: System, name: str, body: bytes
) -> None:
    order_id = await place(shop, order_body([(SKU, 1, PRICE)], channel=CHANNEL))
    async with shop.client("order") as client:
        resp = await client.post(
            f"/v1/orders/{order_id}/cancel",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert_problem(resp, f"cancel with {name}")
    order = await settled(shop, order_id)
    assert order["status"] == "confirmed", f"cancel with {name} changed the order: {order}"


# -- Kafka -----------------------------------------------------------------------------------


def ingress_headers(case: Hostile) -> list[tuple[str, bytes]]:
    """Headers as a platform sends them with an envelope (none for raw garbage)."""
    if not case.name.startswith("envelope"):
        return []
    return [
        ("event_id", str(uuid.uuid4()).encode()),
        ("event_type", b"OrderSubmitted"),
        ("event_version", b"2"),
        ("correlation_id", (case.ref or "hostile").encode()),
        ("producer", b"platform"),
    ]


def dead_letter_index(records: list[Any]) -> dict[tuple[int, int], Any]:
    """DLQ records by the partition and offset of the message they dead-letter."""
    index = {}
    for r in records:
        partition = header_value(r.headers, "dlq.original_partition")
        offset = header_value(r.headers, "dlq.original_offset")
        if partition is not None and offset is not None:
            index[(int(partition), int(offset))] = r
    return index


async def test_hostile_ingress_messages_are_dead_lettered_with_a_reason(shop: System) -> None:
    topic = shop.topic(PLATFORM_INGRESS)
    publisher = Publisher(shop.stack.kafka, compression="gzip", give_up_after_s=30)
    published: dict[str, Sent] = {}
    try:
        partitions = await publisher.partitions(topic)
        for n, case in enumerate(KAFKA_INPUTS):
            published[case.name] = await publisher.send(
                topic,
                case.body,
                key=f"hostile-{n}".encode(),
                headers=ingress_headers(case),
                partition=partitions[n % len(partitions)],
            )
    finally:
        await publisher.close()

    dlq_topic = dlq(topic)
    deadline = time.monotonic() + DEAD_LETTER_TIMEOUT_S
    while True:
        index = dead_letter_index(await read_to_end(shop.stack.kafka, dlq_topic))
        missing = [
            name for name, sent in published.items() if (sent.partition, sent.offset) not in index
        ]
        if not missing or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    assert not missing, (
        f"not in {dlq_topic} after {DEAD_LETTER_TIMEOUT_S:.0f}s: {missing}\n"
        f"(sent at {[(n, published[n]) for n in missing]})\n{log_excerpt(shop)}"
    )
    no_reason = [
        name
        for name, sent in published.items()
        if not header_value(index[(sent.partition, sent.offset)].headers, "dlq.reason")
    ]
    assert not no_reason, f"dead-lettered without a dlq.reason: {no_reason}"

    # Recorded for `oms dlq` too, in the order service's own database.
    rows = await asyncio.to_thread(dead_letter_rows, shop.databases["order"])
    recorded = {(r["partition"], r["offset"]): r for r in rows if r.get("topic") == topic}
    unrecorded = [
        name for name, sent in published.items() if (sent.partition, sent.offset) not in recorded
    ]
    assert not unrecorded, f"in {dlq_topic} but not in the order dead_letters table: {unrecorded}"
    without_reason = [
        name for name, s in published.items() if not recorded[(s.partition, s.offset)]["reason"]
    ]
    assert not without_reason, f"dead_letters rows without a reason: {without_reason}"
    wrong_class = {
        name: recorded[(s.partition, s.offset)]["failure_class"]
        for name, s in published.items()
        if recorded[(s.partition, s.offset)]["failure_class"] != "poison"
    }
    assert not wrong_class, f"hostile input dead-lettered as other than poison: {wrong_class}"


# -- and then ordinary orders ----------------------------------------------------------------


def ordinary_bodies(tag: str) -> Iterator[dict[str, Any]]:
    for n in range(ORDINARY_PER_PATH):
        yield order_body(
            [(SKU, 1 + n % 3, PRICE)],
            ref=f"ORDINARY-{tag}-{n}-{uuid.uuid4().hex[:6]}",
            channel=CHANNEL,
        )


async def test_ordinary_orders_after_hostile_input_are_all_confirmed(shop: System) -> None:
    http_ids = [await place(shop, body) for body in ordinary_bodies("HTTP")]

    topic = shop.topic(PLATFORM_INGRESS)
    kafka_refs = []
    publisher = Publisher(shop.stack.kafka, give_up_after_s=30)
    try:
        partitions = await publisher.partitions(topic)
        for n, body in enumerate(ordinary_bodies("KAFKA")):
            ref = body["platform_order_ref"]
            await publisher.send(
                topic,
                ingress_envelope(body),
                key=ref.encode(),
                partition=partitions[n % len(partitions)],
            )
            kafka_refs.append((ref, partitions[n % len(partitions)]))
    finally:
        await publisher.close()

    async def statuses() -> dict[str, str]:
        found = {}
        for oid in http_ids:
            found[f"http {oid}"] = (await get_order(shop, oid))["status"]
        for ref, partition in kafka_refs:
            orders = await orders_for(shop, ref)
            key = f"kafka {ref} (partition {partition})"
            found[key] = orders[0]["status"] if orders else "never placed"
        return found

    deadline = time.monotonic() + CONFIRM_TIMEOUT_S
    while True:
        now = await statuses()
        pending = {k: v for k, v in now.items() if v != "confirmed"}
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    if pending:
        ready = await wait_ready(shop, timeout_s=0)
        raise AssertionError(
            f"ordinary orders not confirmed {CONFIRM_TIMEOUT_S:.0f}s after the hostile input: "
            f"{pending}\n/ready meanwhile: {ready}\n{log_excerpt(shop)}"
        )

    # No hostile input became an order, on either path.
    stored = {}
    for case in [*HTTP_INPUTS, *KAFKA_INPUTS]:
        if case.ref is not None and (found := await orders_for(shop, case.ref)):
            stored[case.name] = found
    assert not stored, f"hostile inputs that became orders: {stored}"

    # And every service says it can make progress.
    answers = await wait_ready(shop)
    not_ready = {k: v for k, v in answers.items() if v[0] != 200}
    assert not not_ready, f"/ready after the hostile input: {not_ready}"
