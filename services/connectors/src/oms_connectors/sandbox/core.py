"""What both platform sandboxes share: errors answered as the platform words them, the clock,
id sequences, the log of API calls, injected faults and the webhook sender."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field

from oms_platform.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], datetime]
Json = dict[str, Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SandboxError(Exception):
    """Answered as ``status`` with ``body``: each platform words its errors its own way."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class Ids:
    """Increasing ids from ``start``: large like Shopify's, or from 1 like Magento's."""

    def __init__(self, start: int) -> None:
        self._next: Iterator[int] = count(start)

    def __call__(self) -> int:
        return next(self._next)


def dump(payload: Any) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8, key order kept."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- signatures ---------------------------------------------------------------------------


def shopify_hmac(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256 over the raw body with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def adobe_signed_message(body: bytes, message: Literal["base64_body", "raw_body"]) -> bytes:
    """What Adobe's signature covers: per its verification page, the body's base64 encoding."""
    return base64.b64encode(body) if message == "base64_body" else body


def adobe_signature(
    private_key_pem: str, body: bytes, message: Literal["base64_body", "raw_body"]
) -> str:
    """``x-adobe-commerce-webhook-signature``: base64 of RSA PKCS#1 v1.5 SHA-256."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the Adobe Commerce webhook key must be an RSA private key")
    signature = key.sign(adobe_signed_message(body, message), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


# --- API call log and faults --------------------------------------------------------------


class Fault(BaseModel):
    """``POST /sandbox/faults``: the next ``count`` matching API calls misbehave."""

    model_config = ConfigDict(extra="forbid")

    shop: str
    method: str = "POST"
    path_suffix: str = ""
    mode: Literal["fail_before", "fail_after", "delay"]
    status: int = Field(default=503, ge=100, le=599)
    count: int = Field(default=1, ge=1)
    delay_s: float = Field(default=1.0, ge=0, le=120)

    def matches(self, shop: str, method: str, path: str) -> bool:
        return (
            self.count > 0
            and self.shop == shop
            and self.method.upper() == method.upper()
            and path.endswith(self.path_suffix)
        )


@dataclass
class Call:
    """One Admin/REST call received, for tests' assertions."""

    shop: str
    method: str
    path: str
    query: str
    status: int
    fault: str | None
    at: str

    def as_json(self) -> Json:
        return {
            "shop": self.shop,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "fault": self.fault,
            "at": self.at,
        }


@dataclass
class Faults:
    """Armed faults and the call log; the middleware consults and fills them."""

    armed: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def take(self, shop: str, method: str, path: str) -> Fault | None:
        """The first armed fault for this call, one of its ``count`` used up."""
        for fault in self.armed:
            if fault.matches(shop, method, path):
                fault.count -= 1
                if fault.count == 0:
                    self.armed.remove(fault)
                return fault
        return None


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]

API_MARKERS = {"shopify": "admin", "adobe-commerce": "rest"}
FAULT_BODY = {
    "shopify": {"errors": "Service Unavailable"},
    "adobe-commerce": {"message": "Service Unavailable"},
}


def api_call_of(path: str) -> tuple[str, str] | None:
    """``(platform, shop)`` when ``path`` is a platform API call (not a sandbox-only one)."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] in API_MARKERS and parts[3] == API_MARKERS[parts[1]]:
        return parts[1], parts[2]
    return None


def store_code_free(path: str) -> str:
    """``/rest/default/V1/...`` and ``/rest/all/V1/...`` are ``/rest/V1/...`` for one store."""
    parts = path.split("/")
    if len(parts) > 5 and parts[1] == "adobe-commerce" and parts[3] == "rest" and parts[5] == "V1":
        return "/".join(parts[:4] + parts[5:])
    return path


class ApiMiddleware:
    """Logs every platform API call with the status answered, and plays armed faults.

    ``fail_after`` runs the endpoint (its effect happens) and throws its answer away: the
    caller sees only the fault's status, as when a response is lost on the way back.
    """

    def __init__(self, app: ASGIApp, faults: Faults, clock: Clock) -> None:
        self.app = app
        self.faults = faults
        self.clock = clock

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["path"] = store_code_free(scope["path"])
        api = api_call_of(scope["path"])
        if api is None:
            await self.app(scope, receive, send)
            return
        platform, shop = api
        method, path = scope["method"], scope["path"]
        fault = self.faults.take(shop, method, path)
        status = 0

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def swallowing_send(message: Any) -> None:
            return None

        if fault is not None and fault.mode == "delay":
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.mode == "fail_after":
            await self.app(scope, receive, swallowing_send)
        if fault is not None and fault.mode in ("fail_before", "fail_after"):
            await _answer(recording_send, fault.status, FAULT_BODY[platform])
        else:
            await self.app(scope, receive, recording_send)
        query = scope.get("query_string", b"").decode("latin-1")
        self.faults.calls.append(
            Call(
                shop,
                method,
                path,
                query,
                status,
                fault.mode if fault else None,
                self.clock().isoformat(timespec="milliseconds"),
            )
        )


async def _answer(send: Callable[[Any], Awaitable[None]], status: int, body: Json) -> None:
    raw = dump(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


# --- webhooks ----------------------------------------------------------------------------


@dataclass
class Delivery:
    """One webhook: fixed body and headers, sent again unchanged on every retry/redelivery."""

    shop: str
    url: str
    body: bytes
    headers: dict[str, str]
    key: str
    """What a redelivery is asked for by: the Shopify order id or the Adobe entity id."""
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Attempt:
    delivery_id: str
    shop: str
    url: str
    key: str
    attempt: int
    status: int | None
    error: str | None
    at: str
    headers: dict[str, str]

    def as_json(self) -> Json:
        return {
            "delivery_id": self.delivery_id,
            "shop": self.shop,
            "url": self.url,
            "key": self.key,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "at": self.at,
            "headers": self.headers,
        }


class WebhookSender:
    """Delivers webhooks in background tasks, retrying non-2xx answers and transport errors.

    The transport is injectable so that tests capture requests with ``httpx.MockTransport``.
    """

    def __init__(
        self,
        *,
        tries: int,
        backoff_s: float,
        timeout_s: float,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.tries = tries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.transport = transport
        self.attempts: list[Attempt] = []
        self.deliveries: dict[str, Delivery] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, delivery: Delivery) -> None:
        """Start delivering now, in the background; the caller answers its own client first."""
        self.deliveries[delivery.delivery_id] = delivery
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every delivery under way (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def latest(self, shop: str, key: str) -> Delivery | None:
        found = [d for d in self.deliveries.values() if d.shop == shop and d.key == key]
        return found[-1] if found else None

    async def _deliver(self, delivery: Delivery) -> None:
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout_s) as client:
            for attempt in range(1, self.tries + 1):
                status, error = await self._post(client, delivery)
                self.attempts.append(
                    Attempt(
                        delivery.delivery_id,
                        delivery.shop,
                        delivery.url,
                        delivery.key,
                        attempt,
                        status,
                        error,
                        self.clock().isoformat(timespec="milliseconds"),
                        dict(delivery.headers),
                    )
                )
                if status is not None and 200 <= status < 300:
                    log.info("webhook_delivered", shop=delivery.shop, attempt=attempt)
                    return
                if attempt < self.tries:
                    await asyncio.sleep(self.backoff_s)
        log.warning("webhook_gave_up", shop=delivery.shop, url=delivery.url, tries=self.tries)

    @staticmethod
    async def _post(client: httpx.AsyncClient, d: Delivery) -> tuple[int | None, str | None]:
        try:
            response = await client.post(d.url, content=d.body, headers=d.headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None
