"""The sandbox providers' behaviour: deterministic, chosen by settings and by trigger values.

Triggers are tags in the local part of the shopper's e-mail (``jan+decline@example.com``),
so a demo or a test picks an outcome per order; settings set limits for every order.

* ``+decline``: card, PayPal and invoice decline with insufficient_funds;
* ``+fraud``: card, PayPal and invoice decline with fraud_suspected;
* ``+expired``: card declines with card_expired;
* ``+abort``: PayPal, iDEAL and bank transfer decline with authentication_failed (the
  shopper gave up at the bank or at PayPal);
* ``+partial``: card and PayPal approve half the amount (a partial approval);
* ``+timeout<N>``: the authorization is carried out but its answer is lost N times (the
  caller sees a timeout), then the answer comes; a repeated call never acts twice;
* an invoice (buy now, pay later) above the credit limit declines with
  credit_check_failed; cash on delivery above its limit declines with refused; a card
  above the card limit, when one is set, is approved for the limit only (partial).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from oms_events.contracts import DeclineReason, PaymentMethod
from oms_events.money import minor_unit

CENT = Decimal("0.01")
_TIMEOUT_TAG = re.compile(r"timeout(\d+)")


class Family(StrEnum):
    """Methods that one provider serves (one sandbox provider each)."""

    CARD = "card"
    PAYPAL = "paypal"
    INVOICE = "invoice"
    BANK = "bank"
    COD = "cod"


FAMILY_OF: dict[PaymentMethod, Family] = {
    PaymentMethod.CARD: Family.CARD,
    PaymentMethod.PAYPAL: Family.PAYPAL,
    PaymentMethod.INVOICE: Family.INVOICE,
    PaymentMethod.IDEAL: Family.BANK,
    PaymentMethod.BANK_TRANSFER: Family.BANK,
    PaymentMethod.CASH_ON_DELIVERY: Family.COD,
}


@dataclass(frozen=True, slots=True)
class SandboxRules:
    """Limits for every order (from ``OMS_PAYMENTS_SANDBOX_*`` settings)."""

    timeouts: int = 0
    """Every provider call loses its answer this many times per idempotency key."""
    invoice_credit_limit: Decimal = Decimal("1000.00")
    cod_limit: Decimal = Decimal("500.00")
    card_partial_limit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the sandbox answers an authorization: an approved amount or a decline."""

    approved: Decimal
    decline: DeclineReason | None = None
    message: str | None = None


def email_tags(email: str) -> set[str]:
    """The ``+tags`` of an address's local part, lower case."""
    local = email.split("@", 1)[0].lower()
    return set(local.split("+")[1:])


def timeouts_before_answer(email: str, rules: SandboxRules) -> int:
    """How many times an authorization for this shopper times out before it is answered."""
    counts = [int(m.group(1)) for t in email_tags(email) if (m := _TIMEOUT_TAG.fullmatch(t))]
    return max([rules.timeouts, *counts])


def judge(
    family: Family, amount: Decimal, email: str, rules: SandboxRules, currency: str = "EUR"
) -> Verdict:
    """The sandbox's answer to authorizing ``amount`` for ``email`` (pure, deterministic)."""
    tags = email_tags(email)
    if family in (Family.CARD, Family.PAYPAL, Family.INVOICE):
        if "decline" in tags:
            return _declined(DeclineReason.INSUFFICIENT_FUNDS, "sandbox: +decline")
        if "fraud" in tags:
            return _declined(DeclineReason.FRAUD_SUSPECTED, "sandbox: +fraud")
    if family is Family.CARD and "expired" in tags:
        return _declined(DeclineReason.CARD_EXPIRED, "sandbox: +expired")
    if family in (Family.PAYPAL, Family.BANK) and "abort" in tags:
        return _declined(DeclineReason.AUTHENTICATION_FAILED, "sandbox: shopper aborted")
    if family is Family.INVOICE and amount > rules.invoice_credit_limit:
        return _declined(
            DeclineReason.CREDIT_CHECK_FAILED,
            f"sandbox: above the invoice credit limit of {rules.invoice_credit_limit}",
        )
    if family is Family.COD and amount > rules.cod_limit:
        return _declined(
            DeclineReason.REFUSED, f"sandbox: cash on delivery is limited to {rules.cod_limit}"
        )
    # Approved amounts are whole minor units of the payment's currency (no cents in JPY).
    unit = minor_unit(currency)
    approved = amount
    if family in (Family.CARD, Family.PAYPAL) and "partial" in tags:
        approved = (amount / 2).quantize(unit, rounding=ROUND_DOWN)
    limit = rules.card_partial_limit
    if family is Family.CARD and limit is not None and approved > limit:
        approved = limit.quantize(unit, rounding=ROUND_DOWN)
    return Verdict(approved=approved)


def _declined(reason: DeclineReason, message: str) -> Verdict:
    return Verdict(approved=Decimal(0), decline=reason, message=message)
