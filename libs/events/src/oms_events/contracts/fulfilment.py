"""Contracts published by the fulfilment service on ``oms.fulfilment.events``.

A confirmed order becomes one fulfilment per warehouse it was allocated to; each has its
own stream, keyed by ``fulfilment_id``. A fulfilment is requested (``FulfilmentRequested``),
picked (``OrderPicked``, plus ``ShortPicked`` for units not found), packed (``OrderPacked``
and ``ParcelsPacked``), or cancelled before packing (``FulfilmentCancelled``).
"""

from __future__ import annotations

from pydantic import Field

from oms_events.base import ContractModel, Event
from oms_events.contracts.common import Address, Grams, Id, SkuQuantity, Text
from oms_events.limits import MAX_LINES
from oms_events.money import Money
from oms_events.registry import registry


class _FulfilmentEvent(Event):
    """Fields shared by every fulfilment event (abstract)."""

    fulfilment_id: Id
    order_id: Id
    warehouse_id: Id
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)


@registry.register
class FulfilmentRequested(_FulfilmentEvent, type_name="FulfilmentRequested", version=1):
    """A warehouse is asked to pick and pack its share of a confirmed order."""

    shipping_address: Address


@registry.register
class OrderPicked(_FulfilmentEvent, type_name="OrderPicked", version=1):
    """The warehouse picked the lines of this fulfilment from its shelves."""


@registry.register
class OrderPacked(_FulfilmentEvent, type_name="OrderPacked", version=1):
    """The picked lines are packed in one parcel, ready for a carrier.

    Carries the address and weight shipping needs to book the carrier.
    """

    weight_grams: Grams
    shipping_address: Address


# -- what a pick, a pack and a cancellation add (ShortPicked, ParcelsPacked, FulfilmentCancelled)
# Kept apart from the v1 events above, whose schemas are committed: they carry what those
# cannot (units not found, the boxes, a cancellation) without changing a field of theirs.


class _FulfilmentFact(Event):
    """The identifiers every later fulfilment event repeats (abstract)."""

    fulfilment_id: Id
    order_id: Id
    warehouse_id: Id


@registry.register
class ShortPicked(_FulfilmentFact, type_name="ShortPicked", version=1):
    """The warehouse found fewer units than the pick list asks for.

    Published with (after) ``OrderPicked`` when some units were found, alone when none
    were. ``missing`` is per SKU the units asked for minus the units found: inventory books
    them as lost, payments releases their share of the authorisation, the order shows
    them short-shipped.
    """

    missing: tuple[SkuQuantity, ...] = Field(
        min_length=1,
        max_length=MAX_LINES,
        description="Per SKU, the units on the pick list that were not found.",
    )


class PackedParcel(ContractModel):
    """One box of a packed fulfilment, which travels as one parcel."""

    parcel_id: Id = Field(description="Unique within the fulfilment: '<fulfilment_id>-<n>'.")
    box: Id = Field(description="The code of the box in the packaging catalogue.")
    lines: tuple[SkuQuantity, ...] = Field(min_length=1, max_length=MAX_LINES)
    weight_grams: Grams = Field(description="The items plus the empty box.")
    packaging_cost: Money = Field(description="What the box costs the shop.")


@registry.register
class ParcelsPacked(_FulfilmentFact, type_name="ParcelsPacked", version=1):
    """The boxes a fulfilment was packed in, published right after its ``OrderPacked``.

    ``OrderPacked`` says that the fulfilment is packed and its total weight; this says in
    which boxes: one parcel per box, each with its lines and weight, for booking each
    parcel with a carrier, and the packaging cost for the order's margin.
    """

    parcels: tuple[PackedParcel, ...] = Field(min_length=1, max_length=MAX_LINES)
    packaging_cost: Money = Field(description="All the boxes together.")


@registry.register
class FulfilmentCancelled(_FulfilmentFact, type_name="FulfilmentCancelled", version=1):
    """The fulfilment stopped before packing; nothing of it will ship.

    ``lines`` are the units it still held: the pick list if nothing was picked yet, the
    units found if it was (those not found were reported by ``ShortPicked``); empty when
    nothing was found at all.
    """

    reason: Text
    lines: tuple[SkuQuantity, ...] = Field(
        default=(), max_length=MAX_LINES, description="The units to put back and release."
    )


# -- fulfilment's answer to a cancellation request (OrderCancellationRequested) ------------


@registry.register
class FulfilmentCancellationAccepted(Event, type_name="FulfilmentCancellationAccepted", version=1):
    """Nothing of the order was packed: every fulfilment of it is cancelled.

    Each cancelled fulfilment also has its ``FulfilmentCancelled``; the order service
    records ``OrderCancelled`` on this (then inventory releases, payments void).
    """

    order_id: Id
    fulfilment_ids: tuple[Id, ...] = Field(
        default=(), max_length=MAX_LINES, description="The fulfilments cancelled (may be none)."
    )


@registry.register
class FulfilmentCancellationRefused(Event, type_name="FulfilmentCancellationRefused", version=1):
    """Part of the order is already packed (or dispatched): it can only be returned now."""

    order_id: Id
    reason: Text
    packed: tuple[Id, ...] = Field(
        min_length=1, max_length=MAX_LINES, description="The fulfilments already packed."
    )
