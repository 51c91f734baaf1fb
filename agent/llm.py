"""The Claude engine: skill-driven structured calls with replay, repair, fallback, retries and streaming."""

from __future__ import annotations

import json
import random
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.engine import Drafted, NodeJob
from agent.fix import HARD_FAIL_ORDER, FixOutcome
from agent.hashing import canonical_json
from agent.llm_cache import BudgetExhausted, CallLedger, ResponseStore, call_key
from agent.models import (
    FixChange,
    FixRecord,
    LyricsArtifact,
    LyricSection,
    Plan,
    ProducerNotesArtifact,
    StyleArtifact,
    ValidationReport,
)
from agent.paths import PROMPTS_DIR
from agent.taxonomy import Blueprint
from agent.validate import COMPONENTS

MAX_TEMPERATURE = 0.3
DEFAULT_TEMPERATURE = 0.2
DEFAULT_MAX_TOKENS = 4096
CACHE_CONTROL = {"type": "ephemeral"}

FailurePolicy = Literal["fail", "fallback"]


class LLMError(RuntimeError):
    """A node could not get usable output from the model; the message names the node and why."""


class LLMCallError(LLMError):
    """The model could not be reached: retries, timeouts or the run's call budget ran out."""


class LLMOutputError(LLMError):
    """The model's output did not validate, even after one repair request."""


class RetryableCallError(Exception):
    """Raised by a backend for a failure worth retrying (429, 529, 5xx, connection, timeout)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# ----------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ChatRequest:
    """One Messages-API request as plain data: system blocks, text messages, and the tools (one forced)."""

    model: str
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_name: str
    temperature: float
    max_tokens: int

    @property
    def decoding(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass
class ChatReply:
    """What one request returned: the forced tool's raw JSON input (or plain text), and token usage."""

    text: str = ""
    tool_json: str | None = None
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_json": self.tool_json,
            "stop_reason": self.stop_reason,
            "usage": self.usage,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ChatReply:
        return cls(
            text=record.get("text", ""),
            tool_json=record.get("tool_json"),
            stop_reason=record.get("stop_reason"),
            usage=dict(record.get("usage") or {}),
        )

    def payload(self) -> Any:
        """The structured answer: the tool input, else JSON in the text; ValueError if there is none."""
        if self.tool_json is not None:
            try:
                return json.loads(self.tool_json or "{}")
            except json.JSONDecodeError as exc:
                raise ValueError(f"the tool input is not valid JSON: {exc}") from None
        text = self.text.strip()
        fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
        if fenced:
            text = fenced.group(1).strip()
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the reply is neither a tool call nor valid JSON: {exc}") from None

    def shown(self) -> str:
        """The reply as the assistant turn of a repair request."""
        if self.tool_json is not None:
            return self.tool_json or "{}"
        return self.text or "(empty reply)"


@dataclass
class CallHooks:
    """Callbacks a backend fires: every HTTP attempt (charged to the budget), token text, and each retry."""

    on_attempt: Callable[[], None]
    on_text: Callable[[str], None]
    on_retry: Callable[[int, float, str], None]


class ChatBackend(Protocol):
    name: str
    sends_temperature: bool

    def complete(self, request: ChatRequest, hooks: CallHooks) -> ChatReply: ...


# ----------------------------------------------------------------------------------------------- streaming


class JsonTextStream:
    """Turns streamed partial JSON into the text of its string values (keys dropped), one value per line."""

    _ESCAPES = {"n": "\n", "t": "\t", "r": "", "b": "", "f": "", '"': '"', "\\": "\\", "/": "/"}

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.in_string = self.is_key = self.escaped = self.expect_key = False
        self.unicode: str | None = None
        self.high_surrogate: int | None = None

    def feed(self, chunk: str) -> str:
        out: list[str] = []
        for ch in chunk:
            if not self.in_string:
                if ch == '"':
                    self.in_string = True
                    self.is_key = bool(self.stack) and self.stack[-1] == "{" and self.expect_key
                elif ch in "{[":
                    self.stack.append(ch)
                    self.expect_key = ch == "{"
                elif ch in "}]":
                    if self.stack:
                        self.stack.pop()
                elif ch == ",":
                    self.expect_key = bool(self.stack) and self.stack[-1] == "{"
                elif ch == ":":
                    self.expect_key = False
                continue
            if self.unicode is not None:
                self.unicode += ch
                if len(self.unicode) == 4:
                    self._code_point(out, self.unicode)
                    self.unicode = None
            elif self.escaped:
                self.escaped = False
                if ch == "u":
                    self.unicode = ""
                elif not self.is_key:
                    out.append(self._ESCAPES.get(ch, ch))
            elif ch == "\\":
                self.escaped = True
            elif ch == '"':
                self.in_string = False
                if not self.is_key:
                    out.append("\n")
            elif not self.is_key:
                out.append(ch)
        return "".join(out)

    def _code_point(self, out: list[str], digits: str) -> None:
        try:
            point = int(digits, 16)
        except ValueError:
            return
        if 0xD800 <= point < 0xDC00:
            self.high_surrogate = point
            return
        if 0xDC00 <= point < 0xE000 and self.high_surrogate is not None:
            point = 0x10000 + ((self.high_surrogate - 0xD800) << 10) + (point - 0xDC00)
        self.high_surrogate = None
        if not self.is_key:
            out.append(chr(point))


# ----------------------------------------------------------------------------------------------- backends


class AnthropicBackend:
    """The Messages API through the `anthropic` SDK, streamed, with our own retry loop counting every attempt.

    The SDK's retries are off (max_retries=0): the per-run budget must see each HTTP attempt, and retry events
    must reach the stream. Raw stream events are read instead of the SDK's MessageStream accumulator so that a
    malformed tool-input JSON becomes a repairable reply rather than an exception mid-stream.

    The SDK's API version (2026-10-21) rejects any sampling parameter, so the temperature is recorded and
    keyed but only sent when `send_temperature` is set (for an endpoint on an older API version); replay, not
    sampling, is what makes reruns identical.
    """

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        total_timeout: float = 600.0,
        max_retries: int = 4,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        send_temperature: bool = False,
    ) -> None:
        import anthropic

        self._anthropic = anthropic
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
        self._secrets = tuple(s for s in {api_key, api_key.strip()} if len(s) >= 8)
        self._transport_errors, self._timeout_errors = _http_errors()
        self.timeout, self.total_timeout = timeout, total_timeout
        self.max_retries, self.base_delay, self.max_delay = max_retries, base_delay, max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.sends_temperature = send_temperature

    def complete(self, request: ChatRequest, hooks: CallHooks) -> ChatReply:
        """Attempts until one succeeds, a refusal, `max_retries` retries, or `total_timeout` seconds in all."""
        deadline = time.monotonic() + self.total_timeout
        attempt = 0
        while True:
            hooks.on_attempt()
            try:
                return self._stream_once(request, hooks, deadline)
            except RetryableCallError as exc:
                if attempt >= self.max_retries:
                    raise LLMCallError(f"{exc} (gave up after {attempt + 1} attempts)") from None
                delay = self._delay(attempt, exc.retry_after)
                if time.monotonic() + delay >= deadline:
                    raise LLMCallError(
                        f"{exc} (gave up after {attempt + 1} attempts: the call's time limit of "
                        f"{self.total_timeout:g} s ran out)"
                    ) from None
                hooks.on_retry(attempt + 1, delay, str(exc))
                self._sleep(delay)
                attempt += 1

    def _redact(self, text: str) -> str:
        """An endpoint may echo the key in an error body; it must not reach events, logs or the database."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _stream_once(self, request: ChatRequest, hooks: CallHooks, deadline: float) -> ChatReply:
        sdk = self._anthropic
        reply = ChatReply(usage={})
        tool_parts: list[str] | None = None
        text_stream = JsonTextStream()
        stopped = False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LLMCallError(f"the call's time limit of {self.total_timeout:g} s ran out")
        try:
            stream = cast(Any, self._client.messages).create(
                model=request.model,
                max_tokens=request.max_tokens,
                system=request.system,
                messages=request.messages,
                tools=request.tools,
                tool_choice={"type": "tool", "name": request.tool_name},
                stream=True,
                timeout=min(self.timeout, remaining),
                extra_body={"temperature": request.temperature} if self.sends_temperature else None,
            )
            with stream:
                for event in stream:
                    if time.monotonic() > deadline:
                        raise LLMCallError(
                            f"the call's time limit of {self.total_timeout:g} s ran out while the answer streamed"
                        )
                    if event.type == "message_start":
                        _take_usage(reply.usage, event.message.usage)
                    elif event.type == "content_block_start":
                        if event.content_block.type == "tool_use" and event.content_block.name == request.tool_name:
                            tool_parts = []
                    elif event.type == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            reply.text += delta.text
                            hooks.on_text(delta.text)
                        elif delta.type == "input_json_delta" and tool_parts is not None:
                            tool_parts.append(delta.partial_json)
                            shown = text_stream.feed(delta.partial_json)
                            if shown:
                                hooks.on_text(shown)
                    elif event.type == "message_delta":
                        reply.stop_reason = event.delta.stop_reason
                        _take_usage(reply.usage, event.usage)
                    elif event.type == "message_stop":
                        stopped = True
        except sdk.RateLimitError as exc:
            raise RetryableCallError(
                f"rate limited (429): {self._describe(exc)}", retry_after=_retry_after(exc)
            ) from None
        except sdk.InternalServerError as exc:
            raise RetryableCallError(
                f"server error ({exc.status_code}): {self._describe(exc)}", retry_after=_retry_after(exc)
            ) from None
        except sdk.APITimeoutError as exc:
            raise RetryableCallError(f"request timed out: {self._redact(str(exc))}") from None
        except sdk.APIConnectionError as exc:
            raise RetryableCallError(f"connection error: {self._redact(str(exc))}") from None
        except sdk.APIStatusError as exc:
            if exc.status_code in (408, 409):
                raise RetryableCallError(f"HTTP {exc.status_code}: {self._describe(exc)}") from None
            if exc.status_code < 400 and _error_type(exc) in RETRYABLE_STREAM_ERRORS:
                # An SSE `error` event after the 200 response began: the API overloaded or failed mid-answer.
                raise RetryableCallError(f"the stream broke off: {self._describe(exc)}") from None
            raise LLMCallError(
                f"the Messages API refused the request ({exc.status_code}): {self._describe(exc)}"
            ) from None
        except self._timeout_errors as exc:
            # Raised by the HTTP client while the body streams: the SDK wraps only errors before the response.
            raise RetryableCallError(f"request timed out while the answer streamed: {type(exc).__name__}") from None
        except self._transport_errors as exc:
            raise RetryableCallError(f"connection error while the answer streamed: {type(exc).__name__}") from None
        if not stopped:
            # The connection closed cleanly but early: what came is a fragment, not an answer to repair.
            raise RetryableCallError("connection error: the stream ended before message_stop")
        if tool_parts is not None:
            reply.tool_json = "".join(tool_parts)
        return reply

    def _describe(self, exc: Any) -> str:
        text = _error_text(exc)
        request_id = getattr(exc, "request_id", None)
        if isinstance(request_id, str) and request_id:
            text += f" (request id {request_id})"
        return self._redact(text)


RETRYABLE_STREAM_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


def _http_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """The HTTP client's (httpx, or httpx2 in newer SDKs) transport and timeout exception classes."""
    import importlib

    transport: list[type[BaseException]] = []
    timeouts: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        transport.append(module.TransportError)
        timeouts.append(module.TimeoutException)
    return tuple(transport), tuple(timeouts)


def _error_type(exc: Any) -> str | None:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return str(error["type"])
    return None


def _take_usage(target: dict[str, int], usage: Any) -> None:
    names = {
        "input_tokens": "input_tokens",
        "output_tokens": "output_tokens",
        "cache_read_input_tokens": "cache_read_tokens",
        "cache_creation_input_tokens": "cache_write_tokens",
    }
    for source, name in names.items():
        value = getattr(usage, source, None)
        if isinstance(value, int):
            target[name] = value


def _retry_after(exc: Any) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"{error.get('type', 'error')}: {error['message']}"
    return str(getattr(exc, "message", exc))


class LangChainBackend:
    """Any langchain-core chat model (the unit tests use its scripted fakes); tool calls or JSON text."""

    name = "langchain"
    sends_temperature = True

    def __init__(self, model: Any) -> None:
        self.model = model

    def complete(self, request: ChatRequest, hooks: CallHooks) -> ChatReply:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        messages: list[Any] = [SystemMessage(content=cast(list[str | dict[Any, Any]], request.system))]
        for message in request.messages:
            cls = HumanMessage if message["role"] == "user" else AIMessage
            messages.append(cls(content=message["content"]))
        hooks.on_attempt()
        try:
            final: Any = None
            for chunk in self.model.stream(messages, temperature=request.temperature, max_tokens=request.max_tokens):
                if isinstance(chunk.content, str) and chunk.content:
                    hooks.on_text(chunk.content)
                final = chunk if final is None else final + chunk
        except Exception as exc:
            raise LLMCallError(f"the chat model failed: {type(exc).__name__}: {exc}") from exc
        reply = ChatReply(usage={})
        if final is None:
            return reply
        reply.text = final.content if isinstance(final.content, str) else ""
        calls = [c for c in (final.tool_calls or []) if c.get("name") in (request.tool_name, None, "")]
        if calls:
            reply.tool_json = json.dumps(calls[0].get("args") or {}, ensure_ascii=False)
        usage = final.usage_metadata or {}
        details = usage.get("input_token_details") or {}
        for name, value in (
            ("input_tokens", usage.get("input_tokens")),
            ("output_tokens", usage.get("output_tokens")),
            ("cache_read_tokens", details.get("cache_read")),
            ("cache_write_tokens", details.get("cache_creation")),
        ):
            if isinstance(value, int):
                reply.usage[name] = value
        return reply


# ----------------------------------------------------------------------------------------------- prompts


def render_prompt(name: str, **values: str) -> str:
    """Fill prompts/<name>.md ($placeholders, string.Template) with the given values."""
    template = string.Template((PROMPTS_DIR / f"{name}.md").read_text(encoding="utf-8"))
    return template.substitute(values)


def fence(tag: str, data: Any) -> str:
    """Data as JSON inside <tag>…</tag>; '<' is escaped so no text in the data can close the fence."""
    body = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).replace("<", "\\u003c")
    return f"<{tag}>\n{body}\n</{tag}>"


def _skill(name: str) -> str:
    from agent.skills import skill_instructions

    return skill_instructions(name)


def blueprint_rules(blueprint: Blueprint) -> str:
    rules = blueprint.model_dump(mode="json", exclude={"aliases"})
    return render_prompt("system_rules", genre=blueprint.display_name, rules=fence("blueprint_rules", rules))


def _output_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.get("properties", {}).pop("artifact_hash", None)
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r != "artifact_hash"]
    return schema


class FixEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    artifact: Literal["style", "lyrics", "producer_notes"]
    target: str
    action: str
    before: str
    after: str


class FixReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: list[FixEdit]


@dataclass(frozen=True)
class Task:
    key: str
    skill: str
    prompt: str
    tool: str
    model: type[BaseModel]
    description: str


TASKS = {
    "style": Task("style", "style-generation", "style", "submit_style", StyleArtifact, "Submit the style artifact."),
    "lyrics": Task("lyrics", "lyrics-generation", "lyrics", "submit_lyrics", LyricsArtifact, "Submit the lyrics."),
    "producer": Task(
        "producer",
        "producer-notes",
        "producer_notes",
        "submit_producer_notes",
        ProducerNotesArtifact,
        "Submit the producer notes.",
    ),
    "fix": Task("fix", "auto-fix", "fix", "submit_fix", FixReply, "Submit the targeted changes that fix the issues."),
}


def output_tools() -> list[dict[str, Any]]:
    """Every task's tool in one fixed order, in every request: tools lead the cached prefix."""
    return [
        {"name": task.tool, "description": task.description, "input_schema": _output_schema(task.model)}
        for task in TASKS.values()
    ]


# ----------------------------------------------------------------------------------------------- engine


@dataclass
class _Usage:
    model: str
    decoding: dict[str, Any]
    calls: int = 0
    retries: int = 0
    replayed: int = 0
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tokens: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"), 0
        )
    )

    def add(self, usage: dict[str, int]) -> None:
        for name in self.tokens:
            self.tokens[name] += int(usage.get(name, 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "llm_calls": self.calls,
            "llm_retries": self.retries,
            "llm_replayed": self.replayed,
            **self.tokens,
            "llm_model": self.model,
            "llm_decoding": dict(self.decoding),
        }


class AnthropicEngine:
    """Claude writes style, lyrics, producer notes and fixes from the skills; every response is recorded.

    Calls are charged to `ledger` under `run_id` (one budget for all the run's nodes) and recorded in
    `store` by `call_key`, so a rerun of the same SDS and seed, or a retried node, replays with no request.
    """

    name = "anthropic"

    def __init__(
        self,
        backend: ChatBackend,
        *,
        model: str,
        store: ResponseStore,
        ledger: CallLedger,
        run_id: str = "",
        max_calls: int = 40,
        policy: FailurePolicy = "fail",
        temperature: float = DEFAULT_TEMPERATURE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        if not 0 <= temperature <= MAX_TEMPERATURE:
            raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE}, got {temperature}")
        self.backend, self.model, self.store, self.ledger = backend, model, store, ledger
        self.run_id, self.max_calls, self.policy = run_id, max_calls, policy
        self.temperature, self.max_tokens = temperature, max_tokens

    # ------------------------------------------------------------------------------------- SongwritingEngine

    def write_style(self, job: NodeJob) -> Drafted[StyleArtifact]:
        return self._write(job, TASKS["style"], lambda offline: offline.write_style(job))

    def write_lyrics(self, job: NodeJob) -> Drafted[LyricsArtifact]:
        return self._write(job, TASKS["lyrics"], lambda offline: offline.write_lyrics(job))

    def write_producer_notes(self, job: NodeJob) -> Drafted[ProducerNotesArtifact]:
        return self._write(job, TASKS["producer"], lambda offline: offline.write_producer_notes(job))

    def fix(
        self,
        job: NodeJob,
        *,
        style: StyleArtifact,
        lyrics: LyricsArtifact,
        producer: ProducerNotesArtifact,
        report: ValidationReport,
        iteration: int,
    ) -> Drafted[FixOutcome]:
        scope = fix_scope(job.plan, job.blueprint, style, lyrics, producer, report)

        def offline(engine: Any) -> Drafted[FixOutcome]:
            return engine.fix(job, style=style, lyrics=lyrics, producer=producer, report=report, iteration=iteration)

        if scope.empty:
            drafted = self._offline(offline)
            drafted.warnings.append(f"{job.node}: nothing in the report the model could edit; used the offline fixer")
            return drafted
        user = render_prompt(
            "fix",
            iteration=str(iteration),
            component=scope.component,
            issues=fence("fix_issues", scope.issues),
            editable=fence("fix_editable", scope.editable()),
            plan=fence("plan_data", _plan_brief(job.plan, scope.lyric_sections | scope.missing_ids)),
        )

        def accept(payload: Any) -> FixOutcome:
            reply = FixReply.model_validate(payload)
            return apply_fix_reply(reply, scope, style, lyrics, producer, iteration)

        return self._structured(job, TASKS["fix"], user, accept, offline)

    # ------------------------------------------------------------------------------------- internals

    def _write(self, job: NodeJob, task: Task, offline: Callable[[Any], Drafted[Any]]) -> Drafted[Any]:
        user = render_prompt(
            task.prompt,
            sds=fence("sds_data", job.sds),
            plan=fence("plan_data", job.plan.model_dump(mode="json", exclude={"artifact_hash"})),
        )

        def accept(payload: Any) -> BaseModel:
            if isinstance(payload, dict):
                payload = {k: v for k, v in payload.items() if k != "artifact_hash"}
            return task.model.model_validate(payload)

        return self._structured(job, task, user, accept, offline)

    def _system(self, job: NodeJob, task: Task) -> list[dict[str, Any]]:
        # Blueprint rules first: they are the same for every node of the run, so that prefix is read from the
        # prompt cache by all calls after the first; the node's skill is a second cached block.
        return [
            {"type": "text", "text": blueprint_rules(job.blueprint), "cache_control": dict(CACHE_CONTROL)},
            {"type": "text", "text": _skill(task.skill), "cache_control": dict(CACHE_CONTROL)},
        ]

    def _structured(
        self,
        job: NodeJob,
        task: Task,
        user: str,
        accept: Callable[[Any], Any],
        offline: Callable[[Any], Drafted[Any]],
    ) -> Drafted[Any]:
        decoding = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        usage = _Usage(
            self.model,
            {**decoding, "temperature_sent": bool(getattr(self.backend, "sends_temperature", True))},
        )
        try:
            drafted = self._ask(job, task, user, accept, usage)
        except LLMError as exc:
            if self.policy != "fallback":
                # Nothing is recorded for a failed node, so a retry from its checkpoint asks the model anew.
                raise
            drafted = self._offline(offline)
            drafted.warnings.append(f"{job.node}: fell back to the offline engine: {exc}")
            drafted.usage = usage.as_dict()
        for key, record in usage.pending:
            self.store.put(key, record)
        return drafted

    def _ask(self, job: NodeJob, task: Task, user: str, accept: Callable[[Any], Any], usage: _Usage) -> Drafted[Any]:
        """One request, and one repair request if its output does not validate."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": user}]
        system = self._system(job, task)
        reply = self._call(job, task, system, messages, usage)
        try:
            return Drafted(accept(reply.payload()), usage=usage.as_dict())
        except (ValidationError, ValueError) as exc:
            first_errors = _errors(exc)
        repair = render_prompt("repair", tool=task.tool, errors=first_errors)
        messages = [
            *messages,
            {"role": "assistant", "content": reply.shown()},
            {"role": "user", "content": repair},
        ]
        reply = self._call(job, task, system, messages, usage)
        try:
            value = accept(reply.payload())
        except (ValidationError, ValueError) as exc:
            raise LLMOutputError(
                f"{job.node}: the model's {task.key} output did not validate, even after repair: {_errors(exc)}"
            ) from exc
        return Drafted(value, [f"{job.node}: the model's first {task.key} output was repaired"], usage.as_dict())

    @staticmethod
    def _offline(run: Callable[[Any], Drafted[Any]]) -> Drafted[Any]:
        from agent.offline import OfflineEngine

        drafted = run(OfflineEngine())
        return Drafted(drafted.value, list(drafted.warnings), dict(drafted.usage))

    def _call(
        self,
        job: NodeJob,
        task: Task,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        usage: _Usage,
    ) -> ChatReply:
        request = ChatRequest(
            model=self.model,
            system=system,
            messages=messages,
            tools=output_tools(),
            tool_name=task.tool,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
        key = call_key(
            model=request.model,
            decoding=request.decoding,
            system=request.system,
            messages=request.messages,
            tools=request.tools,
            tool_choice=request.tool_name,
            seed=job.seed,
        )
        recorded = self.store.get(key)
        if recorded is not None:
            reply = ChatReply.from_record(recorded)
            usage.replayed += 1
            replayed_text = JsonTextStream().feed(reply.tool_json) if reply.tool_json else reply.text
            if replayed_text:
                job.emit({"event": "token", "node": job.node, "phase": "token", "text": replayed_text})
            return reply

        def on_attempt() -> None:
            try:
                self.ledger.charge(self.run_id, self.max_calls)
            except BudgetExhausted as exc:
                raise LLMCallError(f"{job.node}: {exc}") from exc
            usage.calls += 1

        def on_text(text: str) -> None:
            job.emit({"event": "token", "node": job.node, "phase": "token", "text": text})

        def on_retry(attempt: int, delay: float, reason: str) -> None:
            usage.retries += 1
            job.emit(
                {
                    "event": "node.info",
                    "node": job.node,
                    "phase": "info",
                    "metrics": {"retry": attempt, "delay_s": round(delay, 3)},
                    "issues": [{"code": "llm_retry", "message": reason}],
                }
            )

        try:
            reply = self.backend.complete(request, CallHooks(on_attempt, on_text, on_retry))
        except LLMError as exc:
            message = str(exc)
            raise type(exc)(message if message.startswith(job.node) else f"{job.node}: {message}") from exc
        usage.add(reply.usage)
        usage.pending.append(
            (
                key,
                {
                    **reply.to_record(),
                    "model": request.model,
                    "decoding": request.decoding,
                    "node": job.node,
                    "backend": self.backend.name,
                },
            )
        )
        return reply


def _errors(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}" for error in exc.errors()
        )
    return str(exc)


def _plan_brief(plan: Plan, section_ids: set[str]) -> dict[str, Any]:
    return {
        "hook_line": plan.hook_line,
        "rhyme_scheme": plan.rhyme_scheme,
        "explicit": plan.explicit,
        "limits": plan.limits.model_dump(mode="json"),
        "sections": [s.model_dump(mode="json") for s in plan.sections if s.id in section_ids],
    }


# ----------------------------------------------------------------------------------------------- FIX


STYLE_TEXT_FIELDS = ("tags_positive", "instrumentation", "sub_genres", "mood")
LINE_TARGET = re.compile(r"^(?P<section>[^\s]+) line (?P<line>\d+)$")


@dataclass
class FixScope:
    """What FIX sends the model and lets it change: the failing component's issues and the affected parts."""

    component: str
    issues: list[dict[str, Any]]
    lyrics: dict[str, list[str]]
    missing: list[dict[str, Any]]
    style: dict[str, Any]
    producer: dict[str, Any]

    @property
    def lyric_sections(self) -> set[str]:
        return set(self.lyrics)

    @property
    def missing_ids(self) -> set[str]:
        return {m["target"] for m in self.missing}

    @property
    def empty(self) -> bool:
        return not (self.lyrics or self.missing or self.style or self.producer)

    def editable(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.lyrics:
            data["lyrics"] = {
                sid: [{"target": f"{sid} line {i + 1}", "text": line} for i, line in enumerate(lines)]
                for sid, lines in self.lyrics.items()
            }
        if self.missing:
            data["missing_sections"] = self.missing
        if self.style:
            data["style"] = self.style
        if self.producer:
            data["producer_notes"] = self.producer
        return data


def _weakest(blueprint: Blueprint, report: ValidationReport) -> str:
    weights = blueprint.rubric.weights.model_dump()
    scores = report.scores.model_dump()
    return sorted(COMPONENTS, key=lambda c: (-weights[c] * (100.0 - scores[c]), COMPONENTS.index(c)))[0]


def fix_scope(
    plan: Plan,
    blueprint: Blueprint,
    style: StyleArtifact,
    lyrics: LyricsArtifact,
    producer: ProducerNotesArtifact,
    report: ValidationReport,
) -> FixScope:
    """Every hard fail, or else the weakest component, with the sections and fields its issues point at."""
    sections = {s.id: s for s in lyrics.sections}
    section_ids: set[str] = set()
    style_fields: set[str] = set()
    producer_fields: set[str] = set()
    missing: set[str] = set()
    if report.hard_fails:
        codes = [c for c in HARD_FAIL_ORDER if any(f.code == c for f in report.hard_fails)]
        codes += sorted({f.code for f in report.hard_fails} - set(codes))
        component = ",".join(codes)
        fails = [f.model_dump(mode="json") for f in report.hard_fails]
        related = [i for i in report.issues if i.code in codes]
        issues = fails + [i.model_dump(mode="json", exclude_none=True) for i in related]
        for fail in report.hard_fails:
            head, _, rest = fail.field.partition(".")
            if head == "lyrics" and rest.startswith("sections."):
                section_ids.add(rest.split(".")[1])
            elif head == "lyrics" or fail.field.endswith("lyrics_text"):
                section_ids.update(sections)
            elif head == "style":
                style_fields.add(re.split(r"[.\[]", rest)[0])
            elif head == "producer_notes":
                producer_fields.add(re.split(r"[.\[]", rest)[0])
            elif fail.field.endswith("style_text"):
                style_fields.update(STYLE_TEXT_FIELDS)
            elif fail.field.endswith("exclude_text"):
                style_fields.add("tags_negative")
            if fail.code == "tag_conflict":
                style_fields.update(("tags_positive", "tags_negative"))
        for issue in related:
            if issue.section in sections:
                section_ids.add(issue.section)
            elif issue.code == "missing_section" and issue.section:
                missing.add(issue.section)
        if "missing_section" in codes and not missing:
            missing.update(p.id for p in plan.sections if p.id not in sections and p.max_lines > 0)
    else:
        component = _weakest(blueprint, report)
        related = [i for i in report.issues if i.component == component]
        issues = [i.model_dump(mode="json", exclude_none=True) for i in related]
        hook_ids = {p.id for p in plan.sections if p.hook_role}
        for issue in related:
            if issue.section in sections:
                section_ids.add(issue.section)
            elif issue.code == "missing_section" and issue.section:
                missing.add(issue.section)
            elif issue.section is None:
                wide = hook_ids if component == "hook_density" else set(sections)
                section_ids.update(wide & set(sections))
    planned = {p.id: p for p in plan.sections}
    return FixScope(
        component=component,
        issues=issues,
        lyrics={sid: list(sections[sid].lines) for sid in sorted(section_ids, key=_order(plan)) if sid in sections},
        missing=[
            {"target": sid, "kind": planned[sid].kind, "label": planned[sid].label}
            for sid in sorted(missing, key=_order(plan))
            if sid in planned
        ],
        style={name: getattr(style, name) for name in sorted(style_fields) if name in StyleArtifact.model_fields},
        producer={
            name: producer.model_dump(mode="json")[name]
            for name in sorted(producer_fields)
            if name in ProducerNotesArtifact.model_fields
        },
    )


def _order(plan: Plan) -> Callable[[str], tuple[int, str]]:
    positions = {p.id: i for i, p in enumerate(plan.sections)}
    return lambda sid: (positions.get(sid, len(positions)), sid)


class FixRejected(ValueError):
    """The model's changes reach outside the scope it was given, or do not match the current text."""


def _apply_field(data: dict[str, Any], path: str, before: str, after: str) -> tuple[str, str]:
    parts = path.split(".")
    parent: Any = data
    for part in parts[:-1]:
        if not isinstance(parent, dict) or part not in parent:
            raise FixRejected(f"{path}: no such field")
        parent = parent[part]
    leaf = parts[-1]
    if not isinstance(parent, dict) or leaf not in parent:
        raise FixRejected(f"{path}: no such field")
    current = parent[leaf]
    if isinstance(current, list):
        if before == "":
            current.append(after)
        elif before not in current:
            raise FixRejected(f"{path}: {before!r} is not one of its items")
        elif after == "":
            current.remove(before)
        else:
            current[current.index(before)] = after
        return before, after
    shown = "" if current is None else str(current)
    if before != shown:
        raise FixRejected(f"{path}: 'before' is {before!r} but the value is {shown!r}")
    parent[leaf] = int(after) if isinstance(current, int) and re.fullmatch(r"-?\d+", after.strip()) else after
    return before, after


def apply_fix_reply(
    reply: FixReply,
    scope: FixScope,
    style: StyleArtifact,
    lyrics: LyricsArtifact,
    producer: ProducerNotesArtifact,
    iteration: int,
) -> FixOutcome:
    """Apply the model's edits inside the scope; anything outside it, or a stale 'before', is rejected."""
    line_edits: dict[str, dict[int, str]] = {}
    appends: dict[str, list[tuple[int, str]]] = {}
    added: dict[str, list[str]] = {}
    style_data = style.model_dump(mode="json", exclude={"artifact_hash"})
    producer_data = producer.model_dump(mode="json", exclude={"artifact_hash"})
    changes: list[FixChange] = []
    for edit in reply.changes:
        if edit.artifact == "lyrics":
            match = LINE_TARGET.match(edit.target.strip())
            if match:
                sid, number = match["section"], int(match["line"])
                if sid not in scope.lyrics:
                    raise FixRejected(f"{edit.target}: section {sid} is not among the sections you were sent")
                lines = scope.lyrics[sid]
                if 1 <= number <= len(lines):
                    if edit.before != lines[number - 1]:
                        raise FixRejected(f"{edit.target}: 'before' does not match the current line")
                    line_edits.setdefault(sid, {})[number - 1] = edit.after
                elif number > len(lines) and edit.before == "" and edit.after:
                    appends.setdefault(sid, []).append((number, edit.after))
                else:
                    raise FixRejected(f"{edit.target}: no such line")
            elif edit.target.strip() in scope.missing_ids:
                new_lines = [line for line in edit.after.split("\n") if line.strip()]
                if not new_lines:
                    raise FixRejected(f"{edit.target}: a new section needs lines in 'after', one per line")
                added[edit.target.strip()] = new_lines
            else:
                raise FixRejected(f"{edit.target}: lyric targets look like '<section id> line <n>'")
        else:
            data, fields = (style_data, scope.style) if edit.artifact == "style" else (producer_data, scope.producer)
            head = re.split(r"[.\[]", edit.target.strip())[0]
            if head not in fields:
                raise FixRejected(f"{edit.artifact}.{edit.target}: not a field you were sent ({', '.join(fields)})")
            _apply_field(data, edit.target.strip(), edit.before, edit.after)
        changes.append(FixChange(**edit.model_dump()))
    new_sections: list[LyricSection] = []
    for section in lyrics.sections:
        edits = line_edits.get(section.id, {})
        lines = [edits.get(i, line) for i, line in enumerate(section.lines)]
        lines = [line for i, line in enumerate(lines) if not (i in edits and edits[i] == "")]
        lines += [text for _, text in sorted(appends.get(section.id, []))]
        new_sections.append(section.model_copy(update={"lines": lines}))
    planned_order = [m["target"] for m in scope.missing]
    for sid in planned_order:
        if sid in added:
            meta = next(m for m in scope.missing if m["target"] == sid)
            new_sections.append(LyricSection(id=sid, kind=meta["kind"], label=meta["label"], lines=added[sid]))
    try:
        new_style = StyleArtifact.model_validate(style_data)
        new_producer = ProducerNotesArtifact.model_validate(producer_data)
    except ValidationError as exc:
        raise FixRejected(f"the edited artifacts no longer validate: {_errors(exc)}") from None
    new_lyrics = lyrics.model_copy(update={"sections": new_sections, "artifact_hash": None})
    _check_untouched(scope, (style, lyrics, producer), (new_style, new_lyrics, new_producer))
    return FixOutcome(
        style=new_style.model_copy(update={"artifact_hash": None}),
        lyrics=new_lyrics,
        producer=new_producer.model_copy(update={"artifact_hash": None}),
        record=FixRecord(iteration=iteration, component=scope.component, changes=changes),
    )


def _check_untouched(scope: FixScope, old: tuple[Any, Any, Any], new: tuple[Any, Any, Any]) -> None:
    """Everything outside the scope must be byte-identical to what came in (canonical JSON compared)."""
    old_style, old_lyrics, old_producer = old
    new_style, new_lyrics, new_producer = new
    for name, before, after, allowed in (
        ("style", old_style, new_style, set(scope.style)),
        ("producer_notes", old_producer, new_producer, set(scope.producer)),
    ):
        a = before.model_dump(mode="json", exclude={"artifact_hash"})
        b = after.model_dump(mode="json", exclude={"artifact_hash"})
        for key in set(a) | set(b):
            if key not in allowed and canonical_json(a.get(key)) != canonical_json(b.get(key)):
                raise FixRejected(f"{name}.{key} changed but was not in scope")
    old_by_id = {s.id: s for s in old_lyrics.sections}
    for section in new_lyrics.sections:
        if section.id in scope.lyrics or section.id in scope.missing_ids:
            continue
        if section.id not in old_by_id or canonical_json(section.model_dump()) != canonical_json(
            old_by_id[section.id].model_dump()
        ):
            raise FixRejected(f"lyrics section {section.id} changed but was not in scope")
    lyric_meta = ("title", "language", "pov", "tense", "rhyme_scheme", "hook_line", "citations")
    if any(getattr(old_lyrics, k) != getattr(new_lyrics, k) for k in lyric_meta):
        raise FixRejected("lyrics metadata changed but was not in scope")
