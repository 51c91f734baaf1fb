"""The background run manager: starts, cancels, retries, replays and resumes workflow runs."""

# Every run is an asyncio task in this process's event loop driving the compiled graph with `astream` on the
# async checkpointer (`durability="sync"`: each superstep's checkpoint and each finished task's writes are
# stored before the next step starts). Custom-stream events (node start/end/fail, info, token) are persisted
# through `RunStore.append_event`, which assigns the per-run event id in the same transaction, then
# subscribers are woken. The service knows nothing of HTTP.
#
# Ownership: a process owns the runs it executes through a lease (`owner`, `lease_until`) renewed by a
# janitor task. Runs left `queued`/`running` by a process that died (lease expired, or a dead pid on this
# host) are claimed by exactly one live process and resumed from their last checkpoint.
#
# Token events (phase "token") are coalesced per node into chunks of at most `token_flush_seconds` and are
# persisted like every other event, so a reconnecting client replays them too.

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import InvalidUpdateError

from agent.sds import storage_errors
from graph.context import Context
from graph.runstore import ACTIVE_STATUSES, TERMINAL_STATUSES, RunStore, lease_clock, now_iso
from graph.storage import settle_checkpointer

log = logging.getLogger("amcs.service")

FINAL_STATUS = {"pass": "passed", "passed": "passed", "failed": "failed", "fail": "failed"}
RETRYABLE = ("failed", "cancelled", "error")
LLM_FAILURE_POLICIES = ("fail", "fallback")
MAX_ID = 2**63 - 1  # event ids and cursors are 64-bit integers in every database


def _default_check_sds(sds: dict[str, Any]) -> str | None:
    """Validate an SDS fully (schema and blueprint); returns its genre. Raises SDSError."""
    from agent.plan import plan_song
    from agent.sds import validate_sds

    validate_sds(sds)
    _, blueprint, _ = plan_song(sds)
    return getattr(blueprint, "genre", None)


def _default_check_engine(context: Context) -> None:
    from graph.engines import engine_for

    engine_for(context)


def _engine_names() -> list[str]:
    try:
        from graph.engines import engine_names

        return engine_names()
    except Exception:  # pragma: no cover - engines failing to import
        return []


class ServiceError(Exception):
    """A request the service refuses; `field`/`rule` name what is wrong (mapped to 4xx by the server)."""

    status = 400

    def __init__(self, field: str, rule: str, message: str):
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422


class _LeaseLost(Exception):
    pass


class _RunEnded(Exception):
    """The run reached a final status before the event could be stored (e.g. a cancel racing the end)."""


@dataclass
class RunRequest:
    """A validated run request (the SDS already includes any seed or feature-flag override)."""

    sds: dict[str, Any]
    engine: str = ""
    model: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    llm_failure_policy: str = Context.llm_failure_policy
    max_llm_calls: int = Context.max_llm_calls


class Notifier:
    """Wakes event followers: per run id, and `None` for "any run". Versions avoid lost wake-ups.

    Only keys somebody follows (`subscribe`/`unsubscribe`, reference-counted) are tracked, so a long-lived
    service does not keep an entry for every run it has ever seen.
    """

    def __init__(self) -> None:
        self._versions: dict[str | None, int] = {}
        self._events: dict[str | None, asyncio.Event] = {}
        self._followers: dict[str | None, int] = {}

    def subscribe(self, key: str | None) -> None:
        self._followers[key] = self._followers.get(key, 0) + 1
        self._versions.setdefault(key, 0)

    def unsubscribe(self, key: str | None) -> None:
        count = self._followers.get(key, 0) - 1
        if count > 0:
            self._followers[key] = count
            return
        self._followers.pop(key, None)
        self._versions.pop(key, None)
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def keys(self) -> set[str | None]:
        """Every key the notifier holds state for (empty when nobody follows anything)."""
        return set(self._versions) | set(self._events) | set(self._followers)

    def version(self, key: str | None) -> int:
        return self._versions.get(key, 0)

    def notify(self, run_id: str | None) -> None:
        for key in {run_id, None}:
            if key in self._versions:
                self._versions[key] += 1
            event = self._events.pop(key, None)
            if event is not None:
                event.set()

    async def wait(self, key: str | None, seen: int, timeout: float) -> None:
        if self._versions.get(key, 0) != seen:
            return
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


def find_unstorable(value: Any, path: str = "sds") -> tuple[str, str, str] | None:
    """(path, rule, message) of the first value no checkpoint can store (see agent.sds.storage_errors)."""
    errors = storage_errors(value, path)
    return (errors[0].field, errors[0].rule, errors[0].message) if errors else None


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """True when `owner` names a process on this host that no longer exists."""
    try:
        host, pid_text, _ = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _context_request(context: Context) -> dict[str, Any]:
    """The context fields stored with a run's request, so retry, replay and resume run with the same ones."""
    return {
        "engine": context.engine,
        "model": context.model,
        "llm_failure_policy": context.llm_failure_policy,
        "max_llm_calls": context.max_llm_calls,
    }


def _request_context(request: dict[str, Any], data_dir: str) -> Context:
    """The (unresolved) context of a stored run request; requests stored before a field existed get its default."""
    policy = request.get("llm_failure_policy")
    calls = request.get("max_llm_calls")
    return Context(
        engine=request.get("engine") or "",
        model=request.get("model") or "",
        data_dir=data_dir,
        llm_failure_policy=policy if policy in LLM_FAILURE_POLICIES else Context.llm_failure_policy,
        max_llm_calls=calls if isinstance(calls, int) and calls >= 1 else Context.max_llm_calls,
    )


def _state_adapters(schema: Any) -> dict[str, Any]:
    """A pydantic TypeAdapter per state key (reducers stripped); keys whose type cannot be built are unchecked."""
    import typing

    from pydantic import TypeAdapter

    try:
        hints = typing.get_type_hints(schema)
    except Exception:  # pragma: no cover - unresolvable annotations: patches are checked by key only
        return {}
    adapters: dict[str, Any] = {}
    for key, hint in hints.items():
        try:
            adapters[key] = TypeAdapter(hint)
        except Exception:  # pragma: no cover - a type pydantic cannot validate
            continue
    return adapters


def _config(run_id: str, checkpoint_id: str | None = None) -> Any:
    configurable: dict[str, Any] = {"thread_id": run_id, "checkpoint_ns": ""}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable, "recursion_limit": 100}


def _checkpoint_id(config: Any) -> str | None:
    return (config or {}).get("configurable", {}).get("checkpoint_id")


class _Progress:
    """Derives the run row's live fields (current node, fix iteration, scores, hashes, issues) from events."""

    def __init__(self, summary: dict[str, Any]):
        self.summary = {"artifact_hashes": {}, "scores": {}, "issues": [], **(summary or {})}
        self.in_flight: dict[str, int] = {}

    def updates_for(self, event: dict[str, Any]) -> dict[str, Any]:
        kind, node = event.get("event"), event.get("node")
        updates: dict[str, Any] = {}
        if kind == "node.start" and node:
            self.in_flight[node] = int(event.get("iteration") or 0)
            updates["current_node"] = node
        elif kind in ("node.end", "node.fail") and node:
            self.in_flight.pop(node, None)
            updates["iteration"] = int(event.get("iteration") or 0)
            metrics = event.get("metrics") or {}
            for key, value in metrics.items():
                if key.endswith("_hash") and value:
                    self.summary["artifact_hashes"][key[: -len("_hash")]] = value
            if metrics.get("scores"):
                self.summary["scores"] = metrics["scores"]
                self.summary["validation_result"] = metrics.get("validation_result")
            if node == "validate_song" or kind == "node.fail":
                self.summary["issues"] = event.get("issues") or []
            self.summary["fix_iterations"] = updates["iteration"]
            updates["summary"] = self.summary
            updates["current_node"] = next(reversed(self.in_flight), None) if self.in_flight else node
        return updates

    def final(self, values: dict[str, Any]) -> dict[str, Any]:
        review = values.get("review") or {}
        artifacts = values.get("artifacts") or {}
        if review:
            self.summary.update(
                scores=review.get("scores", {}),
                artifact_hashes=review.get("artifact_hashes", {}),
                issues=list(review.get("hard_fails", [])),
                warnings=review.get("warnings", []),
                fix_iterations=review.get("fix_iterations", 0),
                threshold=review.get("threshold"),
                review_status=review.get("status"),
            )
        else:
            self.summary["artifact_hashes"] = {
                name: a.get("artifact_hash") for name, a in artifacts.items() if isinstance(a, dict)
            }
        self.summary["artifacts"] = sorted(artifacts) + (["review"] if review else [])
        return self.summary


class RunService:
    def __init__(
        self,
        checkpointer: BaseCheckpointSaver[Any],
        store: RunStore,
        *,
        data_dir: str,
        max_concurrent: int = 8,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.5,
        token_flush_seconds: float = 0.1,
        worker_threads: int = 32,
        builder: Any = None,
        check_sds: Callable[[dict[str, Any]], str | None] = _default_check_sds,
        check_engine: Callable[[Context], None] = _default_check_engine,
    ):
        """`builder` is an uncompiled StateGraph (default: `graph.builder.build_graph()`); `check_sds` and
        `check_engine` validate requests (tests may swap all three for a tiny graph)."""
        if builder is None:
            from graph.builder import build_graph

            builder = build_graph()
        self.checkpointer = checkpointer
        self.store = store
        self.data_dir = data_dir
        self.node_names = tuple(name for name in builder.nodes if not name.startswith("__"))
        self.state_keys = frozenset(getattr(builder.state_schema, "__annotations__", {}))
        self._state_schema = builder.state_schema
        self._state_types: dict[str, Any] | None = None  # built on the first replay with a patch
        self.graph = builder.compile(checkpointer=checkpointer, name="amcs-song-workflow")
        self.check_sds = check_sds
        self.check_engine = check_engine
        self.owner = _owner_id()
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.token_flush_seconds = token_flush_seconds
        self.notifier = Notifier()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stop_reason: dict[str, str] = {}
        self._janitor: asyncio.Task[None] | None = None
        self._closing = False
        self._worker_threads = worker_threads
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        # Graph nodes are sync and run in the loop's default executor: give concurrent runs enough threads.
        self._executor = ThreadPoolExecutor(max_workers=self._worker_threads, thread_name_prefix="amcs-node")
        asyncio.get_running_loop().set_default_executor(self._executor)
        await self.store.listen(self.notifier.notify, self._on_control)
        await self.adopt_orphans()
        self._janitor = asyncio.create_task(self._janitor_loop(), name="amcs-janitor")

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop local runs without changing their status and release them, so a restart resumes them."""
        self._closing = True
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._janitor
        tasks = list(self._tasks.items())
        for run_id, task in tasks:
            self._stop_reason[run_id] = "shutdown"
            task.cancel()
        if tasks:
            await asyncio.wait([t for _, t in tasks], timeout=timeout)
        with contextlib.suppress(Exception):
            await settle_checkpointer(self.checkpointer)
        with contextlib.suppress(Exception):
            await self.store.release(self.owner, [run_id for run_id, _ in tasks])

    def _on_control(self, message: str) -> None:
        kind, _, run_id = message.partition(":")
        task = self._tasks.get(run_id)
        if kind == "cancel" and task is not None and run_id not in self._stop_reason:
            self._stop_reason[run_id] = "cancel"
            task.cancel()

    async def _janitor_loop(self) -> None:
        interval = max(0.2, self.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.store.renew_leases(self.owner, lease_clock() + self.lease_seconds)
                for run_id in await self.store.cancel_requests(self.owner):
                    task = self._tasks.get(run_id)
                    if task is not None and run_id not in self._stop_reason:
                        self._stop_reason[run_id] = "cancel"
                        task.cancel()
                await self.adopt_orphans()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly unavailable: try again next tick
                log.exception("janitor tick failed")

    async def adopt_orphans(self) -> list[str]:
        """Claim and resume active runs whose owner is gone. Returns the run ids adopted."""
        if self._closing:
            return []
        now = lease_clock()
        adopted = []
        for row in await self.store.orphan_candidates(self.owner, now):
            owner = row["owner"]
            dead = owner is None or _owner_is_dead(owner)
            if not dead and row["lease_until"] >= now:
                continue
            # a live owner may renew its lease after this scan: then the claim (lease still expired) fails
            if await self.store.claim(
                row["run_id"], self.owner, now + self.lease_seconds, expected_owner=owner, now=now, force=dead
            ):
                adopted.append(row["run_id"])
                self._spawn(row["run_id"])
        if adopted:
            log.info("resuming %d interrupted run(s): %s", len(adopted), ", ".join(adopted))
        return adopted

    def _spawn(self, run_id: str) -> None:
        existing = self._tasks.get(run_id)
        if existing is not None:
            # The run's previous task has stored its run.end but not returned yet (a retry right after the
            # end): start the new one when it is done, or the run would stay queued with nobody driving it.
            existing.add_done_callback(lambda _: self._respawn(run_id, existing))
            return
        task = asyncio.create_task(self._drive(run_id), name=f"amcs-run-{run_id}")
        self._tasks[run_id] = task

    def _respawn(self, run_id: str, finished: asyncio.Task[None]) -> None:
        if self._tasks.get(run_id) is finished:
            del self._tasks[run_id]
        if not self._closing:
            self._spawn(run_id)

    # -- requests ----------------------------------------------------------------------------------------
    def context_for(
        self,
        engine: str = "",
        model: str = "",
        *,
        llm_failure_policy: str = Context.llm_failure_policy,
        max_llm_calls: int = Context.max_llm_calls,
    ) -> Context:
        if llm_failure_policy not in LLM_FAILURE_POLICIES:
            raise Invalid(
                "llm_failure_policy",
                "enum",
                f"is {llm_failure_policy!r}; must be one of {', '.join(LLM_FAILURE_POLICIES)}",
            )
        if isinstance(max_llm_calls, bool) or not isinstance(max_llm_calls, int) or max_llm_calls < 1:
            raise Invalid("max_llm_calls", "minimum", f"is {max_llm_calls!r}; must be an integer >= 1")
        context = Context(
            engine=engine or "",
            model=model or "",
            data_dir=self.data_dir,
            llm_failure_policy=llm_failure_policy,  # type: ignore[arg-type]
            max_llm_calls=max_llm_calls,
        ).resolved()
        try:
            self.check_engine(context)
        except ValueError:
            raise Invalid(
                "engine", "enum", f"is {context.engine!r}; must be one of {', '.join(_engine_names())}"
            ) from None
        except Exception as exc:  # an engine that cannot be built (e.g. a missing API key)
            raise Invalid("engine", "available", f"engine {context.engine!r} is unavailable: {exc}") from None
        return context

    async def submit(self, request: RunRequest) -> dict[str, Any]:
        """Record a queued run and start it in the background; returns the run record at once."""
        for value, name in ((request.sds, "sds"), (request.manifest, "manifest")):
            found = find_unstorable(value, name)
            if found:
                raise Invalid(*found)
        genre = await asyncio.to_thread(self.check_sds, request.sds)  # SDSError names every broken rule
        context = self.context_for(
            request.engine,
            request.model,
            llm_failure_policy=request.llm_failure_policy,
            max_llm_calls=request.max_llm_calls,
        )
        run_id = str(uuid.uuid4())
        run = await self.store.create_run(
            {
                "run_id": run_id,
                "status": "queued",
                "title": request.sds.get("title"),
                "genre": genre,
                "engine": context.engine,
                "model": context.model,
                "request": {"sds": request.sds, **_context_request(context)},
                "manifest": request.manifest or {},
                "pending": {"mode": "start"},
                "owner": self.owner,
                "lease_until": lease_clock() + self.lease_seconds,
            }
        )
        self._spawn(run_id)
        return run

    async def get(self, run_id: str) -> dict[str, Any]:
        run = await self.store.get_run(run_id) if "\x00" not in run_id else None
        if run is None:
            raise NotFound("run_id", "exists", f"no run with id {run_id!r}")
        return run

    async def cancel(self, run_id: str) -> dict[str, Any]:
        run = await self.get(run_id)
        if run["status"] in TERMINAL_STATUSES:
            raise Conflict("status", "active", f"run {run_id} is already {run['status']}; nothing to cancel")
        task = self._tasks.get(run_id)
        if task is not None:
            self._stop_reason[run_id] = "cancel"
            task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), timeout=10)
            return await self.get(run_id)
        await self.store.request_cancel(run_id)
        now = lease_clock()
        owner = run["owner"]
        dead = owner is None or _owner_is_dead(owner)
        gone = dead or run["lease_until"] < now
        if gone and await self.store.claim(
            run_id, self.owner, now + self.lease_seconds, expected_owner=owner, now=now, force=dead
        ):
            await self._finish_cancelled(run_id, _Progress(run["summary"]), started=False)
        else:  # another live process owns it: its janitor sees cancel_requested within a lease tick
            deadline = time.monotonic() + max(2.0, self.lease_seconds)
            while time.monotonic() < deadline:
                current = await self.get(run_id)
                if current["status"] in TERMINAL_STATUSES:
                    break
                await asyncio.sleep(0.1)
        return await self.get(run_id)

    async def retry(self, run_id: str, from_node: str | None = None) -> dict[str, Any]:
        run = await self.get(run_id)
        now = lease_clock()
        lease_before: float | None = None
        if run["status"] in ACTIVE_STATUSES:
            owner = run["owner"]
            dead = owner is None or _owner_is_dead(owner)
            interrupted = dead or run["lease_until"] < now
            lease_before = None if dead else now  # a live owner renewing meanwhile keeps its run
            if not interrupted or run_id in self._tasks:
                raise Conflict(
                    "status",
                    "retryable",
                    f"run {run_id} is {run['status']} and still owned by a live process",
                )
        elif run["status"] not in RETRYABLE:
            raise Conflict(
                "status",
                "retryable",
                f"run {run_id} is {run['status']}; only {', '.join(RETRYABLE)} runs can be retried",
            )
        if from_node is not None and from_node not in self.node_names:
            raise Invalid("from_node", "enum", f"is {from_node!r}; must be one of {', '.join(self.node_names)}")
        latest = await self.checkpointer.aget_tuple(_config(run_id))
        snapshot = await self.graph.aget_state(_config(run_id)) if latest else None
        if from_node is None and snapshot is not None and not snapshot.next:
            # the run completed (e.g. validation failed): run it again from the start
            from_node = "plan_song" if "plan_song" in self.node_names else self.node_names[0]
        if from_node is not None and latest is not None:
            target = None
            async for snap in self.graph.aget_state_history(_config(run_id)):
                if from_node in snap.next:
                    target = _checkpoint_id(snap.config)
                    break
            if target is None:
                raise Invalid("from_node", "reached", f"run {run_id} never reached {from_node}; nothing to re-run from")
            pending = {
                "mode": "checkpoint",
                "checkpoint_id": target,
                "base_latest": _checkpoint_id(latest.config),
            }
        elif latest is None:
            pending = {"mode": "start"}
        else:
            pending = {"mode": "resume"}
        statuses = ACTIVE_STATUSES if run["status"] in ACTIVE_STATUSES else RETRYABLE
        claimed = await self.store.transition(
            run_id,
            statuses,
            expected_owner=run["owner"],
            lease_before=lease_before,
            status="queued",
            owner=self.owner,
            lease_until=now + self.lease_seconds,
            cancel_requested=False,
            error=None,
            finished_at=None,
            pending=pending,
        )
        if not claimed:
            raise Conflict("status", "retryable", f"run {run_id} changed while retrying; try again")
        self._spawn(run_id)
        return await self.get(run_id)

    async def history(self, run_id: str, limit: int = 200) -> list[dict[str, Any]]:
        await self.get(run_id)
        checkpoints = []
        async for snap in self.graph.aget_state_history(_config(run_id), limit=limit):
            values = snap.values or {}
            metadata = snap.metadata or {}
            checkpoints.append(
                {
                    "checkpoint_id": _checkpoint_id(snap.config),
                    "parent_checkpoint_id": _checkpoint_id(snap.parent_config),
                    "step": metadata.get("step"),
                    "source": metadata.get("source"),
                    "created_at": snap.created_at,
                    "next": list(snap.next),
                    "status": values.get("status"),
                    "fix_iterations": values.get("fix_iterations", 0),
                    "artifacts": sorted((values.get("artifacts") or {}).keys()),
                    "errors": [
                        {"node": t.name, "message": str(t.error)} for t in snap.tasks if getattr(t, "error", None)
                    ],
                }
            )
        return checkpoints

    async def state_values(self, run_id: str) -> dict[str, Any]:
        await self.get(run_id)
        snapshot = await self.graph.aget_state(_config(run_id))
        return dict(snapshot.values or {})

    async def replay(
        self,
        run_id: str,
        checkpoint_id: str,
        *,
        patch: dict[str, Any] | None = None,
        as_node: str | None = None,
        engine: str | None = None,
        model: str | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Fork a new run from `checkpoint_id` of `run_id` (its checkpoint chain is copied to the new
        thread), optionally patching the state as `as_node`, and run it from that point."""
        source = await self.get(run_id)
        target = None if "\x00" in checkpoint_id else await self.checkpointer.aget_tuple(_config(run_id, checkpoint_id))
        if target is None:
            raise NotFound("checkpoint_id", "exists", f"run {run_id} has no checkpoint {checkpoint_id!r}")
        for value, name in ((patch or {}, "patch"), (manifest or {}, "manifest")):
            found = find_unstorable(value, name)
            if found:
                raise Invalid(*found)
        for key in patch or {}:
            if key not in self.state_keys:
                raise Invalid(
                    f"patch.{key}",
                    "state_key",
                    f"{key!r} is not a state key; use one of {', '.join(sorted(self.state_keys))}",
                )
        if as_node is not None and as_node not in self.node_names:
            raise Invalid("as_node", "enum", f"is {as_node!r}; must be one of {', '.join(self.node_names)}")
        patch = self._checked_patch(patch or {}) or None
        request = dict(source["request"])
        kept = _request_context(request, self.data_dir)
        context = self.context_for(
            engine or request.get("engine", ""),
            model or request.get("model", ""),
            llm_failure_policy=kept.llm_failure_policy,
            max_llm_calls=kept.max_llm_calls,
        )
        new_id = str(uuid.uuid4())
        await self._copy_chain(run_id, target, new_id)
        if patch:
            try:
                await self.graph.aupdate_state(_config(new_id), patch, as_node=as_node)
            except Exception as exc:
                with contextlib.suppress(Exception):  # no run will own the copied checkpoints
                    await self.checkpointer.adelete_thread(new_id)
                if isinstance(exc, InvalidUpdateError):
                    field_name = "as_node" if "as_node" in str(exc) or "node" in str(exc).lower() else "patch"
                    raise Invalid(field_name, "update", str(exc)) from None
                raise Invalid("patch", "update", f"{type(exc).__name__}: {exc}") from None
        run = await self.store.create_run(
            {
                "run_id": new_id,
                "status": "queued",
                "title": source.get("title"),
                "genre": source.get("genre"),
                "engine": context.engine,
                "model": context.model,
                "request": {**request, **_context_request(context)},
                "manifest": manifest if manifest is not None else source.get("manifest") or {},
                "parent_run_id": run_id,
                "parent_checkpoint_id": checkpoint_id,
                "pending": {"mode": "resume"},
                "owner": self.owner,
                "lease_until": lease_clock() + self.lease_seconds,
            }
        )
        self._spawn(new_id)
        return run

    def _checked_patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        """The patch with each value checked (and coerced) against the state key's type; Invalid names the
        first wrong value, so nothing a node or an artifact endpoint cannot read gets into a fork."""
        from pydantic import ValidationError

        if patch and self._state_types is None:
            self._state_types = _state_adapters(self._state_schema)
        checked = {}
        for key, value in patch.items():
            adapter = (self._state_types or {}).get(key)
            if adapter is None:
                checked[key] = value
                continue
            try:
                checked[key] = adapter.validate_python(value)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.get("loc", ()))
                raise Invalid(f"patch.{key}{where}", str(error.get("type", "type")), str(error.get("msg"))) from None
            except Exception as exc:  # a validator that raises something else (e.g. message coercion)
                raise Invalid(f"patch.{key}", "type", f"{type(exc).__name__}: {exc}") from None
        return checked

    async def _copy_chain(self, run_id: str, target: Any, new_id: str) -> None:
        by_id: dict[str, Any] = {}
        async for item in self.checkpointer.alist(_config(run_id)):
            by_id[_checkpoint_id(item.config) or ""] = item
        chain = [target]
        parent = _checkpoint_id(target.parent_config)
        while parent and parent in by_id:
            chain.append(by_id[parent])
            parent = _checkpoint_id(by_id[parent].parent_config)
        previous: str | None = None
        for item in reversed(chain):
            checkpoint = item.checkpoint
            config = _config(new_id, previous)
            config.pop("recursion_limit")
            metadata: Any = item.metadata or {}
            stored = await self.checkpointer.aput(
                config, checkpoint, metadata, dict(checkpoint.get("channel_versions", {}))
            )
            grouped: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            for task_id, channel, value in item.pending_writes or []:
                grouped[task_id].append((channel, value))
            for task_id, writes in grouped.items():
                await self.checkpointer.aput_writes(stored, writes, task_id)
            previous = _checkpoint_id(stored)

    # -- events ------------------------------------------------------------------------------------------
    async def _emit(
        self, run_id: str, event: dict[str, Any], updates: dict[str, Any] | None = None, *, active_only: bool = False
    ) -> dict[str, Any]:
        """Store an event as the run's owner; with `active_only`, only while the run is queued or running."""
        stored = await self.store.append_event(
            run_id, event, updates, where_owner=self.owner, where_statuses=ACTIVE_STATUSES if active_only else ()
        )
        if stored is None:
            run = await self.store.get_run(run_id) if active_only else None
            if run is not None and run["owner"] == self.owner and run["status"] in TERMINAL_STATUSES:
                raise _RunEnded(run_id)
            raise _LeaseLost(run_id)
        self.notifier.notify(run_id)
        return stored

    async def follow(
        self,
        run_id: str | None,
        after: int = 0,
        *,
        until_end: bool = True,
        heartbeat: float | None = None,
        batch: int = 500,
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Stored events after `after` (per-run id, or global `gid` when `run_id` is None), then live ones.

        With `run_id` and `until_end`, stops after the run's final `run.end`. Yields None as a heartbeat
        after `heartbeat` idle seconds.
        """
        idle_since = time.monotonic()
        self.notifier.subscribe(run_id)
        try:
            while True:
                seen = self.notifier.version(run_id)
                if run_id is None:
                    rows = await self.store.all_events_after(after, batch)
                else:
                    rows = await self.store.events_after(run_id, after, batch)
                for row in rows:
                    yield row
                    after = row["gid"] if run_id is None else row["id"]
                if len(rows) >= batch:
                    continue
                if run_id is not None and until_end and (not rows or rows[-1].get("event") == "run.end"):
                    run = await self.store.get_run(run_id)
                    if run is None or (run["status"] in TERMINAL_STATUSES and after >= run["last_event_id"]):
                        return
                now = time.monotonic()
                if rows:
                    idle_since = now
                elif heartbeat is not None and now - idle_since >= heartbeat:
                    idle_since = now
                    yield None
                timeout = self.poll_interval
                if heartbeat is not None:
                    timeout = max(0.05, min(timeout, heartbeat - (time.monotonic() - idle_since)))
                await self.notifier.wait(run_id, seen, timeout)
        finally:
            self.notifier.unsubscribe(run_id)

    # -- execution ---------------------------------------------------------------------------------------
    async def _drive(self, run_id: str) -> None:
        progress = _Progress({})
        started = False
        try:
            try:
                async with self._slots:
                    run = await self.store.get_run(run_id)
                    if run is None or run["owner"] != self.owner or run["status"] not in ACTIVE_STATUSES:
                        return
                    progress = _Progress(run["summary"])
                    if run["cancel_requested"]:
                        await self._finish_cancelled(run_id, progress, started=False)
                        return
                    started = True
                    await self._execute(run, progress)
            except asyncio.CancelledError:
                reason = self._stop_reason.get(run_id)
                if reason == "cancel" and not self._closing:
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
                    await settle_checkpointer(self.checkpointer)
                    await self._finish_cancelled(run_id, progress, started=started)
                    return
                raise
        except _LeaseLost:
            log.warning("run %s: lease lost to another process; stopping here", run_id)
            await settle_checkpointer(self.checkpointer)
        except asyncio.CancelledError:
            pass  # shutdown: status stays queued/running and the lease is released for the next process
        except Exception:
            log.exception("run %s: bookkeeping failed", run_id)
        finally:
            self._tasks.pop(run_id, None)
            self._stop_reason.pop(run_id, None)

    async def _finish_cancelled(self, run_id: str, progress: _Progress, *, started: bool) -> None:
        try:
            await self._store_cancelled(run_id, progress)
        except _RunEnded:  # the cancel came after the run had stored its own end: that outcome stands
            log.info("run %s ended before its cancel took effect", run_id)

    async def _store_cancelled(self, run_id: str, progress: _Progress) -> None:
        for node, iteration in list(progress.in_flight.items()):
            await self._emit(
                run_id,
                {
                    "event": "node.fail",
                    "node": node,
                    "phase": "fail",
                    "iteration": iteration,
                    "issues": [{"code": "cancelled", "message": "the run was cancelled while this node ran"}],
                },
                active_only=True,
            )
        progress.in_flight.clear()
        await self._emit(
            run_id,
            {"event": "run.end", "node": None, "phase": "end", "metrics": {"status": "cancelled"}},
            {
                "status": "cancelled",
                "finished_at": now_iso(),
                "current_node": None,
                "cancel_requested": False,
                "summary": progress.summary,
            },
            active_only=True,
        )

    async def _execute(self, run: dict[str, Any], progress: _Progress) -> None:
        run_id = run["run_id"]
        request = run["request"]
        context = _request_context(request, self.data_dir).resolved()
        latest = await self.checkpointer.aget_tuple(_config(run_id))
        pending = run.get("pending") or {"mode": "start"}
        config = _config(run_id)
        graph_input: Any = None
        if pending.get("mode") == "start" and latest is None:
            graph_input = request["sds"]
        elif pending.get("mode") == "checkpoint" and _checkpoint_id(latest.config if latest else None) == pending.get(
            "base_latest"
        ):
            config = _config(run_id, pending["checkpoint_id"])
        attempt = int(run.get("attempt") or 0) + 1
        await self._emit(
            run_id,
            {
                "event": "run.start",
                "node": None,
                "phase": "start",
                "metrics": {
                    "attempt": attempt,
                    "resumed": latest is not None,
                    "engine": context.engine,
                    "model": context.model,
                    "from_checkpoint": _checkpoint_id(config),
                },
            },
            {
                "status": "running",
                "attempt": attempt,
                "started_at": now_iso(),
                "error": None,
                "finished_at": None,
            },
        )
        buffer: dict[str, Any] | None = None
        buffer_started = 0.0

        async def flush() -> None:
            nonlocal buffer
            if buffer is not None:
                pending_tokens, buffer = buffer, None
                await self._emit(run_id, pending_tokens)

        try:
            async for _, chunk in self.graph.astream(
                graph_input, config, context=context, stream_mode=["custom"], durability="sync"
            ):
                event: dict[str, Any] = (
                    dict(chunk)
                    if isinstance(chunk, dict)
                    else {"event": "info", "phase": "info", "metrics": {"value": chunk}}
                )
                event.setdefault("event", "info")
                event.setdefault("phase", "info")
                if event["phase"] == "token":
                    now = time.monotonic()
                    if buffer is not None and buffer.get("node") == event.get("node"):
                        buffer["text"] = (buffer.get("text") or "") + str(event.get("text") or "")
                        buffer["metrics"] = {"chunks": int(buffer.get("metrics", {}).get("chunks", 1)) + 1}
                    else:
                        await flush()
                        extra: dict[str, Any] = event.get("metrics") or {}
                        buffer = {**event, "metrics": {"chunks": 1, **extra}}
                        buffer_started = now
                    if now - buffer_started >= self.token_flush_seconds:
                        await flush()
                    continue
                await flush()
                await self._emit(run_id, event, progress.updates_for(event))
            await flush()
            snapshot = await self.graph.aget_state(_config(run_id))
            values = dict(snapshot.values or {})
            summary = progress.final(values)
            error: str | None
            if snapshot.next:
                status, error = "error", f"the graph stopped before {', '.join(snapshot.next)}"
            else:
                status = FINAL_STATUS.get(str(values.get("status")), "error")
                error = None if status != "error" else f"the graph finished with status {values.get('status')!r}"
            await self._emit(
                run_id,
                {
                    "event": "run.end",
                    "node": None,
                    "phase": "end",
                    "metrics": {"status": status, "graph_status": values.get("status")},
                },
                {
                    "status": status,
                    "error": error,
                    "finished_at": now_iso(),
                    "current_node": None,
                    "summary": summary,
                    "iteration": int(values.get("fix_iterations") or 0),
                },
            )
        except (asyncio.CancelledError, _LeaseLost):
            raise
        except Exception as exc:
            with contextlib.suppress(Exception):
                await flush()
            message = f"{type(exc).__name__}: {exc}"
            log.warning("run %s failed: %s", run_id, message)
            progress.in_flight.clear()
            await self._emit(
                run_id,
                {
                    "event": "run.end",
                    "node": None,
                    "phase": "end",
                    "metrics": {"status": "error"},
                    "issues": [{"code": type(exc).__name__, "message": str(exc)}],
                },
                {
                    "status": "error",
                    "error": message[:2000],
                    "finished_at": now_iso(),
                    "current_node": None,
                    "summary": progress.summary,
                },
            )


def public_run(run: dict[str, Any]) -> dict[str, Any]:
    """The run record clients see (no lease internals)."""
    summary = run.get("summary") or {}
    return {
        "run_id": run["run_id"],
        "status": run["status"],
        "title": run.get("title"),
        "genre": run.get("genre"),
        "engine": run.get("engine"),
        "model": run.get("model"),
        "llm_failure_policy": (run.get("request") or {}).get("llm_failure_policy") or Context.llm_failure_policy,
        "max_llm_calls": (run.get("request") or {}).get("max_llm_calls") or Context.max_llm_calls,
        "current_node": run.get("current_node"),
        "fix_iteration": int(run.get("iteration") or 0),
        "scores": summary.get("scores") or {},
        "artifact_hashes": summary.get("artifact_hashes") or {},
        "artifacts": summary.get("artifacts") or sorted((summary.get("artifact_hashes") or {}).keys()),
        "issues": summary.get("issues") or [],
        "warnings": summary.get("warnings") or [],
        "error": run.get("error"),
        "attempt": int(run.get("attempt") or 0),
        "last_event_id": int(run.get("last_event_id") or 0),
        "cancel_requested": bool(run.get("cancel_requested")),
        "parent_run_id": run.get("parent_run_id"),
        "parent_checkpoint_id": run.get("parent_checkpoint_id"),
        "manifest": run.get("manifest") or {},
        "created_at": run.get("created_at"),
        "updated_at": run.get("updated_at"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "cursor": run.get("seq"),
    }
