"""OpenTelemetry spans and metrics (GenAI semantic conventions), checked with the SDK's in-memory
exporter and metric reader."""

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, SpanKind, StatusCode

from baton import Agent, Context, ModelResponse, ModelSettings, tool
from baton.errors import ConfigError, RateLimited
from baton.events import ApprovalRequest, HumanInputRequest, HumanMessage, Usage
from baton.hitl import ApprovalPolicy
from baton.providers.anthropic import AnthropicConfig
from baton.providers.ollama import OllamaConfig
from baton.providers.openai import OpenAIConfig
from baton.providers.vertex import VertexConfig
from baton.telemetry import CAPTURE_CONTENT_ENV, Telemetry
from baton.testing import ScriptedModel, call, chunks

GUARD = 5.0  # a failing test must fail, not hang

CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def telemetry(self, **options: Any) -> Telemetry:
        return Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [s.name for s in self.spans]
        return found[0]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found


@pytest.fixture
def otel() -> Otel:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return Otel(exporter, reader, tracer_provider, MeterProvider(metric_readers=[reader]))


def calc(otel: Otel, *turns: Any, **telemetry: Any) -> Agent:
    model = ScriptedModel(*turns, model="gpt-test")
    return Agent(
        "calc",
        prompt="You add numbers.",
        config=model,
        tools=[add],
        middleware=[otel.telemetry(**telemetry)],
    )


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def responses(reply: Any) -> list[ModelResponse]:
    return [e for e in reply.events if isinstance(e, ModelResponse)]


# -- spans -----------------------------------------------------------------------------------------


async def test_an_ask_with_a_tool_round_makes_one_agent_span_with_chat_and_tool_children(otel):
    agent = calc(otel, call("add", a=2, b=3), "5")

    reply = await agent.ask(
        "What is 2 + 3?", settings=ModelSettings(temperature=0.2, max_tokens=99)
    )

    # spans are exported as they end: chat, tool, chat, then the ask
    assert [s.name for s in otel.spans] == [
        "chat gpt-test",
        "execute_tool add",
        "chat gpt-test",
        "invoke_agent calc",
    ]
    first, tool_span, second, ask = otel.spans
    assert ask.parent is None
    for child in (first, tool_span, second):
        assert parent_of(child) == ask.context.span_id
        assert child.context.trace_id == ask.context.trace_id
    assert (ask.kind, first.kind, tool_span.kind) == (
        SpanKind.INTERNAL,
        SpanKind.CLIENT,
        SpanKind.INTERNAL,
    )
    assert all(s.status.status_code is StatusCode.UNSET for s in otel.spans)

    answer_1, answer_2 = responses(reply)
    assert dict(ask.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "scripted",
        "gen_ai.agent.name": "calc",
        "gen_ai.conversation.id": reply.conversation_id,
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": reply.usage.input_tokens,
        "gen_ai.usage.output_tokens": reply.usage.output_tokens,
        "baton.run.id": reply.run_id,
    }
    assert dict(first.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "scripted",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.agent.name": "calc",
        "gen_ai.conversation.id": reply.conversation_id,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 99,
        "gen_ai.response.model": "gpt-test",
        "gen_ai.response.finish_reasons": ("tool_calls",),
        "gen_ai.usage.input_tokens": answer_1.usage.input_tokens,
        "gen_ai.usage.output_tokens": answer_1.usage.output_tokens,
    }
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert second.attributes["gen_ai.usage.input_tokens"] == answer_2.usage.input_tokens
    assert second.attributes["gen_ai.usage.output_tokens"] == answer_2.usage.output_tokens
    assert dict(tool_span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": answer_1.tool_calls[0].id,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Add two integers.",
        "gen_ai.conversation.id": reply.conversation_id,
    }


async def test_concurrent_tool_calls_each_nest_their_own_work(otel):
    tracer = otel.tracer_provider.get_tracer("test")
    both_running = asyncio.Barrier(2)

    @tool
    async def lookup(key: str) -> str:
        """Look a key up."""
        await both_running.wait()  # the two calls really overlap
        with tracer.start_as_current_span(f"inside {key}"):
            await asyncio.sleep(0)
        return key.upper()

    model = ScriptedModel([call("lookup", key="a"), call("lookup", key="b")], "done")
    agent = Agent("finder", config=model, tools=[lookup], middleware=[otel.telemetry()])

    async with asyncio.timeout(GUARD):
        reply = await agent.ask("look up a and b")

    ask = otel.one("invoke_agent finder")
    by_call = {s.attributes["gen_ai.tool.call.id"]: s for s in otel.named("execute_tool lookup")}
    assert len(by_call) == 2
    for tool_call in responses(reply)[0].tool_calls:
        key = json.loads(tool_call.arguments)["key"]
        tool_span = by_call[tool_call.id]
        assert parent_of(tool_span) == ask.context.span_id
        assert parent_of(otel.one(f"inside {key}")) == tool_span.context.span_id


async def test_concurrent_asks_make_separate_traces(otel):
    model = ScriptedModel(call("add", a=1, b=1), "2", per_conversation=True)
    agent = Agent("calc", config=model, tools=[add], middleware=[otel.telemetry()])

    replies = await asyncio.gather(agent.ask("1 + 1?"), agent.ask("1 + 1, again?"))

    asks = otel.named("invoke_agent calc")
    assert len(asks) == 2 and len(otel.spans) == 8
    for reply in replies:
        [ask] = [a for a in asks if a.attributes["gen_ai.conversation.id"] == reply.conversation_id]
        children = [s for s in otel.spans if s.context.trace_id == ask.context.trace_id]
        assert sorted(s.name for s in children) == [
            "chat scripted",
            "chat scripted",
            "execute_tool add",
            "invoke_agent calc",
        ]
        assert all(parent_of(s) == ask.context.span_id for s in children if s is not ask)
        assert all(
            s.attributes["gen_ai.conversation.id"] == reply.conversation_id for s in children
        )


async def test_a_sub_agent_nests_under_the_tool_call_that_runs_it(otel):
    telemetry = otel.telemetry()
    helper = Agent("helper", config=ScriptedModel("4", model="small"), middleware=[telemetry])
    boss = Agent("boss", config=ScriptedModel(call("helper", task="2 + 2"), "It is 4"))

    await boss.ask("What is 2 + 2?", tools=[helper.as_tool()], middleware=[telemetry])

    boss_span = otel.one("invoke_agent boss")
    tool_span = otel.one("execute_tool helper")
    helper_span = otel.one("invoke_agent helper")
    assert parent_of(tool_span) == boss_span.context.span_id
    assert parent_of(helper_span) == tool_span.context.span_id
    assert parent_of(otel.one("chat small")) == helper_span.context.span_id
    assert [parent_of(s) for s in otel.named("chat scripted")] == [boss_span.context.span_id] * 2


async def test_a_sub_agent_without_telemetry_is_traced_by_its_parents(otel):
    """Issue 11, point 14: Telemetry is inherited by the sub-agents an ask runs (as_tool,
    run_subtasks), once: a child that has the same Telemetry is not traced twice."""
    telemetry = otel.telemetry()
    helper = Agent("helper", config=ScriptedModel("4", model="small"))  # no Telemetry
    boss = Agent(
        "boss",
        config=ScriptedModel(call("helper", task="2 + 2"), "It is 4"),
        tools=[helper.as_tool()],
        middleware=[telemetry],
    )
    await boss.ask("What is 2 + 2?")
    helper_span = otel.one("invoke_agent helper")
    assert parent_of(helper_span) == otel.one("execute_tool helper").context.span_id
    assert parent_of(otel.one("chat small")) == helper_span.context.span_id

    # A child with a Telemetry of its own (another instance) keeps its own: one span, not two.
    otel.exporter.clear()
    own = Agent("helper", config=ScriptedModel("4", model="small"), middleware=[otel.telemetry()])
    boss = Agent(
        "boss",
        config=ScriptedModel(call("helper", task="2 + 2"), "It is 4"),
        tools=[own.as_tool()],
        middleware=[telemetry],
    )
    await boss.ask("What is 2 + 2?")
    assert otel.one("invoke_agent helper") and otel.one("chat small")


async def test_the_response_id_and_a_requested_output_format_are_on_the_spans(otel):
    @dataclass
    class Total:
        total: int

    answer = ModelResponse(
        '{"total": 5}', usage=Usage(1, 7, 3), finish_reason="stop", response_id="resp-42"
    )
    agent = Agent(
        "calc",
        config=ScriptedModel(answer, model="gpt-test"),
        response_schema=Total,
        middleware=[otel.telemetry()],
    )

    reply = await agent.ask("2 + 3?")

    assert reply.output == Total(5)
    chat, ask = otel.spans
    assert chat.attributes["gen_ai.response.id"] == "resp-42"
    assert chat.attributes["gen_ai.output.type"] == "json"
    assert ask.attributes["gen_ai.response.id"] == "resp-42"
    # a scripted model calls no server
    assert not {"server.address", "server.port"} & set(chat.attributes)


async def test_a_plain_text_ask_has_no_output_type_nor_response_id(otel):
    await calc(otel, "5").ask("2 + 3?")

    chat = otel.one("chat gpt-test")
    assert "gen_ai.output.type" not in chat.attributes
    assert "gen_ai.response.id" not in chat.attributes


def test_the_server_is_the_base_url_or_the_providers_endpoint():
    from baton.telemetry import _server

    def server(config: Any) -> tuple[Any, Any]:
        found = _server(config)
        return found.get("server.address"), found.get("server.port")

    assert server(OpenAIConfig("gpt-x", api_key="k")) == ("api.openai.com", 443)
    assert server(AnthropicConfig("claude-x", api_key="k")) == ("api.anthropic.com", 443)
    proxied = OpenAIConfig("gpt-x", api_key="k", base_url="http://proxy.local:8080/v1")
    assert server(proxied) == ("proxy.local", 8080)
    assert server(OpenAIConfig("gpt-x", api_key="k", base_url="http://proxy.local/v1")) == (
        "proxy.local",
        80,
    )
    assert server(OllamaConfig("llama3", base_url="http://127.0.0.1:11434")) == (
        "127.0.0.1",
        11434,
    )
    assert server(ScriptedModel("hi")) == (None, None)
    vertex = VertexConfig("gemini-x", project="p", location="europe-west4")
    assert server(vertex) == ("europe-west4-aiplatform.googleapis.com", 443)
    assert server(VertexConfig("gemini-x", project="p", location="global")) == (
        "aiplatform.googleapis.com",
        443,
    )


# -- human input -----------------------------------------------------------------------------------


@tool
async def ask_city(context: Context) -> str:
    """Ask the user for a city."""
    return await context.input("Which city?")


async def test_a_human_input_wait_is_a_span_under_the_tool_call_that_asked(otel):
    def hook(request: Any, context: Context) -> str:
        return "Paris"

    agent = Agent(
        "guide",
        config=ScriptedModel(call("ask_city"), "Paris it is"),
        tools=[ask_city],
        hitl=hook,
        middleware=[otel.telemetry()],
    )

    reply = await agent.ask("weather?")

    request = next(e for e in reply.events if isinstance(e, HumanInputRequest))
    wait = otel.one("human_input guide")
    tool_span = otel.one("execute_tool ask_city")
    assert parent_of(wait) == tool_span.context.span_id
    assert dict(wait.attributes) == {
        "baton.human_input.kind": "input",
        "baton.human_input.request_id": request.request_id,
        "gen_ai.agent.name": "guide",
        "gen_ai.conversation.id": reply.conversation_id,
        "gen_ai.tool.call.id": request.call_id,
    }
    assert wait.status.status_code is StatusCode.UNSET


async def test_an_approval_wait_records_the_tool_and_the_answer(otel):
    def hook(request: Any, context: Context) -> HumanMessage:
        return HumanMessage("no", approved=False)

    agent = Agent(
        "calc",
        config=ScriptedModel(call("add", a=2, b=3), "denied"),
        tools=[add],
        hitl=hook,
        middleware=[otel.telemetry(), ApprovalPolicy(lambda _: True)],
    )

    reply = await agent.ask("2 + 3?")

    request = next(e for e in reply.events if isinstance(e, ApprovalRequest))
    wait = otel.one("human_input calc")
    assert wait.attributes["baton.human_input.kind"] == "approval"
    assert wait.attributes["gen_ai.tool.name"] == "add"
    assert wait.attributes["gen_ai.tool.call.id"] == request.call.id
    assert wait.attributes["baton.human_input.approved"] is False


# -- trace context ---------------------------------------------------------------------------------


async def test_an_ask_joins_the_trace_of_an_incoming_traceparent(otel):
    from opentelemetry import context as otel_context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    token = otel_context.attach(TraceContextTextMapPropagator().extract(headers))
    try:
        await calc(otel, "5").ask("2 + 3?")
    finally:
        otel_context.detach(token)

    ask = otel.one("invoke_agent calc")
    assert ask.context.trace_id == int(trace_id, 16)
    assert parent_of(ask) == int(parent_id, 16)
    assert parent_of(otel.one("chat gpt-test")) == ask.context.span_id


# -- failures --------------------------------------------------------------------------------------


async def test_a_failing_model_call_marks_the_chat_and_the_ask_as_errors(otel):
    agent = calc(otel, RateLimited("slow down", provider="scripted"))

    with pytest.raises(RateLimited):
        await agent.ask("What is 2 + 3?")

    chat, ask = otel.spans
    assert (chat.name, ask.name) == ("chat gpt-test", "invoke_agent calc")
    for span in (chat, ask):
        assert span.status.status_code is StatusCode.ERROR
        assert "slow down" in (span.status.description or "")
        assert span.attributes["error.type"] == "RateLimited"
        assert "gen_ai.response.model" not in span.attributes
    assert [e.name for e in chat.events] == ["exception"]
    durations = otel.points("gen_ai.client.operation.duration")
    assert sorted(p.attributes["gen_ai.operation.name"] for p in durations) == [
        "chat",
        "invoke_agent",
    ]
    assert all(p.attributes["error.type"] == "RateLimited" for p in durations)
    assert otel.points("gen_ai.client.token.usage") == []


async def test_a_tool_error_marks_only_the_tool_span(otel):
    @tool
    def divide(a: int, b: int) -> float:
        """Divide a by b."""
        return a / b

    model = ScriptedModel(call("divide", a=1, b=0), "can't")
    agent = Agent("calc", config=model, tools=[divide], middleware=[otel.telemetry()])

    await agent.ask("1 / 0?")

    tool_span = otel.one("execute_tool divide")
    assert tool_span.status.status_code is StatusCode.ERROR
    assert tool_span.attributes["error.type"] == "ZeroDivisionError"
    assert otel.one("invoke_agent calc").status.status_code is StatusCode.UNSET


async def test_a_cancelled_ask_ends_its_spans_as_cancelled(otel):
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Take forever."""
        started.set()
        await asyncio.Event().wait()
        return "unreachable"

    agent = Agent("waiter", config=ScriptedModel(call("slow")), tools=[slow])
    task = asyncio.create_task(agent.ask("go", middleware=[otel.telemetry()]))
    async with asyncio.timeout(GUARD):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    tool_span = otel.one("execute_tool slow")
    ask = otel.one("invoke_agent waiter")
    assert parent_of(tool_span) == ask.context.span_id
    for span in (tool_span, ask):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == "CancelledError"
    [duration] = [
        p
        for p in otel.points("gen_ai.client.operation.duration")
        if p.attributes["gen_ai.operation.name"] == "invoke_agent"
    ]
    assert duration.attributes["error.type"] == "CancelledError"


# -- content ---------------------------------------------------------------------------------------


async def test_message_content_is_not_captured_by_default(otel, monkeypatch):
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    agent = calc(otel, call("add", a=2, b=3), "5")

    await agent.ask("What is 2 + 3?")

    assert len(otel.spans) == 4
    for span in otel.spans:
        assert not CONTENT_KEYS & set(span.attributes), span.name
        assert "What is" not in json.dumps(dict(span.attributes), default=str)


async def test_message_content_is_captured_when_opted_in(otel):
    agent = calc(otel, call("add", a=2, b=3), "5", capture_content=True)

    reply = await agent.ask("What is 2 + 3?")

    first, tool_span, second, ask = otel.spans
    tool_call = responses(reply)[0].tool_calls[0]
    question = {"role": "user", "parts": [{"type": "text", "content": "What is 2 + 3?"}]}
    asked_tool = {
        "role": "assistant",
        "parts": [
            {"type": "tool_call", "id": tool_call.id, "name": "add", "arguments": {"a": 2, "b": 3}}
        ],
    }
    answered_tool = {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": tool_call.id, "response": "5"}],
    }
    final = {
        "role": "assistant",
        "parts": [{"type": "text", "content": "5"}],
        "finish_reason": "stop",
    }
    instructions = json.loads(first.attributes["gen_ai.system_instructions"])
    assert instructions[0]["type"] == "text"
    assert "You add numbers." in instructions[0]["content"]
    assert json.loads(first.attributes["gen_ai.input.messages"]) == [question]
    assert json.loads(first.attributes["gen_ai.output.messages"]) == [
        {**asked_tool, "finish_reason": "tool_calls"}
    ]
    assert json.loads(second.attributes["gen_ai.input.messages"]) == [
        question,
        asked_tool,
        answered_tool,
    ]
    assert json.loads(second.attributes["gen_ai.output.messages"]) == [final]
    assert tool_span.attributes["gen_ai.tool.call.arguments"] == '{"a":2,"b":3}'
    assert tool_span.attributes["gen_ai.tool.call.result"] == "5"
    assert json.loads(ask.attributes["gen_ai.input.messages"]) == [question]
    assert json.loads(ask.attributes["gen_ai.output.messages"]) == [final]


async def test_the_environment_variable_opts_in_unless_told_otherwise(otel, monkeypatch):
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    assert otel.telemetry().capture_content is True
    assert otel.telemetry(capture_content=False).capture_content is False
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "false")
    assert otel.telemetry().capture_content is False

    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "TRUE")
    agent = calc(otel, "hi")
    await agent.ask("hello")
    assert "gen_ai.input.messages" in otel.one("chat gpt-test").attributes


# -- metrics ---------------------------------------------------------------------------------------


async def test_token_usage_and_duration_metrics(otel):
    agent = calc(otel, call("add", a=2, b=3), "5")

    reply = await agent.ask("What is 2 + 3?")

    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "scripted",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test",
    }
    tokens = {
        p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")
    }
    assert set(tokens) == {"input", "output"}
    for kind, point in tokens.items():
        assert dict(point.attributes) == {**base, "gen_ai.token.type": kind}
        assert point.count == 2
    assert tokens["input"].sum == reply.usage.input_tokens
    assert tokens["output"].sum == reply.usage.output_tokens
    assert tuple(tokens["input"].explicit_bounds[:3]) == (1, 4, 16)  # the advisory buckets

    durations = {
        p.attributes["gen_ai.operation.name"]: p
        for p in otel.points("gen_ai.client.operation.duration")
    }
    assert dict(durations["chat"].attributes) == base
    assert durations["chat"].count == 2
    assert dict(durations["invoke_agent"].attributes) == {
        **base,
        "gen_ai.operation.name": "invoke_agent",
    }
    assert durations["invoke_agent"].count == 1
    assert durations["invoke_agent"].sum >= 0
    units = {
        m.name: m.unit
        for rm in otel.reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert units == {
        "gen_ai.client.token.usage": "{token}",
        "gen_ai.client.operation.duration": "s",
        "gen_ai.client.operation.time_to_first_chunk": "s",  # "5" was streamed
    }


async def test_time_to_first_chunk_is_recorded_per_streamed_call(otel):
    agent = calc(otel, chunks(call("add", a=2, b=3)), chunks("5"))

    await agent.ask("What is 2 + 3?")

    [point] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert point.count == 2  # the call forming, then the text
    assert point.sum > 0
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "scripted",
        "gen_ai.request.model": "gpt-test",
        "gen_ai.response.model": "gpt-test",
    }


async def test_an_unstreamed_call_has_no_time_to_first_chunk(otel):
    agent = calc(otel, chunks(call("add", a=2, b=3)), chunks("5"))

    reply = await agent.ask("What is 2 + 3?", settings=ModelSettings(stream=False))

    assert reply.text == "5"
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []
    assert len(otel.points("gen_ai.client.operation.duration")) == 2  # chat, invoke_agent


# -- cost and packaging ----------------------------------------------------------------------------


async def test_without_an_sdk_the_middleware_is_inert():
    telemetry = Telemetry(tracer_provider=NoOpTracerProvider(), capture_content=True)
    agent = Agent("calc", config=ScriptedModel(call("add", a=2, b=3), "5"), tools=[add])

    reply = await agent.ask("2 + 3?", middleware=[telemetry])

    assert reply.text == "5"


def test_importing_baton_does_not_import_opentelemetry():
    code = (
        "import sys, baton, baton.telemetry, baton.testing\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'opentelemetry']\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_opentelemetry_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)

    with pytest.raises(ConfigError, match=r"pip install 'baton-agents\[otel\]'"):
        Telemetry()
