"""`langgraph dev` serves the graph offline: a run streamed through langgraph-sdk, its state and its history.

Starts the LangGraph development server from the repository root on a free loopback port (analytics and
the version check off, so it needs no network), waits for /ok, and drives it with the SDK as Studio and
agent-chat-ui do. The server's process group is always stopped, whatever the test's outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
REFERENCE_SDS = REPO / "examples" / "sds" / "pop_complexity_1.json"
STARTUP_TIMEOUT_SEC = 180
RUN_TIMEOUT_SEC = 180
OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}


def _langgraph_cli() -> str:
    beside = Path(sys.executable).with_name("langgraph")
    found = str(beside) if beside.exists() else shutil.which("langgraph")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("langgraph-cli is not installed: pip install -e '.[studio]'")
        pytest.skip("langgraph-cli is not installed (the 'studio' extra)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's whole process group (it spawns workers), then SIGKILL what is left."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    cli = _langgraph_cli()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("amcs-data")
    log_path = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    env = {**os.environ, **OFFLINE_ENV, "AMCS_ENGINE": "offline", "AMCS_DATA_DIR": str(data_dir)}
    command = [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        started = time.monotonic()
        while not _ok(url):
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
            if time.monotonic() - started > STARTUP_TIMEOUT_SEC:
                log = log_path.read_text(errors="replace")
                pytest.fail(f"langgraph dev not ready in {STARTUP_TIMEOUT_SEC} s:\n{log}")
            time.sleep(0.5)
        startup_sec = round(time.monotonic() - started, 1)
        print(f"langgraph dev ready on {url} in {startup_sec} s")  # shown with -s; recorded in the docs
        yield {"url": url, "log": log_path, "startup_sec": startup_sec, "data_dir": data_dir}
    finally:
        _stop(process)
    assert process.returncode is not None


@pytest.fixture(scope="module")
def reference_sds() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE_SDS.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def streamed(server: dict[str, Any], reference_sds: dict[str, Any]) -> dict[str, Any]:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server["url"], api_key=None, timeout=RUN_TIMEOUT_SEC)
    assistants = client.assistants.search(graph_id="amcs")
    assert assistants, "langgraph.json registers the graph as 'amcs'"
    thread = client.threads.create(metadata={"test": "langgraph-dev"})
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "amcs",
            input=reference_sds,
            stream_mode=["values", "updates", "messages-tuple"],
        )
    )
    return {"client": client, "thread_id": thread["thread_id"], "parts": parts}


def test_the_graph_is_served_with_the_sds_as_its_input_schema(server: dict[str, Any]) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server["url"], api_key=None)
    assistant = client.assistants.search(graph_id="amcs")[0]
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    properties = schemas["input_schema"]["properties"]
    assert {"title", "blueprint_ref", "style", "lyrics", "producer_notes", "render", "seed"} <= set(properties)
    assert "messages" in schemas["state_schema"]["properties"]
    graph = client.assistants.get_graph(assistant["assistant_id"])
    nodes = {node["id"] for node in graph["nodes"]}
    assert {"plan_song", "write_lyrics", "validate_song", "apply_fixes", "review_run"} <= nodes


def test_a_streamed_run_ends_with_a_validated_prompt(streamed: dict[str, Any]) -> None:
    parts = streamed["parts"]
    events = [part.event for part in parts]
    assert "error" not in events, [part.data for part in parts if part.event == "error"]
    updated = [node for part in parts if part.event == "updates" for node in part.data]
    assert updated[0] == "plan_song" and updated[-1] == "review_run"
    assert {
        "generate_style",
        "write_lyrics",
        "draft_producer_notes",
        "compose_prompt",
        "validate_song",
    } <= set(updated)
    final = [part.data for part in parts if part.event == "values"][-1]
    assert final["artifacts"]["composed_prompt"]["artifact_hash"].startswith("sha256:")
    assert final["artifacts"]["validation"]["validation_result"] == "pass"
    chat = [part.data for part in parts if part.event.startswith("messages")]
    assert chat, "each node's message reaches chat UIs on the messages stream"


def test_final_state_and_thread_history(streamed: dict[str, Any], server: dict[str, Any]) -> None:
    client, thread_id = streamed["client"], streamed["thread_id"]
    state = client.threads.get_state(thread_id)
    values = state["values"]
    assert state["next"] == []
    assert values["status"] == "pass"
    assert "Title: Summer Dreams" in values["artifacts"]["composed_prompt"]["text"]
    assert values["artifacts"]["validation"]["validation_result"] == "pass"
    speakers = [message.get("name") for message in values["messages"]]
    assert speakers[0] == "plan_song" and speakers[-1] == "review_run"
    assert all(message["type"] == "ai" and message["content"] for message in values["messages"])

    history = client.threads.get_history(thread_id, limit=100)
    assert len(history) >= 6, "one checkpoint per super-step"
    ids = [h["checkpoint"]["checkpoint_id"] for h in history]
    assert len(set(ids)) == len(ids)
    oldest_with_work = [h for h in history if h["next"]][-1]
    assert oldest_with_work["next"] == ["__start__"] or oldest_with_work["next"] == ["plan_song"]
    assert history[0]["values"]["artifacts"] == values["artifacts"]
    thread = client.threads.get(thread_id)
    assert thread["status"] == "idle"
    assert "Traceback" not in server["log"].read_text(errors="replace")


def test_the_server_run_matches_an_in_process_run(
    streamed: dict[str, Any], reference_sds: dict[str, Any], tmp_path: Path
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from graph.builder import build_graph
    from graph.context import Context

    app = build_graph().compile(checkpointer=InMemorySaver())
    local = app.invoke(
        reference_sds,
        {"configurable": {"thread_id": "in-process"}},
        context=Context(engine="offline", data_dir=str(tmp_path)),
    )
    served = streamed["client"].threads.get_state(streamed["thread_id"])["values"]
    hashes = {name: artifact["artifact_hash"] for name, artifact in local["artifacts"].items()}
    assert {name: artifact["artifact_hash"] for name, artifact in served["artifacts"].items()} == hashes
