from collections.abc import Iterator

import pytest
from wire import WireServer


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
