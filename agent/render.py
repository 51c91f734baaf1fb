"""RENDER: the connector interface to rendering engines and the default local connector that records jobs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from agent.hashing import canonical_json, sha256_hex
from agent.models import ComposedPrompt, RenderJob


class RenderConnector(Protocol):
    """Submits a validated prompt to an engine and returns the job record."""

    name: str

    def submit(self, prompt: ComposedPrompt, *, num_variations: int, seed: int) -> RenderJob: ...


class LocalRenderConnector:
    """Renders nowhere but keeps a real, replayable job record on disk: one JSON file per job.

    The job id derives from the prompt hash and seed, so re-rendering the same prompt is idempotent.
    """

    name = "local"

    def __init__(self, jobs_dir: Path):
        self.jobs_dir = jobs_dir

    def submit(self, prompt: ComposedPrompt, *, num_variations: int, seed: int) -> RenderJob:
        prompt_hash = prompt.artifact_hash or "sha256:" + sha256_hex(prompt.model_dump(exclude={"artifact_hash"}))
        job_id = "job-" + sha256_hex({"prompt": prompt_hash, "seed": seed})[:16]
        outputs: list[dict[str, Any]] = [
            {"variation": i + 1, "seed": seed + i, "status": "succeeded", "uri": f"local://{job_id}/{i + 1}"}
            for i in range(num_variations)
        ]
        job = RenderJob(
            job_id=job_id,
            engine=prompt.engine,
            model=prompt.model,
            status="succeeded",
            num_variations=num_variations,
            prompt_hash=prompt_hash,
            outputs=outputs,
        )
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "job": job.to_state(),
            "request": {
                "style": prompt.style_text,
                "lyrics": prompt.lyrics_text,
                "exclude": prompt.exclude_text,
                "title": prompt.title,
            },
        }
        path = self.jobs_dir / f"{job_id}.json"
        path.write_text(canonical_json(record), encoding="utf-8")
        return job


def load_job(jobs_dir: Path, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((jobs_dir / f"{job_id}.json").read_text(encoding="utf-8"))
    return data
