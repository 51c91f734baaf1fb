"""Error answers and guard middleware: every 4xx is JSON `{"detail": [{"field", "rule", "message"}]}`."""

# * `BodyLimitMiddleware`: bodies over `max_body_bytes` get 413 (declared or streamed length).
# * `AuthMiddleware`: with a token configured, every HTTP and WebSocket endpoint needs `Authorization: Bearer`
#   (or `?access_token=` for browsers' EventSource/WebSocket, which cannot set headers); the static chat page
#   shell (`/`, `/static/*`) and `/healthz` stay public.
# * Exception handlers map validation, service and SDS errors to 4xx; anything else is a JSON 500 (logged).

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.sds import SDSError
from graph.service import ServiceError

log = logging.getLogger("amcs.server")
PUBLIC_PATHS = ("/", "/healthz", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/",)


def problem(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


def error_response(status: int, problems: list[dict[str, str]], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": problems}, status_code=status, headers=headers)


def sds_field(field: str, prefix: str = "sds") -> str:
    """'$' -> 'sds', '$.lyrics.pov' -> 'sds.lyrics.pov', '$[0]' -> 'sds[0]'."""
    return prefix + field[1:] if field.startswith("$") else f"{prefix}.{field}"


def sds_problems(error: SDSError, prefix: str = "sds") -> list[dict[str, str]]:
    return [problem(sds_field(e.field, prefix), e.rule, e.message) for e in error.errors]


def _loc_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = parts.pop(0)
        if where == "header" and parts:
            return str(parts[0])
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems, status = [], 422
    for err in exc.errors():
        kind = str(err.get("type", "invalid"))
        if kind == "json_invalid":
            status = 400
            ctx = err.get("ctx") or {}
            message = f"not valid JSON: {ctx.get('error', err.get('msg'))}"
            problems.append(problem("$", "json", message))
            continue
        field = _loc_field(err.get("loc", ()))
        if kind == "missing" and field == "$":
            problems.append(problem("$", "required", "a JSON body is required"))
            continue
        problems.append(problem(field, kind, str(err.get("msg", "invalid"))))
    return error_response(status, problems)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if isinstance(detail, list) and all(isinstance(d, dict) for d in detail):
        problems = detail
    else:
        rule = {404: "route", 405: "method"}.get(exc.status_code, "http")
        problems = [problem("$", rule, str(detail))]
    return error_response(exc.status_code, problems, dict(exc.headers or {}) or None)


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status, [problem(exc.field, exc.rule, exc.message)])


async def _sds_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SDSError)
    return error_response(422, sds_problems(exc))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error: %s", exc)
    return error_response(500, [problem("$", "internal", f"internal error: {type(exc).__name__}")])


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(SDSError, _sds_error)
    app.add_exception_handler(Exception, _unexpected)


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """Refuse request bodies larger than `limit` bytes with 413, before the app sees them."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    def _too_large(self) -> dict[str, Any]:
        return {
            "detail": [
                problem(
                    "$",
                    "max_body_bytes",
                    f"the request body exceeds the {self.limit}-byte limit (AMCS_MAX_BODY_BYTES)",
                )
            ]
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await _send_json(send, 400, {"detail": [problem("Content-Length", "integer", "is not a number")]})
                return
            if too_big:
                await _send_json(send, 413, self._too_large(), {"connection": "close"})
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        # Streamed (chunked) body: read it up to the limit, then hand it to the app.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _send_json(send, 413, self._too_large(), {"connection": "close"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


ACCESS_TOKEN_SCOPE_KEY = "amcs.access_token"


def _pop_query_token(scope: Scope) -> str | None:
    """Take `access_token` out of the query string (in place: uvicorn's access log prints this scope's
    query string, so the token must not stay in it). The value is kept under ACCESS_TOKEN_SCOPE_KEY."""
    raw = scope.get("query_string") or b""
    if b"access_token" not in raw:
        return None
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    tokens = [value for key, value in pairs if key == "access_token"]
    scope["query_string"] = urlencode([(k, v) for k, v in pairs if k != "access_token"]).encode("latin-1")
    token = tokens[0] if tokens else None
    scope[ACCESS_TOKEN_SCOPE_KEY] = token
    return token


def _token_from(scope: Scope) -> str | None:
    query_token = _pop_query_token(scope)
    for key, value in scope.get("headers") or []:
        if key == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
            return None
    return query_token


class AuthMiddleware:
    """With a token configured, every non-public HTTP/WebSocket path needs it."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token

    def _public(self, path: str) -> bool:
        return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = _token_from(scope)  # also strips ?access_token= from what gets logged
        if not self.token or self._public(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": "missing or wrong bearer token"})
            return
        message = (
            "a valid 'Authorization: Bearer <token>' header is required"
            if given is None
            else "the bearer token is wrong"
        )
        await _send_json(
            send,
            401,
            {"detail": [problem("Authorization", "bearer", message)]},
            {"www-authenticate": "Bearer"},
        )
