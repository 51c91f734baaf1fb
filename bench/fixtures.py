"""Benchmark: every valid reference SDS end to end on a SQLite checkpointer; prints songs/s and time per node."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from agent.sds import SDSError, validate_sds  # noqa: E402
from graph.checkpoint import sqlite_checkpointer  # noqa: E402
from graph.context import Context  # noqa: E402
from graph.runner import run_song  # noqa: E402


def valid_fixtures() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((REPO_ROOT / "examples" / "sds").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            validate_sds(data)
        except SDSError:
            continue
        found.append((path.stem, data))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1, help="how many times to run the whole fixture set")
    args = parser.parse_args()
    fixtures = valid_fixtures()
    node_ms: dict[str, list[int]] = defaultdict(list)
    statuses: dict[str, str] = {}
    fix_cycles: list[int] = []

    def record(event: dict[str, Any]) -> None:
        if event.get("event") == "node.end":
            node_ms[event["node"]].append(event["duration_ms"])

    with tempfile.TemporaryDirectory() as data_dir, sqlite_checkpointer(data_dir) as saver:
        context = Context(engine="offline", data_dir=data_dir)
        started = time.perf_counter()
        for _ in range(args.rounds):
            for name, sds in fixtures:
                values = run_song(sds, checkpointer=saver, context=context, on_event=record)
                statuses[name] = values["review"]["status"]
                fix_cycles.append(values["fix_iterations"])
        elapsed = time.perf_counter() - started

    songs = len(fixtures) * args.rounds
    passed = sum(1 for s in statuses.values() if s == "pass")
    print(f"songs: {songs} in {elapsed:.2f} s = {songs / elapsed:.2f} songs/s (SQLite checkpointer)")
    print(
        f"pass rate: {passed}/{len(statuses)} = {passed / len(statuses):.1%}; "
        f"mean fix cycles {statistics.mean(fix_cycles):.2f}"
    )
    failed = sorted(name for name, status in statuses.items() if status != "pass")
    if failed:
        print(f"failed: {', '.join(failed)}")
    print(f"{'node':<22}{'calls':>7}{'mean ms':>10}{'p50 ms':>9}{'p95 ms':>9}")
    for node, samples in sorted(node_ms.items(), key=lambda item: -statistics.mean(item[1])):
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(f"{node:<22}{len(samples):>7}{statistics.mean(samples):>10.1f}{statistics.median(samples):>9.1f}{p95:>9}")


if __name__ == "__main__":
    main()
