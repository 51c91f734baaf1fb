"""Benchmark: the anthropic engine against the loopback stub; prints calls, tokens and cache-read share."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from agent.sds import parse_sds  # noqa: E402
from agent.settings import get_settings  # noqa: E402
from graph import engines  # noqa: E402
from graph.checkpoint import sqlite_checkpointer  # noqa: E402
from graph.context import Context  # noqa: E402
from graph.llm_store import close_stores  # noqa: E402
from graph.runner import run_song  # noqa: E402
from tests.support.anthropic_stub import AnthropicStub, Fault  # noqa: E402


def share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def one_run(stub: AnthropicStub, data_dir: Path, sds: dict[str, Any], run_id: str) -> dict[str, Any]:
    before = stub.totals()
    started = time.perf_counter()
    context = Context(engine="anthropic", model="claude-stub-1", data_dir=str(data_dir))
    with sqlite_checkpointer(data_dir) as saver:
        values = run_song(sds, checkpointer=saver, context=context, run_id=run_id)
    after = stub.totals()
    delta = {key: after[key] - before[key] for key in after}
    prompt = delta["input_tokens"] + delta["cache_read_tokens"] + delta["cache_write_tokens"]
    review = values["review"]
    return {
        "run_id": run_id,
        "status": review["status"],
        "fix_iterations": review["fix_iterations"],
        "seconds": round(time.perf_counter() - started, 2),
        "calls_made": delta["requests"],
        "replayed": review["usage"].get("llm_replayed", 0),
        "input_tokens": delta["input_tokens"],
        "output_tokens": delta["output_tokens"],
        "cache_read_tokens": delta["cache_read_tokens"],
        "cache_write_tokens": delta["cache_write_tokens"],
        "cache_read_share_pct": share(delta["cache_read_tokens"], prompt),
        "calls_by_tool": {
            tool: sum(1 for s in stub.seen[len(stub.seen) - delta["requests"] :] if s.tool == tool)
            for tool in sorted({s.tool for s in stub.seen})
        },
        "artifact_hashes": review["artifact_hashes"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sds", nargs="?", default=str(REPO_ROOT / "examples" / "sds" / "pop_complexity_1.json"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profane-draft",
        action="store_true",
        help="the first lyric swears, so the run needs one LLM fix cycle",
    )
    args = parser.parse_args()
    sds = parse_sds(Path(args.sds).read_bytes())
    with AnthropicStub() as stub, tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": stub.url})
        # Recordings in the temporary data directory only: a shared PostgreSQL store would replay the first run.
        os.environ.pop("AMCS_DATABASE_URL", None)
        get_settings.cache_clear()
        engines._anthropic_backend.cache_clear()
        if args.profane_draft:
            stub.faults.append(Fault("profane", tool="submit_lyrics"))
        first = one_run(stub, Path(tmp), sds, "bench-first")
        second = one_run(stub, Path(tmp), sds, "bench-replay")
        close_stores()
    second["identical_artifacts"] = second.pop("artifact_hashes") == first.pop("artifact_hashes")
    if args.json:
        print(json.dumps({"first_run": first, "same_sds_and_seed_again": second}, indent=2))
        return 0
    for label, row in (("first run", first), ("same SDS and seed again", second)):
        print(
            f"{label:<24} status={row['status']} calls={row['calls_made']} replayed={row['replayed']} "
            f"input={row['input_tokens']} output={row['output_tokens']} "
            f"cache_read={row['cache_read_tokens']} cache_write={row['cache_write_tokens']} "
            f"cache_read_share={row['cache_read_share_pct']}% ({row['seconds']} s)"
        )
    print(f"calls by tool (first run): {first['calls_by_tool']}")
    print(f"identical artifacts on replay: {second['identical_artifacts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
