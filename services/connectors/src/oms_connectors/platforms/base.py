"""The adapter interface every platform implements, and the two ways a call can fail.

An adapter carries out one action on the platform (ship with tracking, mark delivered,
cancel, refund) and must be idempotent under its key: the delivery loop calls it again
after a timeout, a crash or a lost answer, and a platform's REST API has no idempotency
keys of its own for these calls. So every adapter first looks at the platform's record for
the action's mark (a shipment carrying the tracking number, a refund or comment carrying
the key) and only acts when it is not there.

:class:`PlatformUnavailable` (timeouts, connection errors, 5xx, 429, 401/403: what time or
an operator fixes) is retried with back-off for as long as it takes; :class:`PlatformRefused`
(any other 4xx: the platform will never accept this call as it is) ends the action as
``failed`` with the platform's reason, for the shop to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from oms_connectors.tables import LinkedOrder


class PlatformUnavailable(Exception):
    """The call may succeed later: retry."""


class PlatformRefused(Exception):
    """The platform refused the call for good; ``reason`` is its own words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the platform must be told: ``kind`` ship | deliver | cancel | refund."""

    key: str
    kind: str
    body: dict[str, Any]


class PlatformAdapter(Protocol):
    async def ship(self, order: LinkedOrder, action: Action) -> str:
        """Record the shipment with its tracking; returns the platform's id of it."""

    async def deliver(self, order: LinkedOrder, action: Action) -> str: ...

    async def cancel(self, order: LinkedOrder, action: Action) -> str: ...

    async def refund(self, order: LinkedOrder, action: Action) -> str: ...


def raise_for(resp: httpx.Response, what: str) -> None:
    """Sort a platform's answer into success, :class:`PlatformUnavailable` or
    :class:`PlatformRefused`."""
    if resp.is_success:
        return
    text = resp.text[:500]
    if resp.status_code >= 500 or resp.status_code in (401, 403, 408, 409, 423, 429):
        raise PlatformUnavailable(f"{what}: HTTP {resp.status_code} {text}")
    raise PlatformRefused(f"{what}: HTTP {resp.status_code} {text}")


async def call(client: httpx.AsyncClient, method: str, url: str, what: str, **kwargs: Any) -> Any:
    """One HTTP call to a platform; the JSON answer, or one of the two failures."""
    try:
        resp = await client.request(method, url, **kwargs)
    except httpx.HTTPError as err:
        raise PlatformUnavailable(f"{what}: {type(err).__name__}: {err}") from err
    raise_for(resp, what)
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError as err:
        raise PlatformUnavailable(f"{what}: the answer is not JSON") from err


def units_by_item(order: LinkedOrder, skus: list[dict[str, Any]]) -> dict[str, int]:
    """SKU quantities (``[{"sku", "quantity"}]``) -> platform item id -> units, spreading
    a SKU over the order's lines of that SKU in their order."""
    wanted: dict[str, int] = {}
    for entry in skus:
        wanted[entry["sku"]] = wanted.get(entry["sku"], 0) + int(entry["quantity"])
    per_item: dict[str, int] = {}
    for line in order.lines:
        left = wanted.get(line.sku, 0)
        if left <= 0:
            continue
        take = min(left, line.quantity)
        per_item[line.item_id] = per_item.get(line.item_id, 0) + take
        wanted[line.sku] = left - take
    missing = {sku: n for sku, n in wanted.items() if n > 0}
    if missing:
        raise PlatformRefused(f"units not on the platform order: {missing}")
    return per_item
