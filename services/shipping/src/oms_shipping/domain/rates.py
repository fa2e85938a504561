"""Rate shopping: the cheapest carrier service that keeps the promise made to the customer.

``shop_rates`` is a pure function of the parcel, the promise (the shipping method the
customer chose and, optionally, a delivery date), the time the parcel is ready and the
candidate carrier services. The rule:

1. A candidate is **eligible** when it keeps the promise and can carry the parcel; it is
   passed over, with the first reason that applies, when
   - it is standard and express was promised (``below_promised_method``; express meets
     a standard promise),
   - the carrier does not collect in the warehouse's country (``no_collection_at_origin``),
   - the service does not serve the destination's zone (``no_service_to_zone``),
   - the parcel is heavier than the service takes to that zone (``over_weight_limit``),
   - it would deliver after the promised date (``too_slow``; see ``calendar`` for the
     cut-off and the working days).
2. Of the eligible, the **cheapest** (base price plus surcharges, see ``carriers``) wins;
   a tie goes to the earlier delivery, then to the carrier and service code, so the
   choice is deterministic. The others are passed over as ``more_expensive``.
3. No eligible candidate: :class:`Refusal` ``no_carrier_service`` (422), its reason
   naming why each candidate failed.

Every candidate passed over is returned with its reason (and, when it could carry the
parcel, its cost and delivery date): the choice is explainable, like allocation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from oms_events.contracts.shipping import PassedOverReason, ShippingMethod
from oms_events.money import Money, minor_unit
from oms_platform.refusal import Refusal
from oms_shipping.domain import calendar
from oms_shipping.domain.carriers import (
    CURRENCY,
    Carrier,
    CarrierService,
    Zone,
    is_remote,
    zone_of,
)

TEXT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Parcel:
    """What rate shopping needs to know about one parcel."""

    weight_grams: int
    origin_country: str
    destination_country: str
    postal_code: str | None = None
    longest_side_cm: int | None = None


@dataclass(frozen=True, slots=True)
class Promise:
    """What the customer was promised: a method and, optionally, a delivery date."""

    method: ShippingMethod
    delivery_date: date | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """A parcel's cost with one service, and what it is made of."""

    base: Money
    fuel: Money
    remote_area: Money
    oversize: Money

    @property
    def total(self) -> Money:
        return self.base + self.fuel + self.remote_area + self.oversize


@dataclass(frozen=True, slots=True)
class Quote:
    """What one service would cost and when it would collect and deliver."""

    carrier: str
    service: ShippingMethod
    zone: Zone
    cost: Cost
    collection_date: date
    delivery_date: date

    @property
    def key(self) -> str:
        return f"{self.carrier}/{self.service.value}"


@dataclass(frozen=True, slots=True)
class PassedOver:
    """A candidate that was not chosen, why, and its quote when it had one."""

    carrier: str
    service: ShippingMethod
    reason: PassedOverReason
    explanation: str
    quote: Quote | None = None


@dataclass(frozen=True, slots=True)
class RateChoice:
    """The chosen service, every candidate passed over, and one sentence why."""

    chosen: Quote
    passed_over: tuple[PassedOver, ...]
    explanation: str


Candidate = tuple[Carrier, CarrierService]


def cost_of(carrier: Carrier, service: CarrierService, zone: Zone, parcel: Parcel) -> Cost | None:
    """The parcel's cost with ``service`` to ``zone``; None when no band holds its weight."""
    base = service.base_price(zone, parcel.weight_grams)
    if base is None:
        return None
    s = carrier.surcharges
    fuel = (base * s.fuel_percent / 100).quantize(minor_unit(CURRENCY), rounding=ROUND_HALF_UP)
    remote = s.remote_area_fee if is_remote(parcel.destination_country, parcel.postal_code) else 0
    oversize = (
        s.oversize_fee
        if parcel.longest_side_cm is not None
        and parcel.longest_side_cm > s.oversize_longest_side_cm
        else 0
    )
    return Cost(*(Money.of(Decimal(x), CURRENCY) for x in (base, fuel, remote, oversize)))


def quote(
    carrier: Carrier, service: CarrierService, parcel: Parcel, ready_at: datetime
) -> Quote | PassedOver:
    """The candidate's quote, or why it cannot carry the parcel at all (any promise)."""
    zone = zone_of(parcel.origin_country, parcel.destination_country)

    def no(reason: PassedOverReason, why: str) -> PassedOver:
        return PassedOver(carrier.code, service.level, reason, f"{service.key}: {why}")

    if parcel.origin_country not in carrier.collects_in:
        return no(
            PassedOverReason.NO_COLLECTION_AT_ORIGIN,
            f"{carrier.name} does not collect in {parcel.origin_country}",
        )
    if not service.serves(zone):
        return no(
            PassedOverReason.NO_SERVICE_TO_ZONE,
            f"no {service.level.value} service to {parcel.destination_country} ({zone.value})",
        )
    cost = cost_of(carrier, service, zone, parcel)
    if cost is None:
        return no(
            PassedOverReason.OVER_WEIGHT_LIMIT,
            f"{parcel.weight_grams} g is over its {service.weight_limit(zone)} g limit "
            f"to {zone.value}",
        )
    collected = calendar.collection_date(ready_at, parcel.origin_country, service.cutoff)
    delivered = calendar.add_working_days(collected, service.transit_days[zone])
    return Quote(carrier.code, service.level, zone, cost, collected, delivered)


def shop_rates(
    parcel: Parcel, promise: Promise, ready_at: datetime, candidates: Iterable[Candidate]
) -> RateChoice:
    """Choose the cheapest candidate that keeps ``promise`` (see the module docstring)."""
    if parcel.origin_country not in calendar.TIMEZONES:
        raise Refusal.invalid(
            "unknown_origin_country",
            f"no time zone is known for a warehouse in {parcel.origin_country!r}",
            "origin_country",
        )
    passed: list[PassedOver] = []
    eligible: list[Quote] = []
    for carrier, service in candidates:
        if promise.method is ShippingMethod.EXPRESS and service.level is ShippingMethod.STANDARD:
            passed.append(
                PassedOver(
                    carrier.code,
                    service.level,
                    PassedOverReason.BELOW_PROMISED_METHOD,
                    f"{service.key}: standard service, express was promised",
                )
            )
            continue
        q = quote(carrier, service, parcel, ready_at)
        if isinstance(q, PassedOver):
            passed.append(q)
        elif promise.delivery_date is not None and q.delivery_date > promise.delivery_date:
            passed.append(
                PassedOver(
                    carrier.code,
                    service.level,
                    PassedOverReason.TOO_SLOW,
                    f"{q.key}: delivers {q.delivery_date}, after the promised "
                    f"{promise.delivery_date} (collected {q.collection_date})",
                    q,
                )
            )
        else:
            eligible.append(q)
    if not eligible:
        raise Refusal.invalid(
            "no_carrier_service",
            clip(
                f"no carrier service keeps the {_promise_text(promise)} promise for this "
                f"parcel: " + "; ".join(p.explanation for p in passed)
                if passed
                else "no carrier service was offered for this parcel"
            ),
            "carrier",
        )
    ranked = sorted(eligible, key=lambda q: (q.cost.total.amount, q.delivery_date, q.key))
    chosen, rest = ranked[0], ranked[1:]
    passed.extend(_more_expensive(q, chosen) for q in rest)
    return RateChoice(chosen, tuple(passed), _explain(chosen, promise, len(ranked), passed))


def _more_expensive(q: Quote, chosen: Quote) -> PassedOver:
    if q.cost.total > chosen.cost.total:
        why = f"{q.cost.total} against {chosen.cost.total}"
    elif q.delivery_date > chosen.delivery_date:
        why = f"same price, delivers {q.delivery_date} (chosen: {chosen.delivery_date})"
    else:
        why = f"same price and day as {chosen.key}, which sorts first"
    return PassedOver(q.carrier, q.service, PassedOverReason.MORE_EXPENSIVE, f"{q.key}: {why}", q)


def _promise_text(promise: Promise) -> str:
    by = f" (by {promise.delivery_date})" if promise.delivery_date else ""
    return f"{promise.method.value}{by}"


def _explain(chosen: Quote, promise: Promise, eligible: int, passed: Sequence[PassedOver]) -> str:
    others = f" of {eligible} services" if eligible > 1 else ", the only service"
    skipped = (
        "; passed over: "
        + ", ".join(f"{p.carrier}/{p.service.value} {p.reason.value}" for p in passed)
        if passed
        else ""
    )
    return clip(
        f"{chosen.key}: cheapest{others} that keep the {_promise_text(promise)} promise, "
        f"{chosen.cost.total} to {chosen.zone.value}, collected {chosen.collection_date}, "
        f"delivered {chosen.delivery_date}{skipped}"
    )


def clip(text: str) -> str:
    """``text`` cut to what a contract's free-text field holds."""
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
