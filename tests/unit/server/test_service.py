"""RunService on a tiny fake graph over SQLite: events, statuses, cancel, retry, replay, resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from graph.service import Conflict, Invalid, NotFound, RunRequest, RunService
from graph.storage import open_storage
from tests.unit.server.fakegraph import CONTROL, fake_service_options

SDS = {"title": "Fake Song", "seed": 3}


@pytest.fixture(autouse=True)
def _reset_control() -> None:
    CONTROL.update(delay=0.0, fail_node=None, fail_times=0)


def run_with_service(tmp_path: Path, body: Callable[[RunService], Awaitable[Any]], **options: Any) -> Any:
    async def main() -> Any:
        async with open_storage(tmp_path) as storage:
            service = RunService(
                storage.checkpointer,
                storage.runs,
                data_dir=str(tmp_path),
                poll_interval=0.05,
                lease_seconds=options.pop("lease_seconds", 5.0),
                **fake_service_options(),
                **options,
            )
            await service.start()
            try:
                return await asyncio.wait_for(body(service), 30)
            finally:
                await service.shutdown()

    return asyncio.run(main())


async def wait_status(
    service: RunService, run_id: str, statuses: tuple[str, ...], timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = await service.get(run_id)
        if run["status"] in statuses:
            return run
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} stayed {run['status']}")


async def collect(service: RunService, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    return [e async for e in service.follow(run_id, after) if e is not None]


def test_run_passes_and_events_are_a_gapless_sequence(tmp_path: Path) -> None:
    async def body(service: RunService) -> None:
        run = await service.submit(RunRequest(sds=SDS))
        assert run["status"] == "queued"
        events = await collect(service, run["run_id"])
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert events[0]["event"] == "run.start" and events[-1]["event"] == "run.end"
        assert events[-1]["metrics"]["status"] == "passed"
        nodes = {e["node"] for e in events if e["event"] == "node.end"}
        assert nodes == {
            "plan_song",
            "generate_style",
            "write_lyrics",
            "compose_prompt",
            "validate_song",
            "review_run",
        }
        tokens = [e for e in events if e["phase"] == "token"]
        assert "".join(t["text"] for t in tokens) == "la la love"
        final = await service.get(run["run_id"])
        assert final["status"] == "passed"
        assert set(final["summary"]["artifact_hashes"]) == {
            "style",
            "lyrics",
            "composed_prompt",
            "validation",
        }
        assert final["last_event_id"] == events[-1]["id"]
        # resuming the stream mid-way gives exactly the rest
        assert await collect(service, run["run_id"], after=4) == events[4:]
        # the global log orders every event once
        everything = [e async for e in _take(service.follow(None, 0, until_end=False), len(events))]
        assert [e["gid"] for e in everything] == sorted({e["gid"] for e in events})

    run_with_service(tmp_path, body)


async def _take(stream: Any, count: int) -> Any:
    taken = 0
    async for event in stream:
        if event is None:
            continue
        yield event
        taken += 1
        if taken == count:
            return


def test_cancel_keeps_checkpoint_and_retry_finishes(tmp_path: Path) -> None:
    CONTROL["delay"] = 0.6

    async def body(service: RunService) -> None:
        run = await service.submit(RunRequest(sds=SDS))
        run_id = run["run_id"]
        await wait_status(service, run_id, ("running",))
        await asyncio.sleep(0.3)  # inside the parallel nodes
        cancelled = await service.cancel(run_id)
        assert cancelled["status"] == "cancelled"
        events = await collect(service, run_id)
        assert events[-1]["event"] == "run.end" and events[-1]["metrics"]["status"] == "cancelled"
        assert any(e["event"] == "node.fail" and e["issues"][0]["code"] == "cancelled" for e in events)
        history = await service.history(run_id)
        assert history and history[0]["next"]  # the last checkpoint waits for the cancelled nodes
        with pytest.raises(Conflict):
            await service.cancel(run_id)
        CONTROL["delay"] = 0.0
        await service.retry(run_id)
        done = await wait_status(service, run_id, ("passed", "failed", "error"))
        assert done["status"] == "passed" and done["attempt"] == 2
        events = await collect(service, run_id)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert [e["event"] for e in events].count("run.start") == 2
        with pytest.raises(Conflict):
            await service.retry(run_id)

    run_with_service(tmp_path, body)


def test_node_error_then_retry_from_node(tmp_path: Path) -> None:
    CONTROL.update(fail_node="compose_prompt", fail_times=1)

    async def body(service: RunService) -> None:
        run = await service.submit(RunRequest(sds=SDS))
        failed = await wait_status(service, run["run_id"], ("passed", "error"))
        assert failed["status"] == "error" and "compose_prompt broke on purpose" in failed["error"]
        assert "Traceback" not in failed["error"]
        events = await collect(service, run["run_id"])
        assert any(e["event"] == "node.fail" and e["node"] == "compose_prompt" for e in events)
        with pytest.raises(Invalid):
            await service.retry(run["run_id"], from_node="nope")
        await service.retry(run["run_id"], from_node="compose_prompt")
        done = await wait_status(service, run["run_id"], ("passed", "error", "failed"))
        assert done["status"] == "passed"

    run_with_service(tmp_path, body)


def test_replay_forks_a_new_run_with_patch(tmp_path: Path) -> None:
    async def body(service: RunService) -> None:
        run = await service.submit(RunRequest(sds=SDS))
        source = await wait_status(service, run["run_id"], ("passed",))
        history = await service.history(run["run_id"])
        before_validate = next(c for c in history if c["next"] == ["validate_song"])
        with pytest.raises(NotFound):
            await service.replay(run["run_id"], "no-such-checkpoint")
        with pytest.raises(Invalid):
            await service.replay(run["run_id"], before_validate["checkpoint_id"], patch={"bogus": 1})
        fork = await service.replay(
            run["run_id"],
            before_validate["checkpoint_id"],
            patch={"warnings": ["forked"]},
            as_node="compose_prompt",
        )
        assert fork["parent_run_id"] == run["run_id"] and fork["run_id"] != run["run_id"]
        done = await wait_status(service, fork["run_id"], ("passed", "error", "failed"))
        assert done["status"] == "passed", done["error"]
        assert done["summary"]["artifact_hashes"] == source["summary"]["artifact_hashes"]
        assert "forked" in done["summary"]["warnings"]
        ran = {e["node"] for e in await collect(service, fork["run_id"]) if e["event"] == "node.end"}
        assert ran == {"validate_song", "review_run"}

    run_with_service(tmp_path, body)


def test_orphaned_runs_are_resumed_by_a_new_process(tmp_path: Path) -> None:
    CONTROL["delay"] = 1.0

    async def first(service: RunService) -> str:
        run = await service.submit(RunRequest(sds=SDS))
        await wait_status(service, run["run_id"], ("running",))
        await asyncio.sleep(0.3)
        # simulate a crash: stop the task without releasing the lease, under a foreign owner name
        await service.store.update_run(run["run_id"], owner="otherhost:1:dead")
        return str(run["run_id"])

    run_id = run_with_service(tmp_path, first)
    CONTROL["delay"] = 0.0

    async def second(service: RunService) -> None:
        # owner on another host: resumed once its lease has run out
        done = await wait_status(service, run_id, ("passed", "error", "failed"), timeout=15)
        assert done["status"] == "passed"
        events = await collect(service, run_id)
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert [e["event"] for e in events].count("run.start") == 2

    run_with_service(tmp_path, second, lease_seconds=1.0)


def test_unknown_run_and_bad_sds(tmp_path: Path) -> None:
    from agent.sds import SDSError

    async def body(service: RunService) -> None:
        with pytest.raises(NotFound):
            await service.get("nope")
        with pytest.raises(SDSError):
            await service.submit(RunRequest(sds={"seed": 1}))

    run_with_service(tmp_path, body)
