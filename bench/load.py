"""Load test of the run service on loopback: N concurrent runs over HTTP while W clients watch over SSE.

    python bench/load.py [--runs 200] [--watchers 20] [--database-url postgresql://...] [--port 0]

Starts `uvicorn server.app:create_app` on 127.0.0.1 with a fresh data directory (or the given PostgreSQL
database, which should be empty), submits the runs concurrently from reference SDS files, and lets every
watcher follow the all-runs SSE stream. When every run has ended it compares each watcher's events with
the stored log and prints runs/s, event delivery latency p50/p99 (event timestamp to arrival), lost and
duplicated events (must be 0) and the server's peak RSS. Exits 1 if any event was lost or duplicated.
Bounded: it stops by itself after --timeout seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
SDS_DIR = REPO_ROOT / "examples" / "sds"
TERMINAL = {"passed", "failed", "cancelled", "error"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def start_server(port: int, data_dir: Path, database_url: str | None, concurrency: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMCS_")}
    env.update(
        AMCS_DATA_DIR=str(data_dir),
        AMCS_MAX_CONCURRENT_RUNS=str(concurrency),
        PYTHONPATH=str(REPO_ROOT),
        AMCS_LOG_LEVEL="warning",
    )
    if database_url:
        env["AMCS_DATABASE_URL"] = database_url
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "server.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "3",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(data_dir / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json().get("status") == "ok":
                return proc
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def valid_references() -> list[dict[str, Any]]:
    """The reference SDS files that are valid (some fixtures are invalid on purpose)."""
    sys.path.insert(0, str(REPO_ROOT))
    from agent.plan import plan_song
    from agent.sds import SDSError, validate_sds

    valid = []
    for path in sorted(SDS_DIR.glob("*.json")):
        try:
            data = validate_sds(json.loads(path.read_text(encoding="utf-8")))
            plan_song(data)
        except (SDSError, ValueError):
            continue
        valid.append(data)
    return valid


async def watch(base: str, after: int, received: list[tuple[int, str, int, float]], stop: asyncio.Event) -> None:
    """Follow the all-runs stream; reconnect with Last-Event-ID if the connection drops."""
    last = after
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(None, connect=10)) as client:
        while not stop.is_set():
            try:
                async with client.stream("GET", "/workflows/events", headers={"Last-Event-ID": str(last)}) as resp:
                    async for line in resp.aiter_lines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            received.append(
                                (
                                    event["gid"],
                                    event["run_id"],
                                    event["id"],
                                    time.time() - parse_ts(event["ts"]),
                                )
                            )
                            last = event["gid"]
                        if stop.is_set():
                            return
            except (httpx.HTTPError, asyncio.CancelledError):
                if stop.is_set():
                    return
                await asyncio.sleep(0.2)


async def stored_log(client: httpx.AsyncClient, run_id: str) -> list[tuple[int, int]]:
    out = []
    async with client.stream("GET", f"/workflows/runs/{run_id}/events", params={"after": 0}) as resp:
        async for line in resp.aiter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                out.append((event["gid"], event["id"]))
    return out


async def bench(args: argparse.Namespace, base: str, pid: int) -> int:
    sds_files = valid_references()
    limits = httpx.Limits(max_connections=args.runs + 10, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        start_gid = 0  # a fresh database: the watchers must see every event of every run
        stop = asyncio.Event()
        watchers: list[list[tuple[int, str, int, float]]] = [[] for _ in range(args.watchers)]
        tasks = [asyncio.create_task(watch(base, start_gid, w, stop)) for w in watchers]
        await asyncio.sleep(0.5)

        started = time.monotonic()

        async def submit(index: int) -> str:
            response = await client.post("/workflows/runs", json={"sds": sds_files[index % len(sds_files)]})
            if response.status_code != 202:
                raise SystemExit(f"POST failed: {response.status_code} {response.text[:300]}")
            return str(response.json()["run_id"])

        run_ids = await asyncio.gather(*(submit(i) for i in range(args.runs)))
        accepted = time.monotonic() - started
        pending = set(run_ids)
        statuses: Counter[str] = Counter()
        deadline = time.monotonic() + args.timeout
        while pending and time.monotonic() < deadline:
            page = (await client.get("/workflows/runs", params={"limit": 200, "status": sorted(TERMINAL)})).json()
            cursor = page.get("next_cursor")
            done = {r["run_id"]: r["status"] for r in page["items"]}
            while cursor is not None:
                more = (
                    await client.get(
                        "/workflows/runs", params={"limit": 200, "cursor": cursor, "status": sorted(TERMINAL)}
                    )
                ).json()
                done.update({r["run_id"]: r["status"] for r in more["items"]})
                cursor = more.get("next_cursor")
            for run_id in list(pending):
                if run_id in done:
                    pending.discard(run_id)
                    statuses[done[run_id]] += 1
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - started
        if pending:
            print(f"TIMEOUT: {len(pending)} runs still active after {args.timeout}s")

        logs = await asyncio.gather(*(stored_log(client, r) for r in run_ids))
        expected = {gid for log in logs for gid, _ in log}
        # give the watchers a moment to drain the tail of the stream
        drain_deadline = time.monotonic() + 15
        while time.monotonic() < drain_deadline and any(
            len({g for g, *_ in w} & expected) < len(expected) for w in watchers
        ):
            await asyncio.sleep(0.1)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    lost = dup = 0
    latencies: list[float] = []
    for w in watchers:
        gids = [g for g, *_ in w if g in expected]
        counts = Counter(gids)
        dup += sum(c - 1 for c in counts.values() if c > 1)
        lost += len(expected - set(counts))
        latencies += [lat for g, _, _, lat in w if g in expected]
    gapless = all([i for _, i in log] == list(range(1, len(log) + 1)) for log in logs)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    print(f"runs: {args.runs} ({dict(statuses)}), accepted in {accepted:.2f}s, all ended in {elapsed:.2f}s")
    print(f"runs/s: {args.runs / elapsed:.2f}")
    print(f"events stored: {len(expected)}; watchers: {args.watchers}; deliveries: {len(latencies)}")
    print(f"delivery latency p50: {p50:.1f} ms  p99: {p99:.1f} ms")
    print(f"lost events: {lost}  duplicated events: {dup}  per-run ids gapless: {gapless}")
    print(f"server peak RSS: {peak_rss_mb(pid):.0f} MiB")
    return 0 if lost == 0 and dup == 0 and gapless and not pending else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8, help="AMCS_MAX_CONCURRENT_RUNS of the server")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amcs-bench-") as tmp:
        port = free_port()
        proc = start_server(port, Path(tmp), args.database_url, args.concurrency)
        try:
            return asyncio.run(bench(args, f"http://127.0.0.1:{port}", proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    raise SystemExit(main())
