"""Run every valid fixture in this process and print {fixture: {artifact: canonical JSON}} for comparison."""

from __future__ import annotations

import json
import sys
import tempfile

from agent.hashing import canonical_json
from graph.checkpoint import sqlite_checkpointer
from graph.context import Context
from graph.runner import run_song
from tests.support.fixtures import load_fixture, valid_fixture_names


def main() -> None:
    names = sys.argv[1:] or valid_fixture_names()
    dumped: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as data_dir, sqlite_checkpointer(data_dir) as saver:
        for name in names:
            values = run_song(
                load_fixture(name), checkpointer=saver, context=Context(engine="offline", data_dir=data_dir)
            )
            dumped[name] = {key: canonical_json(value) for key, value in sorted(values["artifacts"].items())}
    json.dump(dumped, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
