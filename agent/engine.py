"""The songwriting-engine interface every engine (offline, Claude) implements, and the engine registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from agent.models import (
    LyricsArtifact,
    Plan,
    ProducerNotesArtifact,
    StyleArtifact,
    ValidationReport,
)
from agent.taxonomy import Blueprint

if TYPE_CHECKING:
    from agent.fix import FixOutcome

T = TypeVar("T")
EventSink = Callable[[dict[str, Any]], None]


def _ignore(_: dict[str, Any]) -> None:
    return None


@dataclass
class NodeJob:
    """Everything a writing node needs; `emit` forwards progress (such as token deltas) to the event stream."""

    node: str
    sds: dict[str, Any]
    plan: Plan
    blueprint: Blueprint
    seed: int
    emit: EventSink = _ignore


@dataclass
class Drafted(Generic[T]):
    """An engine's output with the warnings it raised and its model usage (calls, tokens)."""

    value: T
    warnings: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)


class SongwritingEngine(Protocol):
    name: str

    def write_style(self, job: NodeJob) -> Drafted[StyleArtifact]: ...

    def write_lyrics(self, job: NodeJob) -> Drafted[LyricsArtifact]: ...

    def write_producer_notes(self, job: NodeJob) -> Drafted[ProducerNotesArtifact]: ...

    def fix(
        self,
        job: NodeJob,
        *,
        style: StyleArtifact,
        lyrics: LyricsArtifact,
        producer: ProducerNotesArtifact,
        report: ValidationReport,
        iteration: int,
    ) -> Drafted[FixOutcome]: ...
