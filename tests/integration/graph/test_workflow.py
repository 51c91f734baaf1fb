"""End-to-end runs of the real graph on a SQLite checkpointer: fixtures, determinism, parallelism, the fix loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agent.engine import Drafted, NodeJob
from agent.models import StyleArtifact
from agent.offline import OfflineEngine
from graph.checkpoint import sqlite_checkpointer
from graph.context import Context
from graph.engines import register_engine
from graph.routing import MAX_FIX_ITERATIONS
from graph.runner import run_song
from tests.support.engines import PROFANE_WORD, ProfaneDraftEngine, SlowEngine, StubbornEngine
from tests.support.fixtures import REPO_ROOT, load_fixture, valid_fixture_names

PASS_RATE_TARGET = 0.98


def _run(sds: dict[str, Any], data_dir: Path, engine: str = "offline") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    with sqlite_checkpointer(data_dir) as saver:
        values = run_song(
            sds, checkpointer=saver, context=Context(engine=engine, data_dir=str(data_dir)), on_event=events.append
        )
    return values, events


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("fixtures")
    runs = {}
    with sqlite_checkpointer(data_dir) as saver:
        for name in valid_fixture_names():
            runs[name] = run_song(load_fixture(name), checkpointer=saver, context=Context(data_dir=str(data_dir)))
    return runs


def test_every_valid_fixture_completes_with_all_artifacts(fixture_runs: dict[str, dict[str, Any]]) -> None:
    assert len(fixture_runs) == 47
    for name, values in fixture_runs.items():
        assert values["review"]["status"] in ("pass", "failed"), name
        for artifact in ("style", "lyrics", "producer_notes", "composed_prompt", "validation"):
            assert values["artifacts"][artifact]["artifact_hash"].startswith("sha256:"), (name, artifact)


def test_at_least_98_percent_of_fixtures_pass(fixture_runs: dict[str, dict[str, Any]]) -> None:
    failures = {
        name: (v["review"]["scores"], v["review"]["hard_fails"])
        for name, v in fixture_runs.items()
        if v["review"]["status"] != "pass"
    }
    rate = 1 - len(failures) / len(fixture_runs)
    assert rate >= PASS_RATE_TARGET, f"pass rate {rate:.3f}; failures: {json.dumps(failures, indent=1)}"


def test_unknown_genre_falls_back_with_a_warning_in_the_report(fixture_runs: dict[str, dict[str, Any]]) -> None:
    review = fixture_runs["edge_case_001"]["review"]
    assert any("Experimental" in w and "general" in w for w in review["warnings"])


def test_same_sds_and_seed_give_identical_artifacts_across_processes() -> None:
    outputs = []
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.dump_artifacts"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        outputs.append(json.loads(done.stdout))
    first, second = outputs
    assert sorted(first) == valid_fixture_names()
    for name in first:
        assert first[name] == second[name], name


def test_a_different_seed_gives_different_lyrics(tmp_path: Path) -> None:
    sds = load_fixture("pop_complexity_1")
    first, _ = _run(sds, tmp_path)
    second, _ = _run({**sds, "seed": sds["seed"] + 1000}, tmp_path)
    assert first["artifacts"]["lyrics"]["sections"] != second["artifacts"]["lyrics"]["sections"]
    assert first["artifacts"]["lyrics"]["artifact_hash"] != second["artifacts"]["lyrics"]["artifact_hash"]


def test_style_lyrics_and_producer_branches_run_in_parallel(tmp_path: Path) -> None:
    spans: list[tuple[str, float, float]] = []
    register_engine("slow-test", lambda _: SlowEngine(0.4, spans, threading.Lock()))
    _run(load_fixture("rock_song_001"), tmp_path, engine="slow-test")
    first_three = sorted(spans[:3], key=lambda s: s[1])
    assert {s[0] for s in first_three} == {"style", "lyrics", "producer"}
    latest_start = max(s[1] for s in first_three)
    earliest_end = min(s[2] for s in first_three)
    assert latest_start < earliest_end, f"branches ran one after another: {first_three}"


def test_fix_loop_repairs_a_failing_first_draft(tmp_path: Path) -> None:
    register_engine("profane-draft-test", lambda _: ProfaneDraftEngine())
    values, events = _run(load_fixture("country_song_001"), tmp_path, engine="profane-draft-test")
    validations = [e for e in events if e.get("node") == "validate_song" and e["phase"] == "end"]
    assert validations[0]["metrics"]["validation_result"] == "fail"
    assert validations[-1]["metrics"]["validation_result"] == "pass"
    assert values["review"]["status"] == "pass"
    assert values["fix_iterations"] >= 1
    changes = [c for record in values["review"]["fixes"] for c in record["changes"]]
    assert any(PROFANE_WORD in c["before"] and PROFANE_WORD not in c["after"] for c in changes)
    lyric_text = json.dumps(values["artifacts"]["lyrics"])
    assert PROFANE_WORD not in lyric_text


def test_fix_loop_stops_after_three_cycles_and_keeps_everything(tmp_path: Path) -> None:
    register_engine("stubborn-test", lambda _: StubbornEngine())
    values, events = _run(load_fixture("country_song_001"), tmp_path, engine="stubborn-test")
    assert values["fix_iterations"] == MAX_FIX_ITERATIONS
    assert values["review"]["status"] == "failed"
    assert [e["node"] for e in events if e.get("event") == "node.start"].count("apply_fixes") == MAX_FIX_ITERATIONS
    assert values["review"]["hard_fails"], "the final report keeps the failing checks"
    for artifact in ("style", "lyrics", "producer_notes", "composed_prompt", "validation"):
        assert artifact in values["artifacts"]


def test_render_runs_only_when_enabled_and_records_a_job(tmp_path: Path) -> None:
    sds = load_fixture("pop_complexity_1")
    plain, events = _run(sds, tmp_path)
    assert "render_job" not in plain["artifacts"]
    assert not any(e.get("node") == "render_song" for e in events)
    rendered, _ = _run({**sds, "feature_flags": {"render.enabled": True}}, tmp_path)
    job = rendered["artifacts"]["render_job"]
    assert job["status"] == "succeeded"
    assert job["prompt_hash"] == rendered["artifacts"]["composed_prompt"]["artifact_hash"]
    record = json.loads((tmp_path / "renders" / f"{job['job_id']}.json").read_text())
    assert record["request"]["lyrics"] == rendered["artifacts"]["composed_prompt"]["lyrics_text"]


def test_every_node_reports_start_and_end_events(tmp_path: Path) -> None:
    _, events = _run(load_fixture("rnb_song_001"), tmp_path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end"
    ended = {e["node"] for e in events if e["event"] == "node.end"}
    assert {
        "plan_song",
        "generate_style",
        "write_lyrics",
        "draft_producer_notes",
        "compose_prompt",
        "validate_song",
        "review_run",
    } <= ended
    for event in events:
        if event["event"] == "node.end":
            assert event["duration_ms"] >= 0


def test_fix_events_carry_the_cycle_they_perform(tmp_path: Path) -> None:
    register_engine("stubborn-test", lambda _: StubbornEngine())
    _, events = _run(load_fixture("country_song_001"), tmp_path, engine="stubborn-test")
    for phase in ("start", "end"):
        fixes = [e["iteration"] for e in events if e.get("node") == "apply_fixes" and e["phase"] == phase]
        assert fixes == list(range(1, MAX_FIX_ITERATIONS + 1)), phase
    validations = [e["iteration"] for e in events if e.get("node") == "validate_song" and e["phase"] == "start"]
    assert validations == list(range(MAX_FIX_ITERATIONS + 1))


def _odd(change: Any) -> dict[str, Any]:
    sds = json.loads(json.dumps(load_fixture("pop_complexity_1")))
    change(sds)
    return sds


ODD_SDS = {
    "empty themes": lambda d: d["lyrics"].update(themes=[]),
    "one section": lambda d: d["lyrics"].update(section_order=["chorus"]),
    "thirty sections": lambda d: d["lyrics"].update(section_order=[f"verse{i}" for i in range(1, 31)]),
    "max_lines 1": lambda d: d["lyrics"]["constraints"].update(max_lines=1),
    "reversed tempo": lambda d: d["style"].update(tempo_bpm=[220, 40]),
    "flat minor key": lambda d: d["style"]["key"].update(primary="Bb minor"),
    "ten moods": lambda d: d["style"].update(mood=[f"mood {i}" for i in range(10)]),
    "blank tags": lambda d: d["style"].update(tags=[" ", "\t"], negative_tags=["  "]),
    "duplicate ids": lambda d: d["lyrics"].update(section_order=["verse", "chorus", "verse", "chorus"]),
    "udio": lambda d: d.update(render={"engine": "udio", "model": "udio-130"}),
    "external": lambda d: d.update(render={"engine": "external", "model": "anything"}),
    "seed 2**63": lambda d: d.update(seed=2**63),
    "largest seed": lambda d: d.update(seed=2**64 - 1),
    "blank title": lambda d: d.update(title="  "),
    "profane title": lambda d: d.update(title="Sh1t Happens"),
    "slur title, explicit": lambda d: (d.update(title="Retard Love"), d["lyrics"]["constraints"].update(explicit=True)),
    "artist title": lambda d: d.update(title="Taylor-Swift Dreams"),
    "artist genre": lambda d: d["style"]["genre_detail"].update(primary="Taylor Swift pop"),
}


@pytest.mark.parametrize("name", ODD_SDS)
def test_odd_but_valid_sds_runs_to_a_report(name: str, tmp_path: Path) -> None:
    values, events = _run(_odd(ODD_SDS[name]), tmp_path)
    assert events[-1]["event"] == "run.end"
    assert values["review"]["status"] in ("pass", "failed")
    assert not any(e["event"] == "node.fail" for e in events)


@pytest.mark.parametrize(
    "name", ["largest seed", "blank title", "profane title", "slur title, explicit", "artist title"]
)
def test_titles_and_seeds_that_used_to_break_the_song_now_pass(name: str, tmp_path: Path) -> None:
    values, _ = _run(_odd(ODD_SDS[name]), tmp_path)
    assert values["review"]["status"] == "pass", values["review"]["issues"]
    assert values["fix_iterations"] <= 1


class _BrokenStyleEngine(OfflineEngine):
    def write_style(self, job: NodeJob) -> Drafted[StyleArtifact]:
        raise RuntimeError("style engine down")


def test_a_failing_node_still_ends_the_run_in_events(tmp_path: Path) -> None:
    register_engine("broken-style-test", lambda _: _BrokenStyleEngine())
    events: list[dict[str, Any]] = []
    with sqlite_checkpointer(tmp_path) as saver, pytest.raises(RuntimeError, match="style engine down"):
        run_song(
            load_fixture("pop_complexity_1"),
            checkpointer=saver,
            context=Context(engine="broken-style-test", data_dir=str(tmp_path)),
            on_event=events.append,
        )
    assert [e["node"] for e in events if e["event"] == "node.fail"] == ["generate_style"]
    assert events[-1]["event"] == "run.end" and events[-1]["metrics"] == {"status": "error"}
