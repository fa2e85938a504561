"""The console's actions, as calls to the services that own them (their public HTTP APIs).

Cancel goes to the order service, a return to the returns service, a goodwill refund to
the payments service. Each call carries the signed-in agent's own bearer token (so the
events record the agent as their actor, and the service checks the agent's scopes), the
form's idempotency key (a double submit does the work once) and a request id (the events'
cause). Whatever the service answers becomes an :class:`Outcome` for the page: accepted,
refused with the service's reason, or the service unreachable or not configured; never
an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


@dataclass(frozen=True)
class Outcome:
    """What became of an action, for the page."""

    action: str
    accepted: bool
    message: str
    status: int | None = None
    """The service's HTTP status, ``None`` when it was not reached."""

    @property
    def kind(self) -> str:
        if self.accepted:
            return "accepted"
        return "refused" if self.status is not None else "unavailable"


def _reason_of(resp: httpx.Response) -> str:
    """The problem body's reasons (``detail`` and each field's), else the status."""
    try:
        body = resp.json()
    except ValueError:
        return f"answered {resp.status_code}"
    if not isinstance(body, dict):
        return f"answered {resp.status_code}"
    parts = [str(body.get("detail") or body.get("title") or f"answered {resp.status_code}")]
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("reason"):
            parts.append(f"{error.get('field', '')}: {error['reason']}".lstrip(": "))
    return "; ".join(dict.fromkeys(parts))[:500]


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


class Services:
    """The three services the console calls; a ``None`` URL makes its actions unavailable.

    ``transport`` replaces the network (route tests give an ``httpx.MockTransport``).
    """

    def __init__(
        self,
        order_url: str | None,
        returns_url: str | None,
        payments_url: str | None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.urls = {"order": order_url, "returns": returns_url, "payments": payments_url}
        self.timeout_s = timeout_s
        self.transport = transport

    def available(self, service: str) -> bool:
        return bool(self.urls.get(service))

    async def _call(
        self, action: str, service: str, path: str, body: dict[str, Any], key: str, token: str
    ) -> Outcome | Answer:
        """POST ``body``: the service's 2xx :class:`Answer`, else the refused ``Outcome``."""
        base = self.urls.get(service)
        if not base:
            return Outcome(action, False, f"the {service} service is not configured")
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "X-Request-Id": f"console-{key}",
        }
        try:
            async with httpx.AsyncClient(
                base_url=base.rstrip("/"), timeout=self.timeout_s, transport=self.transport
            ) as client:
                resp = await client.post(path, json=body, headers=headers)
        except httpx.HTTPError as err:
            reason = type(err).__name__
            return Outcome(action, False, f"the {service} service is unreachable ({reason})")
        if resp.status_code >= 500:
            message = f"the {service} service failed ({resp.status_code}); try again later"
            return Outcome(action, False, message, resp.status_code)
        if resp.status_code >= 400:
            return Outcome(action, False, _reason_of(resp), resp.status_code)
        try:
            doc = resp.json()
        except ValueError:
            doc = {}
        return Answer(resp.status_code, doc if isinstance(doc, dict) else {})

    async def cancel(self, order_id: str, reason: str, key: str, token: str) -> Outcome:
        """Cancel the order (the order service; a confirmed order asks the warehouse)."""
        path = f"/v1/orders/{quote(order_id, safe='')}/cancel"
        answer = await self._call("cancel", "order", path, {"reason": reason}, key, token)
        if isinstance(answer, Outcome):
            return answer
        if answer.status == 202:
            return Outcome("cancel", True, "cancellation asked of the warehouse", answer.status)
        status = answer.body.get("status", "cancelled")
        return Outcome("cancel", True, f"the order is {status}", answer.status)

    async def start_return(
        self, order_id: str, sku: str, quantity: int, reason: str, key: str, token: str
    ) -> Outcome:
        """Ask the returns service to authorise a return of ``quantity`` of ``sku``."""
        path = f"/v1/orders/{quote(order_id, safe='')}/returns"
        body = {"lines": [{"sku": sku, "quantity": quantity}], "reason": reason}
        answer = await self._call("return", "returns", path, body, key, token)
        if isinstance(answer, Outcome):
            return answer
        rma = answer.body.get("return_id") or answer.body.get("rma") or "the return"
        status = answer.body.get("status", "authorized")
        return Outcome("return", True, f"{rma} is {status}", answer.status)

    async def refund(
        self, payment_id: str, amount: str, reason: str, key: str, token: str
    ) -> Outcome:
        """Ask the payments service for a goodwill refund of ``amount`` (the payment's
        currency) on ``payment_id``."""
        path = f"/v1/payments/{quote(payment_id, safe='')}/refunds"
        body = {"amount": amount, "reason": reason}
        answer = await self._call("refund", "payments", path, body, key, token)
        if isinstance(answer, Outcome):
            return answer
        money = answer.body.get("amount") or {}
        what = f"{money.get('amount', amount)} {money.get('currency', '')}".strip()
        refund_id = answer.body.get("refund_id", "the refund")
        return Outcome("refund", True, f"{refund_id} of {what} requested", answer.status)
