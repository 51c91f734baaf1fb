"""The response store and call ledger, on SQLite and PostgreSQL: shared across store instances (processes),
first recording wins, budgets enforced per run and atomically."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from agent.llm_cache import BudgetExhausted
from graph.llm_store import (
    LLMStore,
    PostgresResponseStore,
    SqliteResponseStore,
    close_stores,
    response_store,
)

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


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards (parallel runs never collide)."""
    if not PG_URL:
        pytest.skip("AMCS_TEST_DATABASE_URL is not set")
    import psycopg

    schema = f"amcs_llm_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        close_stores()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], LLMStore]]:
    """Opens a new store on the same database each call, as another process would."""
    opened: list[LLMStore] = []
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")

        def open_store() -> LLMStore:
            opened.append(PostgresResponseStore(url))
            return opened[-1]
    else:

        def open_store() -> LLMStore:
            opened.append(SqliteResponseStore(tmp_path))
            return opened[-1]

    yield open_store
    for store in opened:
        store.close()


def test_records_persist_across_connections(opener: Callable[[], LLMStore]) -> None:
    first = opener()
    first.put("k1", {"tool_json": '{"a": 1}', "usage": {"input_tokens": 3}, "text": "nul \x00 ☀"})
    first.close()

    second = opener()
    assert second.get("k1") == {"tool_json": '{"a": 1}', "usage": {"input_tokens": 3}, "text": "nul \x00 ☀"}
    assert second.get("missing") is None and len(second) == 1


def test_the_first_recording_of_a_key_wins(opener: Callable[[], LLMStore]) -> None:
    one, other = opener(), opener()
    one.put("k", {"text": "first"})
    other.put("k", {"text": "second"})
    one.put("k", {"text": "first"})

    assert one.get("k") == other.get("k") == {"text": "first"} and len(other) == 1


def test_the_ledger_counts_per_run_and_refuses_past_the_budget(opener: Callable[[], LLMStore]) -> None:
    store = opener()
    assert [store.charge("run-a", 2), store.charge("run-a", 2)] == [1, 2]
    with pytest.raises(BudgetExhausted, match="budget of 2"):
        store.charge("run-a", 2)
    assert store.charge("run-b", 2) == 1
    assert store.calls("run-a") == 2 and store.calls("run-c") == 0
    with pytest.raises(BudgetExhausted, match="budget of 0"):
        store.charge("run-c", 0)
    # Another process resuming run-a sees its count, and a larger budget lets it go on.
    resumed = opener()
    assert resumed.calls("run-a") == 2 and resumed.charge("run-a", 3) == 3


def test_concurrent_charges_from_many_connections_never_pass_the_budget(opener: Callable[[], LLMStore]) -> None:
    stores = [opener() for _ in range(4)]
    granted: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def spend(store: LLMStore) -> None:
        for _ in range(10):
            try:
                total = store.charge("shared-run", 25)
            except BudgetExhausted:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    granted.append(total)

    threads = [threading.Thread(target=spend, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(granted) == list(range(1, 26)) and len(refused) == 15
    assert stores[0].calls("shared-run") == 25


def test_response_store_is_one_per_database_and_chosen_by_the_url(tmp_path: Path) -> None:
    try:
        store = response_store(tmp_path)
        assert isinstance(store, SqliteResponseStore)
        assert response_store(tmp_path, None) is store
        assert response_store(tmp_path, "mysql://elsewhere/db") is store  # not PostgreSQL: SQLite as before
        assert (tmp_path / "amcs.sqlite").exists()
    finally:
        close_stores()


@pytest.mark.postgres
def test_a_postgresql_url_keeps_recordings_and_counts_in_postgresql(tmp_path: Path, pg_url: str) -> None:
    store = response_store(tmp_path / "data", pg_url)
    assert isinstance(store, PostgresResponseStore)
    assert response_store(tmp_path / "other", pg_url) is store
    assert not (tmp_path / "data").exists()
    store.put("k", {"text": "shared"})
    store.charge("run-x", 5)
    close_stores()

    again = response_store(tmp_path / "data", pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    assert again is not store
    assert again.get("k") == {"text": "shared"} and again.calls("run-x") == 1


@pytest.mark.postgres
def test_the_postgres_store_reconnects_after_the_server_drops_it(pg_url: str) -> None:
    import psycopg

    store = PostgresResponseStore(pg_url)
    try:
        store.put("k", {"text": "kept"})
        pid: Any = store._fetchone("SELECT pg_backend_pid()", [])[0]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])

        assert store.get("k") == {"text": "kept"}
        assert store.charge("run-r", 3) == 1
    finally:
        store.close()
