"""The AMCS run service: FastAPI app, lifespan (checkpointer and run store opened once), serve() for the CLI."""

#     amcs serve --host 127.0.0.1 --port 8000
#
# Storage is SQLite under AMCS_DATA_DIR, or PostgreSQL with AMCS_DATABASE_URL. On startup the service resumes
# runs that an earlier (killed) process left queued or running. See server/routers/* for the endpoints and
# graph/service.py for how runs execute.

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from agent.settings import Settings, get_settings
from graph.service import RunService
from graph.storage import open_storage
from server.errors import ACCESS_TOKEN_SCOPE_KEY, AuthMiddleware, BodyLimitMiddleware, install_error_handlers
from server.routers import events, examples, runs

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("amcs.server")

DESCRIPTION = """
Durable background runs of the AMCS songwriting workflow.

* `POST /workflows/runs` answers **202** at once; the run executes in the background and survives restarts.
* Events: `GET /workflows/runs/{id}/events` (SSE), `GET /workflows/events` (SSE, all runs) and
  `WS /workflows/events?run_id=&from=` carry the same JSON; reconnect with `Last-Event-ID` / `from` to get
  exactly the events you missed.
* Errors are JSON: `{"detail": [{"field", "rule", "message"}]}`.
* With `AMCS_API_TOKEN` set, send `Authorization: Bearer <token>` (browsers' EventSource/WebSocket may use
  `?access_token=`).
"""


def load_plugin(spec: str) -> None:
    """Import a module by dotted name or file path (test hook: registers extra engines)."""
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec).resolve()
        name = f"amcs_plugin_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load plugin {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)


def create_app(
    settings: Settings | None = None,
    service_options: dict[str, Any] | None = None,
) -> FastAPI:
    """`service_options` go to `RunService` (tests pass a tiny `builder` and request checks)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.test_engine_module:
            load_plugin(settings.test_engine_module)
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        async with open_storage(data_dir, settings.database_url) as storage:
            service = RunService(
                storage.checkpointer,
                storage.runs,
                data_dir=str(data_dir),
                max_concurrent=settings.max_concurrent_runs,
                lease_seconds=settings.run_lease_seconds,
                poll_interval=settings.event_poll_seconds,
                **(service_options or {}),
            )
            app.state.service = service
            app.state.storage = storage
            await service.start()
            log.info("AMCS run service on %s storage (%s), owner %s", storage.kind, storage.location, service.owner)
            try:
                yield
            finally:
                await service.shutdown()

    app = FastAPI(
        title="AMCS run service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(runs.router)
    app.include_router(events.router)
    app.include_router(examples.router)

    @app.get("/healthz", tags=["service"], summary="Liveness (public)")
    async def healthz(request: Request) -> dict[str, Any]:
        service = getattr(request.app.state, "service", None)
        return {"status": "ok" if service is not None else "starting"}

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        token = request.scope.get(ACCESS_TOKEN_SCOPE_KEY)
        url = app.openapi_url or "/openapi.json"
        if token:
            from urllib.parse import quote

            url += f"?access_token={quote(token)}"
        return get_swagger_ui_html(openapi_url=url, title="AMCS run service")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    token = settings.api_token.get_secret_value() if settings.api_token else None
    app.add_middleware(AuthMiddleware, token=token or None)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["Location"],
        )
    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        timeout_graceful_shutdown=5,
        access_log=settings.access_log,
        log_level=settings.log_level.lower(),
    )
