"""The Agent Skills under skills/: parsed frontmatter, instruction bodies, and the node each skill serves."""

# Every workflow node has a skill folder `skills/<name>/SKILL.md` in the open Agent Skills format that
# Claude Code reads. Its YAML frontmatter holds `name`, `description`, optionally `allowed-tools`, and a
# `metadata` map whose `node` key names the graph node the skill serves (the node <-> skill map lives in the
# skill files, not in code). The body after the frontmatter is the instruction text: the LLM engine sends it
# as a writing node's system prompt, and Claude Code loads it when the skill is invoked.
#
# The frontmatter is parsed by a small parser for the subset the format uses (scalars, quoted strings and one
# nested map), so the project needs no YAML library.

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from agent.paths import SKILLS_DIR

SKILL_FILE = "SKILL.md"
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_BODY_LINES = 500
ALLOWED_FIELDS = frozenset({"name", "description", "license", "compatibility", "allowed-tools", "metadata"})

_KEY_LINE = re.compile(r"^(?P<indent>[ ]*)(?P<key>[A-Za-z0-9_.-]+):(?:[ ]+(?P<value>.*?))?[ ]*$")


class SkillFormatError(ValueError):
    """A SKILL.md that does not follow the Agent Skills format; the message names the file and field."""


def _scalar(raw: str, where: str) -> str:
    text = raw.strip()
    if text.startswith('"'):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkillFormatError(f"{where}: bad double-quoted string ({exc.msg})") from None
        if not isinstance(value, str):
            raise SkillFormatError(f"{where}: expected a string")
        return value
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise SkillFormatError(f"{where}: unterminated single-quoted string")
        return text[1:-1].replace("''", "'")
    if text.startswith(("[", "{", "&", "*", "!", "|", ">", "%", "@", "`")) or " #" in text:
        raise SkillFormatError(f"{where}: only plain or quoted strings are supported, got {text!r}")
    return text


def parse_frontmatter(text: str, source: str = SKILL_FILE) -> tuple[dict[str, Any], str]:
    """Split a SKILL.md into (frontmatter, body); a key with no value opens a map of strings."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise SkillFormatError(f"{source}: must start with a '---' frontmatter line")
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r\n") == "---"), None)
    if end is None:
        raise SkillFormatError(f"{source}: frontmatter has no closing '---' line")
    data: dict[str, Any] = {}
    current_map: dict[str, str] | None = None
    for number, raw in enumerate(lines[1:end], start=2):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY_LINE.match(line)
        where = f"{source} line {number}"
        if match is None:
            raise SkillFormatError(f"{where}: expected 'key: value', got {line!r}")
        key, value, indented = match["key"], match["value"], bool(match["indent"])
        if indented:
            if current_map is None:
                raise SkillFormatError(f"{where}: indented key {key!r} outside a map")
            if value is None:
                raise SkillFormatError(f"{where}: nested maps deeper than one level are not supported")
            current_map[key] = _scalar(value, where)
            continue
        if key in data:
            raise SkillFormatError(f"{where}: duplicate key {key!r}")
        if value is None or value == "":
            current_map = {}
            data[key] = current_map
        else:
            current_map = None
            data[key] = _scalar(value, where)
    body = "".join(lines[end + 1 :]).lstrip("\r\n")
    return data, body


def skill_dir(name: str) -> Path:
    if not NAME_PATTERN.match(name) or len(name) > MAX_NAME_CHARS:
        raise KeyError(f"{name!r} is not a skill name (lowercase letters, digits and single hyphens)")
    path = SKILLS_DIR / name
    if not (path / SKILL_FILE).is_file():
        raise KeyError(f"no skill {name!r}; skills: {', '.join(skill_names())}")
    return path


def skill_names() -> list[str]:
    """Every folder under skills/ that holds a SKILL.md, sorted."""
    if not SKILLS_DIR.is_dir():
        return []
    return sorted(p.name for p in SKILLS_DIR.iterdir() if (p / SKILL_FILE).is_file())


@cache
def _load(name: str) -> tuple[dict[str, Any], str]:
    path = skill_dir(name) / SKILL_FILE
    return parse_frontmatter(path.read_text(encoding="utf-8"), source=f"skills/{name}/{SKILL_FILE}")


def skill_metadata(name: str) -> dict[str, Any]:
    """The skill's parsed frontmatter (a copy): name, description, allowed-tools, metadata{node, ...}."""
    data, _ = _load(name)
    return {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}


def skill_instructions(name: str) -> str:
    """The SKILL.md body after the frontmatter: the node's instructions, sent as the LLM's system prompt."""
    return _load(name)[1]


@cache
def node_skills() -> dict[str, str]:
    """Graph node name -> skill name, from each skill's `metadata.node`."""
    mapping: dict[str, str] = {}
    for name in skill_names():
        node = (skill_metadata(name).get("metadata") or {}).get("node")
        if node:
            if node in mapping:
                raise SkillFormatError(f"skills {mapping[node]!r} and {name!r} both claim node {node!r}")
            mapping[node] = name
    return mapping


def skill_for_node(node: str) -> str:
    """The skill name serving a graph node, e.g. 'write_lyrics' -> 'lyrics-generation'."""
    try:
        return node_skills()[node]
    except KeyError:
        raise KeyError(f"no skill declares metadata.node {node!r}") from None


def format_problems(name: str) -> list[str]:
    """Every way skills/<name>/SKILL.md breaks the Agent Skills format rules this project follows."""
    try:
        data, body = _load(name)
    except SkillFormatError as exc:
        return [str(exc)]
    problems = []
    unknown = sorted(set(data) - ALLOWED_FIELDS)
    if unknown:
        problems.append(f"{name}: frontmatter fields not in the Agent Skills format: {', '.join(unknown)}")
    skill_name = data.get("name")
    if skill_name != name:
        problems.append(f"{name}: name {skill_name!r} differs from its folder name")
    if not isinstance(skill_name, str) or not NAME_PATTERN.match(skill_name) or len(skill_name) > MAX_NAME_CHARS:
        problems.append(f"{name}: name must be 1-{MAX_NAME_CHARS} lowercase letters, digits and single hyphens")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{name}: description is missing")
    else:
        if len(description) > MAX_DESCRIPTION_CHARS:
            problems.append(f"{name}: description has {len(description)} characters; at most {MAX_DESCRIPTION_CHARS}")
        if "<" in description or ">" in description:
            problems.append(f"{name}: description contains an angle bracket")
    if "allowed-tools" in data and not isinstance(data["allowed-tools"], str):
        problems.append(f"{name}: allowed-tools must be a space-separated string")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        problems.append(f"{name}: metadata must be a map of strings")
    line_count = len(body.splitlines())
    if line_count > MAX_BODY_LINES:
        problems.append(f"{name}: body has {line_count} lines; keep it under {MAX_BODY_LINES}")
    if not body.strip():
        problems.append(f"{name}: body is empty")
    return problems
