import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from wire import WireServer, close_configs

from baton import Tool, tool


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    """Close the SDK clients a test's configs made (``wire.closing``), on its own loop."""
    yield
    await close_configs()


@pytest.fixture(scope="session")
def wire_server() -> Iterator[WireServer]:
    server = WireServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wire(wire_server: WireServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[WireServer]:
    """The loopback server, emptied for this test. Provider keys from the developer's shell
    are removed so that nothing can reach a real provider."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
        "DASHSCOPE_API_KEY",
        "OLLAMA_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    wire_server.reset()
    yield wire_server
    wire_server.reset()


@pytest.fixture
def delay() -> Tool:
    """A tool ``delay(ms)`` whose two parallel calls finish in reverse order: the first call
    waits until the second has finished (no clock involved; ``ms`` is only returned)."""
    second_done = asyncio.Event()
    started = 0

    @tool
    async def delay(ms: int) -> int:
        """Wait a while, then return ``ms``."""
        nonlocal started
        started += 1
        if started == 1:
            await asyncio.wait_for(second_done.wait(), 10)  # fails, not hangs, if run in turn
        else:
            second_done.set()
        return ms

    return delay
