"""SDS contract: every fixture judged right, every broken rule reported, garbage input rejected cleanly."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from agent.sds import FieldError, SDSError, feature_flag, parse_sds, validate_sds
from tests.support.fixtures import INVALID_FIXTURES, fixture_names, load_fixture, valid_fixture_names

BASE = "pop_complexity_1"


def _errors(data: Any) -> list[FieldError]:
    with pytest.raises(SDSError) as caught:
        validate_sds(data)
    assert caught.value.errors, "SDSError must carry at least one FieldError"
    return caught.value.errors


def _parse_errors(text: str | bytes) -> list[FieldError]:
    with pytest.raises(SDSError) as caught:
        parse_sds(text)
    return caught.value.errors


def _base() -> dict[str, Any]:
    return copy.deepcopy(load_fixture(BASE))


def test_fixture_split_is_47_valid_and_3_invalid() -> None:
    assert len(fixture_names()) == 50
    assert len(valid_fixture_names()) == 47
    assert set(INVALID_FIXTURES) == {"edge_case_003", "pop_complexity_4", "pop_complexity_5"}


@pytest.mark.parametrize("name", valid_fixture_names())
def test_valid_fixture_is_accepted_unchanged(name: str) -> None:
    data = load_fixture(name)
    snapshot = copy.deepcopy(data)
    assert validate_sds(data) == snapshot
    # the text route accepts it too
    assert parse_sds(json.dumps(data)) == snapshot


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pop_complexity_4", {("$.style.instrumentation", "maxItems")}),
        ("pop_complexity_5", {("$.style.instrumentation", "maxItems"), ("$.style.tempo_bpm", "oneOf")}),
        ("edge_case_003", {("$.style.instrumentation", "maxItems"), ("$.style.tempo_bpm", "oneOf")}),
    ],
)
def test_invalid_fixture_is_rejected_naming_field_and_rule(name: str, expected: set[tuple[str, str]]) -> None:
    errors = _errors(load_fixture(name))
    assert {(e.field, e.rule) for e in errors} == expected
    by_field = {e.field: e for e in errors}
    count = len(load_fixture(name)["style"]["instrumentation"])
    assert f"has {count} items; at most 3 allowed" in by_field["$.style.instrumentation"].message


def test_invalid_fixture_rejected_through_parse_sds_as_well() -> None:
    text = json.dumps(load_fixture("pop_complexity_5"))
    fields = {e.field for e in _parse_errors(text)}
    assert fields == {"$.style.instrumentation", "$.style.tempo_bpm"}


def test_tempo_with_three_values_explains_both_allowed_forms() -> None:
    errors = _errors(load_fixture("pop_complexity_5"))
    tempo = next(e for e in errors if e.field == "$.style.tempo_bpm")
    assert "has 3 items; at most 2 allowed" in tempo.message
    assert "must be integer" in tempo.message


def test_every_violation_is_reported_at_once() -> None:
    data = _base()
    data["title"] = ""  # minLength
    data["seed"] = -5  # minimum
    data["render"]["engine"] = "winamp"  # enum
    data["lyrics"]["language"] = "english"  # pattern
    data["style"]["instrumentation"] = ["a", "b", "c", "d"]  # maxItems
    errors = _errors(data)
    found = {(e.field, e.rule) for e in errors}
    assert {
        ("$.title", "minLength"),
        ("$.seed", "minimum"),
        ("$.render.engine", "enum"),
        ("$.lyrics.language", "pattern"),
        ("$.style.instrumentation", "maxItems"),
    } <= found
    assert len(errors) >= 5
    # ordered by field path, so the message is stable
    assert [e.field for e in errors] == sorted(e.field for e in errors)
    # the exception text names every field
    message = str(SDSError(errors))
    for field in ("$.title", "$.seed", "$.render.engine", "$.lyrics.language"):
        assert field in message


def test_missing_required_fields_are_all_named() -> None:
    data = _base()
    del data["seed"]
    del data["render"]
    errors = _errors(data)
    required = [e for e in errors if e.rule == "required"]
    assert len(required) == 2
    assert all(e.field == "$" for e in required)
    text = " ".join(e.message for e in required)
    assert "'seed' is required" in text and "'render' is required" in text


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_or_blank_text_is_rejected(text: str) -> None:
    errors = _parse_errors(text)
    assert [(e.field, e.rule) for e in errors] == [("$", "json")]
    assert "empty" in errors[0].message


def test_bad_json_reports_line_and_column() -> None:
    errors = _parse_errors('{\n  "title": "x",\n  oops\n}')
    assert len(errors) == 1
    assert errors[0].rule == "json"
    assert "line 3 column 3" in errors[0].message


def test_json_array_is_rejected_as_not_an_object() -> None:
    errors = _parse_errors("[1, 2, 3]")
    assert [(e.field, e.rule) for e in errors] == [("$", "type")]
    assert "not an array" in errors[0].message


def test_json_string_is_rejected_as_not_an_object() -> None:
    errors = _parse_errors('"just a string"')
    assert [(e.field, e.rule) for e in errors] == [("$", "type")]
    assert "str" in errors[0].message


@pytest.mark.parametrize("value", [None, 42, "text", ["a"]])
def test_validate_sds_rejects_non_objects(value: Any) -> None:
    errors = _errors(value)
    assert [(e.field, e.rule) for e in errors] == [("$", "type")]


def test_bytes_that_are_not_utf8_are_rejected() -> None:
    errors = _parse_errors(b'{"title": "caf\xe9"}')
    assert [(e.field, e.rule) for e in errors] == [("$", "encoding")]
    assert "UTF-8" in errors[0].message


def test_utf8_bytes_are_accepted() -> None:
    data = _base()
    data["title"] = "Café Nights"
    assert parse_sds(json.dumps(data, ensure_ascii=False).encode("utf-8"))["title"] == "Café Nights"


def test_unknown_top_level_field_is_named() -> None:
    data = _base()
    data["mystery_field"] = 1
    errors = _errors(data)
    assert [(e.field, e.rule) for e in errors] == [("$", "additionalProperties")]
    assert "mystery_field" in errors[0].message


def test_non_finite_numbers_are_rejected() -> None:
    """NaN/Infinity are not JSON; accepting them lets the SDS through and crashes hashing later."""
    data = _base()
    data["producer_notes"]["mix"] = {"lufs": -1.0, "space": "dry", "stereo_width": "wide"}
    text = json.dumps(data).replace('"lufs": -1.0', '"lufs": -Infinity')
    assert "-Infinity" in text
    with pytest.raises(SDSError):
        parse_sds(text)


def test_values_no_checkpoint_can_store_are_rejected_naming_the_field() -> None:
    data = _base()
    data["seed"] = 2**64
    data["lyrics"]["themes"] = ["night\x00drive"]
    data["producer_notes"]["hooks"] = 2**63 - 1
    found = {(e.field, e.rule) for e in _errors(data)}
    assert found == {("$.seed", "range"), ("$.lyrics.themes[0]", "characters")}


def test_feature_flags_are_accepted_and_readable() -> None:
    data = _base()
    data["feature_flags"] = {"render.enabled": True, "fix.max_iterations": 2, "lyrics.mode": "strict"}
    assert validate_sds(data) is data
    assert feature_flag(data, "render.enabled") is True
    assert feature_flag(data, "fix.max_iterations") == 2
    assert feature_flag(data, "absent.flag") is None
    assert feature_flag(_base(), "render.enabled") is None


@pytest.mark.parametrize("name", ["Render.Enabled", "render..enabled", "1render", "render-enabled", ""])
def test_bad_feature_flag_name_is_rejected(name: str) -> None:
    data = _base()
    data["feature_flags"] = {name: True}
    errors = _errors(data)
    assert [(e.field, e.rule) for e in errors] == [("$.feature_flags", "pattern")]
    assert repr(name) in errors[0].message


@pytest.mark.parametrize("value", [[True], {"on": True}, None])
def test_bad_feature_flag_value_is_rejected(value: Any) -> None:
    data = _base()
    data["feature_flags"] = {"render.enabled": value}
    errors = _errors(data)
    assert [(e.field, e.rule) for e in errors] == [("$.feature_flags.render.enabled", "type")]


def test_field_error_renders_as_dict_and_text() -> None:
    error = FieldError("$.seed", "minimum", "is -1; must be at least 0")
    assert error.as_dict() == {"field": "$.seed", "rule": "minimum", "message": "is -1; must be at least 0"}
    assert str(error) == "$.seed: is -1; must be at least 0 [minimum]"
    assert isinstance(SDSError([error]), ValueError)
