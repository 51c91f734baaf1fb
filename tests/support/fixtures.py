"""The reference SDS fixtures shipped in examples/sds, split into schema-valid and invalid ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SDS_DIR = REPO_ROOT / "examples" / "sds"
INVALID_FIXTURES = ("edge_case_003", "pop_complexity_4", "pop_complexity_5")


def fixture_names() -> list[str]:
    return sorted(p.stem for p in SDS_DIR.glob("*.json"))


def valid_fixture_names() -> list[str]:
    return [name for name in fixture_names() if name not in INVALID_FIXTURES]


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SDS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data
