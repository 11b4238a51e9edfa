"""Console fixtures: a real server on loopback for a workspace, an httpx client that keeps
cookies, and Debian's chromium driven by Playwright for the end-to-end tests."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pmle.workspace import Workspace

CHROMIUM = os.environ.get("PMLE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def console(ws: Workspace, run_app: Any) -> Iterator[str]:
    """The console of `ws` on a real server (tokens polled every 0.1 s)."""
    from pmle.server.app import PmleApp

    with run_app(PmleApp(ws, poll_s=0.1)) as url:
        yield url


def _sign_in(client: httpx.Client, url: str, ws: Workspace, role: str = "editor") -> str:
    """Create a token with `role`, sign the client in with it; returns the token."""
    secret = ws.tokens.create(f"console-{role}-{time.monotonic_ns()}", role=role)
    time.sleep(0.3)  # the server's next token poll
    r = client.post(f"{url}/login", data={"token": secret, "next": "/"})
    assert r.status_code == 303, r.text
    return secret


def _csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "the page has no CSRF field"
    return m.group(1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium (Debian's package) driven by Playwright; one per test module. Not longer:
    Playwright's sync API keeps an event loop running in this thread while it is started,
    so a later test elsewhere calling `asyncio.run()` would fail."""
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
    )
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page (own cookies and storage)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def _browser_sign_in(pg: Any, url: str, ws: Workspace, role: str = "editor") -> None:
    """Sign the browser page in with a new token of `role`."""
    secret = ws.tokens.create(f"browser-{role}-{time.monotonic_ns()}", role=role)
    time.sleep(0.3)
    pg.goto(f"{url}/login")
    pg.fill("#token", secret)
    pg.click("button[type=submit]")
    pg.wait_for_selector("text=Signed in.")


@pytest.fixture(scope="session")
def sign_in() -> Any:
    """`sign_in(client, url, ws, role="editor")`: a new token of `role`, the httpx client
    signed in with it (cookie); returns the token."""
    return _sign_in


@pytest.fixture(scope="session")
def csrf_of() -> Any:
    """`csrf_of(html)`: the CSRF token a page's forms carry."""
    return _csrf_of


@pytest.fixture(scope="session")
def browser_sign_in() -> Any:
    """`browser_sign_in(page, url, ws, role="editor")`: sign a Playwright page in with a new
    token of `role`."""
    return _browser_sign_in
