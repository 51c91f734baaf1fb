"""REVIEW: the run's final summary: status, scores, hard fails, fix iterations, warnings and artifact hashes."""

from __future__ import annotations

from typing import Any

REVIEWED_ARTIFACTS = ("style", "lyrics", "producer_notes", "composed_prompt", "validation", "render_job")


def review_summary(
    *,
    run_id: str,
    artifacts: dict[str, dict[str, Any]],
    fix_iterations: int,
    fix_log: list[dict[str, Any]],
    warnings: list[str],
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Summary JSON for people and clients; `status` is pass only if the last validation passed."""
    validation = artifacts.get("validation") or {}
    present = [name for name in REVIEWED_ARTIFACTS if name in artifacts]
    return {
        "run_id": run_id,
        "status": "pass" if validation.get("validation_result") == "pass" else "failed",
        "scores": validation.get("scores", {}),
        "threshold": validation.get("threshold"),
        "hard_fails": validation.get("hard_fails", []),
        "issues": validation.get("issues", []),
        "fix_iterations": fix_iterations,
        "fixes": fix_log,
        "warnings": warnings,
        "artifacts": present,
        "artifact_hashes": {name: artifacts[name]["artifact_hash"] for name in present},
        "usage": usage or {},
    }
