"""A fulfilment: one warehouse's share of a confirmed order, from pick list to parcels.

Stream: ``fulfilment-<fulfilment id>``. A confirmed order's allocation becomes one
fulfilment per warehouse (:func:`requests_for`); its id follows from the order id and the
warehouse (:func:`fulfilment_id`), so a redelivered ``OrderConfirmed`` asks for the same
fulfilments again and decides nothing.

Statuses: ``open`` (requested) → ``picked`` → ``packed``; ``cancelled`` from ``open`` or
``picked``. The rules, each a refusal with a stable code when broken:

* **Request** (``FulfilmentRequested``): once; the same request again is a no-op, a
  different one for the same id is ``fulfilment_conflict`` (409). An empty pick list or a
  SKU listed twice is ``empty_pick_list`` / ``duplicate_line`` (422).
* **Pick** (``OrderPicked`` with the units found, ``ShortPicked`` with the units not
  found): the report names every SKU of the pick list once, with 0 up to the units asked
  for. Fewer is a *short pick*, a fact and not an error. A SKU not on the list is
  ``unknown_sku``, more than asked ``over_picked``, a negative count ``invalid_quantity``,
  a SKU twice ``duplicate_line``, a SKU left out ``line_not_reported`` (all 422: the report
  is wrong, and the units must not silently be booked as lost). **Picking twice:** the
  same report again (a retried request of the warehouse app) decides nothing; a different
  report is ``already_picked`` (409), because downstream has already acted on the first
  (inventory booked the missing units as lost, payments released their share).
* **Pack** (``OrderPacked``, then ``ParcelsPacked`` with the boxes of
  :func:`~oms_fulfilment.domain.packaging.choose_boxes`): only once picked, else
  ``not_picked`` (409); a pick that found nothing is ``nothing_to_pack`` (409). Packing
  again decides nothing. Packaging refusals: ``item_size_unknown``, ``item_fits_no_box``,
  ``too_many_parcels`` (422).
* **Cancel** (``FulfilmentCancelled`` with the units it still held): before packing only;
  once packed it is ``already_packed`` (409): the goods are in a box on their way to a
  carrier, and the way back is a return. Cancelling twice decides nothing.

Every command but a request on an unknown fulfilment is ``fulfilment_not_found`` (404);
every command but a request or a cancel on a cancelled one is ``fulfilment_cancelled``
(409).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import assert_never

from oms_events.base import Event
from oms_events.contracts.common import Address, Allocation, SkuQuantity
from oms_events.contracts.fulfilment import (
    FulfilmentCancelled,
    FulfilmentRequested,
    OrderPacked,
    OrderPicked,
    PackedParcel,
    ParcelsPacked,
    ShortPicked,
)
from oms_events.contracts.order import OrderConfirmed
from oms_events.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from oms_events.money import Money
from oms_fulfilment.domain.commands import (
    CancelFulfilment,
    FulfilmentCommand,
    PickedLine,
    RecordPack,
    RecordPick,
    RequestFulfilment,
)
from oms_fulfilment.domain.packaging import Packing, choose_boxes, pack_items
from oms_platform.decider import Decider, Decision
from oms_platform.refusal import Refusal

MAX_FULFILMENT_ID_LENGTH = MAX_ID_LENGTH - 10
"""Room for a parcel number: parcel ids are ``<fulfilment id>-<n>`` and must be an ``Id``."""


class FulfilmentStatus(StrEnum):
    NONE = "none"
    OPEN = "open"
    PICKED = "picked"
    PACKED = "packed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """What the ``fulfilment-<id>`` stream says."""

    status: FulfilmentStatus = FulfilmentStatus.NONE
    fulfilment_id: str = ""
    order_id: str = ""
    warehouse_id: str = ""
    requested: tuple[SkuQuantity, ...] = ()
    """The pick list, per SKU."""
    shipping_address: Address | None = None
    picked: tuple[SkuQuantity, ...] = ()
    """Units found, per SKU (SKUs with none found are left out)."""
    missing: tuple[SkuQuantity, ...] = ()
    """Units not found, per SKU (a short pick)."""
    weight_grams: int = 0
    parcels: tuple[PackedParcel, ...] = ()
    packaging_cost: Money | None = None
    cancel_reason: str | None = None

    def found(self) -> dict[str, int]:
        """Units found per SKU of the pick list, 0 where none were (after a pick)."""
        picked = {line.sku: line.quantity for line in self.picked}
        return {line.sku: picked.get(line.sku, 0) for line in self.requested}

    def held(self) -> tuple[SkuQuantity, ...]:
        """The units this fulfilment holds: the pick list until picked, then those found."""
        return self.requested if self.status is FulfilmentStatus.OPEN else self.picked


def stream_id(fulfilment_id_: str) -> str:
    return f"fulfilment-{fulfilment_id_}"


def fulfilment_id(order_id: str, warehouse_id: str) -> str:
    """One fulfilment per order and warehouse, so its id follows from both.

    ``ful-<order id>-<warehouse>`` when that is short enough (order ids are ``ord-<hex>``,
    so it is unambiguous), else ``ful-`` and a digest of both, so any ids give a valid one.
    """
    readable = f"ful-{order_id}-{warehouse_id}"
    if len(readable) <= MAX_FULFILMENT_ID_LENGTH:
        return readable
    digest = hashlib.sha256(f"{order_id}\x00{warehouse_id}".encode()).hexdigest()
    return f"ful-{digest[:32]}"


def requests_for(confirmed: OrderConfirmed) -> tuple[RequestFulfilment, ...]:
    """Split a confirmed order's allocation into one request per warehouse.

    Each pick list holds the units allocated to that warehouse, summed per SKU (several
    order lines of one SKU are picked as one), SKUs in the order of the allocation.
    Warehouses in code order, so the result does not depend on how allocations are listed.
    """
    return tuple(
        RequestFulfilment(
            fulfilment_id=fulfilment_id(confirmed.order_id, warehouse),
            order_id=confirmed.order_id,
            warehouse_id=warehouse,
            lines=lines,
            shipping_address=confirmed.shipping_address,
        )
        for warehouse, lines in sorted(pick_lists(confirmed.allocations).items())
    )


def pick_lists(allocations: Iterable[Allocation]) -> dict[str, tuple[SkuQuantity, ...]]:
    """Units per SKU for each warehouse of ``allocations``."""
    units: dict[str, dict[str, int]] = {}
    for a in allocations:
        per_sku = units.setdefault(a.warehouse_id, {})
        per_sku[a.sku] = per_sku.get(a.sku, 0) + a.quantity
    return {wh: _lines(per_sku.items()) for wh, per_sku in units.items()}


def evolve(state: Fulfilment, event: Event) -> Fulfilment:
    """The fulfilment after ``event`` (events of other kinds leave it unchanged)."""
    match event:
        case FulfilmentRequested():
            return Fulfilment(
                status=FulfilmentStatus.OPEN,
                fulfilment_id=event.fulfilment_id,
                order_id=event.order_id,
                warehouse_id=event.warehouse_id,
                requested=event.lines,
                shipping_address=event.shipping_address,
            )
        case OrderPicked():
            return replace(state, status=FulfilmentStatus.PICKED, picked=event.lines)
        case ShortPicked():
            return replace(state, status=FulfilmentStatus.PICKED, missing=event.missing)
        case OrderPacked():
            return replace(state, status=FulfilmentStatus.PACKED, weight_grams=event.weight_grams)
        case ParcelsPacked():
            return replace(state, parcels=event.parcels, packaging_cost=event.packaging_cost)
        case FulfilmentCancelled():
            return replace(state, status=FulfilmentStatus.CANCELLED, cancel_reason=event.reason)
    return state


class FulfilmentDecider:
    def initial_state(self) -> Fulfilment:
        return Fulfilment()

    def evolve(self, state: Fulfilment, event: Event) -> Fulfilment:
        return evolve(state, event)

    def decide(self, command: FulfilmentCommand, state: Fulfilment) -> Decision:
        match command:
            case RequestFulfilment():
                return _request(command, state)
            case RecordPick():
                return _pick(command, state)
            case RecordPack():
                return _pack(command, state)
            case CancelFulfilment():
                return _cancel(command, state)
            case _:
                assert_never(command)


FULFILMENT: Decider[FulfilmentCommand, Fulfilment] = FulfilmentDecider()


# -- request ---------------------------------------------------------------------------------


def _request(cmd: RequestFulfilment, state: Fulfilment) -> list[Event]:
    """Open the fulfilment once; the same request again decides nothing."""
    if not cmd.lines:
        raise Refusal.invalid("empty_pick_list", "a fulfilment needs at least one line", "lines")
    _no_sku_twice([line.sku for line in cmd.lines])
    if len(cmd.fulfilment_id) > MAX_FULFILMENT_ID_LENGTH:
        raise Refusal.invalid(
            "invalid_fulfilment_id",
            f"a fulfilment id has at most {MAX_FULFILMENT_ID_LENGTH} characters",
            "fulfilment_id",
        )
    if state.status is not FulfilmentStatus.NONE:
        same = (
            state.order_id == cmd.order_id
            and state.warehouse_id == cmd.warehouse_id
            and state.requested == cmd.lines
            and state.shipping_address == cmd.shipping_address
        )
        if same:
            return []
        raise Refusal(
            "fulfilment_conflict",
            f"fulfilment {cmd.fulfilment_id} was already requested with other details",
            "fulfilment_id",
        )
    return [
        FulfilmentRequested(
            fulfilment_id=cmd.fulfilment_id,
            order_id=cmd.order_id,
            warehouse_id=cmd.warehouse_id,
            lines=cmd.lines,
            shipping_address=cmd.shipping_address,
        )
    ]


# -- pick ------------------------------------------------------------------------------------


def _pick(cmd: RecordPick, state: Fulfilment) -> list[Event]:
    """Record the units found; those not found are a short pick (module doc)."""
    _exists(cmd.fulfilment_id, state)
    _not_cancelled(state)
    found = _pick_report(cmd.lines, state)
    if state.status is not FulfilmentStatus.OPEN:
        if found == state.found():
            return []
        raise Refusal(
            "already_picked",
            f"fulfilment {state.fulfilment_id} was already picked with other quantities",
        )
    asked = {line.sku: line.quantity for line in state.requested}
    picked = _lines((sku, q) for sku, q in found.items() if q > 0)
    missing = _lines((sku, asked[sku] - q) for sku, q in found.items() if q < asked[sku])
    ids = _ids(state)
    events: list[Event] = []
    if picked:
        events.append(OrderPicked(**ids, lines=picked))
    if missing:
        events.append(ShortPicked(**ids, missing=missing))
    return events


def _pick_report(lines: Iterable[PickedLine], state: Fulfilment) -> dict[str, int]:
    """Units found per pick-list SKU, in pick-list order; refuses a report that is wrong."""
    asked = {line.sku: line.quantity for line in state.requested}
    reported: dict[str, int] = {}
    for i, line in enumerate(lines):
        if line.sku not in asked:
            raise Refusal.invalid(
                "unknown_sku",
                f"{line.sku} is not on the pick list of fulfilment {state.fulfilment_id}",
                f"lines[{i}].sku",
            )
        if line.sku in reported:
            raise Refusal.invalid(
                "duplicate_line", f"{line.sku} is reported twice", f"lines[{i}].sku"
            )
        if line.quantity < 0:
            raise Refusal.invalid(
                "invalid_quantity", "a quantity found is 0 or more", f"lines[{i}].quantity"
            )
        if line.quantity > asked[line.sku]:
            raise Refusal.invalid(
                "over_picked",
                f"{line.quantity} x {line.sku} found, but the pick list asks for "
                f"{asked[line.sku]}: more than reserved cannot ship",
                f"lines[{i}].quantity",
            )
        reported[line.sku] = line.quantity
    unreported = [sku for sku in asked if sku not in reported]
    if unreported:
        raise Refusal.invalid(
            "line_not_reported",
            f"no quantity found was given for {', '.join(unreported)} (report 0 if none)",
            "lines",
        )
    return {sku: reported[sku] for sku in asked}


# -- pack ------------------------------------------------------------------------------------


def _pack(cmd: RecordPack, state: Fulfilment) -> list[Event]:
    """Choose the boxes for the units found; packed once."""
    _exists(cmd.fulfilment_id, state)
    _not_cancelled(state)
    if state.status is FulfilmentStatus.PACKED:
        return []
    if state.status is FulfilmentStatus.OPEN:
        raise Refusal(
            "not_picked", f"fulfilment {state.fulfilment_id} is not picked yet: pick it first"
        )
    if not state.picked:
        raise Refusal(
            "nothing_to_pack",
            f"fulfilment {state.fulfilment_id}: no units were found, so there is nothing to pack",
        )
    items = pack_items(((line.sku, line.quantity) for line in state.picked), cmd.sizes)
    packing = choose_boxes(items, cmd.catalogue)
    assert state.shipping_address is not None, "set by FulfilmentRequested"
    ids = _ids(state)
    return [
        OrderPacked(
            **ids,
            lines=state.picked,
            weight_grams=packing.weight_g,
            shipping_address=state.shipping_address,
        ),
        ParcelsPacked(
            **ids, parcels=_parcels(state.fulfilment_id, packing), packaging_cost=packing.cost
        ),
    ]


def _parcels(fulfilment_id_: str, packing: Packing) -> tuple[PackedParcel, ...]:
    return tuple(
        PackedParcel(
            parcel_id=f"{fulfilment_id_}-{n}",
            box=parcel.box.code,
            lines=_lines((i.sku, i.quantity) for i in parcel.items),
            weight_grams=parcel.weight_g,
            packaging_cost=parcel.box.cost,
        )
        for n, parcel in enumerate(packing.parcels, 1)
    )


# -- cancel ----------------------------------------------------------------------------------


def _cancel(cmd: CancelFulfilment, state: Fulfilment) -> list[Event]:
    """Cancel before packing; once packed the way back is a return."""
    _exists(cmd.fulfilment_id, state)
    if state.status is FulfilmentStatus.CANCELLED:
        return []
    if state.status is FulfilmentStatus.PACKED:
        raise Refusal(
            "already_packed",
            f"fulfilment {state.fulfilment_id} is packed and on its way to the carrier; "
            "the way back is a return",
        )
    reason = cmd.reason.strip()[:MAX_TEXT_LENGTH]
    if not reason:
        raise Refusal.invalid("reason_required", "a cancellation needs a reason", "reason")
    return [FulfilmentCancelled(**_ids(state), reason=reason, lines=state.held())]


# -- shared ----------------------------------------------------------------------------------


def _exists(fulfilment_id_: str, state: Fulfilment) -> None:
    if state.status is FulfilmentStatus.NONE:
        raise Refusal.not_found(
            "fulfilment_not_found", f"no fulfilment {fulfilment_id_}", "fulfilment_id"
        )


def _not_cancelled(state: Fulfilment) -> None:
    if state.status is FulfilmentStatus.CANCELLED:
        raise Refusal(
            "fulfilment_cancelled",
            f"fulfilment {state.fulfilment_id} was cancelled: {state.cancel_reason}",
        )


def _no_sku_twice(skus: list[str]) -> None:
    seen: set[str] = set()
    for i, sku in enumerate(skus):
        if sku in seen:
            raise Refusal.invalid("duplicate_line", f"{sku} is listed twice", f"lines[{i}].sku")
        seen.add(sku)


def _ids(state: Fulfilment) -> dict[str, str]:
    return {
        "fulfilment_id": state.fulfilment_id,
        "order_id": state.order_id,
        "warehouse_id": state.warehouse_id,
    }


def _lines(units: Iterable[tuple[str, int]]) -> tuple[SkuQuantity, ...]:
    return tuple(SkuQuantity(sku=sku, quantity=q) for sku, q in units)
