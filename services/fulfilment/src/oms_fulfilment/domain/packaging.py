"""Packaging: which boxes a fulfilment's picked units go in, and what that costs.

:func:`choose_boxes` is a pure function of the items (SKU, units, size from the SKU
master) and a box catalogue (:data:`BOXES` unless given). It returns a :class:`Packing`:
one :class:`Parcel` per box, each with its items, weight and cost.

**The fitting rule.** A set of units fits a box when all three hold:

1. *every unit fits through the lid*: its dimensions, sorted, are each at most the box's
   inner dimensions, sorted (a unit may be turned any way, but stays axis-aligned);
2. *the box is not crammed*: the units' volumes together are at most :data:`FILL_RATIO`
   (80 %) of the box's inner volume. The margin stands in for padding and for the space
   that real shapes waste, which a volume sum cannot see;
3. *the box holds the weight*: the units' weights together are at most its ``max_load_g``.

Rule 1 and 2 are deliberately not a 3-D packing solver: they are cheap, explainable to a
packer, and conservative enough for parcels of ordinary goods.

**The choice.** If all units fit one box, they go in the cheapest such box (ties: the
smaller box, then the code). Otherwise they are split, greedily and deterministically:
units are taken largest first (by volume, then weight, then longest side, then SKU); a
parcel is filled by going once down that list and adding, of each SKU, as many units as
still fit *some* box together with what the parcel already holds; then the parcel gets
the cheapest box its contents fit, and the next parcel starts with what is left. When
everything fits one box, the first parcel takes everything, so the split is a strict
generalisation of the single box. It is not guaranteed to be the cheapest split (that is
a bin-packing problem); it never leaves a unit out.

A unit that fits no box on its own cannot be packed at all: that is a
:class:`~oms_platform.refusal.Refusal` (``item_fits_no_box``), as are more parcels than
one event can carry (``too_many_parcels``) and a SKU whose size is not known
(``item_size_unknown``). Money is exact (:class:`~oms_events.money.Money`); lengths are
whole millimetres and weights whole grams, so the arithmetic is exact integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from oms_events.contracts.common import single_currency
from oms_events.contracts.inventory import SkuRegistered
from oms_events.limits import MAX_GRAMS, MAX_LINES, MAX_MILLIMETRES
from oms_events.money import Money
from oms_platform.refusal import Refusal

FILL_RATIO = Fraction(4, 5)
"""The share of a box's inner volume its contents may take (rule 2 above)."""

MAX_PARCELS = MAX_LINES
"""Parcels one fulfilment may need: the bound on ``ParcelsPacked.parcels``."""

MAX_BOX_WEIGHT_G = MAX_GRAMS // MAX_PARCELS
"""A box's load plus tare may not exceed this (200 kg), so that the weight of every
packing, up to :data:`MAX_PARCELS` boxes, is a valid ``Grams``."""


@dataclass(frozen=True, slots=True)
class ItemSize:
    """One unit of a SKU as the SKU master describes it: outer dimensions and weight."""

    length_mm: int
    width_mm: int
    height_mm: int
    weight_g: int

    def __post_init__(self) -> None:
        for length in (self.length_mm, self.width_mm, self.height_mm):
            if not 0 < length <= MAX_MILLIMETRES:
                raise ValueError(f"dimensions must be 1 to {MAX_MILLIMETRES} mm")
        if not 0 < self.weight_g <= MAX_GRAMS:
            raise ValueError(f"weight must be 1 to {MAX_GRAMS} g")

    @property
    def dimensions(self) -> tuple[int, int, int]:
        """Longest side first: the orientation-free shape that rule 1 compares."""
        a, b, c = sorted((self.length_mm, self.width_mm, self.height_mm), reverse=True)
        return a, b, c

    @property
    def volume_mm3(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm

    @classmethod
    def of(cls, registered: SkuRegistered) -> ItemSize:
        """The size the inventory's SKU master registered (``SkuRegistered``)."""
        return cls(
            registered.length_mm, registered.width_mm, registered.height_mm, registered.weight_grams
        )


@dataclass(frozen=True, slots=True)
class Box:
    """A box the warehouse packs in: inner dimensions, the load it carries, tare and cost."""

    code: str
    length_mm: int
    width_mm: int
    height_mm: int
    max_load_g: int
    """The heaviest contents the box is rated for (the box itself not included)."""
    tare_g: int
    """The empty box with its filling material: part of the parcel's weight."""
    cost: Money

    def __post_init__(self) -> None:
        for length in (self.length_mm, self.width_mm, self.height_mm):
            if not 0 < length <= MAX_MILLIMETRES:
                raise ValueError(f"box {self.code}: dimensions must be 1 to {MAX_MILLIMETRES} mm")
        if self.max_load_g <= 0 or self.tare_g <= 0:
            raise ValueError(f"box {self.code}: load and tare must be positive")
        if self.max_load_g + self.tare_g > MAX_BOX_WEIGHT_G:
            raise ValueError(f"box {self.code}: load plus tare above {MAX_BOX_WEIGHT_G} g")
        if self.cost.amount < 0:
            raise ValueError(f"box {self.code}: a negative cost")

    @property
    def dimensions(self) -> tuple[int, int, int]:
        a, b, c = sorted((self.length_mm, self.width_mm, self.height_mm), reverse=True)
        return a, b, c

    @property
    def volume_mm3(self) -> int:
        return self.length_mm * self.width_mm * self.height_mm

    @property
    def usable_volume(self) -> Fraction:
        """Rule 2's limit: :data:`FILL_RATIO` of the inner volume."""
        return FILL_RATIO * self.volume_mm3


def _eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


BOXES: tuple[Box, ...] = (
    Box("MAILER-S", 250, 180, 40, 1_000, 40, _eur("0.30")),
    Box("BOX-S", 300, 200, 100, 5_000, 150, _eur("0.55")),
    Box("BOX-M", 400, 300, 200, 10_000, 300, _eur("0.95")),
    Box("BOX-L", 600, 400, 300, 20_000, 600, _eur("1.60")),
    Box("BOX-XL", 800, 600, 400, 30_000, 1_000, _eur("2.40")),
    Box("TUBE-L", 1_000, 120, 120, 3_000, 250, _eur("1.20")),
)
"""The default catalogue: mailer, four cartons and a tube for long items (posters, rods).

Data, not code: a warehouse with other boxes passes its own catalogue."""


@dataclass(frozen=True, slots=True)
class PackItem:
    """``quantity`` units of ``sku``, each of ``size``."""

    sku: str
    quantity: int
    size: ItemSize

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("a pack item has at least one unit")


@dataclass(frozen=True, slots=True)
class Parcel:
    """One box and the units in it."""

    box: Box
    items: tuple[PackItem, ...]

    @property
    def contents_weight_g(self) -> int:
        return sum(i.size.weight_g * i.quantity for i in self.items)

    @property
    def weight_g(self) -> int:
        """What the carrier weighs: the contents plus the box's tare."""
        return self.contents_weight_g + self.box.tare_g

    def units(self) -> dict[str, int]:
        """Units per SKU in this parcel."""
        return {i.sku: i.quantity for i in self.items}


@dataclass(frozen=True, slots=True)
class Packing:
    """The parcels of one fulfilment, in the order they were filled."""

    parcels: tuple[Parcel, ...]

    @property
    def weight_g(self) -> int:
        return sum(p.weight_g for p in self.parcels)

    @property
    def cost(self) -> Money:
        currency = self.parcels[0].box.cost.currency
        return Money.total((p.box.cost for p in self.parcels), currency)


# -- the fitting rule ------------------------------------------------------------------------


def unit_fits(size: ItemSize, box: Box) -> bool:
    """Whether one unit of ``size`` fits ``box`` on its own (all three rules)."""
    return capacity(box, size, volume=0, weight=0) >= 1


def fits(items: Iterable[PackItem], box: Box) -> bool:
    """Whether all of ``items`` fit ``box`` together (the module's fitting rule)."""
    items = tuple(items)
    return (
        all(_through_the_lid(i.size, box) for i in items)
        and sum(i.size.volume_mm3 * i.quantity for i in items) <= box.usable_volume
        and sum(i.size.weight_g * i.quantity for i in items) <= box.max_load_g
    )


def capacity(box: Box, size: ItemSize, *, volume: int, weight: int) -> int:
    """How many more units of ``size`` fit ``box`` when it already holds ``volume`` mm³
    and ``weight`` g of units that fit it: rules 2 and 3 are budgets, rule 1 all or none."""
    if not _through_the_lid(size, box):
        return 0
    by_volume = (box.usable_volume - volume) // size.volume_mm3
    by_weight = (box.max_load_g - weight) // size.weight_g
    return max(0, int(min(by_volume, by_weight)))


def _through_the_lid(size: ItemSize, box: Box) -> bool:
    return all(s <= b for s, b in zip(size.dimensions, box.dimensions, strict=True))


def cheapest_box(items: Iterable[PackItem], catalogue: Sequence[Box] = BOXES) -> Box | None:
    """The cheapest box ``items`` fit together (ties: smaller volume, then code), if any."""
    items = tuple(items)
    fitting = [b for b in catalogue if fits(items, b)]
    return min(fitting, key=_box_order, default=None)


def _box_order(box: Box) -> tuple[object, ...]:
    return (box.cost.amount, box.volume_mm3, box.code)


# -- the choice ------------------------------------------------------------------------------


def choose_boxes(items: Iterable[PackItem], catalogue: Sequence[Box] = BOXES) -> Packing:
    """Pack ``items`` in the cheapest box they fit, or split them greedily (module doc).

    Units of one SKU given in several items are packed as one. Raises ``Refusal``
    (422) ``item_fits_no_box`` or ``too_many_parcels``; ``ValueError`` for a catalogue
    that is empty or mixes currencies, or for no items (a programming error).
    """
    if not catalogue:
        raise ValueError("the box catalogue is empty")
    single_currency(b.cost for b in catalogue)
    left = _largest_first(_merged(items))
    if not left:
        raise ValueError("nothing to pack")
    for item in left:
        if not any(unit_fits(item.size, b) for b in catalogue):
            raise Refusal.invalid(
                "item_fits_no_box",
                f"one unit of {item.sku} ({_shape(item.size)}) fits none of the boxes "
                f"{', '.join(b.code for b in catalogue)}",
                "sku",
            )
    parcels: list[Parcel] = []
    while left:
        if len(parcels) == MAX_PARCELS:
            raise Refusal.invalid(
                "too_many_parcels",
                f"the units need more than {MAX_PARCELS} boxes; split the fulfilment",
            )
        parcel, left = _fill_one(left, catalogue)
        parcels.append(parcel)
    return Packing(tuple(parcels))


def _fill_one(left: list[PackItem], catalogue: Sequence[Box]) -> tuple[Parcel, list[PackItem]]:
    """One parcel: down the list once, as many units of each SKU as still fit some box."""
    taken: list[PackItem] = []
    rest: list[PackItem] = []
    volume = weight = 0
    # The boxes that hold everything taken so far: each step only narrows them, so a SKU
    # costs one capacity check per box still open.
    open_boxes = list(catalogue)
    for item in left:
        room = [capacity(b, item.size, volume=volume, weight=weight) for b in open_boxes]
        n = min(max(room, default=0), item.quantity)
        if n:
            taken.append(PackItem(item.sku, n, item.size))
            volume += item.size.volume_mm3 * n
            weight += item.size.weight_g * n
            open_boxes = [b for b, r in zip(open_boxes, room, strict=True) if r >= n]
        if n < item.quantity:
            rest.append(PackItem(item.sku, item.quantity - n, item.size))
    box = cheapest_box(taken, catalogue)
    # Each unit was added only while some box held it with everything before it.
    assert taken and box is not None, "the first unit left always fits a box on its own"
    return Parcel(box, tuple(taken)), rest


def _merged(items: Iterable[PackItem]) -> list[PackItem]:
    units: dict[str, PackItem] = {}
    for item in items:
        known = units.get(item.sku)
        if known is None:
            units[item.sku] = item
        elif known.size != item.size:
            raise ValueError(f"two sizes given for {item.sku}")
        else:
            units[item.sku] = PackItem(item.sku, known.quantity + item.quantity, item.size)
    return list(units.values())


def _largest_first(items: Iterable[PackItem]) -> list[PackItem]:
    return sorted(
        items,
        key=lambda i: (-i.size.volume_mm3, -i.size.weight_g, -i.size.dimensions[0], i.sku),
    )


def _shape(size: ItemSize) -> str:
    a, b, c = size.dimensions
    return f"{a}x{b}x{c} mm, {size.weight_g} g"


def pack_items(lines: Iterable[tuple[str, int]], sizes: Mapping[str, ItemSize]) -> list[PackItem]:
    """The items to pack for ``(sku, units)`` lines, by the SKU master's ``sizes``.

    Raises ``Refusal`` (422) ``item_size_unknown`` for a SKU without a size: packing it
    blind could overload a box or hide an item that fits none.
    """
    items = []
    for sku, quantity in lines:
        size = sizes.get(sku)
        if size is None:
            raise Refusal.invalid(
                "item_size_unknown", f"no dimensions and weight are known for {sku}", "sku"
            )
        items.append(PackItem(sku, quantity, size))
    return items
