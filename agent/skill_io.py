"""Shared input, output and exit-code handling for the skill scripts under skills/*/scripts/."""

# Every script reads one JSON document (a file, a directory in the `amcs run --out` layout, or `-` for stdin),
# hands it to its handler as a `ToolInput`, and prints one JSON object on stdout. Exit codes:
#
# * 0 — done, every check passed;
# * 1 — done, but the check the script makes failed (the JSON still says what failed);
# * 2 — bad input: stdout holds ``{"errors": [{"field": ..., "message": ...}]}`` and stderr names each field;
# * 3 — the script could not run (the project is not installed, or an internal error).
#
# The input is a graph state, an SDS, or any object with the keys a script documents: `sds`, `plan` and
# `artifacts` are read as the graph's nodes read them, so a script given a node's input state prints that
# node's state update. With ``--state`` a script prints its input state with the update merged in (with the
# graph's reducers), so scripts chain like the graph:
# ``expand_sds.py sds.json --state | generate_style.py - --state``.

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.models import Plan
from agent.sds import SDSError, sds_schema, validate_sds
from agent.taxonomy import Blueprint, load_blueprint_by_slug

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_ERROR = 0, 1, 2, 3
ARTIFACT_FILES = ("style", "lyrics", "producer_notes", "composed_prompt", "validation", "render_job")
STATE_ONLY_KEYS = frozenset({"sds", "plan", "artifacts", "fix_iterations", "fix_log", "warnings", "review", "run_id"})
M = TypeVar("M", bound=BaseModel)


class BadInput(Exception):
    """Input the script cannot use; each problem names the field it is about."""

    def __init__(self, problems: Iterable[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))

    @classmethod
    def one(cls, field_name: str, message: str) -> BadInput:
        return cls([(field_name, message)])


@dataclass
class ToolResult:
    """What a script prints: a node's state update or the tool's report, and whether its check failed."""

    output: dict[str, Any]
    failed: bool = False
    notes: list[str] = field(default_factory=list)


def _join(prefix: str, loc: Iterable[Any]) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
        else:
            parts.append(str(item))
    return ".".join(parts) or "$"


def _sds_field(path: str, prefix: str) -> str:
    """An agent.sds path ('$.style.tempo_bpm') as this module's dotted field ('sds.style.tempo_bpm')."""
    rest = path[1:] if path.startswith("$") else path
    if rest.startswith("."):
        rest = rest[1:]
    if not rest:
        return prefix.rstrip(".") or "$"
    return f"{prefix.rstrip('.')}{rest}" if rest.startswith("[") else f"{prefix}{rest}"


def validate_model(model: type[M], data: Any, field_name: str) -> M:
    """model.model_validate(data), turning pydantic errors into BadInput naming `field_name.sub.field`."""
    if data is None:
        raise BadInput.one(field_name, "is missing")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput((_join(field_name, err["loc"]), err["msg"]) for err in exc.errors(include_url=False)) from None


class ToolInput:
    """The parsed input document, with the accessors the node wrappers in graph/nodes.py use."""

    def __init__(self, data: dict[str, Any], args: argparse.Namespace):
        self.data = data
        self.args = args

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @cached_property
    def is_state(self) -> bool:
        """True when the input is a graph state (or part of one) rather than a bare SDS."""
        return any(key in self.data for key in ("sds", "plan", "artifacts"))

    @cached_property
    def sds(self) -> dict[str, Any]:
        """The SDS, validated: `sds` of a state, the SDS fields of a state's input, or the whole document."""
        if "sds" in self.data:
            raw, prefix = self.data["sds"], "sds."
        elif self.is_state:
            keys = sds_schema()["properties"]
            raw, prefix = {k: v for k, v in self.data.items() if k in keys}, ""
            if not raw:
                raise BadInput.one("sds", "is missing (give the SDS as `sds`, or pass --sds FILE)")
        else:
            raw, prefix = self.data, ""
        try:
            return validate_sds(raw)
        except SDSError as error:
            raise BadInput((_sds_field(e.field, prefix), e.message) for e in error.errors) from None

    @cached_property
    def planned(self) -> tuple[Plan, Blueprint, list[str]]:
        """The state's `plan` (as the nodes use it) or, without one, the plan PLAN makes from the SDS."""
        if "plan" in self.data:
            plan = validate_model(Plan, self.data["plan"], "plan")
            return plan, load_blueprint_by_slug(plan.genre), []
        from agent.plan import plan_song

        return plan_song(self.sds)

    @property
    def plan(self) -> Plan:
        return self.planned[0]

    @property
    def blueprint(self) -> Blueprint:
        return self.planned[1]

    @property
    def artifacts(self) -> dict[str, Any]:
        artifacts = self.data.get("artifacts")
        if artifacts is None:
            return {}
        if not isinstance(artifacts, dict):
            raise BadInput.one("artifacts", "must be an object of artifacts by name")
        return artifacts

    def artifact(self, name: str, model: type[M]) -> M:
        if name not in self.artifacts:
            raise BadInput.one(f"artifacts.{name}", "is missing")
        return validate_model(model, self.artifacts[name], f"artifacts.{name}")


def _read_json(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput.one(label, f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInput.one(label, f"{path} is not UTF-8 text") from None
    return _parse(text, label)


def _parse(text: str, label: str) -> Any:
    if not text.strip():
        raise BadInput.one(label, "is empty; expected a JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput.one(label, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def read_directory(directory: Path) -> dict[str, Any]:
    """An `amcs run --out` directory: <artifact>.json, review.json, and sds.json / plan.json if there."""
    data: dict[str, Any] = {}
    artifacts = {
        name: _read_json(directory / f"{name}.json", f"{directory}/{name}.json")
        for name in ARTIFACT_FILES
        if (directory / f"{name}.json").is_file()
    }
    if artifacts:
        data["artifacts"] = artifacts
    for name in ("sds", "plan"):
        if (directory / f"{name}.json").is_file():
            data[name] = _read_json(directory / f"{name}.json", f"{directory}/{name}.json")
    review_file = directory / "review.json"
    if review_file.is_file():
        review = _read_json(review_file, str(review_file))
        if isinstance(review, dict):
            for key, state_key in (
                ("run_id", "run_id"),
                ("fix_iterations", "fix_iterations"),
                ("fixes", "fix_log"),
                ("warnings", "warnings"),
                ("usage", "usage"),
            ):
                if key in review:
                    data[state_key] = review[key]
    if not data:
        raise BadInput.one(str(directory), "holds none of the files of an `amcs run --out` directory")
    return data


def read_input(source: str, sds_file: str | None = None) -> dict[str, Any]:
    if source == "-":
        data = _parse(sys.stdin.read(), "stdin")
    else:
        path = Path(source)
        data = read_directory(path) if path.is_dir() else _read_json(path, source)
    if not isinstance(data, dict):
        raise BadInput.one("$", f"the input must be a JSON object, not {type(data).__name__}")
    if sds_file is not None:
        data = {**data, "sds": _read_json(Path(sds_file), "--sds")}
    return data


def merge_state(state: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Apply a node update to a state with the graph's reducers (graph/state.py)."""
    merged = dict(state)
    for key, value in update.items():
        if key in ("artifacts", "usage"):
            merged[key] = {**(merged.get(key) or {}), **value}
        elif key == "warnings":
            kept = list(merged.get(key) or [])
            merged[key] = kept + [w for w in value if w not in kept]
        elif key == "fix_log":
            merged[key] = list(merged.get(key) or []) + list(value)
        else:
            merged[key] = value
    return merged


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def run_tool(
    handler: Callable[[ToolInput], ToolResult],
    *,
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    merges_into_state: bool = True,
    argv: list[str] | None = None,
) -> int:
    """Parse arguments, read the input, run the handler, print JSON; returns the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("input", nargs="?", default="-", help="JSON file, `amcs run --out` directory, or - for stdin")
    parser.add_argument("--sds", metavar="FILE", help="take the SDS from this file (e.g. with an --out directory)")
    if merges_into_state:
        parser.add_argument(
            "--state", action="store_true", help="print the input state with this node's update merged in"
        )
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        data = read_input(args.input, args.sds)
        tool_input = ToolInput(data, args)
        result = handler(tool_input)
    except BadInput as bad:
        for field_name, message in bad.problems:
            print(f"{prog}: bad input: {field_name}: {message}", file=sys.stderr)
        sys.stdout.write(dump({"errors": [{"field": f, "message": m} for f, m in bad.problems]}))
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug or a broken installation, not the caller's input
        print(f"{prog}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    output = result.output
    if getattr(args, "state", False):
        state = data if tool_input.is_state else {**data}
        output = merge_state(state, output)
    sys.stdout.write(dump(output))
    for note in result.notes:
        print(f"{prog}: {note}", file=sys.stderr)
    return EXIT_CHECK_FAILED if result.failed else EXIT_OK
