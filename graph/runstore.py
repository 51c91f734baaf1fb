"""Run and event persistence beside the checkpoints: SQLite (aiosqlite) or PostgreSQL (psycopg pool)."""

# Two tables live in the same database as LangGraph's checkpoints:
#
# * ``amcs_runs``: one row per run (status, request, progress summary, lease owner for background execution);
# * ``amcs_events``: the event log. ``id`` is a per-run monotonic sequence, assigned in the same transaction
#   that stores the event (the run row's ``last_event_id`` is bumped under its row lock); ``gid`` is a global
#   monotonic id (AUTOINCREMENT / BIGSERIAL) used by the all-runs stream. On PostgreSQL event inserts take a
#   transaction-scoped advisory lock, so ``gid`` order is commit order and a reader polling ``gid > cursor``
#   never skips a row that commits late.
#
# The store knows nothing of HTTP; ``graph.service`` drives it.

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graph.events import WorkflowEvent

ACTIVE_STATUSES = ("queued", "running")
TERMINAL_STATUSES = ("passed", "failed", "cancelled", "error")
STATUSES = ACTIVE_STATUSES + TERMINAL_STATUSES
EVENT_LOCK_KEY = 7_341_004  # pg advisory lock serialising event inserts (gid order == commit order)
NOTIFY_CHANNEL = "amcs_events"
CONTROL_CHANNEL = "amcs_control"

_JSON_COLUMNS = ("request", "summary", "pending", "manifest")
RUN_COLUMNS = (
    "seq",
    "run_id",
    "status",
    "title",
    "genre",
    "engine",
    "model",
    "request",
    "manifest",
    "parent_run_id",
    "parent_checkpoint_id",
    "current_node",
    "iteration",
    "summary",
    "error",
    "attempt",
    "last_event_id",
    "cancel_requested",
    "pending",
    "owner",
    "lease_until",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
)
UPDATABLE = set(RUN_COLUMNS) - {"seq", "run_id", "created_at"}


class StoredEvent(WorkflowEvent):
    """A workflow event as stored: `id` is the per-run sequence, `gid` the global one (all-runs stream)."""

    gid: int | None = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _schema(serial: str, real: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS amcs_runs (
            seq {serial},
            run_id TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL,
            title TEXT,
            genre TEXT,
            engine TEXT,
            model TEXT,
            request TEXT NOT NULL,
            manifest TEXT,
            parent_run_id TEXT,
            parent_checkpoint_id TEXT,
            current_node TEXT,
            iteration INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL DEFAULT '{{}}',
            error TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            last_event_id INTEGER NOT NULL DEFAULT 0,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            pending TEXT,
            owner TEXT,
            lease_until {real} NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS amcs_runs_status ON amcs_runs (status, seq)",
        f"""CREATE TABLE IF NOT EXISTS amcs_events (
            gid {serial},
            run_id TEXT NOT NULL,
            id INTEGER NOT NULL,
            ts TEXT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (run_id, id)
        )""",
    ]


def _row_to_run(row: dict[str, Any]) -> dict[str, Any]:
    run = dict(row)
    for key in _JSON_COLUMNS:
        value = run.get(key)
        run[key] = json.loads(value) if isinstance(value, str) and value else ({} if key != "pending" else None)
    run["cancel_requested"] = bool(run.get("cancel_requested"))
    return run


def _row_to_event(row: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(row["body"])
    return {**body, "id": row["id"], "gid": row["gid"], "ts": row["ts"], "run_id": row["run_id"]}


def _encode(key: str, value: Any) -> Any:
    if key in _JSON_COLUMNS and value is not None:
        return json.dumps(value, sort_keys=True, default=str)
    if key == "cancel_requested":
        return int(bool(value))
    return value


class RunStore:
    """Dialect-neutral SQL over an async connection; subclasses provide `_tx`, `_fetch` and `_execute`."""

    dialect = "base"

    # -- plumbing ----------------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Any]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield None

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    async def _tx_fetch(self, tx: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover

    async def _before_event_insert(self, tx: Any) -> None:
        return None

    async def _after_event_insert(self, tx: Any, run_id: str) -> None:
        return None

    async def setup(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def close(self) -> None:
        return None

    # -- runs --------------------------------------------------------------------------------------------
    async def create_run(self, run: dict[str, Any]) -> dict[str, Any]:
        stamp = now_iso()
        values = {"created_at": stamp, "updated_at": stamp, "summary": {}, **run}
        keys = [k for k in values if k in RUN_COLUMNS and k != "seq"]
        placeholders = ", ".join("?" for _ in keys)
        async with self._tx() as tx:
            await self._tx_fetch(
                tx,
                f"INSERT INTO amcs_runs ({', '.join(keys)}) VALUES ({placeholders}) RETURNING seq",
                [_encode(k, values[k]) for k in keys],
            )
        created = await self.get_run(values["run_id"])
        assert created is not None
        return created

    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        rows = await self._fetch("SELECT * FROM amcs_runs WHERE run_id = ?", [run_id])
        return _row_to_run(rows[0]) if rows else None

    async def update_run(self, run_id: str, *, where_owner: str | None = None, **fields: Any) -> bool:
        """Update columns of a run; with `where_owner`, only while that process still owns it."""
        fields.setdefault("updated_at", now_iso())
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"unknown run columns: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        params = [_encode(k, v) for k, v in fields.items()] + [run_id]
        sql = f"UPDATE amcs_runs SET {sets} WHERE run_id = ?"
        if where_owner is not None:
            sql += " AND owner = ?"
            params.append(where_owner)
        async with self._tx() as tx:
            rows = await self._tx_fetch(tx, sql + " RETURNING run_id", params)
        return bool(rows)

    async def list_runs(
        self,
        *,
        statuses: Sequence[str] = (),
        engine: str | None = None,
        genre: str | None = None,
        title: str | None = None,
        parent_run_id: str | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Newest first; `before_seq` is the cursor (the `seq` of the last run of the previous page)."""
        clauses: list[str] = []
        params: list[Any] = []
        if statuses:
            clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params += list(statuses)
        for column, value in (("engine", engine), ("genre", genre), ("parent_run_id", parent_run_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if title:
            clauses.append("LOWER(title) LIKE ?")
            params.append(f"%{title.lower()}%")
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._fetch(f"SELECT * FROM amcs_runs {where} ORDER BY seq DESC LIMIT ?", [*params, limit])
        return [_row_to_run(r) for r in rows]

    # -- leases ------------------------------------------------------------------------------------------
    async def renew_leases(self, owner: str, until: float) -> None:
        async with self._tx() as tx:
            await self._tx_fetch(
                tx,
                "UPDATE amcs_runs SET lease_until = ? WHERE owner = ? AND status IN ('queued', 'running') "
                "RETURNING run_id",
                [until, owner],
            )

    async def orphan_candidates(self, owner: str, now: float) -> list[dict[str, Any]]:
        """Active runs owned by nobody, by another process whose lease ran out, or any other active run
        (the caller decides whether a live owner is really gone, e.g. a dead pid on this host)."""
        rows = await self._fetch(
            "SELECT run_id, owner, lease_until FROM amcs_runs WHERE status IN ('queued', 'running') "
            "AND (owner IS NULL OR owner <> ?) ORDER BY seq",
            [owner],
        )
        return rows

    async def claim(
        self,
        run_id: str,
        owner: str,
        until: float,
        *,
        expected_owner: str | None,
        now: float,
        force: bool = False,
    ) -> bool:
        """Take over an active run whose owner is gone: succeeds for exactly one process."""
        sql = (
            "UPDATE amcs_runs SET owner = ?, lease_until = ?, updated_at = ? WHERE run_id = ? "
            "AND status IN ('queued', 'running') AND "
        )
        params: list[Any] = [owner, until, now_iso(), run_id]
        if expected_owner is None:
            sql += "owner IS NULL"
        else:
            sql += "owner = ?"
            params.append(expected_owner)
        if not force:
            sql += " AND lease_until < ?"
            params.append(now)
        async with self._tx() as tx:
            rows = await self._tx_fetch(tx, sql + " RETURNING run_id", params)
        return bool(rows)

    async def release(self, owner: str, run_ids: Sequence[str]) -> None:
        """Give up runs on shutdown so the next process resumes them at once."""
        for run_id in run_ids:
            async with self._tx() as tx:
                await self._tx_fetch(
                    tx,
                    "UPDATE amcs_runs SET owner = NULL, lease_until = 0 WHERE run_id = ? AND owner = ? "
                    "RETURNING run_id",
                    [run_id, owner],
                )

    async def transition(
        self,
        run_id: str,
        from_statuses: Sequence[str],
        *,
        expected_owner: str | None,
        lease_before: float | None = None,
        **fields: Any,
    ) -> bool:
        """Update a run only while its status is one of `from_statuses` and its owner is `expected_owner`
        (and, with `lease_before`, only while its lease ends before that time)."""
        fields.setdefault("updated_at", now_iso())
        sets = ", ".join(f"{k} = ?" for k in fields)
        params = [_encode(k, v) for k, v in fields.items()] + [run_id, *from_statuses]
        sql = (
            f"UPDATE amcs_runs SET {sets} WHERE run_id = ? AND status IN ({', '.join('?' for _ in from_statuses)}) AND "
        )
        if expected_owner is None:
            sql += "owner IS NULL"
        else:
            sql += "owner = ?"
            params.append(expected_owner)
        if lease_before is not None:
            sql += " AND lease_until < ?"
            params.append(lease_before)
        async with self._tx() as tx:
            rows = await self._tx_fetch(tx, sql + " RETURNING run_id", params)
        return bool(rows)

    async def cancel_requests(self, owner: str) -> list[str]:
        rows = await self._fetch(
            "SELECT run_id FROM amcs_runs WHERE owner = ? AND cancel_requested = 1 AND status IN ('queued', 'running')",
            [owner],
        )
        return [r["run_id"] for r in rows]

    # -- events ------------------------------------------------------------------------------------------
    async def append_event(
        self,
        run_id: str,
        event: dict[str, Any],
        run_updates: dict[str, Any] | None = None,
        *,
        where_owner: str | None = None,
        where_statuses: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        """Store one event with the next per-run id and apply `run_updates` in the same transaction.

        Returns the stored event, or None when `where_owner` no longer owns the run or its status is not one
        of `where_statuses` (when given); then nothing is written.
        """
        body = {k: v for k, v in event.items() if k not in ("id", "gid", "ts", "run_id")}
        stamp = now_iso()
        updates = {"updated_at": stamp, **(run_updates or {})}
        sets = ", ".join(f"{k} = ?" for k in updates)
        params = [_encode(k, v) for k, v in updates.items()] + [run_id]
        sql = f"UPDATE amcs_runs SET last_event_id = last_event_id + 1, {sets} WHERE run_id = ?"
        if where_owner is not None:
            sql += " AND owner = ?"
            params.append(where_owner)
        if where_statuses:
            sql += f" AND status IN ({', '.join('?' for _ in where_statuses)})"
            params += list(where_statuses)
        async with self._tx() as tx:
            await self._before_event_insert(tx)
            rows = await self._tx_fetch(tx, sql + " RETURNING last_event_id", params)
            if not rows:
                return None
            seq = rows[0]["last_event_id"]
            inserted = await self._tx_fetch(
                tx,
                "INSERT INTO amcs_events (run_id, id, ts, body) VALUES (?, ?, ?, ?) RETURNING gid",
                [run_id, seq, stamp, json.dumps(body, default=str, ensure_ascii=False)],
            )
            await self._after_event_insert(tx, run_id)
        return {**body, "id": seq, "gid": inserted[0]["gid"], "ts": stamp, "run_id": run_id}

    async def events_after(self, run_id: str, after: int, limit: int = 500) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT gid, run_id, id, ts, body FROM amcs_events WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?",
            [run_id, after, limit],
        )
        return [_row_to_event(r) for r in rows]

    async def all_events_after(self, after_gid: int, limit: int = 500) -> list[dict[str, Any]]:
        rows = await self._fetch(
            "SELECT gid, run_id, id, ts, body FROM amcs_events WHERE gid > ? ORDER BY gid LIMIT ?",
            [after_gid, limit],
        )
        return [_row_to_event(r) for r in rows]

    async def last_gid(self) -> int:
        rows = await self._fetch("SELECT MAX(gid) AS gid FROM amcs_events")
        return int(rows[0]["gid"] or 0) if rows else 0

    async def listen(self, callback: Any, control: Any = None) -> None:
        """Cross-process notifications (PostgreSQL LISTEN): `callback(run_id)` on new events and
        `control(message)` on control messages; a no-op where one process owns the file."""
        return None

    async def request_cancel(self, run_id: str) -> bool:
        """Flag an active run for cancellation by whichever process owns it."""
        async with self._tx() as tx:
            rows = await self._tx_fetch(
                tx,
                "UPDATE amcs_runs SET cancel_requested = 1 "
                "WHERE run_id = ? AND status IN ('queued', 'running') "
                "RETURNING run_id",
                [run_id],
            )
            if rows:
                await self._after_cancel_request(tx, run_id)
        return bool(rows)

    async def _after_cancel_request(self, tx: Any, run_id: str) -> None:
        return None


class SqliteRunStore(RunStore):
    """aiosqlite on <data_dir>/amcs.sqlite (WAL): one writer connection, one reader connection."""

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._writer: Any = None
        self._reader: Any = None
        self._write_lock = asyncio.Lock()

    async def _connect(self) -> Any:
        import aiosqlite

        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    async def setup(self) -> None:
        self._writer = await self._connect()
        self._reader = await self._connect()
        async with self._tx() as tx:
            for statement in _schema("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL"):
                await tx.execute(statement)

    async def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Any]:
        async with self._write_lock:
            conn = self._writer
            for attempt in range(50):
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    break
                except Exception as exc:  # database is locked by another process beyond busy_timeout
                    if "locked" not in str(exc) or attempt == 49:
                        raise
                    await asyncio.sleep(0.05)
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")

    async def _tx_fetch(self, tx: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows = await tx.execute_fetchall(sql, list(params))
        return [dict(r) for r in rows]

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        # execute and fetch in one call on the reader's thread: interleaved cursors would keep a read
        # transaction open and make later queries see an old snapshot.
        rows = await self._reader.execute_fetchall(sql, list(params))
        return [dict(r) for r in rows]


class PostgresRunStore(RunStore):
    """psycopg AsyncConnectionPool shared with LangGraph's AsyncPostgresSaver."""

    dialect = "postgres"

    def __init__(self, pool: Any, conninfo: str):
        self.pool = pool
        self.conninfo = conninfo
        self._listener: asyncio.Task[None] | None = None

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @staticmethod
    def _params(params: Sequence[Any]) -> list[Any]:
        # PostgreSQL text cannot hold NUL: such a value can match nothing stored, so make it harmless.
        return [p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params]

    async def setup(self) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_LOCK_KEY + 1])
            for statement in _schema("BIGSERIAL PRIMARY KEY", "DOUBLE PRECISION"):
                await conn.execute(statement)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Any]:
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    async def _tx_fetch(self, tx: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = await tx.execute(self._sql(sql), self._params(params))
        if cursor.description is None:
            return []
        return [dict(r) for r in await cursor.fetchall()]

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(self._sql(sql), self._params(params))
            return [dict(r) for r in await cursor.fetchall()]

    async def _before_event_insert(self, tx: Any) -> None:
        await tx.execute("SELECT pg_advisory_xact_lock(%s)", [EVENT_LOCK_KEY])

    async def _after_event_insert(self, tx: Any, run_id: str) -> None:
        await tx.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, run_id])

    async def _after_cancel_request(self, tx: Any, run_id: str) -> None:
        await tx.execute("SELECT pg_notify(%s, %s)", [CONTROL_CHANNEL, f"cancel:{run_id}"])

    async def listen(self, callback: Any, control: Any = None) -> None:
        """Forward NOTIFYs from every process to `callback(run_id)` / `control(message)`, reconnecting."""

        async def loop() -> None:
            import psycopg

            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                        await conn.execute(f"LISTEN {CONTROL_CHANNEL}")
                        async for note in conn.notifies():
                            if note.channel == NOTIFY_CHANNEL:
                                callback(note.payload)
                            elif control is not None:
                                control(note.payload)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    await asyncio.sleep(1.0)

        self._listener = asyncio.create_task(loop(), name="amcs-pg-listen")


def lease_clock() -> float:
    return time.time()
