"""Every route of every service checks a bearer token and its scopes.

Each service's app is built from its ``create_app`` with settings that point nowhere
(nothing connects at construction) and its routes are walked: a request without a token
answers 401, one with a valid token lacking every scope the route accepts answers 403,
both as the problem body with the reason; a route marked public is the short list below.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from oms_cli.config import SERVICES
from oms_cli.hosts import host_of
from oms_platform.auth import (
    ALL_SCOPES,
    Scope,
    TokenIssuer,
    api_routes,
    is_public,
    route_scopes,
)
from oms_platform.service import ServiceHost
from oms_platform.testing import auth
from oms_platform.testing.keys import service_keys

NOWHERE = SecretStr("postgresql://nobody:nothing@127.0.0.1:1/nowhere")
PUBLIC_ROUTES = {
    ("shipping", "POST /v1/carriers/{carrier}/events"),  # signed by the carrier (HMAC)
    ("operations", "GET /track/{token}"),  # the customer's signed tracking link
    ("operations", "GET /login"),
    ("operations", "POST /login"),
    ("operations", "POST /logout"),
    # signed by the shop's platform (Shopify HMAC, Adobe Commerce RSA)
    ("connectors", "POST /v1/webhooks/shopify/{shop}"),
    ("connectors", "POST /v1/webhooks/adobe-commerce/{shop}"),
    *((s, f"GET {p}") for s in SERVICES for p in ("/health", "/ready", "/metrics")),
}


def routes_of(host: ServiceHost) -> list[tuple[str, str, Any]]:
    found = []
    for route in api_routes(host.api):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path, route))
    assert len(found) > 3, "the service's own routes are found, not only the probes"
    return found


CASES = [
    pytest.param(service, method, path, id=f"{service} {method} {path}")
    for service in sorted(SERVICES)
    for method, path, route in routes_of(host_of(service))
    if not is_public(route)
]


def concrete(path: str) -> str:
    """A path of the template with every parameter filled by a plausible value."""
    return re.sub(r"\{[^}]+\}", "x-1", path)


async def call(
    host: ServiceHost, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=host.api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        return await client.request(method, concrete(path), json=body, headers=headers)


def is_page(resp: httpx.Response) -> bool:
    return resp.headers.get("content-type", "").startswith("text/html")


def test_the_public_routes_are_exactly_the_listed_ones() -> None:
    public = {
        (service, f"{method} {path}")
        for service in SERVICES
        for method, path, route in routes_of(host_of(service))
        if is_public(route)
    }
    assert public == PUBLIC_ROUTES


@pytest.mark.parametrize(("service", "method", "path"), CASES)
async def test_no_token_is_401_and_a_token_without_the_scope_is_403(
    service: str, method: str, path: str
) -> None:
    host = host_of(service)
    route = next(r for m, p, r in routes_of(host) if (m, p) == (method, path))
    accepted = route_scopes(route)
    assert accepted, "every non-public route names the scopes it accepts"

    missing = await call(host, method, path)
    assert missing.status_code == 401
    if is_page(missing):  # a web page answers with the sign-in page and the reason
        assert 'data-problem="unauthenticated"' in missing.text and "bearer token" in missing.text
    else:
        problem = missing.json()
        assert problem["code"] == "unauthenticated"
        assert "bearer token" in problem["detail"]
        assert missing.headers["www-authenticate"].startswith('Bearer realm="oms"')

    others = [s for s in ALL_SCOPES if s.value not in accepted]
    assert others, f"{method} {path} accepts every scope; no role should have that much"
    wrong = await call(host, method, path, auth.headers(*others))
    assert wrong.status_code == 403
    if is_page(wrong):
        assert 'data-problem="forbidden"' in wrong.text
        assert all(scope in wrong.text for scope in accepted)
    else:
        problem = wrong.json()
        assert problem["code"] == "forbidden"
        assert set(problem["required_scopes"]) == accepted
        assert "insufficient_scope" in wrong.headers["www-authenticate"]

    right = await call(host, method, path, auth.headers(Scope(sorted(accepted)[0])))
    assert right.status_code not in (401, 403), right.text


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_a_token_signed_by_another_key_or_expired_is_401(service: str) -> None:
    host = host_of(service)
    method, path = next((m, p) for m, p, r in routes_of(host) if not is_public(r))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = TokenIssuer(stranger.decode()).mint("staff:mallory", ALL_SCOPES)
    answer = await call(host, method, path, {"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert "signature" in answer.json()["detail"]

    expired = auth.ISSUER.mint("staff:late", ALL_SCOPES, ttl_s=60, now=1_000_000)
    answer = await call(host, method, path, {"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_every_service_refuses_to_start_without_the_public_key() -> None:
    app = importlib.import_module("oms_order.app")
    settings = importlib.import_module("oms_order.settings").OrderSettings
    keys = {**service_keys(), "auth_public_key": None}
    with pytest.raises(ValueError, match="AUTH_PUBLIC_KEY is not set"):
        app.create_app(settings(database_dsn=NOWHERE, **keys))
