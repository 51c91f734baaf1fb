"""A real `uvicorn` serving the AMCS app on loopback, on SQLite or PostgreSQL, plus small stream clients.

`backend` fixtures are parametrized over SQLite and PostgreSQL; the PostgreSQL ones are marked
`postgres` and skip unless AMCS_TEST_DATABASE_URL is set (each test gets its own schema through
`search_path`, so runs never leak between tests).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SDS_DIR = REPO_ROOT / "examples" / "sds"
SLOW_ENGINE = Path(__file__).with_name("slow_engine.py")
PG_URL = os.environ.get("AMCS_TEST_DATABASE_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_URL, reason="AMCS_TEST_DATABASE_URL is not set"),
        ],
    ),
]


def load_sds(name: str = "pop_complexity_1") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SDS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresSchema:
    """A throwaway schema in the test database; the server reaches it through `options=-csearch_path=`."""

    def __init__(self, base_url: str):
        import psycopg

        self.base_url = base_url
        self.name = f"amcs_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.name}")
        joiner = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{joiner}options={quote(f'-csearch_path={self.name}')}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")


class LiveServer:
    """`python -m uvicorn server.app:create_app --factory` in a subprocess; start/stop/kill/restart."""

    def __init__(self, data_dir: Path, database_url: str | None = None, **env: str):
        self.data_dir = data_dir
        self.database_url = database_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"
        self.token = env.get("AMCS_API_TOKEN")

    def start(self, timeout: float = 30) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMCS_") and k != "ANTHROPIC_API_KEY"}
        env.update(
            AMCS_DATA_DIR=str(self.data_dir),
            AMCS_TEST_ENGINE_MODULE=str(SLOW_ENGINE),
            AMCS_TEST_NODE_DELAY_MS="300",
            AMCS_RUN_LEASE_SECONDS="3",
            AMCS_EVENT_POLL_SECONDS="0.2",
            AMCS_HEARTBEAT_SECONDS="2",
            PYTHONPATH=str(REPO_ROOT),
        )
        if self.database_url:
            env["AMCS_DATABASE_URL"] = self.database_url
        env.update(self.env)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "3",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).json().get("status") == "ok":
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    # -- HTTP helpers ------------------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.headers(), timeout=30)

    def start_run(self, sds: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        with self.client() as client:
            response = client.post("/workflows/runs", json={"sds": sds or load_sds(), **extra})
        assert response.status_code == 202, response.text
        return dict(response.json())

    def run(self, run_id: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/workflows/runs/{run_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(
        self,
        run_id: str,
        statuses: tuple[str, ...] = ("passed", "failed", "cancelled", "error"),
        timeout: float = 60,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] in statuses:
                return run
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} is still {run.get('status')}:\n{self.log()}")

    def stored_events(self, run_id: str) -> list[dict[str, Any]]:
        """The whole stored log of a run (a fresh SSE stream from 0 that ends after run.end)."""
        return sse_events(self, f"/workflows/runs/{run_id}/events?after=0")


def iter_sse(
    server: LiveServer,
    path: str,
    *,
    last_event_id: int | None = None,
    timeout: float = 60,
) -> Iterator[dict[str, Any]]:
    """Yield every `data:` JSON of an SSE stream as it arrives, checking `id:` against the event's id."""
    headers = server.headers()
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    key = "gid" if path.startswith("/workflows/events") else "id"
    with (
        httpx.Client(base_url=server.base, timeout=httpx.Timeout(timeout, connect=5)) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers.get("x-accel-buffering") == "no"
        assert "no-cache" in response.headers.get("cache-control", "")
        current_id = None
        for line in response.iter_lines():
            if line.startswith("id:"):
                current_id = line[3:].strip()
            elif line.startswith("data:"):
                event = json.loads(line[5:].strip())
                assert current_id == str(event[key]), (current_id, event)
                current_id = None
                yield event


def sse_events(
    server: LiveServer,
    path: str,
    *,
    last_event_id: int | None = None,
    limit: int | None = None,
    timeout: float = 60,
) -> list[dict[str, Any]]:
    """Read an SSE stream until the server ends it or `limit` events arrived."""
    events: list[dict[str, Any]] = []
    stream = iter_sse(server, path, last_event_id=last_event_id, timeout=timeout)
    try:
        for event in stream:
            events.append(event)
            if limit is not None and len(events) >= limit:
                break
    finally:
        stream.close()  # type: ignore[attr-defined]
    return events


async def ws_events_async(
    server: LiveServer, query: str, *, limit: int | None = None, timeout: float = 60
) -> list[dict[str, Any]]:
    import websockets

    url = f"{server.ws_base}/workflows/events?{query}"
    headers = server.headers()
    events: list[dict[str, Any]] = []
    async with (
        asyncio.timeout(timeout),
        websockets.connect(url, additional_headers=headers or None) as socket_,
    ):
        try:
            async for raw in socket_:
                event = json.loads(raw)
                if event.get("event") == "heartbeat":
                    continue
                events.append(event)
                if limit is not None and len(events) >= limit:
                    break
        except websockets.ConnectionClosed:
            pass
    return events


def ws_events(server: LiveServer, query: str, **kwargs: Any) -> list[dict[str, Any]]:
    return asyncio.run(ws_events_async(server, query, **kwargs))


def assert_gapless(events: list[dict[str, Any]], start: int = 1) -> None:
    ids = [e["id"] for e in events]
    assert ids == list(range(start, start + len(ids))), ids


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite, or a PostgreSQL URL with a fresh schema."""
    if request.param == "sqlite":
        yield None
        return
    assert PG_URL
    schema = PostgresSchema(PG_URL)
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def server(tmp_path: Path, backend: str | None) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", backend)
    live.data_dir.mkdir()
    live.start()
    try:
        yield live
    finally:
        live.stop()
