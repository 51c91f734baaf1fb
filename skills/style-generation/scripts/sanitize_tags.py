#!/usr/bin/env python3
"""sanitize_tags: clean positive/negative style tag lists with the same rules as the STYLE node.

Usage: python skills/style-generation/scripts/sanitize_tags.py [FILE|-]
Input: {"positive": [...], "negative": [...]} (or a style artifact, or a state holding one: its
tags_positive / tags_negative are checked). Earlier tags win: list the SDS's own tags first.
Output: {"positive", "negative", "dropped": [{"tag", "reason"}]}: duplicates removed, a tag that conflicts
with an earlier one (taxonomies/tag_conflicts.json) dropped, at most 8 positive and 5 negative tags, and no
negative tag that is also positive. Exit 0 when nothing had to be dropped, 1 when a tag was dropped."""

from __future__ import annotations

import sys

try:
    from agent.skill_io import BadInput, ToolInput, ToolResult, run_tool
    from agent.style import sanitize_tags
except ImportError as exc:  # the project is not installed in this interpreter
    sys.stderr.write(
        f"sanitize_tags.py: cannot import the AMCS packages ({exc}).\n"
        "Install the project first, from the repository root: pip install -e .\n"
    )
    raise SystemExit(3) from None


def _tag_list(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise BadInput.one(field, "must be a list of strings")
    return value


def sanitize(tool: ToolInput) -> ToolResult:
    data, prefix = tool.data, ""
    if "positive" not in data and "negative" not in data:
        style = tool.artifacts.get("style") if tool.is_state else data
        prefix = "artifacts.style." if tool.is_state else ""
        if not isinstance(style, dict) or not ({"tags_positive", "tags_negative"} & set(style)):
            raise BadInput.one("positive", "is missing (give positive/negative lists or a style artifact)")
        data = {"positive": style.get("tags_positive"), "negative": style.get("tags_negative")}
        names = ("tags_positive", "tags_negative")
    else:
        names = ("positive", "negative")
    positive = _tag_list(data.get("positive"), prefix + names[0])
    negative = _tag_list(data.get("negative"), prefix + names[1])
    kept, kept_negative, dropped = sanitize_tags(positive, negative)
    return ToolResult(
        {
            "positive": kept,
            "negative": kept_negative,
            "dropped": [{"tag": t, "reason": r} for t, r in dropped],
        },
        failed=bool(dropped),
    )


if __name__ == "__main__":
    raise SystemExit(run_tool(sanitize, prog="sanitize_tags.py", description=__doc__, merges_into_state=False))
