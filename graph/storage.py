"""Opens the async checkpointer and the run store ONCE per process, on SQLite or PostgreSQL."""

# SQLite (default): LangGraph's AsyncSqliteSaver and the run/event tables share <data_dir>/amcs.sqlite (WAL).
# PostgreSQL (``database_url``): one psycopg AsyncConnectionPool backs LangGraph's AsyncPostgresSaver and the
# run/event tables, so several processes can share the load.

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from graph.checkpoint import sqlite_path
from graph.runstore import PostgresRunStore, RunStore, SqliteRunStore

SETUP_LOCK_KEY = 7_341_009


@dataclass
class Storage:
    checkpointer: BaseCheckpointSaver[Any]
    runs: RunStore
    kind: str  # "sqlite" or "postgres"
    location: str


def postgres_conninfo(url: str) -> str:
    """Accept postgresql://, postgres:// and SQLAlchemy-style postgresql+psycopg:// URLs."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).split(":", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


@asynccontextmanager
async def open_storage(
    data_dir: str | Path, database_url: str | None = None, *, pool_size: int = 20
) -> AsyncIterator[Storage]:
    if database_url:
        if not is_postgres_url(database_url):
            raise ValueError(f"AMCS_DATABASE_URL must be a postgresql:// URL, not {database_url.split(':')[0]}://")
        async with _postgres(postgres_conninfo(database_url), pool_size) as storage:
            yield storage
    else:
        async with _sqlite(sqlite_path(data_dir)) as storage:
            yield storage


async def settle_checkpointer(saver: Any) -> None:
    """End a write transaction that a cancelled checkpoint write left open on the SQLite saver's connection.

    AsyncSqliteSaver commits after each write; a task cancelled between the insert and the commit would keep
    the database's write lock until the saver's next commit. Rolling back drops only that unfinished write.
    """
    conn = getattr(saver, "conn", None)
    lock = getattr(saver, "lock", None)
    if conn is None or lock is None or not hasattr(conn, "in_transaction"):
        return
    async with lock:
        if conn.in_transaction:
            await conn.rollback()


@asynccontextmanager
async def _sqlite(path: Path) -> AsyncIterator[Storage]:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    conn = await aiosqlite.connect(str(path))
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA busy_timeout=10000")
    await conn.execute("PRAGMA synchronous=NORMAL")
    runs = SqliteRunStore(path)
    saver = None
    try:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        await runs.setup()
        yield Storage(saver, runs, "sqlite", str(path))
    finally:
        await runs.close()
        try:
            await settle_checkpointer(saver)
        finally:
            await conn.close()


@asynccontextmanager
async def _postgres(conninfo: str, pool_size: int) -> AsyncIterator[Storage]:
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(
        conninfo,
        min_size=2,
        max_size=pool_size,
        open=False,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    await pool.open(wait=True, timeout=30)
    runs = PostgresRunStore(pool, conninfo)
    try:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        # Several processes may start together: run the migrations under a session advisory lock.
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as lock_conn:
            await lock_conn.execute("SELECT pg_advisory_lock(%s)", [SETUP_LOCK_KEY])
            try:
                await saver.setup()
                await runs.setup()
            finally:
                await lock_conn.execute("SELECT pg_advisory_unlock(%s)", [SETUP_LOCK_KEY])
        yield Storage(saver, runs, "postgres", conninfo.split("@")[-1])
    finally:
        await runs.close()
        await pool.close()
