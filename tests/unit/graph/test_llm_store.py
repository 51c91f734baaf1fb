"""The SQLite response store and call ledger: shared across store instances, budgets enforced per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.llm_cache import BudgetExhausted
from graph.llm_store import SqliteResponseStore, close_stores, response_store


def test_records_persist_across_connections(tmp_path: Path) -> None:
    first = SqliteResponseStore(tmp_path)
    first.put("k1", {"tool_json": '{"a": 1}', "usage": {"input_tokens": 3}})
    first.close()

    second = SqliteResponseStore(tmp_path)
    assert second.get("k1") == {"tool_json": '{"a": 1}', "usage": {"input_tokens": 3}}
    assert second.get("missing") is None and len(second) == 1
    second.close()


def test_the_ledger_counts_per_run_and_refuses_past_the_budget(tmp_path: Path) -> None:
    store = response_store(tmp_path)
    try:
        assert [store.charge("run-a", 2), store.charge("run-a", 2)] == [1, 2]
        with pytest.raises(BudgetExhausted, match="budget of 2"):
            store.charge("run-a", 2)
        assert store.charge("run-b", 2) == 1
        assert response_store(tmp_path) is store
        assert store.calls("run-a") == 2
    finally:
        close_stores()
