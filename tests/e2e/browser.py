"""A real headless Chromium for the jobs page tests: Debian's (``scripts/ensure-chromium``),
never one Playwright downloads, and it may reach loopback only."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

CHROMIUM = os.environ.get("DOCFLOW_CHROMIUM", "/usr/bin/chromium")
# No sandbox (tests may run as root in a container); no updater, sync or other background calls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
NOT_LOOPBACK = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")


def chromium() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium (or `make browser`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def loopback_only(browser: Browser) -> BrowserContext:
    """A fresh context (its own storage) whose requests off this machine are aborted."""
    context = browser.new_context()
    context.route(NOT_LOOPBACK, lambda route: route.abort())
    return context
