"""Checkpointers: SQLite in the data directory by default (one saver per process)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

DATABASE_FILE = "amcs.sqlite"


def sqlite_path(data_dir: str | Path) -> Path:
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path / DATABASE_FILE


@contextmanager
def sqlite_checkpointer(data_dir: str | Path) -> Iterator[SqliteSaver]:
    """A SQLite saver on <data_dir>/amcs.sqlite, in WAL mode so readers never block the running graph."""
    connection = sqlite3.connect(sqlite_path(data_dir), check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA busy_timeout=5000")
    try:
        saver = SqliteSaver(connection)
        saver.setup()
        yield saver
    finally:
        connection.close()
