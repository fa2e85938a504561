"""The carrier simulator: collects what shipping dispatched and reports it to the door.

Each round it reads every carrier's manifest from shipping (``GET
/v1/carriers/{carrier}/manifest``: dispatched, not yet finished) and posts the scans that
have fallen due, signed like the carrier's real webhooks (``X-Carrier-Signature``: hex
HMAC-SHA256 of the raw body under the carrier's secret, read as shipping reads it). A
parcel's journey (:func:`journey`) follows from the seed and the shipment id alone, and
every scan has a fixed ``update_id`` and carrier time (the dispatch time plus its offset),
so a restarted simulator repeats them and shipping records each once.

Not simulated: collection rounds, hubs and real transit days (the transit is seconds),
weekends, customs, parcels damaged in transit, delivery to a neighbour or pick-up point.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from oms_cli.simulators.runtime import Remembered, backoff_s, call
from oms_cli.simulators.settings import CarrierSimSettings
from oms_shipping.domain.webhooks import SIGNATURE_HEADER, sign

PAGE = 500


@dataclass(frozen=True, slots=True)
class Scan:
    """One status update the carrier will report, ``after_s`` seconds after dispatch."""

    after_s: float
    status: str
    update_id: str
    location: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Odds:
    transit_s: float = 10.0
    delivery_failure_rate: float = 0.05
    lost_rate: float = 0.0
    return_to_sender_rate: float = 0.0

    @classmethod
    def of(cls, settings: CarrierSimSettings) -> Odds:
        return cls(
            settings.transit_s,
            settings.delivery_failure_rate,
            settings.lost_rate,
            settings.return_to_sender_rate,
        )


def journey(seed: int, carrier: str, shipment_id: str, odds: Odds) -> tuple[Scan, ...]:
    """The scans of one parcel, in order, deterministic in ``(seed, shipment_id)``:

    in transit at half the transit time; then lost (``lost_rate``) at the end, or a failed
    attempt at three quarters and returned to sender at the end
    (``return_to_sender_rate``), or else delivered at the end, after a failed attempt at
    three quarters with probability ``delivery_failure_rate``.
    """
    rng = random.Random(f"carrier:{seed}:{shipment_id}")
    end_roll, fail_roll = rng.random(), rng.random()
    tag = hashlib.sha256(f"{carrier}:{shipment_id}".encode()).hexdigest()[:16]
    t = odds.transit_s
    hub = f"{carrier.upper()} sorting centre"

    def scan(n: int, after_s: float, status: str, **extra: str) -> Scan:
        return Scan(after_s, status, f"sim-{tag}-{n}-{status}", **extra)

    scans = [scan(1, t / 2, "in_transit", location=hub)]
    failed = scan(2, t * 0.75, "delivery_failed", reason="recipient not at home")
    if end_roll < odds.lost_rate:
        scans.append(scan(3, t, "lost", reason="parcel missing at the depot", location=hub))
    elif end_roll < odds.lost_rate + odds.return_to_sender_rate:
        scans += [failed, scan(3, t, "returned_to_sender", reason="not collected in time")]
    else:
        if fail_roll < odds.delivery_failure_rate:
            scans.append(failed)
        scans.append(scan(3, t, "delivered", location="front door"))
    return tuple(scans)


def webhook_body(tracking_number: str, scan: Scan, at: datetime) -> bytes:
    """The carriers' common webhook format (see shipping's ``domain/webhooks.py``)."""
    body: dict[str, str] = {
        "update_id": scan.update_id,
        "tracking_number": tracking_number,
        "status": scan.status,
        "occurred_at": at.isoformat(),
    }
    if scan.location:
        body["location"] = scan.location
    if scan.reason:
        body["reason"] = scan.reason
    return json.dumps(body, separators=(",", ":")).encode()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CarrierSimulator:
    """Polls the carriers' manifests and posts the scans that are due (see the module)."""

    def __init__(
        self,
        settings: CarrierSimSettings,
        client: httpx.AsyncClient,
        secrets: Mapping[str, bytes],
        carriers: Sequence[str],
        log: Any,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.client = client
        self.secrets = dict(secrets)
        self.carriers = tuple(carriers)
        self.log = log
        self.clock = clock
        self.odds = Odds.of(settings)
        self.sent = Remembered()
        self.retry: dict[str, tuple[datetime, int]] = {}
        """Shipment id -> when to try again, failed attempts so far."""
        self.reported: dict[str, int] = {}

    async def tick(self) -> bool:
        ok = True
        for carrier in self.carriers:
            url = f"{self.settings.shipping_url}/v1/carriers/{carrier}/manifest"
            answer = await call(self.client, "GET", url, params={"limit": PAGE})
            if not answer.ok or not isinstance(answer.body, dict):
                self.log.warning("manifest_not_read", carrier=carrier, answer=answer.summary())
                ok = False
                continue
            for entry in answer.body.get("shipments") or []:
                await self._advance(carrier, entry, self.clock())
        return ok

    async def _advance(self, carrier: str, entry: dict[str, Any], now: datetime) -> None:
        shipment_id = str(entry["shipment_id"])
        waiting = self.retry.get(shipment_id)
        if waiting is not None and waiting[0] > now:
            return
        dispatched = datetime.fromisoformat(str(entry["dispatched_at"]))
        for scan in journey(self.settings.seed, carrier, shipment_id, self.odds):
            at = dispatched + timedelta(seconds=scan.after_s)
            if at > now:
                return
            key = f"{shipment_id}/{scan.update_id}"
            if key in self.sent:
                continue
            if not await self._post(carrier, entry, scan, at, now):
                return
            self.sent.add(key)

    async def _post(
        self, carrier: str, entry: dict[str, Any], scan: Scan, at: datetime, now: datetime
    ) -> bool:
        shipment_id = str(entry["shipment_id"])
        body = webhook_body(str(entry["tracking_number"]), scan, at)
        signature = sign(self.secrets.get(carrier, b""), body)
        answer = await call(
            self.client,
            "POST",
            f"{self.settings.shipping_url}/v1/carriers/{carrier}/events",
            content=body,
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
        )
        if answer.ok:
            self.retry.pop(shipment_id, None)
            recorded = answer.body.get("recorded", []) if isinstance(answer.body, dict) else []
            if recorded:
                self.reported[scan.status] = self.reported.get(scan.status, 0) + 1
            self.log.info(
                "scan_reported",
                carrier=carrier,
                shipment_id=shipment_id,
                order_id=entry.get("order_id"),
                status=scan.status,
                update_id=scan.update_id,
                recorded=recorded,
            )
            return True
        if answer.code == "shipment_closed":
            # Ended otherwise already (someone else reported its end): nothing more to say.
            self.log.info("scan_after_end", shipment_id=shipment_id, status=scan.status)
            return True
        attempts = (self.retry.get(shipment_id, (now, 0))[1]) + 1
        wait = backoff_s(attempts, initial_s=1.0, max_s=self.settings.max_backoff_s)
        self.retry[shipment_id] = (now + timedelta(seconds=wait), attempts)
        self.log.warning(
            "scan_not_recorded",
            carrier=carrier,
            shipment_id=shipment_id,
            status=scan.status,
            answer=answer.summary(),
            attempts=attempts,
            wait_s=wait,
        )
        return False
