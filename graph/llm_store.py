"""The persistent LLM response store and per-run call ledger, in SQLite or PostgreSQL."""

# SQLite (default): two tables in <data_dir>/amcs.sqlite. PostgreSQL (``AMCS_DATABASE_URL``): two tables in that
# database, so every server process sharing it replays the same recordings, and a run resumed by another process
# keeps counting against the same budget. psycopg is imported only for PostgreSQL (the server extra).

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agent.llm_cache import BudgetExhausted
from graph.checkpoint import sqlite_path
from graph.storage import is_postgres_url, postgres_conninfo

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_responses (
    key TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_run_calls (
    run_id TEXT PRIMARY KEY,
    calls INTEGER NOT NULL
);
"""

_PG_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS amcs_llm_responses (
        key TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS amcs_llm_run_calls (
        run_id TEXT PRIMARY KEY,
        calls INTEGER NOT NULL
    )""",
)
# Serialises CREATE TABLE IF NOT EXISTS across processes starting together (it can race on the catalog).
_PG_SETUP_LOCK_KEY = 7_341_077


def _exhausted(run_id: str, limit: int) -> BudgetExhausted:
    return BudgetExhausted(f"run {run_id or '(unnamed)'} used its budget of {limit} model calls")


class LLMStore(Protocol):
    """A ResponseStore and CallLedger backed by a database."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, record: dict[str, Any]) -> None: ...

    def charge(self, run_id: str, limit: int) -> int: ...

    def calls(self, run_id: str) -> int: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


class SqliteResponseStore:
    """Responses keyed by call hash, shared by every run on this data directory, and each run's request count.

    The call count is per run id and survives restarts, so a run resumed from its checkpoint keeps spending
    the same budget (a resume after exhausting it needs a larger max_llm_calls). The first recording of a key
    wins: a later put of the same key (another process that asked at the same time) changes nothing.
    """

    def __init__(self, data_dir: str | Path) -> None:
        self._connection = sqlite3.connect(sqlite_path(data_dir), check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._connection.execute("SELECT record FROM llm_responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self._connection.execute(
                "INSERT OR IGNORE INTO llm_responses (key, record, recorded_at) VALUES (?, ?, ?)",
                (key, text, datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def charge(self, run_id: str, limit: int) -> int:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute("SELECT calls FROM llm_run_calls WHERE run_id = ?", (run_id,)).fetchone()
                used = row[0] if row else 0
                if used >= limit:
                    raise _exhausted(run_id, limit)
                connection.execute(
                    "INSERT INTO llm_run_calls (run_id, calls) VALUES (?, 1) "
                    "ON CONFLICT(run_id) DO UPDATE SET calls = calls + 1",
                    (run_id,),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return int(used) + 1

    def calls(self, run_id: str) -> int:
        with self._lock:
            row = self._connection.execute("SELECT calls FROM llm_run_calls WHERE run_id = ?", (run_id,)).fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM llm_responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def _pg_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL (json.dumps already escapes it inside records).
    return value.replace("\x00", "\ufffd")


class PostgresResponseStore:
    """The same store in PostgreSQL, shared by every process on the database.

    One autocommit connection per process, used under a lock (each statement is a single round trip) and
    reopened once if the server dropped it. Every write is one atomic statement: a recording is inserted only
    if its key is new (first write wins), and a charge increments the run's count only while it is under the
    limit, so two processes charging the same run at once can never pass the budget together.
    """

    def __init__(self, database_url: str, *, connect_timeout: int = 10) -> None:
        import psycopg  # the server extra; only needed on PostgreSQL

        self._psycopg = psycopg
        self._conninfo = postgres_conninfo(database_url)
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_SETUP_LOCK_KEY])
                for statement in _PG_SCHEMA:
                    conn.execute(statement)

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(
                self._conninfo, autocommit=True, prepare_threshold=None, connect_timeout=self._connect_timeout
            )
        return self._conn

    def _fetchone(self, sql: str, params: list[Any]) -> Any:
        """Run one statement and return its first row; reconnect and run it again once if the link broke.

        Running a charge again after a broken link can count one request twice (if the first reached the
        server): the budget errs on the side of fewer calls, never more.
        """
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    cursor = conn.execute(sql, params)
                    return cursor.fetchone() if cursor.description is not None else None
                except self._psycopg.OperationalError:
                    if not (conn.closed or conn.broken) or attempt == 2:
                        raise
                    self._conn = None
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._fetchone("SELECT record FROM amcs_llm_responses WHERE key = %s", [_pg_text(key)])
        return json.loads(row[0]) if row else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
        self._fetchone(
            "INSERT INTO amcs_llm_responses (key, record) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
            [_pg_text(key), _pg_text(text)],
        )

    def charge(self, run_id: str, limit: int) -> int:
        if limit < 1:
            raise _exhausted(run_id, limit)
        row = self._fetchone(
            "INSERT INTO amcs_llm_run_calls AS c (run_id, calls) VALUES (%s, 1) "
            "ON CONFLICT (run_id) DO UPDATE SET calls = c.calls + 1 WHERE c.calls < %s "
            "RETURNING c.calls",
            [_pg_text(run_id), limit],
        )
        if row is None:
            raise _exhausted(run_id, limit)
        return int(row[0])

    def calls(self, run_id: str) -> int:
        row = self._fetchone("SELECT calls FROM amcs_llm_run_calls WHERE run_id = %s", [_pg_text(run_id)])
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        row = self._fetchone("SELECT COUNT(*) FROM amcs_llm_responses", [])
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_STORES: dict[str, LLMStore] = {}
_STORES_LOCK = threading.Lock()


def response_store(data_dir: str | Path, database_url: str | None = None) -> LLMStore:
    """One store per database per process (the engine is built anew for every node call).

    PostgreSQL when `database_url` is a postgresql:// URL (the service's AMCS_DATABASE_URL), else the SQLite
    database in `data_dir`.
    """
    if database_url and is_postgres_url(database_url):
        name = "postgres:" + postgres_conninfo(database_url)
        with _STORES_LOCK:
            if name not in _STORES:
                _STORES[name] = PostgresResponseStore(database_url)
            return _STORES[name]
    path = str(Path(data_dir).resolve())
    with _STORES_LOCK:
        if path not in _STORES:
            _STORES[path] = SqliteResponseStore(path)
        return _STORES[path]


def close_stores() -> None:
    with _STORES_LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()
