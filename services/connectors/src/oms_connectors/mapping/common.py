"""What both platforms' mappers share: exact money, lines split to exact unit prices, and
the refusal that names every field at fault.

Money is exact or the order is refused. An amount is read from the platform's JSON
(Shopify sends decimal strings, Adobe Commerce JSON numbers, which are read back as the
shortest decimal that prints the same, ``29.99`` and never ``29.989999...``) and must have
no more decimals than its currency allows. The OMS prices a line per unit; a line whose
total (after its discount) does not divide by its quantity becomes two lines, some units
one minor unit dearer than the others, so the lines still add up to the cent to what the
customer paid. The two OMS lines keep the platform's item id (``<id>`` and ``<id>~2``), so
the way back can name the platform's line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from oms_events.contracts import OrderSubmitted
from oms_events.contracts.common import OrderLine, PaymentMethod
from oms_events.limits import MAX_LINES
from oms_events.money import Money, minor_unit
from oms_platform.refusal import FieldError, Refusal

SPLIT_SUFFIX = "~2"
"""The second OMS line of a platform line whose units do not all cost the same."""


@dataclass(frozen=True, slots=True)
class PlatformLine:
    """One OMS line of a mapped order and the platform item it came from."""

    line_id: str
    item_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class MappedOrder:
    """A platform order as the OMS takes it, and what the way back needs to name it."""

    platform_order_id: str
    """The platform's own id of the order (Shopify ``id``, Adobe Commerce ``entity_id``)."""
    order: OrderSubmitted
    lines: tuple[PlatformLine, ...]


def platform_item(line_id: str) -> str:
    """The platform's item id of an OMS line id (the split suffix removed)."""
    return line_id.removesuffix(SPLIT_SUFFIX)


@dataclass
class Problems:
    """Collects what cannot be mapped, to refuse once with every reason."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, where: str, code: str, reason: str) -> None:
        self.errors.append(FieldError(where, reason, code))

    def refuse_if_any(self, summary: str) -> None:
        if self.errors:
            raise unmappable(summary, self.errors)


def unmappable(summary: str, errors: list[FieldError]) -> Refusal:
    first = errors[0]
    return Refusal.invalid(first.code, summary, errors=errors)


def money(value: Any, currency: str, where: str, problems: Problems) -> Money | None:
    """An exact amount of ``currency`` from a platform's JSON value, or a problem."""
    if isinstance(value, bool) or value is None:
        problems.add(where, "amount_missing", "an amount is required here")
        return None
    try:
        # repr(float) is the shortest decimal that reads back as the same float: what the
        # platform wrote (29.99), never the binary expansion (29.98999999999999843...).
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        problems.add(where, "amount_invalid", "not a decimal amount")
        return None
    if not amount.is_finite():
        problems.add(where, "amount_invalid", "not a finite amount")
        return None
    unit = minor_unit(currency)
    exact = amount.quantize(unit) if amount == amount.quantize(unit) else None
    if exact is None:
        places = -int(unit.as_tuple().exponent)
        problems.add(where, "amount_inexact", f"{currency} amounts have at most {places} decimals")
        return None
    try:
        return Money(amount=exact, currency=currency)
    except ValidationError:
        problems.add(where, "amount_out_of_range", "the amount is out of the OMS's range")
        return None


def split_line(item_id: str, sku: str, quantity: int, total: Money) -> list[OrderLine]:
    """``quantity`` units costing ``total`` together, as one or two OMS lines of exact unit
    prices: ``r`` units at one minor unit above the others, where ``r`` is the remainder."""
    unit = minor_unit(total.currency)
    minor = int(total.amount / unit)
    base, rest = divmod(minor, quantity)
    lines = []
    if quantity - rest:
        lines.append(
            OrderLine(
                line_id=item_id,
                sku=sku,
                quantity=quantity - rest,
                unit_price=Money(amount=base * unit, currency=total.currency),
            )
        )
    if rest:
        lines.append(
            OrderLine(
                line_id=item_id if not lines else item_id + SPLIT_SUFFIX,
                sku=sku,
                quantity=rest,
                unit_price=Money(amount=(base + 1) * unit, currency=total.currency),
            )
        )
    return lines


def payment_method(
    code: str, table: Mapping[str, PaymentMethod], shop: str, where: str, problems: Problems
) -> PaymentMethod | None:
    method = table.get(code)
    if method is None:
        problems.add(
            where,
            "payment_method_unmapped",
            f"payment method {code!r} is not in shop {shop}'s payment table; add it there "
            f"(known: {', '.join(sorted(table)) or 'none'})",
        )
    if method is PaymentMethod.GIFT_CARD:
        problems.add(
            where,
            "payment_method_unsupported",
            "a platform's own gift cards cannot be debited by the OMS",
        )
        return None
    return method


def customer_id(platform: str, shop: str, own: Any, email: str) -> str:
    """The platform's customer id, or for a guest a stable id from the e-mail's hash (the
    address itself is in the order; an id is not the place to repeat it)."""
    if own not in (None, "", 0):
        return f"{platform}:{shop}:{own}"
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]
    return f"{platform}:{shop}:guest-{digest}"


def check_lines(lines: list[OrderLine], problems: Problems) -> None:
    if not lines:
        problems.add("items", "no_shippable_items", "the order has no item the OMS can ship")
    elif len(lines) > MAX_LINES:
        problems.add("items", "too_many_lines", f"more than {MAX_LINES} lines after mapping")


def build(payload: dict[str, Any], problems: Problems) -> OrderSubmitted | None:
    """Validate the mapped fields as an ``OrderSubmitted``; its errors become problems."""
    try:
        return OrderSubmitted.model_validate(payload)
    except ValidationError as err:
        for e in err.errors()[:50]:
            where = ".".join(str(p) for p in e["loc"]) or "order"
            problems.add(f"mapped.{where}", "invalid_after_mapping", e["msg"])
        return None


def totals_match(
    paid: Money | None,
    lines: list[OrderLine],
    shipping: Money | None,
    where: str,
    problems: Problems,
) -> None:
    """What the platform says the customer pays must be the lines plus shipping, exactly."""
    if paid is None or shipping is None or not lines:
        return
    total = Money.total((ln.line_total for ln in lines), paid.currency) + shipping
    if total != paid:
        problems.add(
            where,
            "totals_mismatch",
            f"the items and shipping come to {total.amount} {total.currency}, "
            f"the platform says {paid.amount} {paid.currency}",
        )
