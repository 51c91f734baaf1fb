"""The offline engine: deterministic, seeded songwriting with no model and no network."""

from __future__ import annotations

from agent.engine import Drafted, NodeJob
from agent.fix import FixOutcome, apply_fixes
from agent.lyrics import write_lyrics
from agent.models import LyricsArtifact, ProducerNotesArtifact, StyleArtifact, ValidationReport
from agent.producer import draft_producer_notes
from agent.style import generate_style


class OfflineEngine:
    name = "offline"

    def write_style(self, job: NodeJob) -> Drafted[StyleArtifact]:
        style, warnings = generate_style(job.sds, job.plan, job.blueprint, job.seed)
        return Drafted(style, warnings)

    def write_lyrics(self, job: NodeJob) -> Drafted[LyricsArtifact]:
        return Drafted(write_lyrics(job.sds, job.plan, job.blueprint, job.seed))

    def write_producer_notes(self, job: NodeJob) -> Drafted[ProducerNotesArtifact]:
        notes, warnings = draft_producer_notes(job.sds, job.plan, job.blueprint, job.seed)
        return Drafted(notes, warnings)

    def fix(
        self,
        job: NodeJob,
        *,
        style: StyleArtifact,
        lyrics: LyricsArtifact,
        producer: ProducerNotesArtifact,
        report: ValidationReport,
        iteration: int,
    ) -> Drafted[FixOutcome]:
        outcome = apply_fixes(job.sds, job.plan, job.blueprint, style, lyrics, producer, report, iteration, job.seed)
        return Drafted(outcome)
