"""The port a payment provider plugs into (Adyen, Mollie, PayPal, Klarna... or the sandbox).

Every call carries an idempotency key: a provider that sees a key again must answer with
the result it gave the first time and do nothing more, so a call can be retried safely
after a timeout, a crash or a redelivered message. Keys are derived from the payment
(``authorise-<payment id>``, ``capture-<payment id>-<shipment id>``, ``void-<payment id>``,
``void-<payment id>-<release id>`` for a partial void, ``refund-<refund id>``), never
random. (``authorise-`` keeps its old spelling on purpose: the key is the provider's
record of the call, and a payment whose first call was made before a rename would be
authorized a second time under the new key.)

A call that got no answer raises :class:`ProviderTimeout`: the money may or may not have
moved, and only a repeat with the same key tells. It is never a decline. A provider that
refuses an operation (capture more than authorized, refund an unknown payment) raises
:class:`ProviderRefused`.
A declined authorization is not an error: it is an :class:`AuthorizationResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from oms_events.contracts import DeclineReason, PaymentMethod
from oms_events.money import Money


class ProviderError(Exception):
    """Base of the errors a provider adapter raises."""


class ProviderTimeout(ProviderError):
    """No answer in time: the provider may have acted. Repeat with the same key."""


class ProviderRefused(ProviderError):
    """The provider refused the operation itself; retrying will not help (permanent)."""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """What a provider is asked to authorize. ``capture`` asks for a sale (both at once)."""

    order_id: str
    payment_id: str
    method: PaymentMethod
    amount: Money
    shopper_email: str
    capture: bool = False


@dataclass(frozen=True, slots=True)
class AuthorizationResult:
    """The provider's answer: approved (perhaps for less than asked: a partial approval)."""

    approved: bool
    amount: Money
    """What was approved; zero when declined."""
    reference: str | None = None
    captured: bool = False
    decline_reason: DeclineReason | None = None
    message: str | None = None

    def is_partial(self, asked: Money) -> bool:
        return self.approved and self.amount < asked


@dataclass(frozen=True, slots=True)
class OperationResult:
    """A capture, void or refund done: the provider's reference and the amount it moved."""

    reference: str
    amount: Money


class PaymentProvider(Protocol):
    """One payment provider (for one family of methods)."""

    @property
    def name(self) -> str:
        """Stable name recorded on each authorization (e.g. ``sandbox-card``)."""

    @property
    def remote(self) -> bool:
        """Whether a call leaves the process (a provider's web API). Then the provider
        worker handles each request in a transaction of its own, never a batch held
        open across calls that may take seconds."""

    async def authorize(
        self, request: AuthorizationRequest, *, idempotency_key: str
    ) -> AuthorizationResult: ...

    async def capture(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> OperationResult: ...

    async def void(
        self, reference: str, *, idempotency_key: str, amount: Money | None = None
    ) -> OperationResult:
        """Release everything still authorized and not captured, or, given ``amount``,
        that much of it (a partial void; the rest stays authorized). Refuses
        (:class:`ProviderRefused`) to release more than is open."""

    async def refund(
        self, reference: str, amount: Money, *, idempotency_key: str
    ) -> OperationResult: ...


class ProviderDirectory:
    """Which provider handles each payment method (gift cards have none: see giftcard)."""

    def __init__(self, by_method: Mapping[PaymentMethod, PaymentProvider]) -> None:
        self._by_method = dict(by_method)

    @property
    def remote(self) -> bool:
        """Whether any provider's calls leave the process (see ``PaymentProvider``)."""
        return any(p.remote for p in self._by_method.values())

    def for_method(self, method: PaymentMethod) -> PaymentProvider:
        try:
            return self._by_method[method]
        except KeyError:
            raise ProviderRefused(f"no payment provider is configured for {method.value}") from None
