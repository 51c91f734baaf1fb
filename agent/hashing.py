"""Canonical JSON and sha256 artifact hashes, identical across processes and platforms."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(data: Any) -> str:
    """Serialise with sorted keys, no whitespace and escaped non-ASCII, so equal data gives equal bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_hex(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("ascii")).hexdigest()


def with_artifact_hash(artifact: dict[str, Any]) -> dict[str, Any]:
    """Return a copy carrying `artifact_hash` = "sha256:" + sha256 of the canonical JSON of everything else."""
    body = {k: v for k, v in artifact.items() if k != "artifact_hash"}
    return {**body, "artifact_hash": "sha256:" + sha256_hex(body)}
