"""The run service over real HTTP on loopback, on SQLite and PostgreSQL: streams match the stored log,
reconnects lose and repeat nothing, cancel/retry/replay work, and a SIGKILLed server resumes its runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server.serverkit import (
    LiveServer,
    assert_gapless,
    iter_sse,
    load_sds,
    sse_events,
    ws_events,
)

pytestmark = pytest.mark.slow


def test_sse_and_websocket_streams_match_the_stored_log(server: LiveServer) -> None:
    with server.client() as client:
        gid_start = 0
        first = server.start_run()
        second = server.start_run(load_sds("rock_song_001"), seed=11, manifest={"team": "test"})
        assert first["status"] in ("queued", "running") and first["links"]["events"].endswith("/events")
        sse = sse_events(server, first["links"]["events"])
        ws = ws_events(server, f"run_id={first['run_id']}")
        done = server.wait(first["run_id"])
        assert done["status"] == "passed", done
        assert_gapless(sse)
        assert sse[0]["event"] == "run.start" and sse[-1]["event"] == "run.end"
        assert sse[-1]["id"] == done["last_event_id"]
        assert ws == sse
        # the WebSocket from an id resumes right after it
        assert ws_events(server, f"run_id={first['run_id']}&from=5") == sse[5:]
        # the all-runs SSE stream carries both runs, ordered by the global id, each event once
        server.wait(second["run_id"])
        everything = sse_events(
            server,
            f"/workflows/events?after={gid_start}",
            limit=len(sse) + server.run(second["run_id"])["last_event_id"],
        )
        gids = [e["gid"] for e in everything]
        assert gids == sorted(set(gids))
        by_run = {first["run_id"]: [e for e in everything if e["run_id"] == first["run_id"]]}
        assert by_run[first["run_id"]] == sse
        assert {e["run_id"] for e in everything} == {first["run_id"], second["run_id"]}
        # the all-runs WebSocket resumes from a global id
        tail = ws_events(server, f"from={gids[-4]}", limit=3)
        assert tail == everything[-3:]
        # status, scores, artifacts
        assert done["scores"]["total"] >= 0 and set(done["artifact_hashes"]) >= {
            "style",
            "lyrics",
            "composed_prompt",
        }
        prompt = client.get(f"/workflows/runs/{first['run_id']}/artifacts/composed_prompt.txt")
        assert prompt.status_code == 200 and "Summer Dreams" in prompt.text
        lyrics = client.get(f"/workflows/runs/{first['run_id']}/artifacts/lyrics")
        assert lyrics.json()["artifact_hash"] == done["artifact_hashes"]["lyrics"]
        missing = client.get(f"/workflows/runs/{first['run_id']}/artifacts/nothing")
        assert missing.status_code == 404 and missing.json()["detail"][0]["field"] == "name"
        listing = client.get("/workflows/runs", params={"limit": 1}).json()
        assert len(listing["items"]) == 1 and listing["next_cursor"] is not None
        page2 = client.get("/workflows/runs", params={"limit": 1, "cursor": listing["next_cursor"]}).json()
        assert {listing["items"][0]["run_id"], page2["items"][0]["run_id"]} == {
            first["run_id"],
            second["run_id"],
        }
        assert page2["next_cursor"] is None
        passed = client.get("/workflows/runs", params={"status": "passed", "genre": "rock"}).json()["items"]
        assert [r["run_id"] for r in passed] == [second["run_id"]] and passed[0]["manifest"] == {"team": "test"}


def test_reconnect_with_last_event_id_mid_run(server: LiveServer) -> None:
    run = server.start_run(engine="slow")
    head = sse_events(server, run["links"]["events"], limit=4)
    assert server.run(run["run_id"])["status"] in ("queued", "running")  # still mid-run
    rest = sse_events(server, run["links"]["events"], last_event_id=head[-1]["id"])
    assert_gapless(head + rest)
    assert rest[-1]["event"] == "run.end"
    assert head + rest == server.stored_events(run["run_id"])
    # WebSocket reconnect with `from`
    ws_head = ws_events(server, f"run_id={run['run_id']}", limit=3)
    ws_rest = ws_events(server, f"run_id={run['run_id']}&from={ws_head[-1]['id']}")
    assert ws_head + ws_rest == head + rest


def test_cancel_then_retry_finishes_with_the_same_artifacts(server: LiveServer) -> None:
    reference = server.start_run()
    expected = server.wait(reference["run_id"])["artifact_hashes"]
    run = server.start_run(engine="slow")
    sse_events(server, run["links"]["events"], limit=5)  # it is writing by now
    with server.client() as client:
        cancelled = client.post(f"/workflows/runs/{run['run_id']}/cancel")
        assert cancelled.status_code == 202, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        again = client.post(f"/workflows/runs/{run['run_id']}/cancel")
        assert again.status_code == 409 and again.json()["detail"][0]["field"] == "status"
        events = server.stored_events(run["run_id"])
        assert events[-1]["event"] == "run.end" and events[-1]["metrics"]["status"] == "cancelled"
        time.sleep(0.8)  # nothing runs after a cancel
        assert server.run(run["run_id"])["last_event_id"] == events[-1]["id"]
        history = client.get(f"/workflows/runs/{run['run_id']}/history").json()["checkpoints"]
        assert history and history[0]["next"]  # the last checkpoint is kept, with work pending
        retried = client.post(f"/workflows/runs/{run['run_id']}/retry")
        assert retried.status_code == 202 and retried.json()["status"] in ("queued", "running")
        done = server.wait(run["run_id"])
        assert done["status"] == "passed" and done["attempt"] == 2
        assert done["artifact_hashes"] == expected
        everything = server.stored_events(run["run_id"])
        assert_gapless(everything)
        assert [e["event"] for e in everything].count("run.start") == 2
        # re-run a finished run from a named node
        rerun = client.post(f"/workflows/runs/{reference['run_id']}/retry", json={"from_node": "compose_prompt"})
        assert rerun.status_code == 409  # passed runs are not retried: use replay
        bad = client.post(f"/workflows/runs/{run['run_id']}/retry", json={"from_node": "nope"})
        assert bad.status_code in (409, 422)


def test_replay_forks_a_run_from_a_checkpoint(server: LiveServer) -> None:
    source = server.start_run()
    done = server.wait(source["run_id"])
    with server.client() as client:
        history = client.get(f"/workflows/runs/{source['run_id']}/history").json()["checkpoints"]
        assert [c["step"] for c in history] == sorted((c["step"] for c in history), reverse=True)
        fork_point = next(c for c in history if c["next"] == ["compose_prompt"])
        replay = client.post(
            f"/workflows/runs/{source['run_id']}/replay",
            json={
                "checkpoint_id": fork_point["checkpoint_id"],
                "patch": {"warnings": ["forked by test"]},
                "as_node": "write_lyrics",
            },
        )
        assert replay.status_code == 202, replay.text
        fork = replay.json()
        assert fork["run_id"] != source["run_id"] and fork["parent_run_id"] == source["run_id"]
        forked = server.wait(fork["run_id"])
        assert forked["status"] == "passed", forked
        assert forked["artifact_hashes"] == done["artifact_hashes"]
        assert "forked by test" in forked["warnings"]
        ran = {e["node"] for e in server.stored_events(fork["run_id"]) if e["event"] == "node.end"}
        assert "plan_song" not in ran and "compose_prompt" in ran
        plain = client.post(
            f"/workflows/runs/{source['run_id']}/replay", json={"checkpoint_id": history[-1]["checkpoint_id"]}
        )
        assert plain.status_code == 202
        assert server.wait(plain.json()["run_id"])["artifact_hashes"] == done["artifact_hashes"]
        unknown = client.post(f"/workflows/runs/{source['run_id']}/replay", json={"checkpoint_id": "nope"})
        assert unknown.status_code == 404 and unknown.json()["detail"][0]["field"] == "checkpoint_id"
        bad_patch = client.post(
            f"/workflows/runs/{source['run_id']}/replay",
            json={"checkpoint_id": fork_point["checkpoint_id"], "patch": {"not_a_key": 1}},
        )
        assert bad_patch.status_code == 422 and bad_patch.json()["detail"][0]["field"] == "patch.not_a_key"


def test_kill9_mid_run_resumes_with_the_same_artifacts_and_a_continuous_stream(
    tmp_path: Path, backend: str | None
) -> None:
    live = LiveServer(tmp_path / "data", backend, AMCS_TEST_NODE_DELAY_MS="500")
    live.data_dir.mkdir()
    live.start()
    try:
        reference = live.start_run()
        expected = live.wait(reference["run_id"])["artifact_hashes"]
        runs = [live.start_run(engine="slow"), live.start_run(engine="slow", seed=load_sds()["seed"])]
        seen: list[dict[str, Any]] = []
        errors: list[BaseException] = []

        def watch() -> None:  # a client streaming across the crash, reconnecting with Last-Event-ID
            last = 0
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    for event in iter_sse(live, runs[0]["links"]["events"], last_event_id=last, timeout=30):
                        seen.append(event)
                        last = event["id"]
                    if seen and seen[-1]["event"] == "run.end":
                        return
                except (httpx.HTTPError, AssertionError):
                    time.sleep(0.2)
                except BaseException as exc:  # pragma: no cover - surfaced below
                    errors.append(exc)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            e["event"] == "node.end" and e["node"] == "plan_song" for e in seen
        ):
            time.sleep(0.05)
        time.sleep(0.3)
        before = [live.run(r["run_id"]) for r in runs]
        assert all(r["status"] == "running" for r in before), before
        live.kill9()
        live.start()
        for run in runs:
            done = live.wait(run["run_id"], timeout=90)
            assert done["status"] == "passed", (done, live.log())
            assert done["artifact_hashes"] == expected
            events = live.stored_events(run["run_id"])
            assert_gapless(events)
            assert [e["event"] for e in events].count("run.start") == 2
            assert events[-1]["event"] == "run.end"
        watcher.join(timeout=60)
        assert not errors
        assert seen == live.stored_events(runs[0]["run_id"])
    finally:
        live.stop()
