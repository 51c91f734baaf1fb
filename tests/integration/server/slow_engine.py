"""Test-only engine plugin: the offline engine, slowed down so a test can act mid-run.

Loaded by the server when AMCS_TEST_ENGINE_MODULE points at this file; registers the engine "slow", which
sleeps AMCS_TEST_NODE_DELAY_MS milliseconds (default 400) before each engine call and otherwise produces
exactly the offline engine's artifacts. Runs opt in with `"engine": "slow"` in the run request.
"""

from __future__ import annotations

import os
import time
from typing import Any

from agent.offline import OfflineEngine
from graph.engines import register_engine


class SlowEngine:
    def __init__(self, delay_s: float):
        self._inner = OfflineEngine()
        self._delay_s = delay_s
        self.name = self._inner.name

    def __getattr__(self, attribute: str) -> Any:
        method = getattr(self._inner, attribute)
        if not callable(method):
            return method

        def slowed(*args: Any, **kwargs: Any) -> Any:
            time.sleep(self._delay_s)
            return method(*args, **kwargs)

        return slowed

    def write_style(self, job: Any) -> Any:
        return self.__getattr__("write_style")(job)

    def write_lyrics(self, job: Any) -> Any:
        return self.__getattr__("write_lyrics")(job)

    def write_producer_notes(self, job: Any) -> Any:
        return self.__getattr__("write_producer_notes")(job)

    def fix(self, job: Any, **kwargs: Any) -> Any:
        return self.__getattr__("fix")(job, **kwargs)


register_engine("slow", lambda _context: SlowEngine(int(os.environ.get("AMCS_TEST_NODE_DELAY_MS", "400")) / 1000))
