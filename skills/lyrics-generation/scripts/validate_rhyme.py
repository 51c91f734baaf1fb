#!/usr/bin/env python3
"""validate_rhyme: check a lyric against its rhyme scheme, pair by pair, with VALIDATE's phonetics.

Usage: python skills/lyrics-generation/scripts/validate_rhyme.py [FILE|-] [--scheme ABAB]
Input: a lyrics artifact, {"lyrics": <lyrics artifact>, "rhyme_scheme": "ABAB"}, or a state holding
artifacts.lyrics (its plan's scheme is used). The scheme comes from --scheme, then `rhyme_scheme`, then the
plan, then the lyrics artifact. Output: {"rhyme_scheme", "rhyme_tightness", "pairs": [...], "sections":
[{"id", "pairs", "broken"}]}; each pair is {"section", "lines", "words", "kind"} as in the validation
report's metrics.rhyme_pairs. Exit 0 when every pair rhymes (perfect or slant), 1 when one is broken
(assonance, none or identical), 2 on bad input."""

from __future__ import annotations

import sys

try:
    from agent.models import LyricsArtifact, Plan
    from agent.rhyme_scheme import normalise_scheme
    from agent.skill_io import BadInput, ToolInput, ToolResult, run_tool, validate_model
    from agent.validate import BROKEN_RHYMES, rhyme_pairs
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"validate_rhyme.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def _options(parser):  # type: ignore[no-untyped-def]
    parser.add_argument("--scheme", help="rhyme scheme letters (e.g. ABAB, AABB) or FREE")


def check(tool: ToolInput) -> ToolResult:
    if tool.is_state:
        lyrics = tool.artifact("lyrics", LyricsArtifact)
    elif "lyrics" in tool.data:
        lyrics = validate_model(LyricsArtifact, tool.data["lyrics"], "lyrics")
    else:
        lyrics = validate_model(LyricsArtifact, tool.data, "$")
    raw, field = tool.args.scheme, "--scheme"
    if raw is None and "rhyme_scheme" in tool.data:
        raw, field = tool.data["rhyme_scheme"], "rhyme_scheme"
    if raw is None:
        scheme = tool.plan.rhyme_scheme if "plan" in tool.data or "sds" in tool.data else lyrics.rhyme_scheme
    else:
        if not isinstance(raw, str):
            raise BadInput.one(field, "must be a string such as ABAB or FREE")
        scheme, warning = normalise_scheme(raw)
        if warning:
            raise BadInput.one(field, f"{raw!r} is not a rhyme scheme (letters such as ABAB, or FREE)")
    # rhyme_pairs reads only the plan's rhyme_scheme.
    pairs = rhyme_pairs(Plan.model_construct(rhyme_scheme=scheme), lyrics)
    rows = [
        {
            "section": p.section,
            "lines": [p.anchor + 1, p.line + 1],
            "words": [p.anchor_word, p.word],
            "kind": p.kind,
        }
        for p in pairs
    ]
    sections = []
    for section in lyrics.sections:
        mine = [row for row in rows if row["section"] == section.id]
        sections.append({"id": section.id, "pairs": mine, "broken": [r for r in mine if r["kind"] in BROKEN_RHYMES]})
    tightness = round(100 * sum(p.credit for p in pairs) / len(pairs), 1) if pairs else None
    broken = any(p.kind in BROKEN_RHYMES for p in pairs)
    return ToolResult(
        {"rhyme_scheme": scheme, "rhyme_tightness": tightness, "pairs": rows, "sections": sections},
        failed=broken,
    )


if __name__ == "__main__":
    raise SystemExit(
        run_tool(
            check,
            prog="validate_rhyme.py",
            description=__doc__,
            add_arguments=_options,
            merges_into_state=False,
        )
    )
