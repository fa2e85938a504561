"""The carriers the shop ships with, as data: services, zones, prices, surcharges, timing.

**The figures are illustrative, not the carriers' tariffs.** They are of a plausible size
and shape (a contract shop's rates in 2026, excluding VAT, in EUR) so that rate shopping
has real trade-offs to make: PostNL is cheap at home but collects only in the
Netherlands, DPD does not go beyond Europe, UPS is dear for light parcels but carries up
to 70 kg, express costs two to three times standard.

The model, the same for every carrier:

- **Services**: ``standard`` and ``express`` (:class:`ShippingMethod`); a carrier may lack
  one, and a service may not serve every zone.
- **Zones** by destination (:func:`zone_of`): ``domestic`` (same country as the
  warehouse), ``eu1`` (the neighbouring core: Benelux, Germany, France, Austria, Denmark),
  ``eu2`` (the rest of the EU) and ``world``. The groups are the same for every carrier
  and every origin, a simplification real tariffs do not make.
- **Weight bands**: the price of a band applies up to and including its ``max_grams``; a
  parcel heavier than the last band the zone is priced in is over the carrier's limit.
- **Surcharges** (:class:`Surcharges`): a *fuel* percentage on the base price (not on the
  fees), rounded half-up to the cent; a *remote-area* fee for destinations on islands and
  exclaves (:data:`REMOTE_AREAS`, by postal-code prefix); an *oversize* fee for a parcel
  whose longest side exceeds the carrier's limit in cm.
- **Cut-off** per service, the warehouse's local time by which a parcel must be handed
  over to leave that working day; **transit days** per zone, in working days (Monday to
  Friday; public holidays are not modelled).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from oms_events.contracts.shipping import ShippingMethod

CURRENCY = "EUR"
"""The currency of every price below."""


class Zone(StrEnum):
    """A price and transit zone, by destination relative to the warehouse."""

    DOMESTIC = "domestic"
    EU1 = "eu1"
    EU2 = "eu2"
    WORLD = "world"


EU1_COUNTRIES = frozenset({"NL", "BE", "LU", "DE", "FR", "AT", "DK"})
EU2_COUNTRIES = frozenset(
    {
        *("ES", "PT", "IT", "IE", "SE", "FI", "PL", "CZ", "SK", "HU", "SI", "HR"),
        *("RO", "BG", "GR", "CY", "MT", "EE", "LV", "LT"),
    }
)


def zone_of(origin_country: str, destination_country: str) -> Zone:
    """The zone of a parcel from ``origin_country`` to ``destination_country``."""
    if origin_country == destination_country:
        return Zone.DOMESTIC
    if destination_country in EU1_COUNTRIES:
        return Zone.EU1
    if destination_country in EU2_COUNTRIES:
        return Zone.EU2
    return Zone.WORLD


REMOTE_AREAS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # The Wadden islands (Texel, Vlieland, Terschelling, Ameland, Schiermonnikoog).
        "NL": ("179", "8899", "888", "916"),
        # Sylt, Föhr, Amrum, Helgoland, Hiddensee.
        "DE": ("2593", "2594", "2598", "2599", "27498", "18565"),
        # The Balearic and Canary islands, Ceuta and Melilla.
        "ES": ("07", "35", "38", "51", "52"),
        # Corsica.
        "FR": ("20",),
    }
)
"""Postal-code prefixes, per country, that carriers charge a remote-area fee for."""


def is_remote(country: str, postal_code: str | None) -> bool:
    """True when ``postal_code`` in ``country`` is a remote area (see :data:`REMOTE_AREAS`)."""
    if not postal_code:
        return False
    compact = postal_code.replace(" ", "").upper()
    return compact.startswith(REMOTE_AREAS.get(country, ()))


@dataclass(frozen=True, slots=True)
class WeightBand:
    """Prices up to and including ``max_grams``, per zone (a zone missing: not carried)."""

    max_grams: int
    prices: Mapping[Zone, Decimal]


@dataclass(frozen=True, slots=True)
class Surcharges:
    """What is added to the base price (see the module docstring)."""

    fuel_percent: Decimal
    remote_area_fee: Decimal
    oversize_fee: Decimal
    oversize_longest_side_cm: int


@dataclass(frozen=True, slots=True)
class CarrierService:
    """One service level of one carrier."""

    carrier: str
    level: ShippingMethod
    cutoff: time
    transit_days: Mapping[Zone, int]
    """Working days from collection to delivery; a zone missing is not served."""
    bands: tuple[WeightBand, ...]
    """Ascending by ``max_grams``."""

    @property
    def key(self) -> str:
        """``carrier/level``, e.g. ``postnl/standard``; how explanations name it."""
        return f"{self.carrier}/{self.level.value}"

    def serves(self, zone: Zone) -> bool:
        return zone in self.transit_days

    def base_price(self, zone: Zone, weight_grams: int) -> Decimal | None:
        """The price of the lightest band that holds ``weight_grams`` in ``zone``, if any."""
        for band in self.bands:
            if weight_grams <= band.max_grams and zone in band.prices:
                return band.prices[zone]
        return None

    def weight_limit(self, zone: Zone) -> int:
        """The heaviest parcel (g) this service takes to ``zone``; 0 if none."""
        return max((b.max_grams for b in self.bands if zone in b.prices), default=0)


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier: where it collects, its services, its surcharges and account codes."""

    code: str
    name: str
    collects_in: frozenset[str]
    """Countries of the warehouses it collects from."""
    services: tuple[CarrierService, ...]
    surcharges: Surcharges
    account: str
    """The shop's account code with the carrier, part of its tracking numbers."""

    def service(self, level: ShippingMethod) -> CarrierService | None:
        return next((s for s in self.services if s.level is level), None)


def _bands(table: Mapping[int, tuple[str | None, ...]]) -> tuple[WeightBand, ...]:
    """Weight bands from ``{max_grams: (domestic, eu1, eu2, world)}``; None: not carried."""
    zones = (Zone.DOMESTIC, Zone.EU1, Zone.EU2, Zone.WORLD)
    return tuple(
        WeightBand(
            max_grams,
            MappingProxyType(
                {z: Decimal(p) for z, p in zip(zones, prices, strict=True) if p is not None}
            ),
        )
        for max_grams, prices in sorted(table.items())
    )


def _days(
    domestic: int, eu1: int, eu2: int | None = None, world: int | None = None
) -> Mapping[Zone, int]:
    days = {Zone.DOMESTIC: domestic, Zone.EU1: eu1, Zone.EU2: eu2, Zone.WORLD: world}
    return MappingProxyType({z: d for z, d in days.items() if d is not None})


STANDARD, EXPRESS = ShippingMethod.STANDARD, ShippingMethod.EXPRESS

POSTNL = Carrier(
    code="postnl",
    name="PostNL",
    collects_in=frozenset({"NL"}),
    services=(
        CarrierService(
            "postnl",
            STANDARD,
            cutoff=time(17, 0),
            transit_days=_days(1, 2, 4, 8),
            bands=_bands(
                {
                    2000: ("4.10", "9.50", "12.50", "19.00"),
                    5000: ("5.25", "13.00", "16.50", "28.00"),
                    10000: ("6.95", "17.50", "22.00", "39.00"),
                    # No band to the rest of the world above 10 kg.
                    23000: ("12.50", "26.00", "33.00", None),
                }
            ),
        ),
        CarrierService(
            "postnl",
            EXPRESS,
            cutoff=time(15, 0),
            transit_days=_days(1, 1),
            bands=_bands(
                {
                    2000: ("8.95", "22.00", None, None),
                    5000: ("10.50", "26.50", None, None),
                    10000: ("13.95", "31.00", None, None),
                    23000: ("19.50", "42.00", None, None),
                }
            ),
        ),
    ),
    surcharges=Surcharges(
        fuel_percent=Decimal("6.5"),
        remote_area_fee=Decimal("0.00"),  # PostNL charges nothing extra for the islands
        oversize_fee=Decimal("12.00"),
        oversize_longest_side_cm=100,
    ),
    account="OMSN",
)

DHL = Carrier(
    code="dhl",
    name="DHL",
    collects_in=frozenset({"NL", "DE", "BE", "FR", "ES"}),
    services=(
        CarrierService(
            "dhl",
            STANDARD,
            cutoff=time(16, 0),
            transit_days=_days(1, 2, 3, 6),
            bands=_bands(
                {
                    2000: ("4.50", "8.90", "11.90", "24.00"),
                    5000: ("5.90", "11.50", "14.90", "32.00"),
                    10000: ("7.90", "15.90", "19.90", "45.00"),
                    31500: ("14.90", "24.90", "31.90", "79.00"),
                }
            ),
        ),
        CarrierService(
            "dhl",
            EXPRESS,
            cutoff=time(18, 0),
            transit_days=_days(1, 1, 2, 3),
            bands=_bands(
                {
                    2000: ("12.90", "24.90", "32.00", "49.00"),
                    5000: ("15.90", "31.00", "39.00", "69.00"),
                    10000: ("19.90", "39.00", "49.00", "99.00"),
                    31500: ("34.90", "69.00", "85.00", "179.00"),
                }
            ),
        ),
    ),
    surcharges=Surcharges(
        fuel_percent=Decimal("12"),
        remote_area_fee=Decimal("3.50"),
        oversize_fee=Decimal("15.00"),
        oversize_longest_side_cm=120,
    ),
    account="37",
)

DPD = Carrier(
    code="dpd",
    name="DPD",
    collects_in=frozenset({"NL", "DE", "BE", "FR", "ES"}),
    services=(
        CarrierService(
            "dpd",
            STANDARD,
            cutoff=time(16, 30),
            transit_days=_days(1, 2, 3),  # DPD Classic: Europe only
            bands=_bands(
                {
                    3000: ("4.35", "8.20", "11.20", None),
                    10000: ("6.50", "12.80", "16.80", None),
                    31500: ("11.90", "21.50", "28.90", None),
                }
            ),
        ),
        CarrierService(
            "dpd",
            EXPRESS,
            cutoff=time(16, 0),
            transit_days=_days(1, 1, 2),
            bands=_bands(
                {
                    3000: ("10.90", "19.90", "27.90", None),
                    10000: ("13.90", "25.90", "34.90", None),
                    31500: ("21.90", "38.90", "52.90", None),
                }
            ),
        ),
    ),
    surcharges=Surcharges(
        fuel_percent=Decimal("8.5"),
        remote_area_fee=Decimal("4.00"),
        oversize_fee=Decimal("10.00"),
        oversize_longest_side_cm=100,
    ),
    account="0530",
)

UPS = Carrier(
    code="ups",
    name="UPS",
    collects_in=frozenset({"NL", "DE", "BE", "FR", "ES", "IT"}),
    services=(
        CarrierService(
            "ups",
            STANDARD,
            cutoff=time(17, 30),
            transit_days=_days(1, 2, 3, 5),
            bands=_bands(
                {
                    1000: ("5.90", "9.90", "13.50", "29.00"),
                    5000: ("7.90", "13.90", "17.90", "42.00"),
                    10000: ("9.90", "18.90", "23.90", "59.00"),
                    20000: ("14.90", "27.90", "35.90", "89.00"),
                    70000: ("29.90", "54.90", "69.90", "169.00"),
                }
            ),
        ),
        CarrierService(
            "ups",
            EXPRESS,
            cutoff=time(18, 30),
            transit_days=_days(1, 1, 1, 2),
            bands=_bands(
                {
                    1000: ("13.90", "23.90", "29.90", "45.00"),
                    5000: ("17.90", "31.90", "39.90", "72.00"),
                    10000: ("22.90", "39.90", "49.90", "105.00"),
                    20000: ("31.90", "55.90", "69.90", "155.00"),
                    70000: ("59.90", "99.00", "129.00", "299.00"),
                }
            ),
        ),
    ),
    surcharges=Surcharges(
        fuel_percent=Decimal("14.25"),
        remote_area_fee=Decimal("4.95"),
        oversize_fee=Decimal("25.00"),
        oversize_longest_side_cm=100,
    ),
    account="A1B2C3",
)

CARRIERS: Mapping[str, Carrier] = MappingProxyType({c.code: c for c in (POSTNL, DHL, DPD, UPS)})
"""Every carrier by code."""


def all_services(
    carriers: Mapping[str, Carrier] = CARRIERS,
) -> Iterator[tuple[Carrier, CarrierService]]:
    """Every service of every carrier, as rate-shopping candidates, in a stable order."""
    for code in sorted(carriers):
        carrier = carriers[code]
        for service in carrier.services:
            yield carrier, service
