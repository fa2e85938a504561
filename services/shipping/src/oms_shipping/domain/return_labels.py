"""Return labels: an authorised return travels back on a label shipping books (pure).

One stream per return (``return-label-<return id>``). The label goes by the cheapest
*standard* service that collects in the customer's country and delivers to the return
warehouse's country, chosen by the same rate shopping as outbound parcels (every candidate
passed over has its reason in the explanation); its tracking number is in the carrier's
format. A label is booked once: the same return again decides nothing.

The parcel's weight is not known before the goods are packed by the customer, so it is
priced as the returned units at :data:`UNIT_WEIGHT_GRAMS` each (at least one band's
worth); carriers bill return labels by such a declared weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from oms_events.base import Event
from oms_events.contracts.shipping import ReturnLabelBooked, ShippingMethod
from oms_platform.refusal import Refusal
from oms_shipping.domain.carriers import all_services
from oms_shipping.domain.rates import Candidate, Parcel, Promise, shop_rates
from oms_shipping.domain.tracking import tracking_number

UNIT_WEIGHT_GRAMS = 500
"""The declared weight of one returned unit."""
MAX_DECLARED_GRAMS = 30_000


def stream_id(return_id: str) -> str:
    return f"return-label-{return_id}"


def declared_weight(units: int) -> int:
    """What a return of ``units`` units is booked as, in grams."""
    return max(UNIT_WEIGHT_GRAMS, min(units * UNIT_WEIGHT_GRAMS, MAX_DECLARED_GRAMS))


@dataclass(frozen=True, slots=True)
class BookReturnLabel:
    """Book the label of return ``return_id`` from ``from_country`` to the warehouse."""

    return_id: str
    order_id: str
    warehouse_id: str
    from_country: str
    warehouse_country: str
    units: int
    ready_at: datetime
    tracking_sequence: int
    candidates: tuple[Candidate, ...] = field(default_factory=lambda: tuple(all_services()))


@dataclass(frozen=True, slots=True)
class ReturnLabel:
    """A return's label stream, folded: booked or not."""

    booked: ReturnLabelBooked | None = None


class ReturnLabelDecider:
    def initial_state(self) -> ReturnLabel:
        return ReturnLabel()

    def evolve(self, state: ReturnLabel, event: Event) -> ReturnLabel:
        return ReturnLabel(event) if isinstance(event, ReturnLabelBooked) else state

    def decide(self, command: BookReturnLabel, state: ReturnLabel) -> list[Event]:
        if state.booked is not None:
            return []
        weight = declared_weight(command.units)
        parcel = Parcel(weight, command.from_country, command.warehouse_country)
        choice = shop_rates(
            parcel, Promise(ShippingMethod.STANDARD), command.ready_at, command.candidates
        )
        chosen = choice.chosen
        try:
            number = tracking_number(chosen.carrier, chosen.service, command.tracking_sequence)
        except ValueError as err:
            raise Refusal.invalid(
                "invalid_tracking_sequence", str(err), "tracking_sequence"
            ) from None
        return [
            ReturnLabelBooked(
                return_id=command.return_id,
                order_id=command.order_id,
                warehouse_id=command.warehouse_id,
                carrier=chosen.carrier,
                service=chosen.service.value,
                tracking_number=number,
                from_country=command.from_country,
                weight_grams=weight,
                label_cost=chosen.cost.total,
                explanation=choice.explanation,
            )
        ]


RETURN_LABEL = ReturnLabelDecider()
