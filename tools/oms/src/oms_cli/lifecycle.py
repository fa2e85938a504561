"""The rest of `oms demo`: follow confirmed orders to the customer's door and back.

Once the demo's orders are confirmed, the warehouse and carrier simulators (started by
`oms up`) pick, pack, dispatch and deliver them. This module waits for that (bounded),
prints each order's life (confirmed → picked → packed (box) → dispatched (carrier,
tracking, cost) → delivered, with short picks, failed attempts and split orders marked),
starts a few returns through the returns service, posts feedback whose rating depends on
what happened, and prints a summary table. Everything goes through the services' public
HTTP, as a storefront and customer service would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from oms_cli import tokens
from oms_cli.config import StackConfig
from oms_platform.auth import Scope

Json = dict[str, Any]
ENDED = {"delivered", "partially_returned", "returned", "cancelled", "rejected"}
RETURN_PLANS = (
    # reason, comment, condition the warehouse finds, units (None: the whole line)
    ("damaged", "it arrived broken", "damaged", 1),
    ("not_as_described", "smaller than in the pictures", "resellable", None),
    ("no_longer_needed", "bought a second one by mistake", "resellable", 1),
)
SIZED = ("TSHIRT", "SNEAKER")
"""SKUs (by prefix) that come in sizes: returned as ``wrong_size`` instead."""


@dataclass
class Parcel:
    shipment_id: str
    warehouse: str
    carrier: str
    service: str
    tracking: str
    cost: str
    box: str = "?"
    missing: list[Json] = field(default_factory=list)
    failed_attempts: int = 0
    dispatched_at: datetime | None = None
    delivered_at: datetime | None = None
    status: str = "dispatched"


@dataclass
class Life:
    """What happened to one order after its confirmation."""

    ref: str
    order_id: str
    status: str = "confirmed"
    confirmed_at: datetime | None = None
    parcels: list[Parcel] = field(default_factory=list)
    delivered_lines: list[Json] = field(default_factory=list)
    ret: str = ""
    returned_damaged: bool = False
    rating: int | None = None
    feedback: str = ""

    @property
    def split(self) -> bool:
        return len({p.warehouse for p in self.parcels}) > 1

    @property
    def short(self) -> list[Json]:
        return [m for p in self.parcels for m in p.missing]

    @property
    def failed_attempts(self) -> int:
        return sum(p.failed_attempts for p in self.parcels)

    @property
    def delivered_in_s(self) -> float | None:
        ends = [p.delivered_at for p in self.parcels if p.delivered_at]
        if not ends or self.confirmed_at is None or len(ends) < len(self.parcels):
            return None
        return (max(ends) - self.confirmed_at).total_seconds()


def rating_for(life: Life) -> tuple[int, str]:
    """The customer's rating: 5, less for what went wrong (never below 1), and why."""
    rating, why = 5, list[str]()
    if life.short:
        rating, why = rating - 2, [*why, "an item was missing"]
    if life.split:
        rating, why = rating - 1, [*why, "came in two parcels"]
    if life.failed_attempts:
        rating, why = rating - 1, [*why, "delivered late, after a missed attempt"]
    if life.returned_damaged:
        rating, why = rating - 2, [*why, "arrived damaged"]
    comment = "; ".join(why) if why else "quick and complete, thank you"
    return max(1, rating), comment[:1].upper() + comment[1:]


def _at(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


WAREHOUSE_STAFF = "staff:demo-returns-desk"


class Lifecycle:
    def __init__(self, config: StackConfig, client: httpx.AsyncClient, console: Console) -> None:
        self.url = {s: config.service_url(s) for s in ("order", "fulfilment", "shipping")}
        self.returns_url = config.service_url("returns")
        self.client = client
        self.console = console
        self.warehouse = tokens.headers(config, (Scope.WAREHOUSE,), subject=WAREHOUSE_STAFF)
        """The returns desk's token (receipts, fulfilments); the client's is the shop's."""

    async def _get(self, url: str, headers: dict[str, str] | None = None) -> Json | None:
        try:
            resp = await self.client.get(url, headers=headers)
        except httpx.HTTPError:
            return None
        body = resp.json() if resp.status_code == 200 else None
        return body if isinstance(body, dict) else None

    async def follow(self, orders: list[tuple[str, str]], timeout_s: float) -> list[Life]:
        """Wait until every order has ended (delivered, cancelled, every parcel ended) or
        ``timeout_s`` passed; print each order's life as it ends."""
        lives = [Life(ref, oid) for ref, oid in orders]
        pending = list(lives)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        self.console.print(
            f"\n[bold]following {len(lives)} confirmed orders to the customer[/] "
            f"(warehouse and carrier simulators; at most {timeout_s:.0f}s)"
        )
        while pending:
            still = []
            for life in pending:
                if await self.refresh(life):
                    self.print_life(life)
                else:
                    still.append(life)
            pending = still
            if not pending or loop.time() >= deadline:
                break
            await asyncio.sleep(1.0)
        if pending:
            self.console.print(
                f"[bold yellow]timed out after {timeout_s:.0f}s:[/] {len(pending)} order(s) not "
                f"delivered yet ({', '.join(sorted({lf.status for lf in pending}))}). Are the "
                "simulators running (`oms status`)? Their logs are in .oms/services/."
            )
            for life in pending:
                self.console.print(f"[yellow]… {life.ref} {life.order_id} still {life.status}[/]")
        return lives

    async def refresh(self, life: Life) -> bool:
        """Read the order, its shipments and fulfilments; True once the order has ended."""
        doc = await self._get(f"{self.url['order']}/v1/orders/{life.order_id}")
        if doc is None:
            return False
        life.status = str(doc.get("status"))
        for entry in doc.get("timeline") or []:
            if entry.get("type") == "OrderConfirmed":
                life.confirmed_at = _at(entry.get("occurred_at"))
        shipments = doc.get("shipments") or []
        ended = bool(shipments) and all(s.get("delivered") or s.get("failed") for s in shipments)
        if life.status not in ENDED and not ended:
            return False
        await self._parcels(life)
        life.delivered_lines = [
            ln for s in shipments if s.get("delivered") for ln in s.get("lines") or []
        ]
        return True

    async def _parcels(self, life: Life) -> None:
        found = await self._get(f"{self.url['shipping']}/v1/orders/{life.order_id}/shipments")
        life.parcels = []
        fulfilments: dict[str, Json] = {}
        for s in (found or {}).get("shipments") or []:
            fid = str(s.get("fulfilment_id"))
            # A fulfilment's short pick shows on its first parcel only.
            first_parcel = fid not in fulfilments
            if first_parcel:
                url = f"{self.url['fulfilment']}/v1/fulfilments/{fid}"
                fulfilments[fid] = await self._get(url, self.warehouse) or {}
            ful = fulfilments[fid]
            by_parcel = {p.get("parcel_id"): p for p in ful.get("parcels") or []}
            cost = s.get("shipping_cost") or {}
            timeline = s.get("timeline") or []
            life.parcels.append(
                Parcel(
                    shipment_id=str(s["shipment_id"]),
                    warehouse=str(s.get("warehouse_id")),
                    carrier=str(s.get("carrier")),
                    service=str(s.get("service")),
                    tracking=str(s.get("tracking_number")),
                    cost=f"€{cost.get('amount', '?')}",
                    box=str(by_parcel.get(s["shipment_id"], {}).get("box", "?")),
                    missing=list(ful.get("missing") or []) if first_parcel else [],
                    failed_attempts=sum(t["type"] == "ShipmentDeliveryFailed" for t in timeline),
                    dispatched_at=_at(s.get("dispatched_at")),
                    delivered_at=_recorded(timeline),
                    status=str(s.get("status")),
                )
            )

    def print_life(self, life: Life) -> None:
        if life.status in {"cancelled", "rejected"} and not life.parcels:
            self.console.print(f"[red]{life.status:<10}[/] {life.ref}  {life.order_id}")
            return
        marks = []
        if life.split:
            where = " + ".join(sorted({p.warehouse for p in life.parcels}))
            marks.append(f"[magenta]split over {where}[/]")
        if life.short:
            marks.append("[yellow]short pick[/]")
        shown = "  ".join(marks)
        self.console.print(f"[green]{life.status:<10}[/] {life.ref}  {life.order_id}  {shown}")
        for p in life.parcels:
            steps = ["confirmed"]
            short = ", ".join(f"{m['quantity']} x {m['sku']} missing" for m in p.missing)
            steps.append(f"picked at {p.warehouse}" + (f" [yellow]({short})[/]" if short else ""))
            steps.append(f"packed ({p.box})")
            steps.append(
                f"dispatched ({p.carrier} {p.service}, {p.tracking}, {p.cost}"
                f"{_since(life.confirmed_at, p.dispatched_at)})"
            )
            if p.failed_attempts:
                steps.append(f"[yellow]{p.failed_attempts} failed attempt(s)[/]")
            colour = "green" if p.status == "delivered" else "red"
            since = _since(life.confirmed_at, p.delivered_at, prefix=" (")
            steps.append(f"[{colour}]{p.status}[/]{since}")
            self.console.print("    " + " → ".join(steps))

    # -- returns and feedback ---------------------------------------------------------

    async def start_returns(self, lives: list[Life], count: int, run: str) -> None:
        """A few returns of delivered orders: requested, then received with a condition."""
        candidates = [lf for lf in lives if lf.status == "delivered" and lf.delivered_lines]
        if count and not candidates:
            self.console.print("[yellow]no delivered order to return[/]")
        for life, plan in zip(candidates, RETURN_PLANS[:count], strict=False):
            await self._return(life, plan, run)

    async def _return(self, life: Life, plan: tuple[str, str, str, int | None], run: str) -> None:
        reason, comment, condition, units = plan
        line = life.delivered_lines[0]
        if reason == "not_as_described" and str(line["sku"]).startswith(SIZED):
            reason, comment = "wrong_size", "too small, I need a size up"
        quantity = int(line["quantity"]) if units is None else min(units, int(line["quantity"]))
        body = {
            "reason": reason,
            "lines": [{"sku": line["sku"], "quantity": quantity}],
            "comment": comment,
        }
        headers = {"Idempotency-Key": f"demo-{run}-return-{life.order_id}"}
        url = f"{self.returns_url}/v1/orders/{life.order_id}/returns"
        resp = None
        for _ in range(20):  # returns learns of the delivery from the shipping topic
            try:
                resp = await self.client.post(url, json=body, headers=headers)
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code in (200, 201):
                break
            code = _code(resp)
            if resp is not None and code not in {"order_not_delivered", "order_not_found", ""}:
                break
            await asyncio.sleep(1.0)
        if resp is None or resp.status_code not in (200, 201):
            why = "unreachable" if resp is None else f"{resp.status_code} {_code(resp)}"
            life.ret = f"refused ({why})"
            self.console.print(f"[yellow]return of {life.ref} not accepted: {why}[/]")
            return
        rma = str(resp.json().get("rma"))
        received = {"lines": [{"sku": line["sku"], "quantity": quantity, "condition": condition}]}
        got = await self.client.post(
            f"{self.returns_url}/v1/returns/{rma}/received", json=received, headers=self.warehouse
        )
        resolution = (got.json() if got.status_code == 200 else {}).get("resolution") or {}
        refund = (resolution.get("refund_amount") or {}).get("amount", "?")
        life.ret = f"{quantity} {condition} ({reason})"
        life.status = str(resolution.get("order_status") or life.status)
        life.returned_damaged = condition == "damaged"
        self.console.print(
            f"return  {rma}  {life.ref}: {quantity} x {line['sku']} ({reason}: {comment!r}) → "
            f"received {condition} → refund €{refund}"
            + (f"; order {resolution['order_status']}" if resolution.get("order_status") else "")
        )

    async def give_feedback(self, lives: list[Life]) -> None:
        """Each delivered order's customer rates it (404/405: an order service without it)."""
        for life in lives:
            if not life.parcels or life.status in {"cancelled", "rejected"}:
                continue
            if not any(p.status == "delivered" for p in life.parcels):
                continue
            rating, comment = rating_for(life)
            url = f"{self.url['order']}/v1/orders/{life.order_id}/feedback"
            try:
                resp = await self.client.post(url, json={"rating": rating, "comment": comment})
            except httpx.HTTPError as err:
                life.feedback = f"unreachable: {err}"
                continue
            code = _code(resp)
            if resp.status_code in (404, 405) and code != "order_not_found":
                self.console.print(
                    "[yellow]this order service takes no feedback yet "
                    f"(POST /v1/orders/{{id}}/feedback answered {resp.status_code})[/]"
                )
                return
            if resp.status_code == 201:
                life.rating, life.feedback = rating, comment
            elif code == "feedback_exists":
                life.rating, life.feedback = rating, "given before"
            else:
                life.feedback = f"{resp.status_code} {code}"

    def summary(self, lives: list[Life]) -> None:
        table = Table(title="the orders' lives")
        for column in ("order", "status", "from", "parcels", "carrier", "short", "attempts"):
            table.add_column(column)
        for column in ("delivered in", "return", "rating"):
            table.add_column(column)
        for life in lives:
            took = life.delivered_in_s
            short = ", ".join(f"{m['quantity']} x {m['sku']}" for m in life.short)
            table.add_row(
                life.ref,
                life.status,
                " + ".join(sorted({p.warehouse for p in life.parcels})),
                str(len(life.parcels)),
                ", ".join(sorted({p.carrier for p in life.parcels})),
                short,
                str(life.failed_attempts or ""),
                f"{took:.0f}s" if took is not None else "",
                life.ret,
                f"{life.rating}/5" if life.rating else "",
            )
        # Piped (make run | tee), rich assumes 80 columns: too narrow for ten columns.
        out = self.console
        if not out.is_terminal:
            out = Console(file=out.file, width=150, highlight=False, soft_wrap=True)
        out.print(table)
        durations = sorted(t for lf in lives if (t := lf.delivered_in_s) is not None)
        if durations:
            self.console.print(
                f"confirmed → delivered: median {durations[len(durations) // 2]:.0f}s, "
                f"slowest {durations[-1]:.0f}s over {len(durations)} orders"
            )
        ratings = [lf.rating for lf in lives if lf.rating]
        if ratings:
            mean = Decimal(sum(ratings)) / len(ratings)
            self.console.print(f"customer rating: {mean:.1f} / 5 over {len(ratings)} orders")


def _code(resp: httpx.Response | None) -> str:
    if resp is None:
        return ""
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def _recorded(timeline: list[Json]) -> datetime | None:
    """When shipping recorded the delivery (the carrier's own time may be earlier)."""
    for entry in timeline:
        if entry.get("type") == "ShipmentDelivered":
            return _at(entry.get("recorded_at"))
    return None


def _since(start: datetime | None, end: datetime | None, *, prefix: str = ", ") -> str:
    """``, +12s`` (or `` (+12s)`` with ``prefix=" ("``) after the confirmation."""
    if start is None or end is None:
        return ""
    close = ")" if prefix == " (" else ""
    return f"{prefix}+{(end - start).total_seconds():.0f}s{close}"
