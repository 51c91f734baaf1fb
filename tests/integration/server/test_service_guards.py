"""Bad input never gets a 500 from the live server; several processes share one PostgreSQL database."""

from __future__ import annotations

import os
import random
from pathlib import Path

import httpx
import pytest

from tests.integration.server.serverkit import (
    PG_URL,
    LiveServer,
    PostgresSchema,
    assert_gapless,
    sse_events,
    ws_events,
)

pytestmark = pytest.mark.slow


def test_garbage_gets_4xx_json_and_the_service_keeps_serving(server: LiveServer) -> None:
    rng = random.Random(4)
    bodies = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"sds"',
        b'{"sds": null}',
        b'{"sds": {}}',
        b"\x00\x01\x02",
        b'{"sds": {"title": 5, "seed": "x"}}',
        os.urandom(512),
    ]
    bodies += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(20)]
    with server.client() as client:
        for body in bodies:
            for content_type in ("application/json", "text/plain"):
                response = client.post("/workflows/runs", content=body, headers={"content-type": content_type})
                assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
                detail = response.json()["detail"]
                assert detail and all({"field", "rule", "message"} <= set(d) for d in detail)
        huge = client.post("/workflows/runs", content=b"x" * (300 * 1024), headers={"content-type": "application/json"})
        assert huge.status_code == 413 and huge.json()["detail"][0]["rule"] == "max_body_bytes"
        for path in [
            "/workflows/runs/%00",
            "/workflows/runs/" + "z" * 300,
            "/workflows/runs/x/artifacts/..%2F..",
            "/workflows/examples/..%2Fsecret",
            "/workflows/runs?limit=-1",
            "/workflows/runs?cursor=x",
        ]:
            response = client.get(path)
            assert 400 <= response.status_code < 500, (path, response.text)
        assert client.post("/workflows/runs/x/replay", content=b"{").status_code in (400, 422)
        assert client.get("/workflows/runs/nope/events").status_code == 404
        assert client.get("/healthz").json()["status"] == "ok"
    bad_ws = ws_events(server, "run_id=nope")
    assert bad_ws[0]["event"] == "error" and bad_ws[0]["detail"][0]["field"] == "run_id"
    run = server.start_run()
    assert server.wait(run["run_id"])["status"] == "passed"


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="AMCS_TEST_DATABASE_URL is not set")
def test_two_processes_share_postgres_and_stream_each_others_runs(tmp_path: Path) -> None:
    assert PG_URL
    schema = PostgresSchema(PG_URL)
    first = LiveServer(tmp_path / "a", schema.url, AMCS_TEST_NODE_DELAY_MS="1500")
    second = LiveServer(tmp_path / "b", schema.url)
    for live in (first, second):
        live.data_dir.mkdir()
    try:
        first.start()
        second.start()
        runs = [first.start_run(engine="slow"), second.start_run()]
        # each server streams the other's run live, and both see the same log
        from_second = sse_events(second, runs[0]["links"]["events"])
        from_first = sse_events(first, runs[1]["links"]["events"])
        assert_gapless(from_second)
        assert from_second[-1]["event"] == "run.end" and from_first[-1]["event"] == "run.end"
        assert from_second == first.stored_events(runs[0]["run_id"])
        assert from_first == second.stored_events(runs[1]["run_id"])
        # a run owned by the first process can be cancelled through the second
        slow = first.start_run(engine="slow")
        sse_events(second, slow["links"]["events"], limit=3)
        with second.client() as client:
            cancelled = client.post(f"/workflows/runs/{slow['run_id']}/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled", cancelled.text
        with httpx.Client(base_url=first.base) as client:
            assert client.get("/workflows/runs").json()["items"][0]["run_id"] == slow["run_id"]
    finally:
        first.stop()
        second.stop()
        schema.drop()
