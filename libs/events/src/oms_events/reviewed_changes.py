"""The record of deliberate, reviewed tightenings of committed contract schemas.

The compatibility check (``oms_events.compat``) reports every tightened constraint, because
a stored or in-flight event that the new bound refuses could no longer be read. Some
tightenings are decisions, not accidents: bounds against hostile input that no legitimate
producer ever came near. Each such decision is recorded here, with its reason; the check
and ``python -m oms_events.schemas export`` accept exactly the listed value changes and
keep refusing everything else (a removed field, a changed type, any other bound).

Values are written out rather than taken from ``oms_events.limits``: this is a record of
what was reviewed, and must not move when a limit changes later. Once the schemas are
exported the committed files are the new baseline and an entry matches nothing any more;
it stays as the history of why the baseline moved.
"""

from __future__ import annotations

from oms_events.compat import ReviewedChange, Tightening

_SINGLE_LINE = r"^[^\x00-\x1f\x7f-\x9f]+$"
_MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+$"
_EMAIL_PART = r"[^@\s\x00-\x1f\x7f-\x9f]+"

REVIEWED_CHANGES: tuple[ReviewedChange, ...] = (
    ReviewedChange(
        id="2026-12-input-bounds",
        reason=(
            "Bounds on every input, shared by HTTP and Kafka (oms_events.limits): a "
            "quantity of 10**309 once wedged the system, and strings with NUL cannot be "
            "stored in PostgreSQL at all. Every bound is far beyond what the sales "
            "platforms, the services and the demo send (per line 100000 units, 500 lines, "
            "20 payments, amounts below 10**12 with at most 3 decimals): the demo's orders, "
            "every example and every test event of the services validate unchanged. "
            "Per-currency decimal places are a validator, not a schema change."
        ),
        tightenings=(
            # Quantity on an order line (and allocations of one).
            Tightening("maximum", None, 100_000),
            # Stock levels, stock movements and per-SKU sums of lines.
            Tightening("maximum", None, 1_000_000_000),
            Tightening("minimum", None, -1_000_000_000),
            # Weights in grams, box sizes in millimetres, warehouse priorities.
            Tightening("maximum", None, 100_000_000),
            Tightening("maximum", None, 1_000_000),
            # Lines (of any kind), payments, allocations, rejection reasons per message.
            Tightening("maxItems", None, 500),
            Tightening("maxItems", None, 20),
            Tightening("maxItems", None, 5000),
            Tightening("maxItems", None, 2080),
            # No control characters in any string.
            Tightening("pattern", None, _SINGLE_LINE),
            Tightening("pattern", None, _MULTI_LINE),
            Tightening(
                "pattern",
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$",
            ),
            # Amounts: at most 12 digits before the point and 3 after it.
            Tightening("pattern", r"^-?[0-9]+(\.[0-9]+)?$", r"^-?[0-9]{1,12}(\.[0-9]{1,3})?$"),
            # Promotion uplift: at most 1000 (the API's bound), at most 6 decimals.
            Tightening("pattern", r"^[0-9]+(\.[0-9]+)?$", r"^[0-9]{1,4}(\.[0-9]{1,6})?$"),
        ),
    ),
)
"""Every reviewed tightening, oldest first."""
