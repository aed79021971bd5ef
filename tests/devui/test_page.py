"""The dev page in a real browser (headless Chromium through Playwright): the token, chatting
with a streamed answer, the timeline, approvals (also of a run paused earlier and stored),
opening and replaying a stored conversation, and watching one another process runs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from devui_agents import asker, calculator, deployer, failing, forecaster, manager
from devui_support import dev_page, send
from serving import uvicorn_serving

from baton.devui import DevApp
from baton.errors import AskSuspended
from baton.hitl import ApprovalPolicy

HERE = Path(__file__).resolve().parent


async def test_the_page_is_refused_without_the_token_and_opened_with_it(browser) -> None:
    app = DevApp(calculator())
    async with uvicorn_serving(app) as base:
        context = await browser.new_context()
        page = await context.new_page()
        refused = await page.goto(f"{base}/")
        assert refused is not None and refused.status == 401
        assert "?token=" in await page.inner_text("body")
        wrong = await page.goto(f"{base}/?token=not-the-token-at-all")
        assert wrong is not None and wrong.status == 401

        opened = await page.goto(f"{base}/?token={app.token}")
        assert opened is not None and opened.status == 200
        assert page.url == f"{base}/"  # the token left the address bar
        await page.wait_for_selector("body[data-ready=true]")
        assert await page.inner_text("#agent-name") == "calculator"
        # the cookie the page now holds: the page's scripts can't read it, no other site sends it
        [cookie] = await context.cookies()
        assert cookie["value"] == app.token
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert await page.evaluate("document.cookie") == ""
        await context.close()


async def test_a_message_gets_a_streamed_answer_and_the_tool_call_shows_in_the_timeline(
    browser,
) -> None:
    async with dev_page(browser, calculator()) as (page, _app):
        await send(page, "What is 2 + 3?")
        answer = page.locator(".message.assistant", has_text="The sum is 5.")
        await answer.wait_for()
        assert await page.locator(".message.user").first.inner_text() == "What is 2 + 3?"
        # the tool call, with its arguments and result, in the timeline
        tool = page.locator("#timeline .item.tool[data-call]")
        await tool.locator(".result", has_text="5").wait_for()
        assert json.loads(await tool.locator(".args").inner_text()) == {"a": 2, "b": 3}
        assert "tool add" in await tool.inner_text()
        # the run, its two turns (the model call asking for the tool, then the answer)
        run = page.locator("#timeline .run[data-status=finished]")
        await run.wait_for()
        assert await run.locator(".turn").count() == 2
        assert "The sum is 5." in await run.locator(".turn").nth(1).inner_text()
        # the request as sent, asked for when opened
        await run.locator("details.request summary").first.click()
        request = run.locator("details.request pre").first
        await request.locator("text=You add numbers.").wait_for()
        shown = json.loads(await request.inner_text())
        assert shown["exact"] is True
        assert [t["name"] for t in shown["tools"]] == ["add"]

        # the conversation goes on, and is listed
        await send(page, "And again?")
        await page.locator(".message.assistant", has_text="Still 5.").wait_for()
        await page.locator("#timeline .run[data-status=finished]").nth(1).wait_for()
        assert await page.locator("#conversations li").count() == 1

        # a new conversation starts empty
        await page.click("#new-conversation")
        assert await page.locator(".message").count() == 0


async def test_a_structured_output_is_shown_as_data(browser) -> None:
    async with dev_page(browser, forecaster()) as (page, _app):
        await send(page, "Weather in Paris?")
        output = page.locator(".message.output pre")
        await output.wait_for()
        assert json.loads(await output.inner_text()) == {"city": "Paris", "celsius": 21.5}
        timeline_output = page.locator("#timeline .run[data-status=finished] pre").last
        assert json.loads(await timeline_output.inner_text()) == {"city": "Paris", "celsius": 21.5}


async def test_the_timeline_shows_retries_sub_tasks_and_alerts(browser) -> None:
    async with dev_page(browser, manager()) as (page, _app):
        await send(page, "Capital of France?")
        await page.locator(".message.assistant", has_text="The researcher says: Paris.").wait_for()
        run = page.locator("#timeline .run[data-status=finished]")
        await run.wait_for()
        retry = run.locator(".item.retry")
        assert "ProviderUnavailable: overloaded" in await retry.inner_text()
        task = run.locator(".item.tool .item.task")  # nested under the call that ran it
        assert "sub-task researcher" in await task.inner_text()
        assert "What is the capital of France?" in await task.inner_text()
        assert "Paris is the capital." in await task.inner_text()
        alert = run.locator(".item.alert")
        assert "tool-watch: researcher returned" in await alert.inner_text()
        tool = run.locator(".item.tool[data-call]")
        assert "Paris is the capital." in await tool.locator(".result").inner_text()


async def test_a_failed_run_is_shown_in_the_chat_and_the_timeline(browser) -> None:
    logged: list[str] = []  # (the AG-UI client logs the failed run too)
    async with dev_page(browser, failing(), logged_errors=logged) as (page, _app):
        await send(page, "Hello?")
        error = page.locator(".message.error")
        await error.wait_for()
        assert "the model does not exist" in await error.inner_text()
        run = page.locator("#timeline .run[data-status=failed]")
        await run.wait_for()
        assert "InvalidRequest" in await run.inner_text()
        assert await page.locator(".message.error").count() == 1  # told once
        # the conversation takes the next message
        await send(page, "Again?")
        await page.locator("#timeline .run[data-status=failed]").nth(1).wait_for()


async def test_approving_a_pending_call_finishes_the_run(browser) -> None:
    async with dev_page(browser, deployer()) as (page, _app):
        await send(page, "Ship billing")
        interrupt = page.locator(".interrupt")
        await interrupt.wait_for()
        assert "deploy" in await interrupt.inner_text()
        assert "billing" in await interrupt.inner_text()
        await page.locator("#timeline .run[data-status=paused]").wait_for()
        await interrupt.get_by_role("button", name="Approve").click()
        await page.locator(".message.assistant", has_text="Billing is live.").wait_for()
        await page.locator("#timeline .run[data-status=finished]").wait_for()
        tool = page.locator("#timeline .item.tool[data-call]")
        await tool.locator(".result", has_text="billing deployed").wait_for()
        assert await page.locator(".interrupt").count() == 0


async def test_denying_with_a_reason_reaches_the_model(browser) -> None:
    async with dev_page(browser, deployer()) as (page, _app):
        await send(page, "Ship billing")
        interrupt = page.locator(".interrupt")
        await interrupt.wait_for()
        await interrupt.locator("input").fill("not on a Friday")
        await interrupt.get_by_role("button", name="Deny").click()
        await page.locator("#timeline .run[data-status=finished]").wait_for()
        tool = page.locator("#timeline .item.tool.failed")
        assert "not on a Friday" in await tool.inner_text()
        assert "denied" in await page.locator("#timeline").inner_text()


async def test_a_question_is_answered_in_the_page(browser) -> None:
    async with dev_page(browser, asker()) as (page, _app):
        await send(page, "Deploy it")
        interrupt = page.locator(".interrupt")
        await interrupt.wait_for()
        assert "Which region?" in await interrupt.inner_text()
        await interrupt.locator("input").fill("eu-west-1")
        await interrupt.get_by_role("button", name="Answer").click()
        await page.locator(
            ".message.assistant", has_text="Done: deploying to eu-west-1."
        ).wait_for()
        timeline = page.locator("#timeline")
        await timeline.locator(".run[data-status=finished]").wait_for()
        assert "Which region?" in await timeline.inner_text()
        assert "eu-west-1" in await timeline.locator(".item.human").last.inner_text()


async def test_a_stored_conversation_opens_replays_and_its_paused_run_is_answered(
    browser, sqlite_url
) -> None:
    from baton.backends.sql import open_backend

    backend = open_backend(sqlite_url)
    try:
        # Made before the page exists: one finished conversation, one paused on an approval.
        calc = calculator(backend.history, backend.storage)
        done = await calc.ask("What is 2 + 3?", conversation_id="conv-done")
        assert done.text == "The sum is 5."
        paused_agent = deployer(backend.history, backend.storage)
        with pytest.raises(AskSuspended):
            await paused_agent.ask(
                "Ship it", conversation_id="conv-paused", middleware=[ApprovalPolicy(suspend=True)]
            )
        stored = len(await backend.history.load("conv-done"))

        # (the agent that paused serves the page: its scripted model goes on where it stood)
        async with dev_page(browser, paused_agent) as (page, _):
            listed = page.locator("#conversations li")
            await listed.nth(1).wait_for()
            assert sorted(await listed.evaluate_all("(l) => l.map((e) => e.dataset.cid)")) == [
                "conv-done",
                "conv-paused",
            ]
            await page.click("#conversations li[data-cid=conv-done] .cid")
            await page.locator(".message.assistant", has_text="The sum is 5.").wait_for()
            await page.locator("#timeline .run[data-status=finished]").wait_for()
            # replay, step by step
            await page.click("#replay")
            assert await page.inner_text("#replay-position") == f"0 / {stored}"
            assert await page.locator("#timeline .run").count() == 0
            await page.click("#replay-step")
            assert await page.inner_text("#replay-position") == f"1 / {stored}"
            assert await page.locator("#timeline .run[data-status=running]").count() == 1
            await page.click("#replay-step")
            await page.click("#replay-step")  # the response asking for the tool
            assert await page.locator("#timeline .turn").count() == 1
            await page.click("#replay-end")
            await page.locator("#timeline .run[data-status=finished]").wait_for()
            await page.click("#replay")  # back to live

            # the run paused earlier: its approval is asked in the page, and answered
            await page.click("#conversations li[data-cid=conv-paused] .cid")
            interrupt = page.locator(".interrupt")
            await interrupt.wait_for()
            assert "deploy" in await interrupt.inner_text()
            await interrupt.get_by_role("button", name="Approve").click()
            await page.locator(".message.assistant", has_text="Billing is live.").wait_for()
        events = await backend.history.load("conv-paused")
        assert type(events[-1]).__name__ == "RunFinished"
    finally:
        await backend.aclose()


async def test_a_conversation_another_process_runs_is_watched_live(
    browser, redis_url, prefix
) -> None:
    from baton.backends.redis import RedisHistory, RedisStorage

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "redis_child.py"),
        redis_url,
        prefix,
        "conv-elsewhere",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        ready = await child.stdout.readline()
        assert ready.strip() == b"asked once", ready
        stores = RedisHistory(redis_url, prefix=prefix), RedisStorage(redis_url, prefix=prefix)
        async with dev_page(browser, calculator(*stores), redis=redis_url, redis_prefix=prefix) as (
            page,
            _app,
        ):
            row = page.locator("#conversations li[data-cid=conv-elsewhere]")
            await row.get_by_role("button", name="watch").click()
            await page.locator("#watching").wait_for()
            # the first ask, from the stream's start
            await page.locator("#timeline .run[data-status=finished]").wait_for()
            assert await page.locator("#timeline .run").count() == 1
            # the second, live, as the other process runs it
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            await page.locator("#timeline .run[data-status=finished]").nth(1).wait_for()
            second = page.locator("#timeline .run").nth(1)
            assert "Still 5." in await second.inner_text()
            await page.locator(".message.assistant", has_text="Still 5.").wait_for()
        assert (await child.stdout.readline()).strip() == b"asked twice"
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()
