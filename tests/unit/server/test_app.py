"""The HTTP layer on a tiny fake graph (TestClient, real lifespan on SQLite): errors, limits, auth, CORS,
examples, OpenAPI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.settings import Settings
from server.app import create_app
from tests.unit.server.fakegraph import CONTROL, fake_service_options

SDS = {"title": "Fake Song", "seed": 3}


def make_client(tmp_path: Path, **settings: Any) -> TestClient:
    app = create_app(
        Settings(data_dir=tmp_path, event_poll_seconds=0.05, heartbeat_seconds=1, **settings),
        service_options=fake_service_options(),
    )
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    CONTROL.update(delay=0.0, fail_node=None, fail_times=0, contexts=[])
    with make_client(tmp_path, max_body_bytes=4096) as c:
        yield c


def problems(response: Any) -> list[dict[str, str]]:
    body = response.json()
    assert set(body) == {"detail"}
    for item in body["detail"]:
        assert set(item) == {"field", "rule", "message"}
    return list(body["detail"])


def wait_done(client: TestClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = client.get(f"/workflows/runs/{run_id}").json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        time.sleep(0.02)
    raise AssertionError("run did not finish")


def test_start_and_finish_a_run(client: TestClient) -> None:
    response = client.post("/workflows/runs", json={"sds": SDS, "seed": 9, "manifest": {"k": "v"}})
    assert response.status_code == 202
    run = response.json()
    assert (run["llm_failure_policy"], run["max_llm_calls"]) == ("fail", 40)
    tuned = client.post("/workflows/runs", json={"sds": SDS, "llm_failure_policy": "fallback", "max_llm_calls": 3})
    assert tuned.status_code == 202 and (tuned.json()["llm_failure_policy"], tuned.json()["max_llm_calls"]) == (
        "fallback",
        3,
    )
    wait_done(client, tuned.json()["run_id"])
    assert response.headers["location"] == run["links"]["self"] == f"/workflows/runs/{run['run_id']}"
    done = wait_done(client, run["run_id"])
    assert done["status"] == "passed" and done["manifest"] == {"k": "v"}
    assert client.get(f"/workflows/runs/{run['run_id']}/artifacts/composed_prompt.txt").text == "PROMPT Fake Song"
    with client.stream("GET", f"/workflows/runs/{run['run_id']}/events", headers={"Last-Event-ID": "2"}) as stream:
        assert stream.headers["x-accel-buffering"] == "no"
        ids = [int(line[3:]) for line in stream.iter_lines() if line.startswith("id:")]
    assert ids == list(range(3, done["last_event_id"] + 1))
    with client.websocket_connect(f"/workflows/events?run_id={run['run_id']}&from=0") as ws:
        first = ws.receive_json()
    assert first["event"] == "run.start" and first["id"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field", "rule"),
    [
        (b"{not json", 400, "$", "json"),
        (b"", 422, "$", "required"),
        (b"\xff\xfe garbage", 400, "$", "json"),
        (b"[1, 2]", 422, "$", "model_attributes_type"),
        (b'{"sds": {"seed": 1}}', 422, "sds.title", "required"),
        (b'{"sds": {"title": "x", "seed": -4}}', 422, "sds.seed", "minimum"),
        (b'{"sds": "text"}', 422, "sds", "dict_type"),
        (b'{"sds": {"title": "x", "seed": 1}, "seed": -1}', 422, "seed", "greater_than_equal"),
        (b'{"sds": {"title": "x", "seed": 1}, "bogus": 1}', 422, "bogus", "extra_forbidden"),
        (b'{"sds": {"title": "x", "seed": 1}, "engine": "nope"}', 422, "engine", "enum"),
        (
            b'{"sds": {"title": "x", "seed": 1}, "llm_failure_policy": "retry"}',
            422,
            "llm_failure_policy",
            "literal_error",
        ),
        (b'{"sds": {"title": "x", "seed": 1}, "max_llm_calls": 0}', 422, "max_llm_calls", "greater_than_equal"),
        (b'{"sds": {"title": "x", "seed": 1}, "max_llm_calls": "5"}', 422, "max_llm_calls", "int_type"),
        (b'{"sds": {"title": "x", "seed": 1}, "max_llm_calls": 1e30}', 422, "max_llm_calls", "int_type"),
    ],
)
def test_bad_bodies_get_4xx_naming_field_and_rule(
    client: TestClient, body: bytes, status: int, field: str, rule: str
) -> None:
    response = client.post("/workflows/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    found = problems(response)
    assert (field, rule) in [(p["field"], p["rule"]) for p in found], found
    assert client.get("/healthz").json() == {"status": "ok"}  # still serving


def test_unknown_ids_routes_and_methods(client: TestClient) -> None:
    for method, path in [
        ("GET", "/workflows/runs/nope"),
        ("POST", "/workflows/runs/nope/cancel"),
        ("POST", "/workflows/runs/nope/retry"),
        ("GET", "/workflows/runs/nope/history"),
        ("GET", "/workflows/runs/nope/artifacts/style"),
        ("GET", "/workflows/runs/nope/events"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert problems(response)[0]["field"] == "run_id"
    replay = client.post("/workflows/runs/nope/replay", json={"checkpoint_id": "x"})
    assert replay.status_code == 404
    assert client.get("/nowhere").status_code == 404 and problems(client.get("/nowhere"))
    assert client.delete("/workflows/runs").status_code == 405
    bad_cursor = client.get("/workflows/runs", params={"cursor": "abc", "limit": 0})
    assert bad_cursor.status_code == 422 and {p["field"] for p in problems(bad_cursor)} == {"cursor", "limit"}
    bad_status = client.get("/workflows/runs", params={"status": "sleeping"})
    assert bad_status.status_code == 422
    bad_event_id = client.get("/workflows/events", headers={"Last-Event-ID": "later"})
    assert bad_event_id.status_code == 422 and problems(bad_event_id)[0]["field"] == "Last-Event-ID"


def test_oversized_bodies_get_413(client: TestClient) -> None:
    big = b'{"sds": {"title": "' + b"x" * 5000 + b'", "seed": 1}}'
    response = client.post("/workflows/runs", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert problems(response)[0]["rule"] == "max_body_bytes" and "4096" in problems(response)[0]["message"]

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    streamed = client.post("/workflows/runs", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_token_guards_every_endpoint(tmp_path: Path) -> None:
    with make_client(tmp_path, api_token="s3cret", cors_origins=["http://studio.test"]) as client:
        for method, path in [
            ("POST", "/workflows/runs"),
            ("GET", "/workflows/runs"),
            ("GET", "/workflows/runs/x"),
            ("GET", "/workflows/events"),
            ("GET", "/workflows/examples"),
            ("GET", "/openapi.json"),
            ("GET", "/docs"),
        ]:
            response = client.request(method, path)
            assert response.status_code == 401, path
            assert problems(response)[0]["field"] == "Authorization"
            assert response.headers["www-authenticate"] == "Bearer"
        wrong = client.get("/workflows/runs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = client.get("/workflows/runs", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/workflows/runs?access_token=s3cret").status_code == 200
        assert client.get("/").status_code == 200  # the page shell is public; it asks for the token
        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/workflows/events") as ws:
            ws.receive_json()
        with client.websocket_connect("/workflows/events?access_token=s3cret"):
            pass
        preflight = client.options(
            "/workflows/runs",
            headers={
                "Origin": "http://studio.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://studio.test"
        other = client.get("/workflows/runs", headers={"Origin": "http://evil.test", "Authorization": "Bearer s3cret"})
        assert "access-control-allow-origin" not in other.headers


def test_examples_are_listed_and_names_are_validated(client: TestClient) -> None:
    items = client.get("/workflows/examples").json()
    assert len(items) == 50 and {"name", "title", "genre"} <= set(items[0])
    sds = client.get("/workflows/examples/pop_complexity_1").json()
    assert sds["title"] == "Summer Dreams"
    assert client.get("/workflows/examples/pop_complexity_1.json").status_code == 200
    for name in ["..%2F..%2Fpyproject.toml", "..", ".hidden", "nope", "pop_complexity_1.txt", "a" * 120]:
        response = client.get(f"/workflows/examples/{name}")
        assert response.status_code in (404, 422), name
        assert "detail" in response.json()


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/workflows/runs",
        "/workflows/runs/{run_id}",
        "/workflows/runs/{run_id}/artifacts/{name}",
        "/workflows/runs/{run_id}/cancel",
        "/workflows/runs/{run_id}/retry",
        "/workflows/runs/{run_id}/history",
        "/workflows/runs/{run_id}/replay",
        "/workflows/runs/{run_id}/events",
        "/workflows/events",
        "/workflows/examples",
    ]:
        assert path in paths, path
    post = paths["/workflows/runs"]["post"]
    assert "examples" in post["requestBody"]["content"]["application/json"]
    assert {"202", "400", "413", "422", "401"} <= set(post["responses"])
    assert "text/event-stream" in paths["/workflows/runs/{run_id}/events"]["get"]["responses"]["200"]["content"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert spec["components"]["schemas"]["RunOut"]["properties"]["status"]["examples"] == ["running"]
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/static/app.js").status_code == 200


def test_ids_and_cursors_beyond_64_bits_get_4xx_naming_the_field(client: TestClient) -> None:
    huge = "9" * 30
    listing = client.get("/workflows/runs", params={"cursor": huge})
    assert listing.status_code == 422 and problems(listing)[0]["field"] == "cursor"
    after = client.get("/workflows/events", params={"after": huge})
    assert after.status_code == 422 and problems(after)[0]["field"] == "after"
    header = client.get("/workflows/events", headers={"Last-Event-ID": huge})
    assert header.status_code == 422 and problems(header)[0]["field"] == "Last-Event-ID"
    run = client.post("/workflows/runs", json={"sds": SDS}).json()
    per_run = client.get(f"/workflows/runs/{run['run_id']}/events", params={"after": huge})
    assert per_run.status_code == 422 and problems(per_run)[0]["field"] == "after"
    with client.websocket_connect(f"/workflows/events?from={huge}") as ws:
        error = ws.receive_json()
    assert error["event"] == "error" and error["detail"][0]["field"] == "from"
    for body in ({"sds": SDS, "seed": 2**64}, {"sds": {**SDS, "seed": 2**64}}):
        response = client.post("/workflows/runs", json=body)
        assert response.status_code == 422, response.text
        assert problems(response)[0]["field"] in ("seed", "sds.seed")
    wait_done(client, run["run_id"])


def test_malformed_artifacts_get_a_4xx_not_a_500(client: TestClient) -> None:
    run = client.post("/workflows/runs", json={"sds": SDS}).json()
    wait_done(client, run["run_id"])
    history = client.get(f"/workflows/runs/{run['run_id']}/history").json()["checkpoints"]
    point = next(c for c in history if c["next"] == ["validate_song"])
    fork = client.post(
        f"/workflows/runs/{run['run_id']}/replay",
        json={
            "checkpoint_id": point["checkpoint_id"],
            "patch": {"artifacts": {"composed_prompt": {"text": 5}}},
            "as_node": "compose_prompt",
        },
    ).json()
    wait_done(client, fork["run_id"])
    for run_id in (run["run_id"], fork["run_id"]):  # the fake lyrics are not a LyricsArtifact
        lyrics = client.get(f"/workflows/runs/{run_id}/artifacts/lyrics.txt")
        assert lyrics.status_code == 409, lyrics.text
        assert problems(lyrics)[0]["field"] == "name"
        assert client.get(f"/workflows/runs/{run_id}/artifacts/lyrics").status_code == 200
    assert client.get(f"/workflows/runs/{fork['run_id']}/artifacts/composed_prompt.txt").text == "5"


def test_query_token_is_removed_from_the_scope_so_access_logs_never_show_it(tmp_path: Path) -> None:
    import asyncio

    from server.errors import AuthMiddleware

    seen: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["query_string"])

    async def receive() -> Any:
        return {"type": "websocket.connect"}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    guard = AuthMiddleware(app, token="s3cret")
    for kind, query in [("http", b"run_id=1&access_token=s3cret&after=2"), ("websocket", b"access_token=s3cret")]:
        scope = {"type": kind, "path": "/workflows/events", "query_string": query, "headers": []}
        asyncio.run(guard(scope, receive, send))  # uvicorn's access log reads this same scope dict
        assert b"s3cret" not in scope["query_string"] and b"access_token" not in scope["query_string"]
    assert seen == [b"run_id=1&after=2", b""]
    wrong = {"type": "http", "path": "/workflows/runs", "query_string": b"access_token=guess", "headers": []}
    asyncio.run(guard(wrong, receive, send))
    assert wrong["query_string"] == b"" and sent[-2]["status"] == 401
    with make_client(tmp_path, api_token="s3cret") as client:
        docs = client.get("/docs?access_token=s3cret")
        assert docs.status_code == 200 and "/openapi.json?access_token=s3cret" in docs.text
        assert client.get("/openapi.json?access_token=s3cret").status_code == 200
