"""Fixtures of the run-service integration tests (live uvicorn on SQLite / PostgreSQL): see serverkit.py."""

from tests.integration.server.serverkit import backend, server  # noqa: F401
