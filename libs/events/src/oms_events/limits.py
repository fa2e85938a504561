"""Bounds on every input the OMS accepts, defined once for HTTP and Kafka alike.

The contracts (``oms_events.contracts``, ``oms_events.money``, the ``Envelope``) enforce
these numbers and patterns, and :func:`parse_json` is the one JSON parser for untrusted
bytes, so a request body and a Kafka message are held to the same rules. They exist
because unbounded input is an attack: a quantity of ``10**309`` once wedged the system.
Every bound is far beyond what a shop legitimately sends and small enough that no value
overflows a PostgreSQL ``integer``, a JSON reader's 64-bit integers or a Kafka message.

Changing a number here tightens or loosens every contract that uses it; see
``libs/events/README.md`` for how a tightening is reviewed and recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

# -- numbers -----------------------------------------------------------------------------

MAX_QUANTITY = 100_000
"""Units on one order line (and on any part of one, such as an allocation)."""

MAX_LINES = 500
"""Lines per order, and entries per list that follows an order's lines or SKUs."""

MAX_PAYMENTS = 20
"""Payments per order (e.g. gift cards plus a card)."""

MAX_AMOUNT_INTEGER_DIGITS = 12
"""Digits before the decimal point of a money amount: below one trillion."""

MAX_AMOUNT_DECIMALS = 3
"""Digits after the decimal point that any currency has (ISO 4217: BHD, KWD, ...)."""

MAX_STOCK_LEVEL = 1_000_000_000
"""Units of one SKU in one warehouse, or moved or shipped at once; fits PostgreSQL integer."""

MAX_ALLOCATIONS = 10 * MAX_LINES
"""Allocations per reservation: every line may be split over up to ten warehouses."""

MAX_REJECTION_REASONS = 4 * (MAX_LINES + MAX_PAYMENTS)
"""Reasons in one ``OrderRejected``: room for several problems per line and per payment."""

MAX_GRAMS = 100_000_000
"""A weight: 100 tonnes, more than any parcel or article weighs."""

MAX_MILLIMETRES = 100_000
"""A length: 100 metres, longer than any box."""

MAX_WAREHOUSE_PRIORITY = 1_000_000
"""The largest warehouse priority number (1 is the most preferred)."""

MAX_PROMOTION_SKUS = 500
"""SKUs one promotion covers."""

MAX_UPLIFT = 1000
"""The largest expected sales multiplier of a promotion."""

MAX_UPLIFT_DECIMALS = 6
"""Decimal places of a promotion's sales multiplier."""

MAX_PG_INTEGER = 2**31 - 1
"""The largest PostgreSQL ``integer``: bounds envelope versions and stream versions."""

MAX_BODY_BYTES = 1_048_576
"""An HTTP request body or a Kafka message value: 1 MiB (Kafka's default message limit)."""

MAX_JSON_DEPTH = 32
"""Nesting of arrays and objects in one JSON document; the deepest envelope needs 5."""

# -- text --------------------------------------------------------------------------------
# Lengths count characters (code points), as JSON Schema's maxLength does, not bytes.

MAX_ID_LENGTH = 100
MAX_SKU_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 2000
MAX_EMAIL_LENGTH = 254
"""RFC 5321's limit for a forward path."""
MAX_POSTAL_CODE_LENGTH = 20
MAX_PHONE_LENGTH = 40

SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
"""Text without control characters: no C0 (``\\x00``-``\\x1f``), DEL or C1 (``\\x80``-``\\x9f``).

PostgreSQL ``text`` and ``jsonb`` cannot store NUL, and no identifier, name or address has
a reason to hold a line break, an escape sequence or a terminal control code. Written with
explicit ranges, not ``\\p{Cc}``, so that Python ``re``, Rust ``regex`` (pydantic-core) and
ECMA-262 (JSON Schema validators) all read it the same way. Match it whole: with Python's
``re.search`` (not ``fullmatch``), ``$`` also matches before a final line feed.
"""

MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+$"
"""Free text: like :data:`SINGLE_LINE_PATTERN` but tab, line feed and carriage return pass.

Reasons, comments and provider messages are written by people and may span lines.
"""

# -- JSON --------------------------------------------------------------------------------

# orjson reads integer literals beyond the 64-bit range as floats (losing digits), so an
# integer and a float of that magnitude cannot be told apart once parsed: both are refused.
# No OMS field takes a number anywhere near it.
_INT64_MIN = -(2**63)
_INT64_LIMIT = 2**63
_OUT_OF_RANGE = "out of range: a number is outside the signed 64-bit range"
_TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} arrays and objects"


Location = tuple[str | int, ...]
"""Where a value is in a document, as pydantic's ``loc``: ``("lines", 0, "quantity")``."""


class JsonRejected(ValueError):
    """Untrusted bytes are not JSON the OMS accepts; ``reason`` says why, for people.

    The reason reads after "the body is" / "the message is" (``"not valid JSON: ..."``,
    ``"nested deeper than 32 arrays and objects"``) and never quotes the input, which may
    be personal data or an attack payload. ``location`` is where the refused value is, when
    that can be told (for a number out of range); ``None`` otherwise.
    """

    def __init__(self, reason: str, location: Location | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.location = location


def parse_json(raw: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """Parse an untrusted JSON document: an HTTP body or a Kafka message value.

    Raises :class:`JsonRejected`, and nothing else, whatever ``raw`` holds, when it is
    larger than ``max_bytes`` (characters, for a ``str``), is not UTF-8 (a ``str`` with
    lone surrogates counts as not UTF-8), is not JSON (including a byte order mark and
    ``NaN``/``Infinity``), nests arrays and objects deeper than :data:`MAX_JSON_DEPTH`, or
    holds a number outside the signed 64-bit range (a float that would overflow to
    infinity is one). Floats too small to represent read as ``0.0``; no field takes floats.
    Duplicate object keys keep the last value, as every mainstream parser does.
    """
    if not isinstance(raw, bytes | str):
        raise JsonRejected(f"of type {type(raw).__name__}, not bytes or str")
    if len(raw) > max_bytes:
        raise JsonRejected(f"larger than {max_bytes} bytes")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = _why_unparsable(raw, exc)
        location = _locate_overflow(raw) if reason == _OUT_OF_RANGE else None
        raise JsonRejected(reason, location) from None
    try:
        _check_tree(value, numbers=True)
    except JsonRejected as exc:
        if exc.reason == _OUT_OF_RANGE:
            raise JsonRejected(exc.reason, _location_of(value, _out_of_range)) from None
        raise
    return value


def check_depth(value: Any) -> None:
    """Raise :class:`JsonRejected` if ``value`` nests deeper than :data:`MAX_JSON_DEPTH`.

    For values that did not come through :func:`parse_json` (built in Python, or read by
    another parser). Depth counts dicts, lists and tuples: a scalar is 0, ``{}`` is 1,
    ``{"a": [1]}`` is 2. Iterative, so any depth (even a cycle) is reported, never a
    ``RecursionError``.
    """
    _check_tree(value, numbers=False)


def _why_unparsable(raw: bytes | str, exc: orjson.JSONDecodeError) -> str:
    # orjson's message for bad UTF-8 talks about surrogates; say what is wrong instead.
    if isinstance(raw, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return f"not UTF-8: {bad.reason} at byte {bad.start}"
    else:
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as bad:
            return f"not UTF-8: {bad.reason} at character {bad.start}"
    # orjson stops at its own limits (1024 levels, doubles); give the reasons our checks give,
    # so the same input is refused the same way however far beyond a limit it goes.
    if exc.msg.startswith("depth limit exceeded"):
        return _TOO_DEEP
    if exc.msg.startswith("number is infinity"):
        return _OUT_OF_RANGE
    return f"not valid JSON: {exc}"


def _check_tree(value: Any, *, numbers: bool) -> None:
    """Depth and (for parsed JSON) number range of ``value``, without recursion."""
    if not isinstance(value, dict | list | tuple):
        if numbers:
            _check_number(value)
        return
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        items = container.values() if isinstance(container, dict) else container
        for item in items:
            # Exact type tests, strings first: this loop sees every value of every message.
            kind = type(item)
            if kind is str:
                continue
            if kind is dict or kind is list or isinstance(item, dict | list | tuple):
                if depth >= MAX_JSON_DEPTH:
                    raise JsonRejected(_TOO_DEEP)
                pending.append((item, depth + 1))
            elif numbers:
                _check_number(item)


def _check_number(value: Any) -> None:
    if _out_of_range(value):
        raise JsonRejected(_OUT_OF_RANGE)


def _out_of_range(value: Any) -> bool:
    kind = type(value)
    # The comparisons are False for NaN, so it is refused along with the infinities.
    return (kind is int and not _INT64_MIN <= value < _INT64_LIMIT) or (
        kind is float and not -_INT64_LIMIT < value < _INT64_LIMIT
    )


# -- finding a refused number (only once a document is refused) ----------------------------


def _location_of(value: Any, refused: Callable[[Any], bool]) -> Location | None:
    """The location of the first value in document order that ``refused``, iteratively."""
    pending: list[tuple[Location, Any]] = [((), value)]
    while pending:
        location, node = pending.pop()
        if isinstance(node, dict):
            children: list[tuple[str | int, Any]] = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            if refused(node):
                return location
            continue
        pending.extend(((*location, key), child) for key, child in reversed(children))
    return None


_OVERFLOW = object()


def _locate_overflow(raw: bytes | str) -> Location | None:
    """Where the number is that orjson could not read as a double (``1e309``, ``10**309``).

    orjson stops without a value, so the standard library reads the document once more
    with every number checked as text (``float`` reads any length without evaluating a
    huge integer); this runs only for refused documents, which are at most ``max_bytes``.
    """

    def number(text: str) -> Any:
        return _OVERFLOW if _out_of_range(float(text)) else 0

    try:
        tree = json.loads(raw, parse_int=number, parse_float=number)
    except (ValueError, RecursionError):  # nested too deep for it, or not JSON further on
        return None
    return _location_of(tree, lambda v: v is _OVERFLOW)
