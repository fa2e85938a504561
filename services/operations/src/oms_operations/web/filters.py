"""The dashboard's filter form, read from the query string by hand so that a bad value is
a 422 *page* naming it (the JSON API answers a problem body instead). Same bounds as the
API: ISO dates from ``FIRST_DATE`` to ``LAST_DATE``, ``to`` inclusive, not before ``from``
and at most ``MAX_SPAN_DAYS`` after it; warehouse and carrier codes. An empty field means
no filter (what an empty form sends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from oms_operations.api import CODE, FIRST_DATE, LAST_DATE, MAX_SPAN_DAYS
from oms_operations.queries import Filters
from oms_platform.refusal import FieldError

FIELDS = ("from", "to", "warehouse", "carrier")
MAX_VALUE_LENGTH = 64
_CODE = re.compile(CODE)


@dataclass(frozen=True)
class FilterForm:
    """What the form holds (to show it again) and what it means, or why it is wrong."""

    values: dict[str, str]
    filters: Filters | None
    errors: tuple[FieldError, ...] = ()

    def query(self) -> str:
        """The form as a query string (the live fragment asks with the same filters)."""
        return urlencode({k: v for k, v in self.values.items() if v})


def _date(name: str, value: str, errors: list[FieldError]) -> date | None:
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        found = date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(f"query:{name}", "a date as YYYY-MM-DD", "date_parsing"))
        return None
    if not FIRST_DATE <= found <= LAST_DATE:
        reason = f"a date from {FIRST_DATE} to {LAST_DATE}"
        errors.append(FieldError(f"query:{name}", reason, "invalid_range"))
        return None
    return found


def _code(name: str, value: str, errors: list[FieldError]) -> str | None:
    if not value:
        return None
    if not _CODE.fullmatch(value):
        reason = "a code of letters, digits, '_', '.' or '-' (at most 64)"
        errors.append(FieldError(f"query:{name}", reason, "string_pattern_mismatch"))
        return None
    return value


def read_filters(params: Mapping[str, str]) -> FilterForm:
    """The filters of ``params`` (other parameters are ignored)."""
    values = {name: params.get(name, "").strip() for name in FIELDS}
    errors: list[FieldError] = []
    for name, value in values.items():
        if len(value) > MAX_VALUE_LENGTH:
            errors.append(FieldError(f"query:{name}", "at most 64 characters", "too_long"))
    if errors:
        shown = {name: value[:MAX_VALUE_LENGTH] for name, value in values.items()}
        return FilterForm(shown, None, tuple(errors))
    start = _date("from", values["from"], errors)
    end = _date("to", values["to"], errors)
    warehouse = _code("warehouse", values["warehouse"], errors)
    carrier = _code("carrier", values["carrier"], errors)
    if start and end:
        if end < start:
            errors.append(FieldError("query:to", "'to' is before 'from'", "invalid_range"))
        elif (end - start).days > MAX_SPAN_DAYS:
            reason = f"at most {MAX_SPAN_DAYS} days from 'from'"
            errors.append(FieldError("query:to", reason, "invalid_range"))
    if errors:
        return FilterForm(values, None, tuple(errors))
    return FilterForm(values, Filters(start, end, warehouse, carrier))
