"""Signing in to the pages: the staff member's bearer token kept in a session cookie.

``GET /login`` shows a form for a token (``oms token --scope operations --scope
customer-service --subject staff:<you>`` mints one locally; ``oms status`` prints a
sign-in link). The link carries the token in its fragment (``/login#token=…``), which the
browser never sends to a server, so no access log sees it; the page's script posts it to
``POST /login``, which checks it and sets the ``oms_session`` cookie (HttpOnly,
SameSite=Strict, expiring with the token). Pages answer 401 (sign in) or 403 (wrong
scope) with the sign-in page and the reason.
"""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from oms_operations.web.context import page
from oms_platform.auth import (
    MAX_TOKEN_CHARS,
    PUBLIC,
    SESSION_COOKIE,
    AuthError,
    TokenVerifier,
)

router = APIRouter(tags=["web"])

MAX_SESSION_S = 12 * 3600


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]


def _safe_next(value: str | None) -> str:
    """Only a path of this site (``/console?q=…``), never another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def login_page(request: Request, err: AuthError | None = None) -> HTMLResponse:
    status = err.status if err is not None else 200
    where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    next_path = _safe_next(request.query_params.get("next") if err is None else where)
    return page(
        request,
        "login.html",
        status,
        reason=err.reason if err is not None else None,
        code=err.code if err is not None else None,
        next_path=next_path,
        next_quoted=quote(next_path, safe=""),
    )


@router.get("/login", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def login_form(request: Request) -> HTMLResponse:
    """The sign-in page (public: it asks for a token)."""
    return login_page(request)


@router.post("/login", status_code=204, openapi_extra=PUBLIC)
async def login(request: Request, body: LoginBody) -> Response:
    """Check the token and keep it in the session cookie (public: it is the sign-in)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise AuthError(403, "sign in from this site's own page")
    verifier = request.app.state.token_verifier
    assert isinstance(verifier, TokenVerifier)
    staff = verifier.verify(body.token)
    max_age = max(1, min(MAX_SESSION_S, int(staff.expires_at - time.time())))
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        body.token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", status_code=204, openapi_extra=PUBLIC)
async def logout() -> Response:
    """Forget the session cookie (public: anyone may sign out)."""
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
