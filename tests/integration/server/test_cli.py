"""The `amcs` command as a user runs it: exit codes, files written, clean errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import INVALID_FIXTURES, REPO_ROOT, SDS_DIR


def amcs(*args: str, data_dir: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMCS_DATA_DIR": str(data_dir)}
    env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_writes_every_artifact_and_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = amcs("run", str(SDS_DIR / "pop_complexity_1.json"), "--out", str(out), "--json", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) == {
        "run_id",
        "status",
        "scores",
        "hard_fails",
        "fix_iterations",
        "warnings",
        "artifacts",
        "artifact_hashes",
    }
    assert summary["status"] == "pass"
    for name in (
        "style.json",
        "lyrics.txt",
        "producer_notes.json",
        "composed_prompt.json",
        "composed_prompt.txt",
        "validation.json",
        "review.json",
    ):
        assert (out / name).stat().st_size > 0, name
    style = json.loads((out / "style.json").read_text())
    assert style["artifact_hash"] == summary["artifact_hashes"]["style"]
    assert "[Chorus]" in (out / "lyrics.txt").read_text()
    assert "  > plan_song" in done.stderr and "  + review_run" in done.stderr


def test_seed_override_changes_the_lyrics(tmp_path: Path) -> None:
    hashes = []
    for seed in ("1", "2"):
        done = amcs(
            "run",
            str(SDS_DIR / "rock_song_001.json"),
            "--seed",
            seed,
            "--json",
            "--quiet",
            "--out",
            str(tmp_path / seed),
            data_dir=tmp_path,
        )
        assert done.returncode in (0, 1), done.stderr
        hashes.append(json.loads(done.stdout)["artifact_hashes"]["lyrics"])
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize("name", INVALID_FIXTURES)
def test_invalid_fixtures_exit_2_naming_the_field(name: str, tmp_path: Path) -> None:
    done = amcs("run", str(SDS_DIR / f"{name}.json"), data_dir=tmp_path)
    assert done.returncode == 2
    assert "$.style.instrumentation" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2, 3]", "not an array"),
        (b'"a string"', "JSON object"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_garbage_input_exits_2_cleanly(content: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    for command in ("run", "check"):
        done = amcs(command, str(path), data_dir=tmp_path)
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr


def test_missing_file_and_negative_seed_are_clean_errors(tmp_path: Path) -> None:
    missing = amcs("run", str(tmp_path / "nope.json"), data_dir=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    negative = amcs("run", str(SDS_DIR / "rock_song_001.json"), "--seed", "-5", data_dir=tmp_path)
    assert negative.returncode == 2 and "--seed" in negative.stderr


def test_check_reports_the_blueprint_and_fallback_warning(tmp_path: Path) -> None:
    done = amcs("check", str(SDS_DIR / "edge_case_001.json"), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "general" in done.stdout and "Experimental" in done.stdout


def test_blueprints_lists_every_genre(tmp_path: Path) -> None:
    done = amcs("blueprints", "--json", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    genres = {row["genre"] for row in json.loads(done.stdout)}
    assert len(genres) == 16 and {"hip-hop", "christmas-pop", "general"} <= genres


def test_sds_from_stdin(tmp_path: Path) -> None:
    done = amcs(
        "run",
        "-",
        "--json",
        "--quiet",
        "--out",
        str(tmp_path / "o"),
        data_dir=tmp_path,
        stdin=(SDS_DIR / "indie_song_002.json").read_bytes(),
    )
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["run_id"]


def test_llm_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    zero = amcs("run", str(SDS_DIR / "rock_song_001.json"), "--max-llm-calls", "0", data_dir=tmp_path)
    assert zero.returncode == 2 and "--max-llm-calls" in zero.stderr and "at least 1" in zero.stderr
    policy = amcs("run", str(SDS_DIR / "rock_song_001.json"), "--on-llm-failure", "retry", data_dir=tmp_path)
    assert policy.returncode == 2 and "fallback" in policy.stderr
    no_key = amcs("run", str(SDS_DIR / "rock_song_001.json"), "--engine", "anthropic", data_dir=tmp_path)
    assert no_key.returncode == 2 and "ANTHROPIC_API_KEY" in no_key.stderr
    assert not (tmp_path / "runs").exists(), "nothing ran"
