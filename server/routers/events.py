"""Events: SSE per run and for all runs, and a WebSocket with an optional run filter."""

# Every transport sends the same JSON (see `EventOut`). Per-run streams use the per-run event `id`; the
# all-runs streams use the global `gid`. Reconnect with `Last-Event-ID` (SSE, sent by browsers by themselves)
# or `?after=` / WebSocket `?from=`: the stream resumes right after that id, from the stored log, so nothing is
# lost or repeated, even across server restarts. Closing a stream never affects the run.

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from sse_starlette import EventSourceResponse, ServerSentEvent

from graph.runstore import now_iso
from graph.service import MAX_ID
from server.deps import Authenticated, CursorDep, ServiceDep, SettingsDep
from server.schemas import ErrorBody, EventOut

router = APIRouter(prefix="/workflows", tags=["events"])
STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-store",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `id:` is the event id, `data:` one `EventOut` JSON. "
        "Idle streams get "
        "`: ping` comments.",
        "content": {
            "text/event-stream": {
                "schema": EventOut.model_json_schema(),
                "example": 'id: 1\ndata: {"id": 1, "event": "run.start", "phase": "start"}\n\n',
            }
        },
    },
    401: {"model": ErrorBody},
    422: {"model": ErrorBody, "description": "Malformed Last-Event-ID."},
}


def _dump(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, default=str)


async def _sse(stream: AsyncIterator[dict[str, Any] | None], key: str) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(retry=1000, comment="amcs event stream")
    async for event in stream:
        if event is None:
            continue
        yield ServerSentEvent(id=str(event[key]), data=_dump(event))


@router.get(
    "/runs/{run_id}/events",
    summary="A run's events (SSE)",
    description="Stored events after `Last-Event-ID` (or `after`, default 0), then live ones; "
    "the stream ends "
    "after the run's final `run.end`.",
    responses={**SSE_DOC, 404: {"model": ErrorBody, "description": "Unknown run id."}},
    dependencies=[Authenticated],
    response_class=EventSourceResponse,
)
async def run_events(run_id: str, service: ServiceDep, settings: SettingsDep, cursor: CursorDep) -> EventSourceResponse:
    await service.get(run_id)
    stream = service.follow(run_id, cursor or 0, until_end=True)
    return EventSourceResponse(_sse(stream, "id"), ping=settings.heartbeat_seconds, headers=STREAM_HEADERS)


@router.get(
    "/events",
    summary="Every run's events (SSE)",
    description="Ids are the global `gid`. Without `Last-Event-ID` or `after` the stream starts now; "
    "`after=0` "
    "replays the whole log first. The same feed is available as `WS /workflows/events` (query `run_id` to "
    'filter to one run, `from` = last id received; messages are `EventOut` JSON, plus `{"event": '
    '"heartbeat"}` when idle).',
    responses=SSE_DOC,
    dependencies=[Authenticated],
    response_class=EventSourceResponse,
)
async def all_events(service: ServiceDep, settings: SettingsDep, cursor: CursorDep) -> EventSourceResponse:
    start = cursor if cursor is not None else await service.store.last_gid()
    stream = service.follow(None, start, until_end=False)
    return EventSourceResponse(_sse(stream, "gid"), ping=settings.heartbeat_seconds, headers=STREAM_HEADERS)


@router.websocket("/events")
async def events_socket(
    websocket: WebSocket,
    run_id: Annotated[str | None, Query(max_length=200)] = None,
    from_id: Annotated[str | None, Query(alias="from")] = None,
) -> None:
    """WebSocket feed: all runs (ids = `gid`) or one run with `run_id` (ids = per-run `id`, closes after the
    run's final `run.end`). `from` is the last id the client has; the feed resumes right after it."""
    service = websocket.app.state.service
    settings = websocket.app.state.settings
    await websocket.accept()
    start: int | None = None
    problem = None
    if from_id is not None:
        try:
            start = int(from_id)
            if not 0 <= start <= MAX_ID:
                raise ValueError
        except ValueError:
            problem = {
                "field": "from",
                "rule": "integer",
                "message": f"is {from_id[:40]!r}; must be an event id from 0 to {MAX_ID}",
            }
    if problem is None and run_id is not None and await service.store.get_run(run_id) is None:
        problem = {"field": "run_id", "rule": "exists", "message": f"no run with id {run_id!r}"}
    if problem is not None:
        await websocket.send_json({"event": "error", "detail": [problem]})
        await websocket.close(code=4404 if problem["field"] == "run_id" else 4400)
        return
    if start is None:
        start = 0 if run_id is not None else await service.store.last_gid()

    async def pump() -> None:
        async for event in service.follow(
            run_id, start, until_end=run_id is not None, heartbeat=settings.heartbeat_seconds
        ):
            if event is None:
                await websocket.send_text(_dump({"event": "heartbeat", "ts": now_iso()}))
            else:
                await websocket.send_text(_dump(event))

    async def drain() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    pump_task = asyncio.create_task(pump())
    drain_task = asyncio.create_task(drain())
    try:
        done, _ = await asyncio.wait({pump_task, drain_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump_task, drain_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
    if pump_task in done and drain_task not in done:
        with contextlib.suppress(Exception):
            await websocket.close(code=1000)
