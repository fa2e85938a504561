"""How far a warehouse is from a delivery country, for the "nearest" allocation strategy.

A deliberately simple, deterministic model: each country is represented by one point
(roughly its population centre, usually the capital) and the distance between two
countries is the great-circle distance between their points, in whole kilometres. A
warehouse in the delivery country itself is at distance 0. Countries outside the table
have no known distance: they rank after every known one (ties then go to priority).

This is good enough to prefer Berlin over Madrid for a Polish customer; it is not a
carrier transit-time model. Replace the table with real lead times when one exists.
"""

from __future__ import annotations

import math

# (latitude, longitude) in degrees: EU/EEA countries plus the UK and Switzerland.
_POINTS: dict[str, tuple[float, float]] = {
    "AT": (48.21, 16.37),
    "BE": (50.85, 4.35),
    "BG": (42.70, 23.32),
    "CH": (46.95, 7.45),
    "CY": (35.17, 33.36),
    "CZ": (50.08, 14.44),
    "DE": (51.00, 10.00),
    "DK": (55.68, 12.57),
    "EE": (59.44, 24.75),
    "ES": (40.42, -3.70),
    "FI": (60.17, 24.94),
    "FR": (48.86, 2.35),
    "GB": (51.51, -0.13),
    "GR": (37.98, 23.73),
    "HR": (45.81, 15.98),
    "HU": (47.50, 19.04),
    "IE": (53.35, -6.26),
    "IS": (64.15, -21.94),
    "IT": (41.90, 12.50),
    "LI": (47.14, 9.52),
    "LT": (54.69, 25.28),
    "LU": (49.61, 6.13),
    "LV": (56.95, 24.11),
    "MT": (35.90, 14.51),
    "NL": (52.37, 4.90),
    "NO": (59.91, 10.75),
    "PL": (52.23, 21.01),
    "PT": (38.72, -9.14),
    "RO": (44.43, 26.10),
    "SE": (59.33, 18.07),
    "SI": (46.06, 14.51),
    "SK": (48.15, 17.11),
}

_EARTH_RADIUS_KM = 6371.0


def known_countries() -> frozenset[str]:
    """The countries the distance table covers."""
    return frozenset(_POINTS)


def distance_km(origin: str, destination: str) -> int | None:
    """Kilometres between two countries (0 within one); None if either is not in the table."""
    if origin == destination:
        return 0
    a, b = _POINTS.get(origin), _POINTS.get(destination)
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return round(2 * _EARTH_RADIUS_KM * math.asin(math.sqrt(h)))
