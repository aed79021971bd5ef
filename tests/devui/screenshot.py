"""The screenshot of the dev page in the docs (``docs/devui.png``): a conversation with a
streamed answer and a tool call, its timeline, and a pending approval.

    .venv/bin/python tests/devui/screenshot.py docs/devui.png
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from devui_agents import add, deploy  # noqa: E402
from devui_support import CHROMIUM, dev_page, send  # noqa: E402

from baton import Agent  # noqa: E402
from baton.history import MemoryHistory, MemoryStorage  # noqa: E402
from baton.testing import ScriptedModel, call, chunks, reasoning  # noqa: E402


def agent() -> Agent[str]:
    model = ScriptedModel(
        chunks(
            reasoning("The user wants a sum, then a deploy. "),
            "Let me add those. ",
            call("add", a=2, b=3),
        ),
        chunks("2 + 3 = 5. ", "Now deploying billing. ", call("deploy", service="billing")),
        chunks("Billing is live, and the sum is 5."),
    )
    return Agent(
        "assistant",
        "You add numbers and deploy services.",
        config=model,
        tools=[add, deploy],
        history=MemoryHistory(),
        storage=MemoryStorage(),
    )


async def main(target: Path) -> None:
    from playwright.async_api import async_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        async with dev_page(browser, agent()) as (page, _app):
            await send(page, "Add 2 and 3, then deploy billing.")
            await page.locator(".interrupt").wait_for()
            await page.locator("#timeline details.request summary").first.click()
            await page.locator("#timeline details.request pre").first.wait_for()
            await page.eval_on_selector("#timeline", "timeline => { timeline.scrollTop = 0; }")
            await page.screenshot(path=str(target))
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/devui.png")))
