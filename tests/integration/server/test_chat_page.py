"""The chat page in headless Chromium (Debian's `chromium` through Playwright's driver; never
`playwright install`): pick a reference SDS, start a run, and see its final prompt arrive."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server.serverkit import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = os.environ.get("AMCS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data", None, AMCS_API_TOKEN="page-token")
    live.data_dir.mkdir()
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.skipif(not CHROMIUM, reason="no chromium binary (scripts/ci-browser.sh installs Debian's)")
def test_chat_page_runs_a_reference_sds_and_shows_the_final_prompt(page_server: LiveServer, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_server.base + "/")
            # the API needs the token: the page asks for it
            page.wait_for_selector("#token-panel:not([hidden])", timeout=15_000)
            page.fill("#token", "page-token")
            page.click("#save-token")
            page.wait_for_selector("#example option[value='pop_complexity_1']", state="attached", timeout=15_000)
            page.select_option("#example", "pop_complexity_1")
            page.wait_for_function("document.getElementById('sds').value.includes('Summer Dreams')", timeout=15_000)
            page.click("#start")
            final = page.wait_for_selector("#final-prompt", timeout=60_000)
            assert final is not None
            text = final.inner_text()
            assert "Summer Dreams" in text and "Style:" in text
            chat = page.inner_text("#chat")
            assert "validate_song" in chat and "Run passed" in chat
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
