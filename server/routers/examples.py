"""Reference SDS files (examples/sds) for the chat page: listed by name, served only from that folder."""

from __future__ import annotations

import json
import re
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from graph.service import NotFound
from server.deps import Authenticated, SettingsDep
from server.schemas import ErrorBody, ExampleOut

router = APIRouter(
    prefix="/workflows/examples",
    tags=["examples"],
    dependencies=[Authenticated],
    responses={401: {"model": ErrorBody}},
)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}(\.json)?$")


def _files(folder: FilePath) -> dict[str, FilePath]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.json")) if p.is_file() and NAME.match(p.name)}


@router.get("", summary="Reference SDS files")
async def list_examples(settings: SettingsDep) -> list[ExampleOut]:
    items = []
    for name, path in _files(settings.examples_dir).items():
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        genre = (data.get("blueprint_ref") or {}).get("genre") if isinstance(data, dict) else None
        items.append(ExampleOut(name=name, title=data.get("title") if isinstance(data, dict) else None, genre=genre))
    return items


@router.get(
    "/{name}",
    summary="One reference SDS",
    responses={404: {"model": ErrorBody, "description": "No reference SDS of that name."}},
)
async def get_example(
    name: Annotated[str, Path(max_length=105, examples=["pop_complexity_1"])], settings: SettingsDep
) -> JSONResponse:
    if not NAME.match(name):
        raise NotFound("name", "pattern", "must be a reference SDS name such as pop_complexity_1")
    stem = name[:-5] if name.endswith(".json") else name
    path = _files(settings.examples_dir).get(stem)
    if path is None:
        raise NotFound("name", "exists", f"no reference SDS named {stem!r}")
    return JSONResponse(json.loads(path.read_text(encoding="utf-8")))
