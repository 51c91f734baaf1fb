"""A loopback stand-in for the Messages API: streamed tool answers, cache accounting, faults."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.models import Plan
from agent.taxonomy import load_blueprint_by_slug

TOOL_SEEDS = {
    "submit_style": "STYLE",
    "submit_lyrics": "LYRICS",
    "submit_producer_notes": "PRODUCER",
    "submit_fix": "FIX",
}


@dataclass
class Fault:
    """One injected failure, used by the next request for `tool` (any tool when None)."""

    kind: str  # "429", "529", "500", "400", "401", "403", "404", "timeout", "stall", "cut", "overloaded", "trickle",
    #            "malformed", "invalid", "profane"
    tool: str | None = None
    delay: float = 2.0


@dataclass
class Seen:
    tool: str
    status: int
    fault: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    api_key: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


def tokens(text: str) -> int:
    """A rough tokenizer: four characters a token."""
    return math.ceil(len(text) / 4)


def _fenced(text: str, tag: str) -> Any:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return json.loads(match.group(1)) if match else None


def offline_answer(tool: str, first_user: str) -> dict[str, Any]:
    """A valid answer for the tool, written by the offline engine's code from the request's own data."""
    if tool == "submit_fix":
        return fix_answer(first_user)
    sds = _fenced(first_user, "sds_data")
    plan = Plan.model_validate(_fenced(first_user, "plan_data"))
    blueprint = load_blueprint_by_slug(plan.genre)
    seed = plan.node_seeds[TOOL_SEEDS[tool]]
    if tool == "submit_style":
        from agent.style import generate_style

        value: Any = generate_style(sds, plan, blueprint, seed)[0]
    elif tool == "submit_producer_notes":
        from agent.producer import draft_producer_notes

        value = draft_producer_notes(sds, plan, blueprint, seed)[0]
    else:
        from agent.lyrics import write_lyrics

        value = write_lyrics(sds, plan, blueprint, seed)
    return value.model_dump(mode="json", exclude={"artifact_hash"})


def fix_answer(first_user: str) -> dict[str, Any]:
    """Clean every profane lyric line it was sent (the offline fixer's own rule); other issues are left."""
    from agent.profanity import clean_line

    editable = _fenced(first_user, "fix_editable") or {}
    changes = []
    for lines in (editable.get("lyrics") or {}).values():
        for line in lines:
            cleaned = clean_line(line["text"])
            if cleaned != line["text"]:
                changes.append(
                    {
                        "artifact": "lyrics",
                        "target": line["target"],
                        "action": "replace_profanity",
                        "before": line["text"],
                        "after": cleaned,
                    }
                )
    return {"changes": changes}


def swear(answer: dict[str, Any]) -> dict[str, Any]:
    """The lyric with a swear word in its first line: the first validation must fail on it."""
    section = next(s for s in answer["sections"] if s["lines"])
    words = section["lines"][0].split()
    words.insert(1, "shit")
    section["lines"][0] = " ".join(words)
    return answer


class AnthropicStub:
    """POST /v1/messages on 127.0.0.1, streamed or not; `faults` is consumed first-come, first-served."""

    def __init__(self, answer: Callable[[str, str], dict[str, Any]] = offline_answer, chunk: int = 48) -> None:
        self.answer, self.chunk = answer, chunk
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._cache: set[str] = set()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                try:
                    stub._handle(self)
                except Exception as exc:  # report a stub bug as a non-retryable 400, never a hang
                    with contextlib.suppress(OSError):
                        error = {
                            "type": "invalid_request_error",
                            "message": f"stub: {type(exc).__name__}: {exc}",
                        }
                        stub._send_json(self, 400, {"type": "error", "error": error})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> AnthropicStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------------------------------ accounting

    @property
    def requests(self) -> int:
        return len(self.seen)

    def totals(self) -> dict[str, int]:
        ok = [s for s in self.seen if s.status == 200]
        return {
            "requests": len(self.seen),
            "answered": len(ok),
            "input_tokens": sum(s.input_tokens for s in ok),
            "output_tokens": sum(s.output_tokens for s in ok),
            "cache_read_tokens": sum(s.cache_read for s in ok),
            "cache_write_tokens": sum(s.cache_write for s in ok),
        }

    def _take_fault(self, tool: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.tool in (None, tool):
                    return self.faults.pop(index)
        return None

    def _cache_usage(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(cache_read, cache_write, uncached input) tokens; a cached prefix ends at each breakpoint."""
        prefix = json.dumps(body.get("tools", []), sort_keys=True)
        system = body.get("system") or []
        if isinstance(system, str):
            system = [{"type": "text", "text": system}]
        read = cached_upto = 0
        with self._lock:
            for block in system:
                prefix += block.get("text", "")
                if block.get("cache_control"):
                    digest = hashlib.sha256(prefix.encode()).hexdigest()
                    if digest in self._cache:
                        read = tokens(prefix)
                    self._cache.add(digest)
                    cached_upto = tokens(prefix)
        total = tokens(prefix) + tokens(json.dumps(body.get("messages", [])))
        return read, cached_upto - read, total - cached_upto

    # ------------------------------------------------------------------------------------------ handling

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", 0))
        body = json.loads(handler.rfile.read(length) or b"{}")
        tool = (body.get("tool_choice") or {}).get("name", "")
        seen = Seen(
            tool=tool,
            status=200,
            fault=None,
            api_key=handler.headers.get("x-api-key") or handler.headers.get("authorization"),
            body=body,
        )
        fault = self._take_fault(tool)
        with self._lock:
            self.seen.append(seen)
        if fault is not None:
            seen.fault = fault.kind
            if fault.kind in ("429", "529", "500"):
                seen.status = int(fault.kind)
                kind = {"429": "rate_limit_error", "529": "overloaded_error", "500": "api_error"}[fault.kind]
                headers = {"retry-after": "0"} if fault.kind == "429" else {}
                self._send_json(
                    handler, seen.status, {"type": "error", "error": {"type": kind, "message": kind}}, headers
                )
                return
            if fault.kind in ("400", "401", "403", "404"):
                # An endpoint (a proxy at ANTHROPIC_BASE_URL, say) that echoes the key it was sent.
                seen.status = int(fault.kind)
                error = {"type": "invalid_request_error", "message": f"refused x-api-key: {seen.api_key}"}
                headers = {"request-id": f"req_stub{fault.kind}"}
                self._send_json(handler, seen.status, {"type": "error", "error": error}, headers)
                return
            if fault.kind == "timeout":
                seen.status = 0
                time.sleep(fault.delay)
                with contextlib.suppress(OSError):
                    self._send_json(handler, 500, {"type": "error", "error": {"type": "api_error", "message": "late"}})
                return
        first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        data = self.answer(tool, first_user)
        if fault is not None and fault.kind == "profane":
            data = swear(data)
        answer = json.dumps(data, ensure_ascii=False)
        if fault is not None and fault.kind == "malformed":
            answer = answer[: len(answer) // 2] + '"}]},,'
        elif fault is not None and fault.kind == "invalid":
            answer = json.dumps({"title": "no sections here"})
        read, write, uncached = self._cache_usage(body)
        seen.cache_read, seen.cache_write, seen.input_tokens = read, write, uncached
        seen.output_tokens = tokens(answer)
        if body.get("stream"):
            try:
                self._stream(handler, body, tool, answer, seen, fault)
            except OSError:
                seen.status = 499  # the client hung up (its timeout) before the answer was sent
        else:
            message = self._message(body, seen)
            message["content"] = [{"type": "tool_use", "id": "toolu_stub", "name": tool, "input": json.loads(answer)}]
            message["usage"]["output_tokens"] = seen.output_tokens
            self._send_json(handler, 200, message)

    @staticmethod
    def _message(body: dict[str, Any], seen: Seen) -> dict[str, Any]:
        return {
            "id": "msg_stub",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": seen.input_tokens,
                "output_tokens": 1,
                "cache_creation_input_tokens": seen.cache_write,
                "cache_read_input_tokens": seen.cache_read,
            },
        }

    @staticmethod
    def _send_json(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _stream(
        self,
        handler: BaseHTTPRequestHandler,
        body: dict[str, Any],
        tool: str,
        answer: str,
        seen: Seen,
        fault: Fault | None = None,
    ) -> None:
        """Stream the answer; a stream fault breaks it halfway: "stall" goes silent for `delay` seconds,
        "cut" closes the connection, "overloaded" sends an SSE error event; "trickle" waits `delay` per chunk."""
        kind = fault.kind if fault is not None else None
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.end_headers()

        def event(name: str, data: dict[str, Any]) -> None:
            handler.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            handler.wfile.flush()

        event("message_start", {"type": "message_start", "message": self._message(body, seen)})
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_stub", "name": tool, "input": {}},
            },
        )
        event("ping", {"type": "ping"})
        for start in range(0, len(answer), self.chunk):
            if kind in ("stall", "cut", "overloaded") and start >= len(answer) // 2:
                seen.status = 0
                if kind == "stall":
                    time.sleep(fault.delay if fault is not None else 0)
                elif kind == "overloaded":
                    event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                return
            if kind == "trickle" and fault is not None:
                time.sleep(fault.delay)
            event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": answer[start : start + self.chunk]},
                },
            )
        event("content_block_stop", {"type": "content_block_stop", "index": 0})
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": seen.output_tokens},
            },
        )
        event("message_stop", {"type": "message_stop"})
