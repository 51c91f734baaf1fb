"""Pydantic models of every artifact the workflow produces; the one contract for offline and LLM engines."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.hashing import with_artifact_hash


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_state(self) -> dict[str, Any]:
        """Plain JSON data with its `artifact_hash`, ready to enter graph state."""
        data = self.model_dump(mode="json", exclude={"artifact_hash"})
        return with_artifact_hash(data)


class PlannedSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Section id as the SDS names it, e.g. 'verse1'.")
    kind: str = Field(description="Canonical kind: Intro, Verse, Pre-Chorus, Chorus, Bridge, Outro, ...")
    label: str = Field(description="Bracket tag text, e.g. 'Verse 1'.")
    target_lines: int = Field(ge=0)
    min_lines: int = Field(ge=0)
    max_lines: int = Field(ge=0)
    target_syllables: int = Field(ge=0, description="Target syllables per line.")
    hook_role: bool = Field(description="True where this section plays the chorus role (Chorus, Hook, Drop).")
    must_end_with_hook: bool = False
    target_duration_sec: int = Field(ge=0)


class EngineLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: str
    model: str
    lyrics_max: int
    style_max: int
    exclude_max: int | None = Field(description="None when the engine has no separate exclude field.")
    title_max: int


class Plan(Artifact):
    artifact_type: Literal["plan"] = "plan"
    title: str
    genre: str = Field(description="Blueprint slug, e.g. 'hip-hop'.")
    genre_display: str
    blueprint_version: str
    sections: list[PlannedSection]
    required_kinds: list[str] = Field(description="Canonical section kinds the blueprint requires.")
    rhyme_scheme: str = Field(description="Normalised scheme letters, e.g. 'ABAB', or 'FREE'.")
    hook_line: str = Field(description="The title/hook phrase the chorus carries.")
    node_seeds: dict[str, int]
    objectives: dict[str, str]
    limits: EngineLimits
    render_enabled: bool
    explicit: bool
    max_lines: int | None
    target_reading_grade: float | None = Field(description="Upper bound on the Flesch-Kincaid grade, if any.")
    artifact_hash: str | None = None


class VocalProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    range: str
    delivery: str


class StyleArtifact(Artifact):
    artifact_type: Literal["style"] = "style"
    genre: str
    sub_genres: list[str]
    bpm: int = Field(ge=40, le=220)
    time_signature: str
    key: str = Field(pattern=r"^[A-G](#|b)?\s?(major|minor)$")
    modulations: list[str] = []
    mood: list[str] = Field(min_length=1)
    energy: str
    instrumentation: list[str]
    vocal_profile: VocalProfile
    tags_positive: list[str] = Field(max_length=8)
    tags_negative: list[str] = Field(max_length=5)
    artifact_hash: str | None = None


class LyricSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    label: str
    lines: list[str]


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str
    weight: float = Field(ge=0, le=1)


class LyricsArtifact(Artifact):
    artifact_type: Literal["lyrics"] = "lyrics"
    title: str
    language: str
    pov: str
    tense: str
    rhyme_scheme: str
    hook_line: str
    sections: list[LyricSection]
    citations: list[Citation] = []
    artifact_hash: str | None = None


class SectionMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str]
    target_duration_sec: int = Field(ge=0)
    energy: str


class MixTargets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lufs: float
    space: str
    stereo_width: Literal["narrow", "normal", "wide"]


class ProducerNotesArtifact(Artifact):
    artifact_type: Literal["producer_notes"] = "producer_notes"
    structure: str
    hooks: int = Field(ge=0)
    instrumentation: list[str]
    section_meta: dict[str, SectionMeta]
    mix: MixTargets
    duration_sec: int = Field(ge=0)
    arrangement_notes: list[str] = []
    artifact_hash: str | None = None


class ComposedPrompt(Artifact):
    artifact_type: Literal["composed_prompt"] = "composed_prompt"
    engine: str
    model: str
    title: str
    style_text: str
    lyrics_text: str
    exclude_text: str
    text: str = Field(description="Style, exclusions and lyrics in one block for engines with a single field.")
    meta: dict[str, Any]
    artifact_hash: str | None = None


class Issue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Literal["info", "warning", "error"]
    component: str = Field(description="Score or check the issue belongs to, e.g. 'rhyme_tightness'.")
    code: str
    message: str
    section: str | None = None
    line: int | None = None


class HardFail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    field: str
    message: str


class Scores(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hook_density: float = Field(ge=0, le=100)
    singability: float = Field(ge=0, le=100)
    rhyme_tightness: float = Field(ge=0, le=100)
    section_completeness: float = Field(ge=0, le=100)
    profanity_score: float = Field(ge=0, le=100)
    total: float = Field(ge=0, le=100)


class ValidationReport(Artifact):
    artifact_type: Literal["validation"] = "validation"
    validation_result: Literal["pass", "fail"]
    scores: Scores
    threshold: float
    issues: list[Issue]
    hard_fails: list[HardFail]
    metrics: dict[str, Any] = {}
    artifact_hash: str | None = None


class FixChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artifact: Literal["style", "lyrics", "producer_notes", "composed_prompt"]
    target: str = Field(description="What was changed, e.g. 'chorus1 line 3' or 'tags_positive'.")
    action: str
    before: str
    after: str


class FixRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iteration: int = Field(ge=1)
    component: str = Field(description="The weakest component or hard fail the fix addressed.")
    changes: list[FixChange]


class RenderJob(Artifact):
    artifact_type: Literal["render_job"] = "render_job"
    job_id: str
    engine: str
    model: str
    status: Literal["queued", "succeeded", "failed"]
    num_variations: int
    prompt_hash: str
    outputs: list[dict[str, Any]]
    artifact_hash: str | None = None
