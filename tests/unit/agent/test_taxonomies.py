"""Data checks for taxonomies/: blueprints, aliases, section names, conflicts, profanity, artists, limits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.models import EngineLimits
from agent.paths import TAXONOMIES_DIR
from agent.taxonomy import (
    GENERAL_SLUG,
    Blueprint,
    alias_index,
    blueprint_slugs,
    engine_limits_table,
    living_artists,
    load_blueprint_by_slug,
    normalise_genre_name,
    profanity_data,
    resolve_blueprint,
    section_kinds,
    tag_conflicts,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES_DIR = REPO_ROOT / "examples" / "sds"
BLUEPRINT_DIR = TAXONOMIES_DIR / "blueprints"

CANONICAL_KINDS = {
    "Intro",
    "Verse",
    "Pre-Chorus",
    "Chorus",
    "Post-Chorus",
    "Bridge",
    "Breakdown",
    "Drop",
    "Hook",
    "Outro",
    "Instrumental",
    "Rap",
    "Section",
}
GENRE_SLUGS = {
    "pop",
    "country",
    "ccm",
    "christmas-pop",
    "kids",
    "hip-hop",
    "rnb",
    "rock",
    "pop-punk",
    "hyperpop",
    "electronic",
    "latin",
    "afrobeats",
    "k-pop",
    "indie-alternative",
}
# Fixtures that do not validate against the SDS schema (3+ tempo values, more than 3 instruments).
SCHEMA_INVALID_FIXTURES = {"edge_case_003", "pop_complexity_4", "pop_complexity_5"}
EXPECTED_SLUG = {
    "Christmas": "christmas-pop",
    "Country": "country",
    "Electronic": "electronic",
    "Experimental": "general",
    "Hiphop": "hip-hop",
    "Indie": "indie-alternative",
    "Pop": "pop",
    "Rnb": "rnb",
    "Rock": "rock",
    "Progressive": "rock",
}
KEY_PATTERN = re.compile(r"^[A-G](#|b)?\s?(major|minor)$")
WEIGHT_NAMES = ("hook_density", "singability", "rhyme_tightness", "section_completeness", "profanity_score")


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def _blueprint_raw(slug: str) -> dict[str, Any]:
    return _load(BLUEPRINT_DIR / f"{slug}.json")


def _fixtures() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, _load(p)) for p in sorted(FIXTURES_DIR.glob("*.json"))]


def _valid_fixtures() -> list[tuple[str, dict[str, Any]]]:
    return [(name, sds) for name, sds in _fixtures() if name not in SCHEMA_INVALID_FIXTURES]


def _section_stem(section_id: str) -> str:
    """The section_names.json rule: lowercase, strip trailing digits/space/underscore/hyphen."""
    return re.sub(r"[\d\s_-]+$", "", section_id.lower())


def _kinds_after_equivalents(bp: Blueprint, kinds: list[str]) -> set[str]:
    return {bp.canonical_kind(k) for k in kinds} | set(kinds)


def _in_union(bp: Blueprint, bpm: int) -> bool:
    return any(r.range[0] <= bpm <= r.range[1] for r in bp.tempo)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", text.lower()) if w]


def _fold_leet(text: str, leet: dict[str, str]) -> str:
    return "".join(leet.get(ch, ch) for ch in text.lower())


@pytest.fixture(scope="module")
def blueprint_validator() -> jsonschema.Draft7Validator:
    schema = _load(TAXONOMIES_DIR / "schemas" / "blueprint.schema.json")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


# --- blueprints ---------------------------------------------------------------------------------------


def test_slug_list_matches_blueprint_files() -> None:
    files = {p.stem for p in BLUEPRINT_DIR.glob("*.json")}
    assert set(blueprint_slugs()) == GENRE_SLUGS | {GENERAL_SLUG}
    assert files == set(blueprint_slugs())


@pytest.mark.parametrize("slug", sorted(GENRE_SLUGS | {GENERAL_SLUG}))
def test_blueprint_validates_against_schema_and_model(
    slug: str, blueprint_validator: jsonschema.Draft7Validator
) -> None:
    raw = _blueprint_raw(slug)
    errors = sorted(blueprint_validator.iter_errors(raw), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    bp = Blueprint.model_validate(raw)
    assert bp.genre == slug
    assert load_blueprint_by_slug(slug) == bp


@pytest.mark.parametrize("slug", sorted(GENRE_SLUGS | {GENERAL_SLUG}))
def test_blueprint_internal_consistency(slug: str) -> None:
    bp = load_blueprint_by_slug(slug)
    weights = bp.rubric.weights.model_dump()
    assert set(weights) == set(WEIGHT_NAMES)
    assert abs(sum(weights.values()) - 1.0) < 1e-9
    assert all(w > 0 for w in weights.values())
    assert 0 < bp.rubric.min_component <= bp.rubric.min_total <= 100
    assert bp.rubric.rationale.strip()

    for r in bp.tempo:
        assert 40 <= r.range[0] <= r.range[1] <= 220, r
    assert _in_union(bp, bp.tempo_default)
    lo, hi = bp.typical_length_sec
    assert 0 < lo <= hi

    sections = bp.sections
    for table in (sections.lines, sections.syllables):
        assert set(table) == CANONICAL_KINDS
        assert all(0 <= a <= b for a, b in table.values()), table
    assert set(sections.duration_sec) == CANONICAL_KINDS
    assert sections.lines["Instrumental"] == (0, 0)
    for kind in ("Verse", "Chorus"):
        assert sections.lines[kind][0] >= 2 and sections.syllables[kind][0] >= 3

    used = set(sections.required) | set(sections.optional) | set(sections.default_order)
    used |= set(sections.equivalents) | set(sections.equivalents.values())
    assert used <= CANONICAL_KINDS, used - CANONICAL_KINDS
    assert not set(sections.required) & set(sections.optional)
    assert all(k != v for k, v in sections.equivalents.items())
    assert set(sections.default_order) <= set(sections.required) | set(sections.optional)
    order_kinds = _kinds_after_equivalents(bp, sections.default_order)
    assert set(sections.required) <= order_kinds
    order_seconds = sum(sections.duration_sec[k] for k in sections.default_order)
    assert lo <= order_seconds <= hi, (order_seconds, bp.typical_length_sec)

    assert all(KEY_PATTERN.match(k) for k in bp.keys)
    assert len(set(bp.keys)) == len(bp.keys)
    assert 15 <= len(bp.lexicon_imagery) <= 30
    assert bp.mix["stereo_width"] in {"narrow", "normal", "wide"}
    assert isinstance(bp.mix["lufs"], int | float) and -20 <= bp.mix["lufs"] <= -5


@pytest.mark.parametrize("slug", sorted(GENRE_SLUGS | {GENERAL_SLUG}))
def test_blueprint_names_resolve_to_itself(slug: str) -> None:
    bp = load_blueprint_by_slug(slug)
    for name in (slug, bp.display_name, *bp.aliases):
        lookup = resolve_blueprint(name)
        assert lookup.blueprint.genre == slug, name
        assert lookup.warnings == [], name


@pytest.mark.parametrize("slug", sorted(GENRE_SLUGS | {GENERAL_SLUG}))
def test_blueprint_production_tags_do_not_conflict(slug: str) -> None:
    bp = load_blueprint_by_slug(slug)
    conflicts = tag_conflicts()
    tags = [t.lower() for t in bp.production_tags]
    clashes = [(a, b) for a in tags for b in tags if b in conflicts.get(a, frozenset())]
    assert not clashes


def test_hip_hop_and_electronic_express_requirements_after_equivalents() -> None:
    hip_hop = load_blueprint_by_slug("hip-hop")
    assert hip_hop.sections.required == ["Verse", "Chorus"]
    assert hip_hop.canonical_kind("Hook") == "Chorus"
    assert set(hip_hop.sections.required) <= _kinds_after_equivalents(hip_hop, ["Verse", "Hook"])
    electronic = load_blueprint_by_slug("electronic")
    assert electronic.canonical_kind("Drop") == "Chorus"
    assert set(electronic.sections.required) <= _kinds_after_equivalents(electronic, ["Drop"])
    general = load_blueprint_by_slug(GENERAL_SLUG)
    assert general.sections.required == ["Verse"]
    assert general.tempo_bounds == (40, 220)


# --- fixtures against blueprints ----------------------------------------------------------------------


def test_fixture_partition_is_as_documented() -> None:
    names = {name for name, _ in _fixtures()}
    assert len(names) == 50
    assert names >= SCHEMA_INVALID_FIXTURES
    for _, sds in _valid_fixtures():
        tempo = sds["style"]["tempo_bpm"]
        assert isinstance(tempo, int) or (isinstance(tempo, list) and len(tempo) == 2)


@pytest.mark.parametrize(("name", "sds"), _valid_fixtures(), ids=[n for n, _ in _valid_fixtures()])
def test_valid_fixture_fits_its_blueprint(name: str, sds: dict[str, Any]) -> None:
    genre = sds["blueprint_ref"]["genre"]
    lookup = resolve_blueprint(genre, sds["style"]["genre_detail"]["primary"])
    bp = lookup.blueprint
    assert bp.genre == EXPECTED_SLUG[genre]
    if bp.genre == GENERAL_SLUG:
        assert lookup.warnings
    else:
        assert lookup.warnings == []

    tempo = sds["style"]["tempo_bpm"]
    values = [tempo] if isinstance(tempo, int) else list(tempo)
    assert all(_in_union(bp, v) for v in values), (values, [r.range for r in bp.tempo])

    kinds_map = section_kinds()
    stems = [_section_stem(s) for s in sds["lyrics"]["section_order"]]
    assert all(stem in kinds_map for stem in stems), stems
    kinds = [kinds_map[stem] for stem in stems]
    missing = set(bp.sections.required) - _kinds_after_equivalents(bp, kinds)
    assert not missing, (kinds, bp.sections.required)

    min_lines = sum(bp.sections.lines[k][0] for k in kinds)
    assert min_lines <= sds["lyrics"]["constraints"]["max_lines"]
    assert sds["style"]["key"]["primary"] in bp.keys

    conflicts = tag_conflicts()
    words = [t.lower() for t in [*sds["style"]["tags"], *sds["style"]["mood"], sds["style"]["energy"]]]
    assert not [(a, b) for a in words for b in words if b in conflicts.get(a, frozenset())]


def test_unknown_genres_fall_back_to_general_with_warning() -> None:
    for name in ("Experimental", "ambient", "Progressive", "Vaporwave"):
        assert normalise_genre_name(name) not in alias_index()
    lookup = resolve_blueprint("Experimental", "experimental")
    assert lookup.blueprint.genre == GENERAL_SLUG
    assert len(lookup.warnings) == 1 and "Experimental" in lookup.warnings[0]
    lookup = resolve_blueprint("Experimental", "ambient")
    assert lookup.blueprint.genre == GENERAL_SLUG and lookup.warnings


def test_progressive_uses_rock_through_genre_detail() -> None:
    sds = _load(FIXTURES_DIR / "edge_case_003.json")
    lookup = resolve_blueprint(sds["blueprint_ref"]["genre"], sds["style"]["genre_detail"]["primary"])
    assert lookup.blueprint.genre == "rock"
    assert lookup.warnings
    kinds = {section_kinds()[_section_stem(s)] for s in sds["lyrics"]["section_order"]}
    assert kinds == {"Section"}


# --- aliases and section names ------------------------------------------------------------------------


def test_alias_index_is_lower_case_and_points_at_blueprints() -> None:
    raw = _load(TAXONOMIES_DIR / "genre_aliases.json")
    assert set(raw["genres"]) == GENRE_SLUGS | {GENERAL_SLUG}
    assert all(key == key.lower() for key in raw["aliases"])
    assert set(raw["aliases"].values()) <= set(raw["genres"])
    for fixture_genre, slug in EXPECTED_SLUG.items():
        if slug != GENERAL_SLUG and fixture_genre != "Progressive":
            assert alias_index()[normalise_genre_name(fixture_genre)] == slug
    assert alias_index()["progressive rock"] == "rock"


def test_section_names_map_to_canonical_kinds() -> None:
    kinds = section_kinds()
    assert set(kinds.values()) <= CANONICAL_KINDS
    assert set(kinds.values()) == CANONICAL_KINDS
    assert all(stem == _section_stem(stem) for stem in kinds), "map keys must already be stems"
    expected = {
        "verse1": "Verse",
        "Chorus 2": "Chorus",
        "pre-chorus1": "Pre-Chorus",
        "final-chorus": "Chorus",
        "interlude2": "Instrumental",
        "section_17": "Section",
        "hook": "Hook",
        "outro": "Outro",
        "breakdown": "Breakdown",
        "post-chorus": "Post-Chorus",
    }
    for section_id, kind in expected.items():
        assert kinds[_section_stem(section_id)] == kind, section_id


# --- tag conflicts ------------------------------------------------------------------------------------


def test_tag_conflicts_are_symmetric_and_well_formed() -> None:
    raw = _load(TAXONOMIES_DIR / "tag_conflicts.json")["conflicts"]
    assert len(raw) >= 40
    tags = [entry["tag"] for entry in raw]
    assert len(tags) == len(set(tags))
    for entry in raw:
        assert set(entry) == {"tag", "conflicts_with", "reason"}
        assert entry["reason"].strip()
        assert entry["conflicts_with"]
        for tag in (entry["tag"], *entry["conflicts_with"]):
            assert tag == tag.lower() == tag.strip()
        assert entry["tag"] not in entry["conflicts_with"]
    pairs = tag_conflicts()
    for tag, others in pairs.items():
        assert tag not in others
        for other in others:
            assert tag in pairs[other], (tag, other)
    for a, b in [
        ("acoustic", "808s"),
        ("lo-fi", "polished"),
        ("whisper", "screamed"),
        ("slow", "fast"),
        ("minimal", "wall of sound"),
        ("a cappella", "full band"),
        ("instrumental", "vocal-driven"),
    ]:
        assert b in pairs[a] and a in pairs[b]


# --- profanity ----------------------------------------------------------------------------------------


def test_profanity_tiers_replacements_and_allowlist() -> None:
    data = profanity_data()
    assert set(data["tiers"]) == {"mild", "moderate", "strong", "slur"}
    all_words: list[str] = [w for words in data["tiers"].values() for w in words]
    assert len(all_words) == len(set(all_words)), "a word sits in two tiers"
    assert all(w == w.lower() == w.strip() and w for w in all_words)
    bad = set(all_words)
    leet: dict[str, str] = data["leetspeak"]
    assert all(len(k) == 1 and len(v) == 1 and v.isalpha() for k, v in leet.items())

    replacements: dict[str, str] = data["replacements"]
    assert set(replacements) == bad, set(replacements) ^ bad
    for word, clean in replacements.items():
        assert clean.strip() and clean != word
        for token in _words(clean):
            assert token not in bad, (word, clean)
            assert _fold_leet(token, leet) not in bad, (word, clean)

    for entry in data["allowlist"]:
        assert entry == entry.lower()
        assert entry not in bad
    for must_allow in ("class", "assassin", "scunthorpe", "cocktail", "hello", "shell", "bass", "passion"):
        assert must_allow in data["allowlist"]
    for tier, sample in (("strong", "fuck"), ("strong", "fucking"), ("mild", "damn"), ("moderate", "bitch")):
        assert sample in data["tiers"][tier]


# --- living artists -----------------------------------------------------------------------------------


def test_living_artist_descriptions_name_no_artist() -> None:
    artists = living_artists()
    assert len(artists) >= 60
    names = [a["name"] for a in artists]
    assert len(names) == len({n.lower() for n in names})
    terms = [t for a in artists for t in (a["name"], *a["aliases"])]
    for artist in artists:
        description = artist["generic_description"].lower()
        assert description.strip()
        for term in terms:
            pattern = r"(?<!\w)" + re.escape(term.lower()) + r"(?!\w)"
            assert not re.search(pattern, description), (artist["name"], term)
    assert {a["genre"] for a in artists} == GENRE_SLUGS


# --- engine limits ------------------------------------------------------------------------------------


def test_engine_limits_load_with_positive_ints() -> None:
    engines = engine_limits_table()["engines"]
    assert {"suno", "udio", "external", "none"} <= set(engines)
    for engine, spec in engines.items():
        assert spec["default_model"] in spec["models"], engine
        for model, entry in spec["models"].items():
            assert set(entry) == {"lyrics_max", "style_max", "exclude_max", "title_max"}, (engine, model)
            for field in ("lyrics_max", "style_max", "title_max"):
                value = entry[field]
                assert isinstance(value, int) and not isinstance(value, bool) and value > 0, (engine, model)
            exclude = entry["exclude_max"]
            assert exclude is None or (isinstance(exclude, int) and exclude > 0)
            EngineLimits(engine=engine, model=model, **entry)
    suno = engines["suno"]["models"]
    assert set(suno) == {"v3.5", "v4", "v4.5", "v4.5+", "v5", "v5.5", "v6"}
    assert (suno["v4"]["lyrics_max"], suno["v4"]["style_max"]) == (3000, 200)
    v5 = suno["v5"]
    assert (v5["lyrics_max"], v5["style_max"], v5["exclude_max"]) == (5000, 1000, None)
    assert suno["v6"]["exclude_max"] == 1000
    assert engines["suno"]["default_model"] == "v5"
    assert engines["none"]["models"][engines["none"]["default_model"]] == suno["v6"]
