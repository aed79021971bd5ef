"""A team's dev page in a real browser (headless Chromium through Playwright): each member's
answer signed in the chat, each member's turn a run in the timeline between the team's own
events (speaker selections with their reasons, the team's end), and a human member's turn
and a member's approval answered from the page."""

from __future__ import annotations

from devui_agents import crew, edited, released
from devui_support import dev_page, send


async def test_a_team_chat_and_timeline_show_each_member_turn(browser) -> None:
    async with dev_page(browser, crew()) as (page, _app):
        assert await page.inner_text("#agent-tools") == "team of writer, critic"
        await send(page, "A haiku about tea.")
        critic = page.locator(".message.assistant[data-author=critic]", has_text="Too short.")
        await critic.wait_for()
        writer = page.locator(".message.assistant[data-author=writer]")
        assert await writer.inner_text() == "A haiku on tea."
        # the team's end arrives after its last member's run closed
        await page.locator("#timeline .item.team", has_text="MaxTurns(2)").wait_for()
        runs = page.locator("#timeline .run[data-status=finished]")
        assert await runs.count() == 2
        assert [await runs.nth(i).locator(".head strong").inner_text() for i in range(2)] == [
            "writer",
            "critic",
        ]
        lines = await page.locator("#timeline > .item.team .kind").all_inner_texts()
        assert lines == ["team crew", "→ writer", "→ critic", "team crew done"]
        reason = page.locator("#timeline > .item.team", has_text="→ writer")
        assert "turn 1: first in order" in await reason.inner_text()


async def test_a_human_members_turn_is_answered_from_the_page(browser) -> None:
    async with dev_page(browser, edited()) as (page, _app):
        await send(page, "Write.")
        await page.locator(".message.assistant", has_text="Draft one.").wait_for()
        await page.locator("#interrupts textarea, #interrupts input").first.wait_for()
        await page.locator("#interrupts textarea, #interrupts input").first.fill("Shorter.")
        await page.locator("#interrupts button", has_text="Answer").first.click()
        await page.locator(".message.assistant", has_text="Draft two.").wait_for()
        await page.locator("#timeline .item.team", has_text="MaxTurns(3)").wait_for()


async def test_a_members_approval_is_answered_from_the_page(browser) -> None:
    async with dev_page(browser, released()) as (page, _app):
        await send(page, "Ship billing")
        interrupt = page.locator(".interrupt")
        await interrupt.wait_for()
        assert "deploy" in await interrupt.inner_text()
        await interrupt.get_by_role("button", name="Approve").click()
        deployer = page.locator(".message.assistant[data-author=deployer]", has_text="live.")
        await deployer.wait_for()
        await page.locator(".message.assistant[data-author=reviewer]").wait_for()
        await page.locator("#timeline .item.team", has_text="MaxTurns(2)").wait_for()
        tool = page.locator("#timeline .item.tool[data-call]")
        await tool.locator(".result", has_text="billing deployed").wait_for()
        assert await page.locator(".interrupt").count() == 0
