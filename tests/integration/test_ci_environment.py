"""In CI the PostgreSQL and browser suites must run, not skip: this fails if their prerequisites are missing."""

from __future__ import annotations

import os
import shutil

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("CI") != "true", reason="only CI promises PostgreSQL and Chromium")


def test_ci_provides_a_postgres_database_url() -> None:
    assert os.environ.get("AMCS_TEST_DATABASE_URL", "").startswith("postgresql://")


def test_ci_provides_chromium() -> None:
    assert shutil.which("chromium") or os.path.exists("/usr/bin/chromium")
