"""Locations of the project's data folders (taxonomies, skills, prompts), in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_ROOT = _PACKAGE_DIR.parent
_WHEEL_RESOURCES = _PACKAGE_DIR / "_resources"


def _data_root(name: str) -> Path:
    in_checkout = _CHECKOUT_ROOT / name
    if in_checkout.is_dir():
        return in_checkout
    return _WHEEL_RESOURCES / name


TAXONOMIES_DIR = _data_root("taxonomies")
SKILLS_DIR = _data_root("skills")
PROMPTS_DIR = _data_root("prompts")
EXAMPLES_DIR = _CHECKOUT_ROOT / "examples" / "sds"


def taxonomy_file(*parts: str) -> Path:
    """Return a path under taxonomies/, refusing anything that escapes it."""
    root = TAXONOMIES_DIR.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"refusing to read outside taxonomies/: {'/'.join(parts)!r}")
    return path
