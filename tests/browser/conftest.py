"""The console's browser tests: Debian's Chromium driven by Playwright, axe-core on every page,
one embedded stack (with the console) for the whole module.

Chromium comes from ``scripts/browser-setup.sh`` (run by ``scripts/test.sh``). Without it the
tests skip, except on CI (``CI=true``), where a missing browser is a failure: the set-up must
have installed it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grants.stack import EmbeddedStack, StackState

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("GRANTS_CHROMIUM"), "/usr/bin/chromium",
                      "/usr/bin/chromium-browser", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser(console_stack: StackState) -> Iterator[object]:
    """After the stack (Playwright's sync API runs an event loop of its own in this thread, and
    the stack's start-up uses ``asyncio.run``)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("no Chromium: scripts/browser-setup.sh should have installed it")
        pytest.skip("no Chromium (run scripts/browser-setup.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    home = tmp_path_factory.mktemp("console-stack")
    stack = EmbeddedStack(home, durable=False, die_with_parent=True, with_console=True)
    try:
        yield stack.up(simulation=True)
    finally:
        stack.down(grace=5)


@pytest.fixture(scope="module")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS
