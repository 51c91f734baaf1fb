"""The Song Design Spec contract: parse and validate against the SDS JSON Schema, reporting every broken rule."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from agent.paths import taxonomy_file


@dataclass(frozen=True)
class FieldError:
    """One broken rule: `field` is a dotted JSON path ('$' for the document), `rule` the schema keyword."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{self.rule}]"


class SDSError(ValueError):
    """The SDS is not usable; `errors` lists every broken rule."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


@cache
def sds_schema() -> dict[str, Any]:
    with taxonomy_file("schemas", "sds.schema.json").open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@cache
def _validator() -> Draft7Validator:
    return Draft7Validator(sds_schema())


def _dotted(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _describe(error: ValidationError) -> str:
    rule, limit, value = error.validator, error.validator_value, error.instance
    if rule in ("oneOf", "anyOf") and error.context:
        reasons = sorted({_describe(sub) for sub in error.context})
        return f"matches none of the allowed forms: {' / '.join(reasons)}"
    if rule == "maxItems" and isinstance(value, list):
        return f"has {len(value)} items; at most {limit} allowed"
    if rule == "minItems" and isinstance(value, list):
        return f"has {len(value)} items; at least {limit} required"
    if rule == "maxLength" and isinstance(value, str):
        return f"is {len(value)} characters long; at most {limit} allowed"
    if rule == "minLength" and isinstance(value, str):
        return f"is {len(value)} characters long; at least {limit} required"
    if rule in ("minimum", "maximum"):
        bound = "at least" if rule == "minimum" else "at most"
        return f"is {value!r}; must be {bound} {limit}"
    if rule == "type":
        return f"is {type(value).__name__} {_clip(value)}; must be {limit}"
    if rule == "enum":
        return f"is {_clip(value)}; must be one of {', '.join(map(repr, limit))}"
    if rule == "pattern":
        return f"is {_clip(value)}; must match {limit}"
    if rule == "required":
        return error.message.replace("is a required property", "is required")
    if rule == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s) not allowed")
    return error.message


def _clip(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_errors(data: Any) -> list[FieldError]:
    """Every schema violation, ordered by field path so messages are stable."""
    found = [
        FieldError(_dotted(err.absolute_path), str(err.validator), _describe(err))
        for err in _validator().iter_errors(data)
    ]
    return sorted(found, key=lambda e: (e.field, e.rule, e.message))


INT64_RANGE = (-(2**63), 2**64 - 1)  # what checkpoint serialisation (msgpack) can store


def storage_errors(data: Any, root: str = "$") -> list[FieldError]:
    """Values no checkpoint or artifact hash can hold: non-finite numbers, integers beyond 64 bits, NULs."""
    if isinstance(data, float) and not math.isfinite(data):
        return [FieldError(root, "finite", f"is {data}; numbers must be finite")]
    if isinstance(data, int) and not isinstance(data, bool):
        low, high = INT64_RANGE
        if low <= data <= high:
            return []
        return [FieldError(root, "range", f"is {_clip(data)}; must be an integer from {low} to {high}")]
    if isinstance(data, str):
        return [FieldError(root, "characters", "contains a NUL character")] if "\x00" in data else []
    if isinstance(data, dict):
        errors = [FieldError(root, "characters", "a key contains a NUL character") for k in data if "\x00" in str(k)]
        return errors + [e for key, value in data.items() for e in storage_errors(value, f"{root}.{key}")]
    if isinstance(data, list):
        return [e for index, value in enumerate(data) for e in storage_errors(value, f"{root}[{index}]")]
    return []


def validate_sds(data: Any) -> dict[str, Any]:
    """Return the SDS unchanged if it is valid; raise SDSError naming every broken rule otherwise."""
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else type(data).__name__
        raise SDSError([FieldError("$", "type", f"the SDS must be a JSON object, not {kind}")])
    errors = sorted(schema_errors(data) + storage_errors(data), key=lambda e: (e.field, e.rule, e.message))
    if errors:
        raise SDSError(errors)
    return data


def parse_sds(text: str | bytes) -> dict[str, Any]:
    """Parse SDS JSON text and validate it; bad JSON is an SDSError too, with line and column."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SDSError([FieldError("$", "encoding", f"the SDS is not UTF-8 text ({exc.reason})")]) from None
    if not text.strip():
        raise SDSError([FieldError("$", "json", "the SDS is empty")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SDSError(
            [FieldError("$", "json", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
        ) from None
    return validate_sds(data)


def feature_flag(sds: dict[str, Any], name: str) -> Any:
    return (sds.get("feature_flags") or {}).get(name)
