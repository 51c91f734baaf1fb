"""End to end: the real anthropic client over HTTP to a loopback Messages-API stub, through the graph."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("anthropic")

from agent.llm import AnthropicBackend, CallHooks, ChatReply, ChatRequest, LLMCallError  # noqa: E402
from agent.sds import parse_sds  # noqa: E402
from agent.settings import get_settings  # noqa: E402
from graph import engines  # noqa: E402
from graph.builder import build_graph  # noqa: E402
from graph.checkpoint import sqlite_checkpointer  # noqa: E402
from graph.context import Context  # noqa: E402
from graph.llm_store import PostgresResponseStore, close_stores, response_store  # noqa: E402
from graph.runner import run_song  # noqa: E402
from server.cli import main as cli_main  # noqa: E402
from server.cli import write_outputs  # noqa: E402
from tests.support.anthropic_stub import AnthropicStub, Fault  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sds" / "pop_complexity_1.json"
API_KEY = "sk-ant-test-k3y-th4t-must-never-be-stored-0123456789"
WRITERS = ("generate_style", "write_lyrics", "draft_producer_notes")
# Long enough for the stub to write a lyric on a busy 2-core machine; the timeout fault waits longer.
TIMEOUT = 3.0


@pytest.fixture()
def stub() -> Iterator[AnthropicStub]:
    with AnthropicStub() as server:
        yield server


@pytest.fixture()
def data_dir(stub: AnthropicStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.url)
    monkeypatch.setenv("AMCS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(engines, "LLM_TIMEOUT_SECONDS", TIMEOUT)
    monkeypatch.setattr(engines, "LLM_BASE_DELAY_SECONDS", 0.01)
    get_settings.cache_clear()
    engines._anthropic_backend.cache_clear()
    yield tmp_path / "data"
    close_stores()
    engines._anthropic_backend.cache_clear()
    get_settings.cache_clear()


@pytest.fixture()
def sds() -> dict[str, Any]:
    return parse_sds(EXAMPLE.read_bytes())


def context(data_dir: Path, **overrides: Any) -> Context:
    return Context(**{"engine": "anthropic", "model": "claude-stub-1", "data_dir": str(data_dir), **overrides})


def run(
    data_dir: Path, sds: dict[str, Any], run_id: str, **overrides: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    with sqlite_checkpointer(data_dir) as saver:
        values = run_song(
            sds,
            checkpointer=saver,
            context=context(data_dir, **overrides),
            run_id=run_id,
            on_event=events.append,
        )
    return values, events


def resume(data_dir: Path, run_id: str, **overrides: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    config = {"configurable": {"thread_id": run_id}, "recursion_limit": 100}
    with sqlite_checkpointer(data_dir) as saver:
        app = build_graph().compile(checkpointer=saver)
        for _, event in app.stream(None, config, context=context(data_dir, **overrides), stream_mode=["custom"]):
            events.append(event)
        values = dict(app.get_state(config).values)
    return values, events


def ends(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["node"]: e for e in events if e["event"] == "node.end"}


def test_full_run_streams_accounts_replays_and_never_stores_the_key(
    stub: AnthropicStub, data_dir: Path, sds: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    values, events = run(data_dir, sds, "run-one")

    review = values["review"]
    assert review["status"] == "pass"
    assert {s.tool for s in stub.seen} >= {"submit_style", "submit_lyrics", "submit_producer_notes"}
    tokens = [e for e in events if e["event"] == "token" and e["node"] == "write_lyrics"]
    assert len(tokens) > 5
    lyric_line = values["artifacts"]["lyrics"]["sections"][1]["lines"][0]
    assert lyric_line in "".join(e["text"] for e in tokens)
    node_ends = ends(events)
    for node in WRITERS:
        metrics = node_ends[node]["metrics"]
        for key in ("llm_calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            assert key in metrics, (node, key)
        assert metrics["llm_calls"] >= 1 and metrics["llm_decoding"]["temperature"] <= 0.3
    totals = stub.totals()
    usage = review["usage"]
    assert usage["llm_calls"] == totals["requests"]
    for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        assert usage[key] == totals[key], key
    assert usage["cache_read_tokens"] > 0
    assert all(s.api_key and API_KEY in s.api_key for s in stub.seen)

    requests_before = stub.requests
    again, again_events = run(data_dir, sds, "run-two")

    assert stub.requests == requests_before
    assert again["review"]["artifact_hashes"] == review["artifact_hashes"]
    assert again["review"]["usage"]["llm_calls"] == 0
    assert again["review"]["usage"]["llm_replayed"] == usage["llm_calls"]

    out = tmp_path / "out"
    write_outputs(out, values)
    stored = [p for p in [*data_dir.rglob("*"), *out.rglob("*")] if p.is_file()]
    assert any(p.name.startswith("amcs.sqlite") for p in stored)
    for path in stored:
        assert API_KEY.encode() not in path.read_bytes(), path
    for text in (json.dumps(events), json.dumps(again_events), json.dumps(values, default=str), caplog.text):
        assert API_KEY not in text


def test_faults_are_retried_and_malformed_json_is_repaired(
    stub: AnthropicStub, data_dir: Path, sds: dict[str, Any]
) -> None:
    stub.faults = [
        Fault("429"),
        Fault("529"),
        Fault("500"),
        Fault("timeout", delay=TIMEOUT + 0.5),
        Fault("malformed", tool="submit_lyrics"),
    ]

    values, events = run(data_dir, sds, "run-faults")

    assert values["review"]["status"] == "pass"
    statuses = [s.status for s in stub.seen]
    assert {429, 529, 500, 0} <= set(statuses)
    retries = [e for e in events if e["event"] == "node.info" and e["issues"][0]["code"] == "llm_retry"]
    assert len(retries) == 4
    assert any("timed out" in e["issues"][0]["message"] for e in retries)
    assert any("write_lyrics" in w and "repaired" in w for w in values["review"]["warnings"])
    assert values["review"]["usage"]["llm_retries"] == 4


def test_fix_by_the_model_changes_only_the_failing_line(
    stub: AnthropicStub, data_dir: Path, sds: dict[str, Any]
) -> None:
    clean, _ = run(data_dir, sds, "run-clean")
    stub.faults = [Fault("profane", tool="submit_lyrics")]

    # Another model name: the same SDS and seed would otherwise replay the clean run's recordings.
    values, events = run(data_dir, sds, "run-profane", model="claude-stub-2")

    review = values["review"]
    assert review["status"] == "pass" and review["fix_iterations"] == 1
    fix_requests = [s for s in stub.seen if s.tool == "submit_fix"]
    assert len(fix_requests) == 1
    sent = fix_requests[0].body["messages"][0]["content"]
    (change,) = review["fixes"][0]["changes"]
    assert change["artifact"] == "lyrics" and change["action"] == "replace_profanity"
    assert "shit" in change["before"] and "shit" not in change["after"]
    section_id = change["target"].split(" line ")[0]
    other_ids = [s["id"] for s in clean["artifacts"]["lyrics"]["sections"] if s["id"] != section_id]
    assert all(f'"{other} line 1"' not in sent for other in other_ids)
    before = {s["id"]: s["lines"] for s in clean["artifacts"]["lyrics"]["sections"]}
    after = {s["id"]: s["lines"] for s in values["artifacts"]["lyrics"]["sections"]}
    assert {k: v for k, v in after.items() if k != section_id} == {k: v for k, v in before.items() if k != section_id}
    assert after[section_id][1:] == before[section_id][1:]
    assert ends(events)["apply_fixes"]["metrics"]["llm_calls"] == 1


def test_a_node_out_of_retries_fails_with_a_reason_and_the_run_resumes_from_its_checkpoint(
    stub: AnthropicStub, data_dir: Path, sds: dict[str, Any]
) -> None:
    stub.faults = [Fault("429", tool="submit_lyrics") for _ in range(engines.LLM_MAX_RETRIES + 1)]

    events: list[dict[str, Any]] = []
    with pytest.raises(Exception, match="rate limited"), sqlite_checkpointer(data_dir) as saver:
        run_song(sds, checkpointer=saver, context=context(data_dir), run_id="run-resume", on_event=events.append)
    fails = [e for e in events if e["event"] == "node.fail"]
    assert [e["node"] for e in fails] == ["write_lyrics"]
    assert "gave up after 5 attempts" in fails[0]["issues"][0]["message"]

    seen_before = len(stub.seen)
    values, resumed = resume(data_dir, "run-resume")

    assert values["review"]["status"] == "pass"
    asked = [s.tool for s in stub.seen[seen_before:]]
    assert "submit_lyrics" in asked
    assert "submit_style" not in asked and "submit_producer_notes" not in asked
    assert not any(e.get("node") in ("generate_style", "draft_producer_notes") for e in resumed)


def test_output_invalid_after_repair_fails_the_node_or_falls_back(
    stub: AnthropicStub, data_dir: Path, sds: dict[str, Any]
) -> None:
    stub.faults = [Fault("invalid", tool="submit_lyrics"), Fault("invalid", tool="submit_lyrics")]
    events: list[dict[str, Any]] = []
    with pytest.raises(Exception, match="did not validate"), sqlite_checkpointer(data_dir) as saver:
        run_song(sds, checkpointer=saver, context=context(data_dir), run_id="run-invalid", on_event=events.append)
    fail = next(e for e in events if e["event"] == "node.fail")
    assert fail["node"] == "write_lyrics" and "did not validate" in fail["issues"][0]["message"]

    stub.faults = [Fault("invalid", tool="submit_lyrics"), Fault("invalid", tool="submit_lyrics")]
    values, _ = run(data_dir, sds, "run-fallback", llm_failure_policy="fallback")

    assert values["review"]["status"] == "pass"
    assert any("fell back to the offline engine" in w for w in values["review"]["warnings"])


def test_the_run_budget_stops_the_run(stub: AnthropicStub, data_dir: Path, sds: dict[str, Any]) -> None:
    events: list[dict[str, Any]] = []
    with pytest.raises(Exception, match="budget of 2 model calls"), sqlite_checkpointer(data_dir) as saver:
        run_song(
            sds,
            checkpointer=saver,
            context=context(data_dir, max_llm_calls=2),
            run_id="run-budget",
            on_event=events.append,
        )
    assert stub.requests == 2
    assert any("budget" in e["issues"][0]["message"] for e in events if e["event"] == "node.fail")


def test_cli_refuses_the_anthropic_engine_without_a_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("AMCS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        code = cli_main(["run", str(EXAMPLE), "--engine", "anthropic", "--quiet"])
    finally:
        get_settings.cache_clear()
    assert code == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "amcs.sqlite").exists()


# ------------------------------------------------------------------------------------------ the backend alone


class Hooks:
    def __init__(self) -> None:
        self.attempts = 0
        self.text: list[str] = []
        self.retries: list[tuple[int, float, str]] = []

    def hooks(self) -> CallHooks:
        def attempt() -> None:
            self.attempts += 1

        return CallHooks(attempt, self.text.append, lambda n, delay, why: self.retries.append((n, delay, why)))


def small_answer(tool: str, first_user: str) -> dict[str, Any]:
    return {"title": "a small answer", "lines": [f"line {i} of the song" for i in range(40)]}


@pytest.fixture()
def small_stub() -> Iterator[AnthropicStub]:
    with AnthropicStub(answer=small_answer, chunk=16) as server:
        yield server


def ask(stub: AnthropicStub, hooks: Hooks, **options: Any) -> ChatReply:
    backend = AnthropicBackend(
        api_key=API_KEY, base_url=stub.url, **{"timeout": 1.0, "base_delay": 0.01, "max_retries": 2, **options}
    )
    request = ChatRequest(
        model="claude-stub-1",
        system=[{"type": "text", "text": "rules"}],
        messages=[{"role": "user", "content": "write"}],
        tools=[{"name": "submit_style", "description": "d", "input_schema": {"type": "object"}}],
        tool_name="submit_style",
        temperature=0.2,
        max_tokens=512,
    )
    return backend.complete(request, hooks.hooks())


@pytest.mark.parametrize("kind", ["stall", "cut", "overloaded"])
def test_a_stream_broken_halfway_is_retried(small_stub: AnthropicStub, kind: str) -> None:
    # Mid-stream: a read timeout (httpx's own exception), a dropped connection (the SDK just stops), or an
    # SSE error event on an HTTP 200 response; each must be a retry, not a crash or a repair request.
    small_stub.faults = [Fault(kind, delay=1.5)]
    hooks = Hooks()

    reply = ask(small_stub, hooks)

    assert json.loads(reply.tool_json or "") == small_answer("", "")
    assert hooks.attempts == 2 and small_stub.requests == 2 and len(hooks.retries) == 1
    assert [s.status for s in small_stub.seen] == [0, 200]


@pytest.mark.parametrize("status", ["400", "401", "403", "404"])
def test_a_refused_request_is_not_retried_and_its_error_never_carries_the_key(
    small_stub: AnthropicStub, status: str
) -> None:
    small_stub.faults = [Fault(status)]
    hooks = Hooks()

    with pytest.raises(LLMCallError) as caught:
        ask(small_stub, hooks)

    assert small_stub.requests == 1 and hooks.attempts == 1 and not hooks.retries
    assert API_KEY in (small_stub.seen[0].api_key or "")  # the endpoint did echo it
    shown = "".join(traceback.format_exception(caught.value))
    assert f"({status})" in str(caught.value) and f"req_stub{status}" in str(caught.value)
    assert API_KEY not in shown and API_KEY[:-8] not in shown


def test_a_call_never_outlives_its_time_limit(small_stub: AnthropicStub) -> None:
    # Each chunk arrives well inside the read timeout, but the whole answer would take ~4 s.
    small_stub.faults = [Fault("trickle", delay=0.07)]
    hooks = Hooks()
    started = time.monotonic()

    with pytest.raises(LLMCallError, match="time limit"):
        ask(small_stub, hooks, total_timeout=1.0)

    assert time.monotonic() - started < 2.5
    assert small_stub.requests == 1 and not hooks.retries


def test_no_retry_is_started_that_would_end_past_the_time_limit(small_stub: AnthropicStub) -> None:
    small_stub.faults = [Fault("stall", delay=1.5), Fault("stall", delay=1.5)]
    hooks = Hooks()
    started = time.monotonic()

    with pytest.raises(LLMCallError, match="time limit"):
        ask(small_stub, hooks, timeout=0.6, total_timeout=1.0, base_delay=0.5, max_delay=0.5)

    assert time.monotonic() - started < 2.0 and hooks.attempts == small_stub.requests <= 2


# ------------------------------------------------------------------------------------------ PostgreSQL

PG_URL = os.environ.get("AMCS_TEST_DATABASE_URL")


@pytest.fixture()
def pg_url(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """AMCS_DATABASE_URL pointing at a fresh schema of the test database."""
    if not PG_URL:
        pytest.skip("AMCS_TEST_DATABASE_URL is not set")
    import psycopg

    schema = f"amcs_llm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{joiner}options={quote(f'-csearch_path={schema}')}"
    monkeypatch.setenv("AMCS_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        close_stores()
        get_settings.cache_clear()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.mark.postgres
def test_on_postgresql_recordings_and_budgets_are_shared_between_processes(
    stub: AnthropicStub, data_dir: Path, pg_url: str, sds: dict[str, Any]
) -> None:
    values, _ = run(data_dir, sds, "pg-one")
    asked = stub.requests
    assert asked >= 3 and values["review"]["usage"]["llm_calls"] == asked
    store = response_store(data_dir, pg_url)
    assert isinstance(store, PostgresResponseStore) and len(store) == asked
    assert store.calls("pg-one") == asked
    with sqlite3.connect(data_dir / "amcs.sqlite") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "llm_responses" not in tables and "llm_run_calls" not in tables

    # Another process: nothing in memory, a new connection, and another data directory.
    close_stores()
    again, _ = run(data_dir.parent / "elsewhere", sds, "pg-two")
    assert stub.requests == asked and again["review"]["usage"]["llm_replayed"] == asked
    assert again["review"]["artifact_hashes"] == values["review"]["artifact_hashes"]

    # A budget spent by one process is still spent when another resumes the run.
    with pytest.raises(Exception, match="budget of 1 model calls"), sqlite_checkpointer(data_dir) as saver:
        run_song(
            sds,
            checkpointer=saver,
            context=context(data_dir, model="claude-stub-3", max_llm_calls=1),
            run_id="pg-budget",
        )
    close_stores()
    before = stub.requests
    with pytest.raises(Exception, match="budget of 1 model calls"):
        resume(data_dir, "pg-budget", model="claude-stub-3", max_llm_calls=1)
    assert stub.requests == before
    assert response_store(data_dir, pg_url).calls("pg-budget") == 1
