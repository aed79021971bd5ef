"""The provider's response id reaches ``ModelResponse.response_id`` (streamed and not), and
``Telemetry`` reports it with the server the adapter called (GenAI semantic conventions)."""

from typing import Any
from urllib.parse import urlsplit

import pytest
import test_anthropic as anthropic_wire
import test_gemini as gemini_wire
import test_openai_chat as chat_wire
import test_openai_responses as responses_wire
from wire import WireServer

from baton import Agent, ModelResponse
from baton.models.base import ModelConfig

pytest.importorskip("openai")
pytest.importorskip("anthropic")


async def ask(config: ModelConfig, **options: Any) -> tuple[ModelResponse, Any]:
    agent = Agent("a", config=config, **options)
    try:
        reply = await agent.ask("Hi")
    finally:
        await config.aclose()  # type: ignore[attr-defined]
    return reply.response, reply


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_chat_keeps_the_completion_id(wire: WireServer, stream: bool) -> None:
    completion = chat_wire.completion("Hello")
    completion["id"] = "chatcmpl-abc"
    if stream:
        pieces = [chat_wire.chunk({"content": "Hello"}), chat_wire.chunk({}, finish="stop")]
        wire.reply_sse([{**p, "id": "chatcmpl-abc"} for p in pieces])
    else:
        wire.reply_json(completion)

    response, _ = await ask(chat_wire.config(wire, stream=stream))

    assert (response.text, response.response_id) == ("Hello", "chatcmpl-abc")


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_responses_keeps_the_response_id(wire: WireServer, stream: bool) -> None:
    output = [responses_wire.message("Hello")]
    body = responses_wire.response(output)
    body["id"] = "resp_abc"
    if stream:
        final = responses_wire.completed(output)
        final["response"]["id"] = "resp_abc"
        responses_wire.stream(wire, [*responses_wire.created(), final])
    else:
        wire.reply_json(body)

    response, _ = await ask(responses_wire.config(wire, stream=stream))

    assert (response.text, response.response_id) == ("Hello", "resp_abc")


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_keeps_the_message_id(wire: WireServer, stream: bool) -> None:
    if stream:
        events = anthropic_wire.streamed_text("Hello")
        name, start = events[0]
        events[0] = (name, {**start, "message": {**start["message"], "id": "msg_abc"}})
        wire.reply_sse(events, named=True, done=False)
    else:
        wire.reply_json({**anthropic_wire.message(anthropic_wire.text("Hello")), "id": "msg_abc"})

    response, _ = await ask(anthropic_wire.config(wire, stream=stream))

    assert (response.text, response.response_id) == ("Hello", "msg_abc")


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_keeps_the_response_id(wire: WireServer, stream: bool) -> None:
    body = gemini_wire.answer(gemini_wire.text("Hello"), meta=gemini_wire.usage())
    body["responseId"] = "gem-abc"
    if stream:
        wire.reply_sse([body], done=False)
    else:
        wire.reply_json(body)

    response, _ = await ask(gemini_wire.config(wire, stream=stream))

    assert (response.text, response.response_id) == ("Hello", "gem-abc")


async def test_a_model_without_an_id_leaves_it_unset(wire: WireServer) -> None:
    completion = chat_wire.completion("Hello")
    del completion["id"]
    wire.reply_json(completion)

    response, _ = await ask(chat_wire.config(wire, stream=False))

    assert response.response_id is None


async def test_telemetry_reports_the_response_id_and_the_server_called(wire: WireServer) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from baton.telemetry import Telemetry

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(
        tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    wire.reply_json({**chat_wire.completion("Hello"), "id": "chatcmpl-xyz"})

    await ask(chat_wire.config(wire, stream=False), middleware=[telemetry])

    server = urlsplit(wire.url)
    chat = next(s for s in exporter.get_finished_spans() if s.name == "chat gpt-test")
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.response.id"] == "chatcmpl-xyz"
    assert chat.attributes["server.address"] == server.hostname
    assert chat.attributes["server.port"] == server.port
    data = reader.get_metrics_data()
    assert data is not None
    durations = [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "gen_ai.client.operation.duration"
        for point in metric.data.data_points
    ]
    chat_point = next(p for p in durations if p.attributes["gen_ai.operation.name"] == "chat")
    assert chat_point.attributes["server.address"] == server.hostname
    assert chat_point.attributes["server.port"] == server.port
