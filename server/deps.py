"""FastAPI dependency aliases: the run service, settings, event cursors and the OpenAPI bearer scheme."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.settings import Settings
from graph.service import MAX_ID, Invalid, RunService

# Authentication itself is enforced by server.errors.AuthMiddleware (it also covers WebSockets and the
# docs); this scheme only documents it in OpenAPI so Swagger UI offers "Authorize".
bearer_scheme = HTTPBearer(auto_error=False, description="Required when AMCS_API_TOKEN is set.")


def _documented_bearer(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> None:
    return None


Authenticated = Depends(_documented_bearer)


def get_service(request: Request) -> RunService:
    service: RunService = request.app.state.service
    return service


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def last_event_id(
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="SSE reconnect: the id of the last event received; the stream resumes after it.",
        ),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_ID, description="Start after this event id (used when no Last-Event-ID header is sent)."),
    ] = None,
) -> int | None:
    if last_event_id is not None and last_event_id.strip():
        try:
            value = int(last_event_id.strip())
        except ValueError:
            raise Invalid("Last-Event-ID", "integer", f"is {last_event_id[:40]!r}; must be an event id") from None
        if value < 0:
            raise Invalid("Last-Event-ID", "minimum", f"is {value}; must be at least 0")
        if value > MAX_ID:
            raise Invalid("Last-Event-ID", "maximum", f"must be at most {MAX_ID}")
        return value
    return after


ServiceDep = Annotated[RunService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CursorDep = Annotated[int | None, Depends(last_event_id)]
