"""Provider timeouts are not declines: waited out, repeated with the same key, parked.

The fake provider, like a real one (and the sandbox), carries out a call whose answer it
then loses: a timed-out authorization may be a hold. So the worker never declines on a
timeout: it raises ``Unavailable`` (the runtime waits and repeats the request with the same
idempotency key), voids what the provider authorized if the order was cancelled meanwhile,
and parks the call for reconciliation once it has gone unanswered for too long.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms_events.contracts import PaymentCaptured
from oms_events.examples import eur
from oms_payments.streams import payment_stream
from oms_platform.failures import Unavailable
from services.payments.tests.support import (
    RECONCILE_AFTER,
    Payments,
    cancelled,
    dispatched,
    payment,
    placed,
)

CARD = payment("pay-1", "card", "57.35")
KEY = "authorise-pay-1"


async def test_timeouts_then_an_answer_authorize_once(service: Payments) -> None:
    service.provider.timeouts = 2
    await service.run(placed(CARD))
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentAuthorized",
    ]
    assert service.provider.ops("authorize") == [KEY] * 3  # one key, three asks
    assert list(service.provider.auths) == ["REF-pay-1"]  # one hold
    assert await service.calls.attempts(KEY) == 3


async def test_a_timeout_is_unavailable_never_a_decline(service: Payments) -> None:
    service.provider.timeouts = 1
    await service.deliver(placed(CARD))
    with pytest.raises(Unavailable):
        await service.pump(waits=0)
    assert await service.types(payment_stream("pay-1")) == ["PaymentAuthorizationRequested"]
    await service.pump()  # the runtime repeats the same request
    assert (await service.types(payment_stream("pay-1")))[-1] == "PaymentAuthorized"


async def test_a_cancellation_while_the_provider_times_out_voids_what_it_authorized(
    service: Payments,
) -> None:
    service.provider.timeouts = 3
    await service.deliver(placed(CARD))
    with pytest.raises(Unavailable):
        await service.pump(waits=0)  # the provider may hold the money: nobody knows yet
    await service.deliver(cancelled())  # recorded in the payment's stream meanwhile
    await service.pump()  # the waiting request is repeated and now sees the cancellation
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentCancellationRequested",
        "PaymentAuthorized",
        "PaymentVoided",
    ]
    assert set(service.provider.ops("authorize")) == {KEY}
    assert service.provider.ops("void") == ["void-pay-1"] * 4  # the void timed out too
    auth = service.provider.auths["REF-pay-1"]
    assert auth.voided == auth.amount.amount == Decimal("57.35")


async def test_a_cancellation_before_any_attempt_prevents_the_call(service: Payments) -> None:
    service.provider.timeouts = 3
    await service.deliver(placed(CARD))
    await service.deliver(cancelled())
    await service.pump()
    assert (await service.types(payment_stream("pay-1")))[-1] == "PaymentCancelled"
    assert service.provider.calls == []


async def test_a_provider_that_never_answers_is_parked_for_reconciliation(
    service: Payments,
) -> None:
    service.provider.timeouts = 10_000
    await service.deliver(placed(CARD))
    waits = int(RECONCILE_AFTER.total_seconds() // 5) + 1
    await service.pump(waits=waits)  # no exception: the request is done, parked
    assert await service.types(payment_stream("pay-1")) == ["PaymentAuthorizationRequested"]
    [parked] = await service.calls.parked()
    assert parked.call.idempotency_key == KEY and parked.call.operation == "authorize"
    assert "unknown until reconciled" in (parked.reason or "")
    assert await service.calls.parked_count() == 1


async def test_a_parked_authorization_is_asked_again_on_cancellation_and_voided(
    service: Payments,
) -> None:
    service.provider.timeouts = 10_000
    await service.deliver(placed(CARD))
    await service.pump(waits=1000)
    assert await service.calls.parked_count() == 1
    service.provider.timeouts = 0  # the provider is back
    await service.run(cancelled())
    assert (await service.types(payment_stream("pay-1")))[-2:] == [
        "PaymentAuthorized",
        "PaymentVoided",
    ]
    assert await service.calls.parked_count() == 0
    assert service.provider.auths["REF-pay-1"].voided == Decimal("57.35")


async def test_a_parked_call_stays_parked_while_the_provider_is_still_silent(
    service: Payments,
) -> None:
    service.provider.timeouts = 10_000
    await service.deliver(placed(CARD))
    await service.pump(waits=1000)
    await service.run(cancelled())  # asks once more, no answer: nothing to record
    assert await service.types(payment_stream("pay-1")) == [
        "PaymentAuthorizationRequested",
        "PaymentCancellationRequested",
    ]
    assert await service.calls.parked_count() == 1


async def test_a_capture_that_times_out_is_waited_out_and_captured_once(
    service: Payments,
) -> None:
    await service.run(placed(CARD))
    service.provider.timeouts = 2
    await service.run(dispatched("shp-1", ("TSHIRT", 2), ("MUG", 1)))
    captured = [
        e for e in await service.stream(payment_stream("pay-1")) if isinstance(e, PaymentCaptured)
    ]
    assert [e.amount for e in captured] == [eur("57.35")]
    assert service.provider.ops("capture") == ["capture-pay-1-shp-1"] * 3
    assert service.provider.auths["REF-pay-1"].captured == Decimal("57.35")
