"""Failure classes and the readiness verdict they feed."""

from __future__ import annotations

import psycopg
import sqlalchemy.exc
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from oms_events.errors import ContractViolation
from oms_platform.failures import FailureClass, Unavailable, classify
from oms_platform.health import Health, ProbeResult
from oms_platform.refusal import Refusal


def test_each_failure_has_its_class() -> None:
    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("down"))
    cases = {
        ContractViolation("OrderPlaced v1: lines: too long"): FailureClass.POISON,
        Refusal("order_not_found", "no such order", status=404): FailureClass.POISON,
        RecursionError(): FailureClass.POISON,
        psycopg.OperationalError("the database system is starting up"): FailureClass.INFRASTRUCTURE,
        wrapped: FailureClass.INFRASTRUCTURE,
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"): FailureClass.INFRASTRUCTURE,
        KafkaConnectionError(): FailureClass.INFRASTRUCTURE,
        KafkaTimeoutError(): FailureClass.INFRASTRUCTURE,
        Unavailable("provider timed out"): FailureClass.INFRASTRUCTURE,
        TimeoutError(): FailureClass.INFRASTRUCTURE,
        ZeroDivisionError(): FailureClass.BUG,
        KeyError("sku"): FailureClass.BUG,
        MessageSizeTooLargeError(): FailureClass.BUG,
        psycopg.errors.UniqueViolation("dup"): FailureClass.BUG,
    }
    for err, expected in cases.items():
        assert classify(err) is expected, (err, classify(err))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_loop_failing_past_the_grace_period_makes_the_service_not_ready() -> None:
    clock = Clock()
    health = Health(grace_s=5.0, clock=clock)
    relay = health.loop("relay")
    relay.failing(ConnectionError("broker down"))
    clock.now += 4
    ready, body = await health.readiness()
    assert ready and body["loops"]["relay"]["last_error"] == "ConnectionError: broker down"
    relay.failing(ConnectionError("broker down"))  # still failing: the clock started earlier
    clock.now += 2
    ready, body = await health.readiness()
    assert not ready and body["reasons"] == ["relay failing for 6s"]
    relay.ok()
    assert (await health.readiness())[0]


async def test_probes_add_figures_and_can_fail_readiness() -> None:
    health = Health()
    parked = 0

    async def dead_letters() -> ProbeResult:
        return ProbeResult(parked == 0, {"parked": parked}, f"{parked} parked")

    async def broken() -> ProbeResult:
        raise psycopg.OperationalError("down")

    health.add_probe("dead_letters", dead_letters)
    ready, body = await health.readiness()
    assert ready and body["dead_letters"] == {"parked": 0}
    parked = 2
    ready, body = await health.readiness()
    assert not ready and body["reasons"] == ["2 parked"]
    parked = 0
    health.add_probe("broken", broken)
    ready, body = await health.readiness()
    assert not ready and "broken probe failed" in body["reasons"][0]
