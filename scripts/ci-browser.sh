#!/usr/bin/env bash
# Installs Debian's chromium for the chat-page browser test (tests/integration/server/test_chat_page.py).
# The test drives it through the `playwright` pip package (dev extra) with executable_path=/usr/bin/chromium;
# `playwright install` is never run.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
chromium --version >&2 || true
