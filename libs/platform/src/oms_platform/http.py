"""HTTP conventions every service shares: one error body, input limits, common headers.

* Every error is an RFC 9457 problem (``application/problem+json``)::

      {"type": "urn:oms:problem:invalid_request", "title": "Invalid request",
       "status": 422, "code": "invalid_request", "detail": "lines[0].quantity: ...",
       "errors": [{"field": "lines[0].quantity", "reason": "...", "code": "..."}]}

  from a :class:`~oms_platform.refusal.Refusal`, a validation error, an unknown route, or
  an unreachable database (503 with ``Retry-After``: the request may be repeated).
* :class:`InputLimits` refuses a body over ``MAX_BODY_BYTES`` (413) and JSON that is not
  JSON or nests deeper than ``MAX_JSON_DEPTH`` (422) before any route parses it, with the
  same parser and limits as the Kafka path (``oms_events.limits``).
* ``RequestIdHeader`` and ``IdempotencyKeyHeader`` are the one way to read what caused the
  request and its idempotency key; who asks is the verified bearer token
  (:mod:`oms_platform.auth`), never a header the caller fills in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from oms_events.limits import MAX_BODY_BYTES, JsonRejected, parse_json
from oms_platform.auth import AuthError
from oms_platform.failures import is_infrastructure
from oms_platform.logging import get_logger
from oms_platform.refusal import FieldError, Refusal

log = get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

RequestIdHeader = Annotated[
    str | None,
    Header(
        alias="X-Request-Id",
        pattern=r"^[\x21-\x7e]{1,100}$",
        description="The caller's id for this request; recorded as the events' cause.",
    ),
]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,100}$",
        description="Repeating a request with the same key returns the first answer "
        "instead of doing the work twice (1-100 printable ASCII characters).",
    ),
]


def cause_of(request_id: str | None) -> str:
    """The causation id of a request: the caller's ``X-Request-Id`` or a new one."""
    return request_id if request_id is not None else f"http-{uuid.uuid4()}"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    status: int,
    code: str,
    detail: str,
    errors: Iterable[FieldError] = (),
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """The one error body of every service (RFC 9457 problem details plus ``code``/``errors``)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": f"urn:oms:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "errors": [e.as_dict() for e in errors],
        **extra,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


def auth_problem(err: AuthError) -> ProblemResponse:
    """401/403 with the reason, the scopes the route needs and an RFC 6750 challenge."""
    extra = {"required_scopes": list(err.required)} if err.required else {}
    return problem(
        err.status,
        err.code,
        err.reason,
        err.field_errors(),
        headers={"WWW-Authenticate": err.challenge()},
        **extra,
    )


def refusal_response(refusal: Refusal) -> ProblemResponse:
    return problem(
        refusal.status, refusal.code, refusal.reason, refusal.field_errors(), **refusal.extra
    )


def field_name(loc: Sequence[int | str]) -> str:
    """``("body", "lines", 0, "sku")`` -> ``lines[0].sku``; ``("header", "X-Actor")`` ->
    ``header:X-Actor``; ``("query", "limit")`` -> ``query:limit``."""
    parts = list(loc)
    prefix = ""
    if parts and parts[0] in ("header", "query", "path", "cookie"):
        prefix = f"{parts.pop(0)}:"
    elif parts and parts[0] == "body":
        parts.pop(0)
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return prefix + (name or "body")


def validation_errors(errors: Iterable[Any]) -> list[FieldError]:
    """Pydantic/FastAPI error dicts as field errors (never quoting the input)."""
    return [FieldError(field_name(e["loc"]), str(e["msg"]), str(e["type"])) for e in errors]


def invalid_response(errors: list[FieldError], what: str = "request") -> ProblemResponse:
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    return problem(422, "invalid_request", f"the {what} has invalid fields: {fields}", errors)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": HTTPStatus(status).phrase + " (an RFC 9457 problem)",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"type": "object"}}},
    }
    for status in (401, 403, 404, 409, 413, 422, 503)
}
"""``responses=`` for routers, so the API description lists the problem answers."""


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem, and put the input limits in front."""

    async def on_refusal(_request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, Refusal)
        return refusal_response(exc)

    async def on_invalid(_request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, RequestValidationError)
        return invalid_response(validation_errors(exc.errors()))

    async def on_auth(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthError)
        page = getattr(request.app.state, "auth_error_page", None)
        if page is not None and getattr(request.state, "cookie_auth", False):
            answer: Response = page(request, exc)
            return answer
        return auth_problem(exc)

    async def on_http(_request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        code = re.sub(r"\W+", "_", HTTPStatus(status).phrase.lower()).strip("_")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
        return problem(status, code, detail, headers=dict(exc.headers or {}))

    async def on_error(request: Request, exc: Exception) -> ProblemResponse:
        if is_infrastructure(exc):
            log.warning("http.unavailable", path=request.url.path, error=repr(exc)[:300])
            return problem(
                503,
                "service_unavailable",
                "a dependency of this service is unreachable; repeat the request later",
                headers={"Retry-After": "2"},
            )
        log.exception("http.internal_error", path=request.url.path)
        return problem(500, "internal_error", "the service failed to handle the request")

    app.add_exception_handler(Refusal, on_refusal)
    app.add_exception_handler(AuthError, on_auth)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
    app.add_middleware(InputLimits)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class InputLimits:
    """ASGI middleware: bodies at most ``max_bytes`` (413), JSON within the depth limit (422).

    The whole body is read here (it is small by then), checked with the same parser the
    Kafka path uses, and handed on to the route unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send, self._too_large())
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, self._too_large())
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            try:
                parse_json(body)
            except JsonRejected as err:
                # Name the value at fault (``lines[0].quantity``) when the parser knows it.
                where = field_name(("body", *err.location)) if err.location else "body"
                error = FieldError(where, err.reason, "json_invalid")
                await self._refuse(scope, send, invalid_response([error], "request body"))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> ProblemResponse:
        return problem(
            413,
            "body_too_large",
            f"the request body is larger than {self.max_bytes} bytes",
            [FieldError("body", f"at most {self.max_bytes} bytes", "too_large")],
        )

    @staticmethod
    async def _refuse(scope: Scope, send: Send, response: ProblemResponse) -> None:
        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        await response(scope, no_body, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
