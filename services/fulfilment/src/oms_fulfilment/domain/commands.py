"""What a fulfilment is asked to do: one immutable command per intent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from oms_events.contracts.common import Address, SkuQuantity
from oms_fulfilment.domain.packaging import BOXES, Box, ItemSize


@dataclass(frozen=True, slots=True)
class RequestFulfilment:
    """Pick and pack ``lines`` (per SKU) in ``warehouse_id`` for a confirmed order.

    Built from the order's allocation by :func:`~oms_fulfilment.domain.fulfilment.requests_for`.
    """

    fulfilment_id: str
    order_id: str
    warehouse_id: str
    lines: tuple[SkuQuantity, ...]
    shipping_address: Address


@dataclass(frozen=True, slots=True)
class PickedLine:
    """The units of one pick-list SKU the picker found (0 to the units asked for)."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class RecordPick:
    """The warehouse's pick report: one line per SKU of the pick list."""

    fulfilment_id: str
    lines: tuple[PickedLine, ...]


@dataclass(frozen=True, slots=True)
class RecordPack:
    """Pack what was picked; the boxes follow from ``sizes`` and ``catalogue``.

    ``sizes`` is the SKU master's size of each picked SKU (the handler loads it), so the
    decision stays a pure function of the command and the stream.
    """

    fulfilment_id: str
    sizes: Mapping[str, ItemSize]
    catalogue: tuple[Box, ...] = field(default=BOXES)


@dataclass(frozen=True, slots=True)
class CancelFulfilment:
    """Stop the fulfilment (the order is cancelled); answered before packing only."""

    fulfilment_id: str
    reason: str


FulfilmentCommand = RequestFulfilment | RecordPick | RecordPack | CancelFulfilment
