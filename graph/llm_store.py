"""The persistent LLM response store and per-run call ledger: two tables in <data_dir>/amcs.sqlite."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.llm_cache import BudgetExhausted
from graph.checkpoint import sqlite_path

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


class SqliteResponseStore:
    """Responses keyed by call hash, shared by every run on this data directory, and each run's request count.

    The call count is per run id and survives restarts, so a run resumed from its checkpoint keeps spending
    the same budget (a resume after exhausting it needs a larger max_llm_calls).
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
                "INSERT OR REPLACE INTO llm_responses (key, record, recorded_at) VALUES (?, ?, ?)",
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
                    raise BudgetExhausted(f"run {run_id or '(unnamed)'} used its budget of {limit} model calls")
                connection.execute(
                    "INSERT INTO llm_run_calls (run_id, calls) VALUES (?, 1) "
                    "ON CONFLICT(run_id) DO UPDATE SET calls = calls + 1",
                    (run_id,),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return used + 1

    def calls(self, run_id: str) -> int:
        with self._lock:
            row = self._connection.execute("SELECT calls FROM llm_run_calls WHERE run_id = ?", (run_id,)).fetchone()
        return row[0] if row else 0

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM llm_responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()


_STORES: dict[str, SqliteResponseStore] = {}
_STORES_LOCK = threading.Lock()


def response_store(data_dir: str | Path) -> SqliteResponseStore:
    """One store per data directory per process (the engine is built anew for every node call)."""
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
