"""The Agent Skills under skills/: format rules, one skill per graph node, and the agent/skills.py loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent import models
from agent.paths import SKILLS_DIR
from agent.skills import (
    MAX_BODY_LINES,
    MAX_DESCRIPTION_CHARS,
    NAME_PATTERN,
    SkillFormatError,
    format_problems,
    node_skills,
    parse_frontmatter,
    skill_for_node,
    skill_instructions,
    skill_metadata,
    skill_names,
)

REPO = Path(__file__).resolve().parents[2]
SKILLS = skill_names()
EXPECTED = {
    "plan_song": "plan-song",
    "generate_style": "style-generation",
    "write_lyrics": "lyrics-generation",
    "draft_producer_notes": "producer-notes",
    "compose_prompt": "prompt-composition",
    "validate_song": "validation",
    "apply_fixes": "auto-fix",
    "render_song": "render",
    "review_run": "review",
}
# Each artifact model and the reference page that must describe every one of its fields.
FIELD_REFERENCES = [
    (models.Plan, "plan-song/references/plan-fields.md"),
    (models.PlannedSection, "plan-song/references/plan-fields.md"),
    (models.StyleArtifact, "style-generation/references/style-artifact.md"),
    (models.LyricsArtifact, "lyrics-generation/references/lyrics-artifact.md"),
    (models.LyricSection, "lyrics-generation/references/lyrics-artifact.md"),
    (models.ProducerNotesArtifact, "producer-notes/references/producer-artifact.md"),
    (models.SectionMeta, "producer-notes/references/producer-artifact.md"),
    (models.MixTargets, "producer-notes/references/producer-artifact.md"),
    (models.ComposedPrompt, "prompt-composition/references/composed-prompt.md"),
    (models.RenderJob, "render/references/connectors.md"),
]


def test_the_nine_skills_exist() -> None:
    assert sorted(SKILLS) == sorted(EXPECTED.values())


@pytest.mark.parametrize("name", SKILLS)
def test_skill_follows_the_agent_skills_format(name: str) -> None:
    assert format_problems(name) == []
    meta = skill_metadata(name)
    assert meta["name"] == name
    assert NAME_PATTERN.match(name) and len(name) <= 64
    description = meta["description"]
    assert 0 < len(description) <= MAX_DESCRIPTION_CHARS
    assert "<" not in description and ">" not in description
    assert "Use " in description or "use " in description, "the description says when to use the skill"
    assert len(skill_instructions(name).splitlines()) <= MAX_BODY_LINES


@pytest.mark.parametrize("name", SKILLS)
def test_frontmatter_is_the_yaml_that_other_tools_read(name: str) -> None:
    yaml = pytest.importorskip("yaml")
    text = (SKILLS_DIR / name / "SKILL.md").read_text(encoding="utf-8")
    raw = text.split("---\n", 2)[1]
    assert yaml.safe_load(raw) == skill_metadata(name)


def test_every_graph_node_has_its_skill_and_every_skill_a_node() -> None:
    from graph.builder import build_graph

    nodes = set(build_graph().nodes)
    assert node_skills() == EXPECTED
    assert set(node_skills()) == nodes
    for node, skill in EXPECTED.items():
        assert skill_for_node(node) == skill


def test_unknown_node_and_skill_are_named() -> None:
    with pytest.raises(KeyError, match="no_such_node"):
        skill_for_node("no_such_node")
    with pytest.raises(KeyError, match="no skill 'no-such-skill'"):
        skill_instructions("no-such-skill")
    with pytest.raises(KeyError, match="not a skill name"):
        skill_instructions("../graph")


@pytest.mark.parametrize("name", SKILLS)
def test_instructions_are_the_body_without_frontmatter(name: str) -> None:
    body = skill_instructions(name)
    assert body.startswith("# ")
    assert "---" not in body.splitlines()[0]
    assert "description:" not in body.split("\n## ")[0]
    for section in ("## Running it (Claude Code)",):
        assert section in body


@pytest.mark.parametrize("name", SKILLS)
def test_scripts_and_references_named_in_the_skill_exist(name: str) -> None:
    folder = SKILLS_DIR / name
    body = skill_instructions(name)
    named_scripts = set(re.findall(r"([a-z_]+\.py)", body))
    on_disk = {p.name for p in (folder / "scripts").glob("*.py")}
    assert on_disk, f"{name} has no scripts"
    assert on_disk <= named_scripts, f"{name}: SKILL.md does not document {sorted(on_disk - named_scripts)}"
    for reference in re.findall(r"`(references/[\w.-]+\.md)`", body):
        assert (folder / reference).is_file(), f"{name}: {reference} is missing"
    for script in on_disk:
        assert f"skills/{name}/scripts/{script}" in body or script in body


def test_writing_skills_state_the_hard_rules() -> None:
    for name in ("style-generation", "lyrics-generation", "producer-notes", "auto-fix"):
        body = skill_instructions(name).lower()
        assert "artist" in body, name
        assert "data only" in body or "data, not" in body, name
    lyrics = skill_instructions("lyrics-generation")
    assert "explicit" in lyrics and "profanity" in lyrics.lower() and "lyrics_max" in lyrics
    style = skill_instructions("style-generation")
    assert "at most 8" in style and "5 negative" in style and "conflict" in style
    fix = skill_instructions("auto-fix")
    assert "only" in fix and "before" in fix and "after" in fix


@pytest.mark.parametrize(("model", "reference"), FIELD_REFERENCES, ids=lambda v: getattr(v, "__name__", v))
def test_references_describe_every_field(model: type, reference: str) -> None:
    text = (SKILLS_DIR / reference).read_text(encoding="utf-8")
    missing = [f for f in model.model_fields if f"`{f}`" not in text and f"`{f}." not in text]
    assert missing == [], f"{reference} does not describe {missing}"


def test_claude_code_finds_the_skills_through_dot_claude() -> None:
    link = REPO / ".claude" / "skills"
    if not (REPO / ".git").exists() and not link.exists():
        pytest.skip("not a checkout")
    assert link.is_symlink(), ".claude/skills is a relative symlink to skills/"
    assert Path(link.readlink()).as_posix() == "../skills"
    assert link.resolve() == (REPO / "skills").resolve()
    assert sorted(p.name for p in link.iterdir() if (p / "SKILL.md").is_file()) == SKILLS


# ------------------------------------------------------------------------------------------ the parser


def test_parser_reads_plain_quoted_and_nested_values() -> None:
    text = (
        "---\n"
        "name: demo-skill\n"
        'description: "Says \\"hi\\": then stops. Use when greeting."\n'
        "license: 'it''s ours'\n"
        "metadata:\n"
        "  node: demo\n"
        '  order: "3"\n'
        "allowed-tools: Read Grep\n"
        "---\n"
        "\n# Body\n\ntext\n"
    )
    data, body = parse_frontmatter(text)
    assert data == {
        "name": "demo-skill",
        "description": 'Says "hi": then stops. Use when greeting.',
        "license": "it's ours",
        "metadata": {"node": "demo", "order": "3"},
        "allowed-tools": "Read Grep",
    }
    assert body == "# Body\n\ntext\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "must start with"),
        ("---\nname: x\n", "no closing"),
        ("---\nname: x\nname: y\n---\n", "duplicate key"),
        ("---\n  node: x\n---\n", "outside a map"),
        ("---\nname: [a, b]\n---\n", "only plain or quoted"),
        ("---\njust text\n---\n", "expected 'key: value'"),
        ('---\ndescription: "open\n---\n', "double-quoted"),
    ],
)
def test_parser_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SkillFormatError, match=message):
        parse_frontmatter(text)
