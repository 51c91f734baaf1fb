"""Scripted engines for graph tests: slow writers, deliberately bad first drafts, a fixer that fixes nothing."""

from __future__ import annotations

import threading
import time

from agent.engine import Drafted, NodeJob
from agent.fix import FixOutcome
from agent.models import FixRecord, LyricsArtifact, ProducerNotesArtifact, StyleArtifact, ValidationReport
from agent.offline import OfflineEngine


class SlowEngine(OfflineEngine):
    """The offline engine with each writing call held open, recording when each one ran."""

    name = "slow"

    def __init__(self, delay: float, spans: list[tuple[str, float, float]], lock: threading.Lock):
        self.delay = delay
        self.spans = spans
        self.lock = lock

    def _timed(self, node: str, call: object) -> object:
        started = time.perf_counter()
        time.sleep(self.delay)
        result = call()  # type: ignore[operator]
        with self.lock:
            self.spans.append((node, started, time.perf_counter()))
        return result

    def write_style(self, job: NodeJob) -> Drafted[StyleArtifact]:
        return self._timed("style", lambda: super(SlowEngine, self).write_style(job))  # type: ignore[return-value]

    def write_lyrics(self, job: NodeJob) -> Drafted[LyricsArtifact]:
        return self._timed("lyrics", lambda: super(SlowEngine, self).write_lyrics(job))  # type: ignore[return-value]

    def write_producer_notes(self, job: NodeJob) -> Drafted[ProducerNotesArtifact]:
        return self._timed(  # type: ignore[return-value]
            "producer", lambda: super(SlowEngine, self).write_producer_notes(job)
        )


PROFANE_WORD = "shit"


class ProfaneDraftEngine(OfflineEngine):
    """Writes offline lyrics, then swears in the first verse line: the first validation must fail."""

    name = "profane-draft"

    def write_lyrics(self, job: NodeJob) -> Drafted[LyricsArtifact]:
        lyrics = super().write_lyrics(job).value
        section = next(s for s in lyrics.sections if s.lines)
        words = section.lines[0].split()
        words.insert(1, PROFANE_WORD)
        section.lines[0] = " ".join(words)
        return Drafted(lyrics)


class StubbornEngine(ProfaneDraftEngine):
    """Never repairs anything, so the fix loop must give up after its cycle limit."""

    name = "stubborn"

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
        record = FixRecord(iteration=iteration, component="none", changes=[])
        return Drafted(FixOutcome(style=style, lyrics=lyrics, producer=producer, record=record))
