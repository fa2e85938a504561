"""Who may call what: bearer tokens with scopes, checked the same way by every service.

A token is a JWT signed with Ed25519 (``EdDSA``) by whoever holds the private key (``oms
token`` locally, an identity provider in production); the services hold only the public
key (``ServiceSettings.auth_public_key``). Its claims::

    {"iss": "oms", "aud": "oms", "sub": "staff:alice", "scope": "customer-service",
     "iat": 1764000000, "exp": 1764043200}

* ``sub`` is the caller, in the actor form events record (``staff:<user>``,
  ``platform:<channel>``, ``service:<name>``, ``customer:<id>``): the actor of every event a
  request causes is the verified subject, never something the request says of itself.
* ``scope`` is a space-separated list of :class:`Scope` values.

A route names the scopes that may call it with :func:`allow`; any one of them suffices.
Missing, malformed, expired or badly signed → 401 ``unauthenticated``; a valid token
without one of the route's scopes → 403 ``forbidden``; both are the platform's problem
body with the reason and a ``WWW-Authenticate`` header (RFC 6750).

Routes that must stay open are marked with :data:`PUBLIC` (the public tracking page,
signed carrier webhooks) or are the probes and metrics; :func:`unguarded_routes` finds any
other route without a check, and :class:`~oms_platform.service.ServiceHost` refuses to
start with one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)
from fastapi import Depends, FastAPI, Request, Security
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from oms_platform.refusal import FieldError

ISSUER = "oms"
AUDIENCE = "oms"
ALGORITHM = "EdDSA"
MAX_TOKEN_CHARS = 4096
LEEWAY_S = 30
MAX_TTL_S = 366 * 24 * 3600
SESSION_COOKIE = "oms_session"
"""The operations web pages' cookie holding the staff member's token (HttpOnly, Strict)."""

ACTOR_RE = re.compile(
    r"^(staff|platform|service|customer):[^\s:\x00-\x1f\x7f][^\s\x00-\x1f\x7f]{0,150}$"
)

PUBLIC: dict[str, Any] = {"x-oms-public": True}
"""``openapi_extra=PUBLIC`` marks a route that needs no token (say why in its docstring)."""

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})
"""The probes and metrics: open to the cluster (NetworkPolicies keep them inside)."""


class Scope(StrEnum):
    """What a token allows; each route accepts one or more."""

    PLATFORM = "platform"
    """A sales platform: submit, cancel and look up orders, start returns."""
    OPERATIONS = "operations"
    """Operations staff: dashboards, master data, stock, promotions, reconciliations."""
    CUSTOMER_SERVICE = "customer-service"
    """Customer service: find orders and customers, cancel, returns, goodwill refunds."""
    WAREHOUSE = "warehouse"
    """A warehouse: pick lists, picked/packed, stock receipts, returns received."""
    CARRIER = "carrier"
    """A carrier: manifests and labels of its parcels."""
    AUDITOR = "auditor"
    """An auditor: read-only access to orders, payments, timelines."""


ALL_SCOPES: tuple[Scope, ...] = tuple(Scope)


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of a request."""

    subject: str
    scopes: frozenset[str]
    token: str
    """The bearer token itself, for calls made on the caller's behalf."""
    expires_at: int
    """The token's ``exp`` (seconds since the epoch)."""

    @property
    def actor(self) -> str:
        """The actor recorded in the events this caller causes: its subject."""
        return self.subject


class AuthError(Exception):
    """A request without a usable token (401) or without a scope the route needs (403)."""

    def __init__(self, status: int, reason: str, required: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.required = tuple(required)

    @property
    def code(self) -> str:
        return "unauthenticated" if self.status == 401 else "forbidden"

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value (RFC 6750 section 3)."""
        if self.status == 401:
            return f'Bearer realm="oms", error="invalid_token", error_description="{self.reason}"'
        return f'Bearer realm="oms", error="insufficient_scope", scope="{" ".join(self.required)}"'

    def field_errors(self) -> list[FieldError]:
        if self.status == 401:
            return [FieldError("header:Authorization", self.reason, "invalid_token")]
        return [FieldError("header:Authorization", self.reason, "insufficient_scope")]


def _check_claims(subject: str, scopes: Iterable[str]) -> frozenset[str]:
    if not ACTOR_RE.match(subject):
        raise ValueError(
            "subject must be staff:<user>, platform:<channel>, service:<name> or customer:<id>"
        )
    found = frozenset(scopes)
    unknown = sorted(found - {s.value for s in Scope})
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    if not found:
        raise ValueError("a token needs at least one scope")
    return found


class TokenIssuer:
    """Signs tokens with the Ed25519 private key (PEM). Only ``oms token`` and tests hold it."""

    def __init__(self, private_key_pem: str) -> None:
        key = load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the token signing key is not an Ed25519 private key (PEM)")
        self._key = key

    def mint(
        self,
        subject: str,
        scopes: Iterable[str | Scope],
        *,
        ttl_s: int = 3600,
        now: float | None = None,
    ) -> str:
        found = _check_claims(subject, (str(s) for s in scopes))
        if not 0 < ttl_s <= MAX_TTL_S:
            raise ValueError(f"ttl must be between 1 s and {MAX_TTL_S} s")
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "scope": " ".join(sorted(found)),
            "iat": issued,
            "exp": issued + ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class TokenVerifier:
    """Checks a token's signature, issuer, audience, lifetime, subject and scopes."""

    def __init__(self, public_key_pem: str) -> None:
        try:
            key = load_pem_public_key(public_key_pem.encode())
        except (ValueError, TypeError) as err:
            raise ValueError(f"auth_public_key is not an Ed25519 public key (PEM): {err}") from err
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("auth_public_key is not an Ed25519 public key (PEM): another kind")
        self._key = key

    def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(401, f"the bearer token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "the bearer token has expired") from None
        except jwt.InvalidSignatureError:
            raise AuthError(401, "the bearer token's signature is not valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError(401, "the bearer token is not for the OMS (audience)") from None
        except jwt.InvalidIssuerError:
            raise AuthError(401, "the bearer token was not issued by the OMS (issuer)") from None
        except jwt.MissingRequiredClaimError as err:
            raise AuthError(401, f"the bearer token lacks the {err.claim} claim") from None
        except jwt.InvalidTokenError:
            raise AuthError(401, "the bearer token is not a valid signed JWT") from None
        subject, scope = claims.get("sub"), claims.get("scope", "")
        if not isinstance(subject, str) or not isinstance(scope, str):
            raise AuthError(401, "the bearer token's sub and scope must be strings")
        try:
            scopes = _check_claims(subject, scope.split())
        except ValueError as err:
            raise AuthError(401, f"the bearer token's claims are not valid: {err}") from None
        return Principal(subject, scopes, token, int(claims["exp"]))


_bearer = HTTPBearer(auto_error=False, description="A JWT from `oms token` or your IdP.")


def install_auth(app: FastAPI, public_key_pem: str | None, *, service: str) -> None:
    """Make ``app``'s routes check tokens against ``public_key_pem`` (required)."""
    if not public_key_pem:
        raise ValueError(
            f"OMS_{service.upper()}_AUTH_PUBLIC_KEY is not set: every API needs the public key "
            "that verifies bearer tokens (`oms up` makes one under .oms/secrets)"
        )
    app.state.token_verifier = TokenVerifier(public_key_pem)


def _verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise AuthError(401, "this service has no key to verify tokens with")
    return verifier


def authorize(
    request: Request,
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of ``request`` if its token allows one of ``security_scopes``."""
    token = credentials.credentials if credentials is not None else None
    if token is None and getattr(request.state, "cookie_auth", False):
        token = request.cookies.get(SESSION_COOKIE)
    if not token:
        if request.headers.get("authorization"):
            raise AuthError(401, "the Authorization header must be 'Bearer <token>'")
        raise AuthError(401, "this route needs a bearer token (Authorization: Bearer <token>)")
    principal = _verifier(request).verify(token)
    required = security_scopes.scopes
    if required and principal.scopes.isdisjoint(required):
        raise AuthError(403, f"this route needs one of the scopes: {', '.join(required)}", required)
    return principal


def authorize_session(
    request: Request,
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """:func:`authorize` for web pages: the token may also come from the session cookie.

    A cookie is sent by the browser on its own, so a state-changing request authenticated
    by it must come from a page of this service: its ``Origin`` (browsers send it on every
    POST) must be this host; the cookie itself is ``SameSite=Strict``.
    """
    request.state.cookie_auth = True
    by_cookie = credentials is None and bool(request.cookies.get(SESSION_COOKIE))
    if by_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is None or origin.split("://", 1)[-1] != host:
            raise AuthError(403, "a form sent with the session cookie must come from this site")
    return authorize(request, security_scopes, credentials)


def allow(*scopes: Scope) -> Any:
    """The verified caller, who must have one of ``scopes``: a route parameter's default
    (``caller: Annotated[Principal, allow(Scope.PLATFORM)]``) or a ``dependencies=`` entry."""
    if not scopes:
        raise ValueError("name at least one scope")
    return Security(authorize, scopes=[s.value for s in scopes])


def allow_session(*scopes: Scope) -> Any:
    """:func:`allow` for server-rendered pages: bearer token or the session cookie."""
    if not scopes:
        raise ValueError("name at least one scope")
    return Security(authorize_session, scopes=[s.value for s in scopes])


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route of ``app`` as served: included routers' routes with their prefix and
    their router's dependencies (FastAPI's ``RouteContext``; ``.path``, ``.methods``,
    ``.dependant``, ``.openapi_extra`` as the request sees them)."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def route_scopes(route: Any) -> set[str] | None:
    """The scopes that may call ``route``, or None when it checks no token."""
    found: set[str] | None = None
    pending = [route.dependant]
    while pending:
        dep = pending.pop()
        if dep.call is authorize or dep.call is authorize_session:
            found = (found or set()) | set(dep.own_oauth_scopes or ())
        pending.extend(dep.dependencies)
    return found


def is_public(route: Any) -> bool:
    extra = route.openapi_extra
    return bool(extra and extra.get("x-oms-public")) or route.path in OPEN_PATHS


def unguarded_routes(app: FastAPI) -> list[str]:
    """``METHOD path`` of every route that neither checks a token nor is marked public."""
    return [
        f"{','.join(sorted(route.methods or ()))} {route.path}"
        for route in api_routes(app)
        if not is_public(route) and route_scopes(route) is None
    ]
