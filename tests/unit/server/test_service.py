"""RunService on a tiny fake graph over SQLite: events, statuses, cancel, retry, replay, resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from graph.context import Context
from graph.service import Conflict, Invalid, NotFound, RunRequest, RunService
from graph.storage import open_storage
from tests.unit.server.fakegraph import CONTROL, fake_service_options

SDS = {"title": "Fake Song", "seed": 3}


@pytest.fixture(autouse=True)
def _reset_control() -> None:
    CONTROL.update(delay=0.0, fail_node=None, fail_times=0, contexts=[])


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
        bad_patches = [
            ({"warnings": ["a\x00b"]}, "patch.warnings[0]", "characters"),
            ({"fix_iterations": 2**70}, "patch.fix_iterations", "range"),
            ({"artifacts": {"lyrics": 5}}, "patch.artifacts.lyrics", "dict_type"),
            ({"warnings": "not a list"}, "patch.warnings", "list_type"),
            ({"fix_iterations": "three"}, "patch.fix_iterations", "int_parsing"),
        ]
        for patch, field_name, rule in bad_patches:
            with pytest.raises(Invalid) as refused:
                await service.replay(run["run_id"], before_validate["checkpoint_id"], patch=patch)
            assert (refused.value.field, refused.value.rule) == (field_name, rule), refused.value.message
        # a refused patch leaves no run and no orphaned checkpoints behind
        assert len(await service.store.list_runs()) == 1
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


def test_llm_policy_and_budget_reach_the_graph_and_survive_retry_replay_and_resume(tmp_path: Path) -> None:
    CONTROL["delay"] = 0.5

    async def body(service: RunService) -> None:
        with pytest.raises(Invalid) as bad_policy:
            await service.submit(RunRequest(sds=SDS, llm_failure_policy="maybe"))
        assert bad_policy.value.field == "llm_failure_policy"
        with pytest.raises(Invalid) as bad_budget:
            await service.submit(RunRequest(sds=SDS, max_llm_calls=0))
        assert bad_budget.value.field == "max_llm_calls"
        run = await service.submit(RunRequest(sds=SDS, llm_failure_policy="fallback", max_llm_calls=7))
        run_id = run["run_id"]
        assert run["request"]["llm_failure_policy"] == "fallback" and run["request"]["max_llm_calls"] == 7
        await wait_status(service, run_id, ("running",))
        await asyncio.sleep(0.2)
        assert (await service.cancel(run_id))["status"] == "cancelled"
        CONTROL["delay"] = 0.0
        await service.retry(run_id)  # resumes inside the cancelled parallel step
        assert (await wait_status(service, run_id, ("passed", "failed", "error")))["status"] == "passed"
        history = await service.history(run_id)
        fork = await service.replay(run_id, history[-1]["checkpoint_id"])  # the input: everything runs again
        assert (await wait_status(service, fork["run_id"], ("passed", "failed", "error")))["status"] == "passed"
        seen = {(thread, ctx.llm_failure_policy, ctx.max_llm_calls) for thread, ctx in CONTROL["contexts"]}
        assert seen == {(run_id, "fallback", 7), (fork["run_id"], "fallback", 7)}
        assert len(CONTROL["contexts"]) == 3  # first attempt, retry, replay
        default = await service.submit(RunRequest(sds=SDS))
        await wait_status(service, default["run_id"], ("passed",))
        assert CONTROL["contexts"][-1][1].llm_failure_policy == "fail"
        assert CONTROL["contexts"][-1][1].max_llm_calls == Context.max_llm_calls

    run_with_service(tmp_path, body)


def test_retry_right_after_the_end_is_not_lost_to_the_finishing_task(tmp_path: Path) -> None:
    CONTROL.update(fail_node="compose_prompt", fail_times=1)

    async def body(service: RunService) -> None:
        run = await service.submit(RunRequest(sds=SDS))
        run_id = run["run_id"]
        assert (await wait_status(service, run_id, ("error", "passed")))["status"] == "error"
        # the run's task has stored run.end but not yet returned (it still holds the run id)
        service._tasks[run_id] = asyncio.create_task(asyncio.sleep(0.3))
        await service.retry(run_id)
        done = await wait_status(service, run_id, ("passed", "failed", "error", "cancelled"), timeout=5)
        assert done["status"] == "passed" and done["attempt"] == 2

    run_with_service(tmp_path, body)


def test_cancel_landing_after_run_end_was_stored_keeps_the_outcome(tmp_path: Path) -> None:
    async def body(service: RunService) -> None:
        original = service.store.append_event

        async def append_then_get_cancelled(run_id: str, event: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            stored = await original(run_id, event, *args, **kwargs)
            if event.get("event") == "run.end" and event["metrics"]["status"] == "passed":
                # a cancel that arrives while the final event commits (the commit still happens)
                service._stop_reason[run_id] = "cancel"
                raise asyncio.CancelledError
            return stored

        service.store.append_event = append_then_get_cancelled  # type: ignore[method-assign]
        run = await service.submit(RunRequest(sds=SDS))
        await wait_status(service, run["run_id"], ("passed", "cancelled", "error"))
        await asyncio.sleep(0.2)
        service.store.append_event = original  # type: ignore[method-assign]
        final = await service.get(run["run_id"])
        events = await collect(service, run["run_id"])
        assert final["status"] == "passed"
        assert [e["event"] for e in events].count("run.end") == 1 and events[-1]["metrics"]["status"] == "passed"

    run_with_service(tmp_path, body)


def test_the_notifier_forgets_runs_nobody_follows(tmp_path: Path) -> None:
    async def body(service: RunService) -> None:
        for _ in range(3):
            run = await service.submit(RunRequest(sds=SDS))
            await collect(service, run["run_id"])
        stream = service.follow(None, 0, until_end=False)
        await anext(stream)
        await stream.aclose()
        assert service.notifier.keys() == set()

    run_with_service(tmp_path, body)


def test_a_lease_renewed_after_the_orphan_scan_is_not_stolen(tmp_path: Path) -> None:
    from graph.runstore import lease_clock

    async def body(service: RunService) -> None:
        live_owner = "otherhost:1:alive"
        run = await service.store.create_run(
            {"run_id": "r-live", "status": "running", "request": {"sds": SDS}, "owner": live_owner}
        )
        stale = [{"run_id": run["run_id"], "owner": live_owner, "lease_until": lease_clock() - 1}]
        # the scan saw an expired lease; the owner renews it before the claim
        await service.store.update_run(run["run_id"], lease_until=lease_clock() + 60)

        async def stale_scan(owner: str, now: float) -> list[dict[str, Any]]:
            return stale

        service.store.orphan_candidates = stale_scan  # type: ignore[method-assign]
        assert await service.adopt_orphans() == []
        assert (await service.get(run["run_id"]))["owner"] == live_owner
        with pytest.raises(Conflict):
            await service.retry(run["run_id"])
        assert (await service.get(run["run_id"]))["owner"] == live_owner

    run_with_service(tmp_path, body)
