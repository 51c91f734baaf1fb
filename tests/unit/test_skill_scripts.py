"""Every skill script, run as a subprocess, prints what the graph node it mirrors put into the state.

The graph runs in this process on a reference SDS (with rendering on, and once more with an engine whose
first lyric swears, so FIX runs); each script gets the node's input state and must print the node's
update, byte-identical after canonical dumping (artifact hashes included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.engine import Drafted, NodeJob
from agent.hashing import canonical_json
from agent.models import LyricsArtifact
from agent.offline import OfflineEngine
from agent.plan import plan_song
from agent.style import sanitize_tags

REPO = Path(__file__).resolve().parents[2]
SKILLS = REPO / "skills"
REFERENCE_SDS = REPO / "examples" / "sds" / "pop_complexity_1.json"
INVALID_SDS = REPO / "examples" / "sds" / "edge_case_003.json"
# Keys a node's update carries that no script reproduces: chat messages, model usage, the thread's id.
NODE_ONLY_KEYS = {"messages", "usage", "run_id", "status"}
SWEAR_LINE = "Damn this hell of a night"


class SwearingEngine(OfflineEngine):
    """The offline engine, except that the first lyric ends its first verse with profanity."""

    name = "skills-test-swearing"

    def write_lyrics(self, job: NodeJob) -> Drafted[LyricsArtifact]:
        drafted = super().write_lyrics(job)
        lyrics = drafted.value.model_copy(deep=True)
        verse = next(s for s in lyrics.sections if s.kind == "Verse")
        verse.lines[-1] = SWEAR_LINE
        return Drafted(lyrics, drafted.warnings)


@dataclass
class Run:
    updates: list[tuple[str, dict[str, Any]]]
    inputs: dict[str, dict[str, Any]]  # first input state of each node
    final: dict[str, Any]
    data_dir: Path

    def update(self, node: str) -> dict[str, Any]:
        return next(update for name, update in self.updates if name == node)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """A state as the JSON a client would hold (chat messages left out)."""
    return json.loads(json.dumps({k: v for k, v in values.items() if k != "messages"}))


def _run_graph(sds: dict[str, Any], engine: str, data_dir: Path) -> Run:
    from langgraph.checkpoint.memory import InMemorySaver

    from graph.builder import build_graph
    from graph.context import Context
    from graph.engines import register_engine

    register_engine(SwearingEngine.name, lambda _: SwearingEngine())
    app = build_graph().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"skills-{engine}"}, "recursion_limit": 100}
    context = Context(engine=engine, data_dir=str(data_dir))
    updates = [
        (node, update)
        for chunk in app.stream(sds, config, context=context, stream_mode="updates")  # type: ignore[call-overload]
        for node, update in chunk.items()
    ]
    inputs: dict[str, dict[str, Any]] = {}
    for snapshot in reversed(list(app.get_state_history(config))):
        for node in snapshot.next:
            inputs.setdefault(node, _plain(snapshot.values))
    return Run(updates, inputs, _plain(app.get_state(config).values), data_dir)


@pytest.fixture(scope="module")
def reference_sds() -> dict[str, Any]:
    sds = json.loads(REFERENCE_SDS.read_text(encoding="utf-8"))
    return {**sds, "feature_flags": {"render.enabled": True}}


@pytest.fixture(scope="module")
def run(reference_sds: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Run:
    result = _run_graph(reference_sds, "offline", tmp_path_factory.mktemp("graph-data"))
    assert "render_song" in result.inputs, "the reference SDS passes and renders"
    return result


@pytest.fixture(scope="module")
def fixing_run(reference_sds: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Run:
    result = _run_graph(reference_sds, SwearingEngine.name, tmp_path_factory.mktemp("graph-fix"))
    assert "apply_fixes" in result.inputs, "the swearing lyric fails validation and goes to FIX"
    return result


def script(skill: str, name: str, data: Any = None, *args: str, source: str = "-") -> tuple[int, Any, str]:
    """Run skills/<skill>/scripts/<name>.py; returns (exit code, parsed stdout, stderr)."""
    path = SKILLS / skill / "scripts" / f"{name}.py"
    stdin = data if isinstance(data, str) else json.dumps(data) if data is not None else ""
    done = subprocess.run(
        [sys.executable, str(path), source, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    output = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, output, done.stderr


def same(actual: Any, expected: Any) -> None:
    assert canonical_json(actual) == canonical_json(expected)


def node_update(run: Run, node: str) -> dict[str, Any]:
    update = _plain(run.update(node))
    return {k: v for k, v in update.items() if k not in NODE_ONLY_KEYS}


# ----------------------------------------------------------------------------------------- one per node


def test_expand_sds_prints_the_plan_node_update(run: Run, reference_sds: dict[str, Any]) -> None:
    code, output, _ = script("plan-song", "expand_sds", reference_sds)
    assert code == 0
    same(output, node_update(run, "plan_song"))
    code, from_file, _ = script("plan-song", "expand_sds", source=str(REFERENCE_SDS))
    plan, _, warnings = plan_song(json.loads(REFERENCE_SDS.read_text(encoding="utf-8")))
    assert code == 0
    same(from_file["plan"], plan.to_state())
    assert from_file["warnings"] == warnings


@pytest.mark.parametrize(
    ("skill", "name", "node"),
    [
        ("style-generation", "generate_style", "generate_style"),
        ("lyrics-generation", "write_lyrics", "write_lyrics"),
        ("producer-notes", "draft_producer_notes", "draft_producer_notes"),
    ],
)
def test_writing_scripts_print_the_node_update(
    run: Run, reference_sds: dict[str, Any], skill: str, name: str, node: str
) -> None:
    expected = node_update(run, node)
    code, from_state, _ = script(skill, name, run.inputs[node])
    assert code == 0
    same(from_state, expected)
    code, from_sds, _ = script(skill, name, reference_sds)
    assert code == 0
    same(from_sds, expected)


def test_merge_artifacts_prints_the_compose_update(run: Run) -> None:
    code, output, _ = script("prompt-composition", "merge_artifacts", run.inputs["compose_prompt"])
    assert code == 0
    same(output, node_update(run, "compose_prompt"))


def test_score_rubric_prints_the_validation_update(run: Run, fixing_run: Run) -> None:
    code, output, _ = script("validation", "score_rubric", run.inputs["validate_song"])
    assert code == 0
    same(output, node_update(run, "validate_song"))
    assert output["artifacts"]["validation"]["validation_result"] == "pass"
    code, failing, _ = script("validation", "score_rubric", fixing_run.inputs["validate_song"])
    assert code == 1
    same(failing, node_update(fixing_run, "validate_song"))
    assert {f["code"] for f in failing["artifacts"]["validation"]["hard_fails"]} == {"profanity"}


def test_score_rubric_composes_when_the_prompt_is_missing(run: Run) -> None:
    state = run.inputs["validate_song"]
    without_prompt = {
        **state,
        "artifacts": {k: v for k, v in state["artifacts"].items() if k != "composed_prompt"},
    }
    code, output, _ = script("validation", "score_rubric", without_prompt)
    assert code == 0
    same(output, node_update(run, "validate_song"))


def test_apply_fixes_prints_the_fix_update(fixing_run: Run) -> None:
    code, output, _ = script("auto-fix", "apply_fixes", fixing_run.inputs["apply_fixes"])
    assert code == 0
    same(output, node_update(fixing_run, "apply_fixes"))
    record = output["fix_log"][0]
    assert record["iteration"] == 1 and record["component"] == "profanity"
    assert [c["before"] for c in record["changes"]] == [SWEAR_LINE]


def test_render_job_prints_the_render_update_and_writes_the_same_record(run: Run, tmp_path: Path) -> None:
    code, output, _ = script("render", "render_job", run.inputs["render_song"], "--data-dir", str(tmp_path))
    assert code == 0
    expected = node_update(run, "render_song")
    same(output, expected)
    job_id = expected["artifacts"]["render_job"]["job_id"]
    written = (tmp_path / "renders" / f"{job_id}.json").read_bytes()
    assert written == (run.data_dir / "renders" / f"{job_id}.json").read_bytes()


def test_summarize_run_prints_the_review_update(run: Run) -> None:
    code, output, _ = script("review", "summarize_run", run.inputs["review_run"])
    assert code == 0
    update = _plain(run.update("review_run"))
    same(output, {"review": update["review"], "status": update["status"]})
    assert output["status"] == "pass"


# ---------------------------------------------------------------------------------------- the checkers


def test_validate_rhyme_reports_the_pairs_validation_scored(run: Run, fixing_run: Run) -> None:
    for graph_run in (run, fixing_run):
        state = graph_run.inputs["validate_song"]
        code, output, _ = script("lyrics-generation", "validate_rhyme", state)
        validation = graph_run.update("validate_song")["artifacts"]["validation"]
        same(output["pairs"], validation["metrics"]["rhyme_pairs"])
        broken = [p for p in output["pairs"] if p["kind"] in ("assonance", "none", "identical")]
        assert code == (1 if broken else 0)
        assert sum(len(s["broken"]) for s in output["sections"]) == len(broken)
    lyrics = run.final["artifacts"]["lyrics"]
    code, bare, _ = script("lyrics-generation", "validate_rhyme", lyrics)
    assert bare["rhyme_scheme"] == lyrics["rhyme_scheme"]
    code, free, _ = script("lyrics-generation", "validate_rhyme", {"lyrics": lyrics, "rhyme_scheme": "free"})
    assert (code, free["pairs"], free["rhyme_tightness"]) == (0, [], None)


def test_sanitize_tags_matches_the_style_node_rules() -> None:
    positive, negative = (
        ["acoustic", "Electronic", "catchy", "catchy", "whisper", "anthemic"],
        ["catchy", "harsh"],
    )
    code, output, _ = script("style-generation", "sanitize_tags", {"positive": positive, "negative": negative})
    kept, kept_negative, dropped = sanitize_tags(positive, negative)
    assert code == 1
    assert output == {
        "positive": kept,
        "negative": kept_negative,
        "dropped": [{"tag": tag, "reason": reason} for tag, reason in dropped],
    }
    assert output["positive"] == ["acoustic", "catchy", "whisper"]
    code, clean, _ = script("style-generation", "sanitize_tags", {"positive": ["melodic"], "negative": ["harsh"]})
    assert (code, clean["dropped"]) == (0, [])


def test_sanitize_tags_reads_a_style_artifact(run: Run) -> None:
    style = run.final["artifacts"]["style"]
    code, output, _ = script("style-generation", "sanitize_tags", style)
    assert code == 0
    assert output["positive"] == style["tags_positive"]


# ------------------------------------------------------------------------------ input forms and errors


def test_scripts_chain_with_state_like_the_graph(run: Run, reference_sds: dict[str, Any]) -> None:
    chain = [
        ("plan-song", "expand_sds"),
        ("style-generation", "generate_style"),
        ("lyrics-generation", "write_lyrics"),
        ("producer-notes", "draft_producer_notes"),
        ("prompt-composition", "merge_artifacts"),
        ("validation", "score_rubric"),
    ]
    state: Any = reference_sds
    for skill, name in chain:
        code, state, err = script(skill, name, state, "--state")
        assert code == 0, err
    expected = run.inputs["render_song"]
    for key in ("plan", "sds", "warnings"):
        same(state[key], expected[key])
    same(state["artifacts"], expected["artifacts"])


def test_scripts_read_an_amcs_out_directory(run: Run, tmp_path: Path) -> None:
    from server.cli import write_outputs

    write_outputs(tmp_path, run.final)
    code, output, _ = script("validation", "score_rubric", None, "--sds", str(REFERENCE_SDS), source=str(tmp_path))
    assert code == 0
    # The --out layout has no feature flags; the scores do not depend on them.
    same(output["artifacts"]["validation"], run.final["artifacts"]["validation"])
    code, review, _ = script("review", "summarize_run", None, source=str(tmp_path))
    assert code == 0
    for key in ("status", "scores", "artifact_hashes", "fix_iterations", "run_id"):
        assert review["review"][key] == run.final["review"][key]


def test_invalid_sds_exits_2_naming_the_field(reference_sds: dict[str, Any]) -> None:
    code, output, err = script("plan-song", "expand_sds", source=str(INVALID_SDS))
    assert code == 2
    fields = {e["field"] for e in output["errors"]}
    assert any(f.startswith("style.") for f in fields), fields
    assert "bad input: style." in err
    broken = {**reference_sds, "seed": "forty-two"}
    code, output, err = script("style-generation", "generate_style", {"sds": broken, "artifacts": {}})
    assert code == 2
    assert [e["field"] for e in output["errors"]] == ["sds.seed"]


@pytest.mark.parametrize(
    ("skill", "name", "data", "field"),
    [
        ("plan-song", "expand_sds", "{not json", "stdin"),
        ("plan-song", "expand_sds", "[1, 2]", "$"),
        ("prompt-composition", "merge_artifacts", {"plan": None, "artifacts": {}}, "artifacts.style"),
        ("style-generation", "sanitize_tags", {"positive": "loud"}, "positive"),
        ("lyrics-generation", "validate_rhyme", {"lyrics": {"title": "x"}}, "lyrics.language"),
        ("auto-fix", "apply_fixes", {"fix_iterations": -1, "artifacts": {}}, "fix_iterations"),
        ("review", "summarize_run", {"artifacts": {"style": {}}}, "artifacts.style.artifact_hash"),
    ],
)
def test_bad_input_exits_2_naming_the_field(skill: str, name: str, data: Any, field: str) -> None:
    code, output, err = script(skill, name, data)
    assert code == 2, err
    assert field in [e["field"] for e in output["errors"]]
    assert f"bad input: {field}" in err


def test_bad_artifact_names_the_artifact_field(run: Run) -> None:
    state = json.loads(json.dumps(run.inputs["compose_prompt"]))
    state["artifacts"]["style"]["bpm"] = 500
    code, output, _ = script("prompt-composition", "merge_artifacts", state)
    assert code == 2
    assert [e["field"] for e in output["errors"]] == ["artifacts.style.bpm"]


def test_a_script_without_the_project_says_to_install_it(tmp_path: Path) -> None:
    path = SKILLS / "plan-song" / "scripts" / "expand_sds.py"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-S", str(path), str(REFERENCE_SDS)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "pip install -e ." in done.stderr


def test_every_script_has_help_and_is_executable() -> None:
    scripts = sorted(SKILLS.glob("*/scripts/*.py"))
    assert len(scripts) == 11
    for path in scripts:
        assert os.access(path, os.X_OK), path
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")
    done = subprocess.run(
        [sys.executable, str(SKILLS / "validation" / "scripts" / "score_rubric.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "--state" in done.stdout and "--sds" in done.stdout
