"""Runs: start, inspect, list, fetch artifacts, cancel, retry, history and replay."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from graph.service import MAX_ID, Conflict, NotFound, RunRequest, public_run
from server.deps import Authenticated, ServiceDep
from server.schemas import (
    ErrorBody,
    HistoryOut,
    ReplayBody,
    RetryBody,
    RunCreate,
    RunOut,
    RunPage,
    RunStatus,
    example_sds,
)

PREFIX = "/workflows/runs"
router = APIRouter(
    prefix=PREFIX,
    tags=["runs"],
    dependencies=[Authenticated],
    responses={401: {"model": ErrorBody, "description": "Missing or wrong bearer token."}},
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "Unknown run id."}}
ARTIFACT_NAME = re.compile(r"^[a-z][a-z_]{0,63}(\.json|\.txt)?$")
RunId = Annotated[str, Path(description="The run id returned by POST /workflows/runs.", max_length=200)]


def run_links(run_id: str) -> dict[str, str]:
    base = f"{PREFIX}/{run_id}"
    return {
        "self": base,
        "events": f"{base}/events",
        "history": f"{base}/history",
        "cancel": f"{base}/cancel",
        "retry": f"{base}/retry",
        "replay": f"{base}/replay",
        "artifacts": f"{base}/artifacts",
    }


def run_out(run: dict[str, Any]) -> RunOut:
    return RunOut(**public_run(run), links=run_links(run["run_id"]))  # type: ignore[arg-type]


def _accepted(run: dict[str, Any], response: Response) -> RunOut:
    out = run_out(run)
    response.headers["Location"] = out.links.self
    return out


@router.post(
    "",
    status_code=202,
    summary="Start a run",
    description="Validates the SDS and answers 202 at once with the run id, status and links; "
    "the run executes in the background. Watch it on `GET /workflows/runs/{id}/events` (SSE) "
    "or `WS /workflows/events?run_id=`.",
    responses={
        400: {"model": ErrorBody, "description": "Malformed JSON."},
        413: {"model": ErrorBody, "description": "Body larger than AMCS_MAX_BODY_BYTES."},
        422: {"model": ErrorBody, "description": "The SDS or an override breaks a rule."},
    },
)
async def create_run(
    service: ServiceDep,
    response: Response,
    body: Annotated[
        RunCreate,
        Body(
            openapi_examples={"reference": {"summary": "A reference SDS", "value": {"sds": example_sds(), "seed": 7}}}
        ),
    ],
) -> RunOut:
    sds = dict(body.sds)
    if body.seed is not None:
        sds["seed"] = body.seed
    if body.feature_flags:
        current = sds.get("feature_flags")
        flags: dict[str, Any] = current if isinstance(current, dict) else {}
        sds["feature_flags"] = {**flags, **body.feature_flags}
    run = await service.submit(
        RunRequest(
            sds=sds,
            engine=body.engine or "",
            model=body.model or "",
            manifest=body.manifest or {},
            llm_failure_policy=body.llm_failure_policy,
            max_llm_calls=body.max_llm_calls,
        )
    )
    return _accepted(run, response)


@router.get("", summary="List runs", description="Newest first, with filters; follow `next_cursor` for more.")
async def list_runs(
    service: ServiceDep,
    status: Annotated[list[RunStatus] | None, Query(description="Only runs in these statuses.")] = None,
    engine: Annotated[str | None, Query(max_length=100)] = None,
    genre: Annotated[str | None, Query(max_length=100, examples=["pop"])] = None,
    title: Annotated[str | None, Query(max_length=200, description="Case-insensitive substring.")] = None,
    parent_run_id: Annotated[str | None, Query(max_length=200, description="Runs forked from this run.")] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ID, description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunPage:
    rows = await service.store.list_runs(
        statuses=status or (),
        engine=engine,
        genre=genre,
        title=title,
        parent_run_id=parent_run_id,
        before_seq=cursor,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return RunPage(items=[run_out(r) for r in rows], next_cursor=rows[-1]["seq"] if more and rows else None)


@router.get("/{run_id}", summary="A run's status", responses=NOT_FOUND)
async def get_run(run_id: RunId, service: ServiceDep) -> RunOut:
    return run_out(await service.get(run_id))


@router.get(
    "/{run_id}/artifacts",
    summary="Names of a run's artifacts so far",
    responses=NOT_FOUND,
    response_model=list[str],
)
async def list_artifacts(run_id: RunId, service: ServiceDep) -> list[str]:
    values = await service.state_values(run_id)
    return _artifact_names(values)


def _artifact_names(values: dict[str, Any]) -> list[str]:
    artifacts = values.get("artifacts") or {}
    names = sorted(artifacts)
    if values.get("review"):
        names.append("review")
    names += [f"{n}.txt" for n in ("lyrics", "composed_prompt") if n in artifacts]
    return names


@router.get(
    "/{run_id}/artifacts/{name}",
    summary="One artifact",
    description="An artifact as JSON (`style`, `lyrics`, `producer_notes`, `composed_prompt`, `validation`, "
    "`render_job`, `review`), or as text (`lyrics.txt`, `composed_prompt.txt`). "
    "Available as soon as the node "
    "that makes it has finished.",
    responses={
        **NOT_FOUND,
        200: {"content": {"application/json": {}, "text/plain": {"example": "[Verse 1]\n…"}}},
        404: {"model": ErrorBody, "description": "Unknown run or artifact not (yet) produced."},
        409: {"model": ErrorBody, "description": "The artifact cannot be shown as text."},
    },
)
async def get_artifact(
    run_id: RunId,
    name: Annotated[str, Path(max_length=80, examples=["composed_prompt"])],
    service: ServiceDep,
) -> Response:
    if not ARTIFACT_NAME.match(name):
        raise NotFound("name", "pattern", f"{name[:80]!r} is not an artifact name")
    values = await service.state_values(run_id)
    artifacts = values.get("artifacts") or {}
    base, _, suffix = name.partition(".")
    if suffix == "txt":
        if base == "composed_prompt" and isinstance(artifacts.get(base), dict):
            return PlainTextResponse(str(artifacts[base].get("text", "")))
        if base == "lyrics" and base in artifacts:
            from pydantic import ValidationError

            from agent.compose import lyrics_text
            from agent.models import LyricsArtifact

            try:
                lyrics = LyricsArtifact.model_validate(artifacts[base])
            except ValidationError:  # e.g. written by a replay patch: the JSON form still serves it
                raise Conflict(
                    "name", "format", f"run {run_id}'s lyrics cannot be shown as text; fetch 'lyrics'"
                ) from None
            return PlainTextResponse(lyrics_text(lyrics) + "\n")
    elif base == "review" and values.get("review"):
        return JSONResponse(values["review"])
    elif base in artifacts:
        return JSONResponse(artifacts[base])
    available = ", ".join(_artifact_names(values)) or "none yet"
    raise NotFound("name", "exists", f"run {run_id} has no artifact {name!r} (available: {available})")


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    summary="Cancel a run",
    description="Stops further node execution (the running node is cancelled); "
    "the state of the last checkpoint "
    "is kept, so the run can be retried.",
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "The run already ended."}},
)
async def cancel_run(run_id: RunId, service: ServiceDep, response: Response) -> RunOut:
    return _accepted(await service.cancel(run_id), response)


@router.post(
    "/{run_id}/retry",
    status_code=202,
    summary="Retry a run",
    description="Resumes a failed, cancelled, errored or interrupted run from its last checkpoint, "
    "or re-runs it from the last checkpoint before `from_node`. "
    "A finished (failed) run with nothing pending re-runs from the "
    "start.",
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "The run is active or passed."},
        422: {"model": ErrorBody, "description": "Unknown node or never reached."},
    },
)
async def retry_run(
    run_id: RunId, service: ServiceDep, response: Response, body: Annotated[RetryBody | None, Body()] = None
) -> RunOut:
    return _accepted(await service.retry(run_id, from_node=body.from_node if body else None), response)


@router.get("/{run_id}/history", summary="A run's checkpoints (newest first)", responses=NOT_FOUND)
async def run_history(
    run_id: RunId, service: ServiceDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> HistoryOut:
    return HistoryOut(run_id=run_id, checkpoints=await service.history(run_id, limit=limit))  # type: ignore[arg-type]


@router.post(
    "/{run_id}/replay",
    status_code=202,
    summary="Fork a new run from a checkpoint",
    description="Copies the run's checkpoint chain up to `checkpoint_id` into a new run, "
    "applies the optional "
    "state `patch` (attributed to `as_node`), and runs it from there in the background.",
    responses={
        **NOT_FOUND,
        404: {"model": ErrorBody, "description": "Unknown run or checkpoint."},
        422: {"model": ErrorBody, "description": "Invalid patch or node."},
    },
)
async def replay_run(run_id: RunId, body: ReplayBody, service: ServiceDep, response: Response) -> RunOut:
    run = await service.replay(
        run_id,
        body.checkpoint_id,
        patch=body.patch,
        as_node=body.as_node,
        engine=body.engine,
        model=body.model,
        manifest=body.manifest,
    )
    return _accepted(run, response)
