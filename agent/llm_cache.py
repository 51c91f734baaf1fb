"""Recorded LLM responses and per-run call budgets: protocols, a memory store, key hashing."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from agent.hashing import sha256_hex


class BudgetExhausted(RuntimeError):
    """The run has made as many model requests as its budget allows."""


class ResponseStore(Protocol):
    """Recorded model responses keyed by `call_key`, shared across runs so a rerun replays them."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, record: dict[str, Any]) -> None: ...


class CallLedger(Protocol):
    """Counts model requests (every HTTP attempt) per run, refusing any beyond the run's budget."""

    def charge(self, run_id: str, limit: int) -> int:
        """Count one more request for `run_id`, return the new total; BudgetExhausted past `limit`."""
        ...


def call_key(
    *,
    model: str,
    decoding: dict[str, Any],
    system: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    tool_choice: str,
    seed: int,
) -> str:
    """sha256 of the canonical JSON of all that decides a response, so equal requests share a recording."""
    return sha256_hex(
        {
            "model": model,
            "decoding": decoding,
            "system": system,
            "messages": messages,
            "tools": tools,
            "tool_choice": tool_choice,
            "seed": seed,
        }
    )


class MemoryResponseStore:
    """A dict-backed ResponseStore and CallLedger, for tests and one-process use."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._records[key] = record

    def charge(self, run_id: str, limit: int) -> int:
        with self._lock:
            used = self._calls.get(run_id, 0)
            if used >= limit:
                raise BudgetExhausted(f"run {run_id or '(unnamed)'} used its budget of {limit} model calls")
            self._calls[run_id] = used + 1
            return used + 1

    def __len__(self) -> int:
        return len(self._records)
