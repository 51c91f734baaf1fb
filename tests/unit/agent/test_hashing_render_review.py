"""Canonical JSON and artifact hashes, the local render connector's job records, and the review summary."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from agent.hashing import canonical_json, sha256_hex, with_artifact_hash
from agent.models import ComposedPrompt
from agent.render import LocalRenderConnector, load_job
from agent.review import REVIEWED_ARTIFACTS, review_summary

# --- canonical JSON and hashes ---


def test_canonical_json_ignores_key_order_and_whitespace() -> None:
    a = {"b": 1, "a": {"y": [1, 2, {"q": None}], "x": "é"}}
    b = json.loads('{ "a" : { "x" : "\\u00e9" , "y" : [ 1 , 2 , { "q" : null } ] } ,\n "b" : 1 }')
    assert canonical_json(a) == canonical_json(b)
    assert canonical_json(a) == '{"a":{"x":"\\u00e9","y":[1,2,{"q":null}]},"b":1}'
    assert sha256_hex(a) == sha256_hex(b)
    assert sha256_hex(a) == hashlib.sha256(canonical_json(a).encode("ascii")).hexdigest()


def test_canonical_json_keeps_list_order() -> None:
    assert canonical_json([1, 2]) != canonical_json([2, 1])


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_with_artifact_hash_ignores_an_existing_hash() -> None:
    body = {"artifact_type": "style", "bpm": 120}
    hashed = with_artifact_hash(body)
    assert hashed["artifact_hash"] == "sha256:" + sha256_hex(body)
    assert "artifact_hash" not in body, "the input must not be mutated"
    assert with_artifact_hash({**body, "artifact_hash": "sha256:stale"}) == hashed
    assert with_artifact_hash(hashed) == hashed


def test_with_artifact_hash_changes_when_content_changes() -> None:
    first = with_artifact_hash({"artifact_type": "style", "bpm": 120})
    second = with_artifact_hash({"artifact_type": "style", "bpm": 121})
    assert first["artifact_hash"] != second["artifact_hash"]
    reordered = with_artifact_hash({"bpm": 120, "artifact_type": "style"})
    assert reordered["artifact_hash"] == first["artifact_hash"]


# --- local render connector ---


def _prompt(style_text: str = "pop, 120 BPM, C major") -> ComposedPrompt:
    data = ComposedPrompt(
        engine="suno",
        model="v5",
        title="Summer Dreams",
        style_text=style_text,
        lyrics_text="[Verse 1]\nline\n\n[End]",
        exclude_text="muddy mix",
        text="Title: Summer Dreams\n",
        meta={},
    ).to_state()
    return ComposedPrompt.model_validate(data)


def test_local_render_writes_a_replayable_job_file(tmp_path: Path) -> None:
    prompt = _prompt()
    job = LocalRenderConnector(tmp_path).submit(prompt, num_variations=2, seed=7)
    path = tmp_path / f"{job.job_id}.json"
    assert path.is_file()
    record = load_job(tmp_path, job.job_id)
    assert record["job"]["job_id"] == job.job_id
    assert record["job"]["artifact_hash"] == job.to_state()["artifact_hash"]
    assert record["request"] == {
        "style": prompt.style_text,
        "lyrics": prompt.lyrics_text,
        "exclude": prompt.exclude_text,
        "title": prompt.title,
    }
    assert job.prompt_hash == prompt.artifact_hash
    assert (job.engine, job.model, job.status, job.num_variations) == ("suno", "v5", "succeeded", 2)
    assert [o["seed"] for o in job.outputs] == [7, 8]
    assert [o["variation"] for o in job.outputs] == [1, 2]


def test_job_id_is_stable_for_the_same_prompt_and_seed(tmp_path: Path) -> None:
    first = LocalRenderConnector(tmp_path / "a").submit(_prompt(), num_variations=1, seed=7)
    second = LocalRenderConnector(tmp_path / "b").submit(_prompt(), num_variations=1, seed=7)
    assert first.job_id == second.job_id
    assert (tmp_path / "a" / f"{first.job_id}.json").read_text() == (
        tmp_path / "b" / f"{second.job_id}.json"
    ).read_text()


def test_job_id_differs_for_another_seed_or_prompt(tmp_path: Path) -> None:
    connector = LocalRenderConnector(tmp_path)
    base = connector.submit(_prompt(), num_variations=1, seed=7)
    other_seed = connector.submit(_prompt(), num_variations=1, seed=8)
    other_prompt = connector.submit(_prompt("rock, 140 BPM, E minor"), num_variations=1, seed=7)
    assert len({base.job_id, other_seed.job_id, other_prompt.job_id}) == 3
    assert len(list(tmp_path.glob("job-*.json"))) == 3


def test_unhashed_prompt_gets_a_content_hash(tmp_path: Path) -> None:
    hashed = _prompt()
    unhashed = hashed.model_copy(update={"artifact_hash": None})
    job = LocalRenderConnector(tmp_path).submit(unhashed, num_variations=1, seed=1)
    assert job.prompt_hash == hashed.artifact_hash


# --- review summary ---


def _artifacts(result: str) -> dict[str, dict[str, Any]]:
    validation = with_artifact_hash(
        {
            "artifact_type": "validation",
            "validation_result": result,
            "scores": {"total": 81.0},
            "threshold": 75.0,
            "issues": [{"code": "weak_rhyme"}],
            "hard_fails": [] if result == "pass" else [{"code": "profanity"}],
        }
    )
    return {
        "style": with_artifact_hash({"artifact_type": "style", "bpm": 120}),
        "lyrics": with_artifact_hash({"artifact_type": "lyrics", "title": "x"}),
        "validation": validation,
    }


def test_review_summary_pass() -> None:
    artifacts = _artifacts("pass")
    summary = review_summary(run_id="r1", artifacts=artifacts, fix_iterations=1, fix_log=[{"i": 1}], warnings=["w"])
    assert summary["status"] == "pass"
    assert summary["run_id"] == "r1"
    assert summary["scores"] == {"total": 81.0} and summary["threshold"] == 75.0
    assert summary["hard_fails"] == [] and summary["issues"] == [{"code": "weak_rhyme"}]
    assert summary["fix_iterations"] == 1 and summary["fixes"] == [{"i": 1}] and summary["warnings"] == ["w"]
    assert summary["artifacts"] == ["style", "lyrics", "validation"]
    assert summary["artifact_hashes"] == {name: artifacts[name]["artifact_hash"] for name in artifacts}
    assert summary["usage"] == {}


def test_review_summary_failed() -> None:
    summary = review_summary(run_id="r2", artifacts=_artifacts("fail"), fix_iterations=3, fix_log=[], warnings=[])
    assert summary["status"] == "failed"
    assert summary["hard_fails"] == [{"code": "profanity"}]


def test_review_summary_without_validation_is_failed() -> None:
    artifacts = {"style": with_artifact_hash({"artifact_type": "style"})}
    summary = review_summary(run_id="r3", artifacts=artifacts, fix_iterations=0, fix_log=[], warnings=[])
    assert summary["status"] == "failed"
    assert summary["artifacts"] == ["style"]
    assert summary["scores"] == {} and summary["threshold"] is None


def test_review_summary_lists_artifacts_in_canonical_order_and_ignores_others() -> None:
    artifacts = {name: with_artifact_hash({"artifact_type": name}) for name in reversed(REVIEWED_ARTIFACTS)}
    artifacts["scratch"] = {"artifact_hash": "sha256:x"}
    summary = review_summary(run_id="r4", artifacts=artifacts, fix_iterations=0, fix_log=[], warnings=[])
    assert summary["artifacts"] == list(REVIEWED_ARTIFACTS)
    assert set(summary["artifact_hashes"]) == set(REVIEWED_ARTIFACTS)
    assert summary["usage"] == {}
    usage = {"LYRICS": {"calls": 1}}
    assert (
        review_summary(run_id="r", artifacts={}, fix_iterations=0, fix_log=[], warnings=[], usage=usage)["usage"]
        == usage
    )
