"""Helpers of the dev UI tests: Debian's Chromium driven by Playwright, and the dev app served
on loopback.

Without Playwright or Chromium the browser tests are skipped with the line that installs them;
under ``CI=true`` that is a failure (``python3 dev.py test`` installs Chromium when it runs as
root on Debian).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from serving import uvicorn_serving

from baton.devui import DevApp

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("BATON_CHROMIUM", "/usr/bin/chromium")
STEP_TIMEOUT = 15_000  # ms a page step may take before the test fails (instead of hanging)
INSTALL = "pip install -e '.[dev]' (Playwright) and, as root: apt-get install -y chromium"


def _problem() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"Chromium is not at {CHROMIUM}"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium (Debian's, through Playwright), closed after the test."""
    problem = _problem()
    if problem is not None:
        message = f"{problem}; install: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs the browser tests' tools: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root otherwise
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=args
        )
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def dev_page(
    browser: Any, agent: Any, *, logged_errors: list[str] | None = None, **options: Any
) -> AsyncIterator[tuple[Any, DevApp]]:
    """The dev app of ``agent`` served on loopback, and a browser page opened on it with the
    token (as ``baton dev`` prints it), ready. An error the page logs fails the test, unless
    ``logged_errors`` is given: they are collected there."""
    app = DevApp(agent, **options)
    async with uvicorn_serving(app) as base:
        context = await browser.new_context(viewport={"width": 1400, "height": 860})
        context.set_default_timeout(STEP_TIMEOUT)
        page = await context.new_page()
        # What the page's scripts raise or log as errors (a CSP refusal included) fails the test.
        errors: list[str] = [] if logged_errors is None else logged_errors
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        try:
            await page.goto(f"{base}/?token={app.token}")
            await page.wait_for_selector("body[data-ready=true]")
            yield page, app
        finally:
            await context.close()
        assert logged_errors is not None or errors == [], errors


async def send(page: Any, text: str) -> None:
    """Type ``text`` in the page's prompt and send it."""
    await page.fill("#prompt", text)
    await page.click("#send")


def bearer(app: DevApp) -> dict[str, str]:
    """The header that carries ``app``'s token."""
    return {"authorization": f"Bearer {app.token}"}


def run_input(thread: str, text: str, **more: Any) -> dict[str, Any]:
    """An AG-UI run input: one user message ``text`` on ``thread`` (and ``more`` fields)."""
    return {
        "threadId": thread,
        "runId": os.urandom(4).hex(),
        "messages": [{"id": os.urandom(4).hex(), "role": "user", "content": text}],
        **more,
    }


def sse(text: str) -> list[dict[str, Any]]:
    """The JSON of every ``data:`` line of an event-stream body."""
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


async def named_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, Any]]:
    """(event name, JSON data) of each event of an event stream's lines, as they arrive."""
    name = None
    async for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


@contextmanager
def baton_dev(
    *arguments: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """``baton dev *arguments`` running in this folder (so ``devui_agents:...`` imports), its
    output piped; stopped with Ctrl-C (SIGINT) on the way out unless it already ended."""
    process = subprocess.Popen(
        [sys.executable, "-m", "baton.cli", "dev", *arguments],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
