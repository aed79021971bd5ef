"""The Gemini API through the official google-genai SDK against the loopback wire server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from wire import WireServer

from baton import Agent, Image, Tool, tool
from baton.errors import (
    AuthenticationFailed,
    ConnectionLost,
    ContentFiltered,
    ContextLengthExceeded,
    InvalidRequest,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    Retry,
)
from baton.events import (
    Data,
    Document,
    FileUrl,
    ModelResponse,
    OutputRejected,
    ReasoningChunk,
    TextChunk,
    ToolCallError,
    ToolCallResult,
    from_dict,
    to_dict,
)
from baton.providers.gemini import GeminiConfig

pytest.importorskip("google.genai")


def config(wire: WireServer, **kwargs: Any) -> GeminiConfig:
    return GeminiConfig("gemini-test", api_key="g-test", base_url=wire.url, max_retries=0, **kwargs)


def usage(
    prompt: int = 11, candidates: int = 3, *, thoughts: int = 0, cached: int = 0
) -> dict[str, Any]:
    body = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
    }
    if thoughts:
        body["thoughtsTokenCount"] = thoughts
    if cached:
        body["cachedContentTokenCount"] = cached
    return body


def answer(
    *parts: dict[str, Any],
    finish: str | None = "STOP",
    meta: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One GenerateContentResponse (a whole answer, or one chunk of a stream)."""
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    candidate.update(extra)
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-test-001"}
    if meta is not None:
        body["usageMetadata"] = meta
    return body


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"text": value, **extra}


def fn(name: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": args}, **extra}


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@tool
async def sqrt(x: float) -> float:
    """Square root of a non-negative number."""
    if x < 0:
        raise Retry("x must not be negative")
    return float(x**0.5)


async def test_plain_reply_non_streaming(wire: WireServer) -> None:
    wire.reply_json(answer(text("Hello there"), meta=usage(11, 3)))
    agent = Agent("a", "Be brief.", config=config(wire, stream=False, temperature=0.3, seed=7))
    reply = await agent.ask("Hi")
    assert reply.text == "Hello there"
    assert reply.usage.input_tokens == 11 and reply.usage.output_tokens == 3
    assert reply.response.model == "gemini-test-001"
    assert reply.response.finish_reason == "STOP"
    assert reply.response.provider == "gemini"
    request = wire.last
    assert request.path.endswith("/models/gemini-test:generateContent")
    assert request.headers["x-goog-api-key"] == "g-test"
    body = request.json
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["generationConfig"]["temperature"] == 0.3
    assert body["generationConfig"]["seed"] == 7
    assert "tools" not in body and "toolConfig" not in body


async def test_streamed_reply_emits_chunks_and_assembles_text(wire: WireServer) -> None:
    wire.reply_sse(
        [
            answer(text("Hel"), finish=None),
            answer(text("lo"), finish=None),
            answer(text(""), meta=usage(20, 5, cached=8)),
        ],
        done=False,
    )
    agent = Agent("a", config=config(wire))
    async with agent.run("Hi") as run:
        pieces = [e.text async for e in run if isinstance(e, TextChunk)]
        reply = await run.result()
    assert pieces == ["Hel", "lo"]
    assert reply.text == "Hello"
    assert reply.response.finish_reason == "STOP"
    assert reply.response.provider_data is None
    assert reply.usage.input_tokens == 20 and reply.usage.cache_read_tokens == 8
    assert wire.last.path.endswith("/models/gemini-test:streamGenerateContent")
    assert "alt=sse" in wire.last.query


async def test_one_tool_round_sends_declarations_and_results(wire: WireServer) -> None:
    wire.reply_json(answer(fn("add", {"a": 2, "b": 3}), meta=usage()))
    wire.reply_json(answer(text("5"), meta=usage()))
    agent = Agent("a", config=config(wire, stream=False), tools=[add])
    reply = await agent.ask("2+3?")
    assert reply.text == "5"
    first, second = (r.json for r in wire.requests)
    declarations = first["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["add"]
    assert declarations[0]["description"] == "Add two integers."
    assert declarations[0]["parameters_json_schema"] == add.parameters
    assert second["contents"] == [
        {"role": "user", "parts": [{"text": "2+3?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "add", "response": {"result": "5"}}}],
        },
    ]


async def test_parallel_function_calls_split_across_chunks(wire: WireServer) -> None:
    wire.reply_sse(
        [
            answer(fn("add", {"a": 2, "b": 3}), finish=None),
            answer(text(""), finish=None),
            answer(fn("mul", {"a": 4, "b": 5}), meta=usage()),
        ],
        done=False,
    )
    wire.reply_sse([answer(text("5 and 20"), meta=usage())], done=False)
    agent = Agent("a", config=config(wire), tools=[add, mul])
    reply = await agent.ask("compute")
    assert reply.text == "5 and 20"
    results = {e.name: (e.call_id, e.value) for e in reply.events if isinstance(e, ToolCallResult)}
    assert {name: value for name, (_, value) in results.items()} == {"add": 5, "mul": 20}
    ids = [call_id for call_id, _ in results.values()]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)
    contents = wire.requests[1].json["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "add", "args": {"a": 2, "b": 3}}},
            {"functionCall": {"name": "mul", "args": {"a": 4, "b": 5}}},
        ],
    }
    # Both responses in one user turn, in the calls' order.
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "add", "response": {"result": "5"}}},
            {"functionResponse": {"name": "mul", "response": {"result": "20"}}},
        ],
    }


async def test_parallel_calls_to_one_function_get_results_in_call_order(
    wire: WireServer, delay: Tool
) -> None:
    # No call ids on the wire: Gemini pairs results with calls by position.
    wire.reply_json(answer(fn("delay", {"ms": 80}), fn("delay", {"ms": 10}), meta=usage()))
    wire.reply_json(answer(text("done"), meta=usage()))
    reply = await Agent("a", config=config(wire, stream=False), tools=[delay]).ask("wait")
    assert [e.value for e in reply.events if isinstance(e, ToolCallResult)] == [10, 80]
    assert wire.last.json["contents"][2]["parts"] == [
        {"functionResponse": {"name": "delay", "response": {"result": "80"}}},
        {"functionResponse": {"name": "delay", "response": {"result": "10"}}},
    ]


async def test_tool_errors_are_sent_as_error_responses(wire: WireServer) -> None:
    wire.reply_json(answer(fn("sqrt", {"x": -4}), meta=usage()))
    wire.reply_json(answer(text("Cannot."), meta=usage()))
    reply = await Agent("a", config=config(wire, stream=False), tools=[sqrt]).ask("sqrt(-4)?")
    assert any(isinstance(e, ToolCallError) for e in reply.events)
    last_turn = wire.last.json["contents"][-1]
    assert last_turn == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "sqrt", "response": {"error": "x must not be negative"}}}
        ],
    }


async def test_call_ids_given_by_the_api_are_kept_and_sent_back(wire: WireServer) -> None:
    call = {"functionCall": {"id": "fc-7", "name": "add", "args": {"a": 1, "b": 2}}}
    wire.reply_json(answer(call, meta=usage()))
    wire.reply_json(answer(text("3"), meta=usage()))
    reply = await Agent("a", config=config(wire, stream=False), tools=[add]).ask("1+2?")
    assert [e.call_id for e in reply.events if isinstance(e, ToolCallResult)] == ["fc-7"]
    contents = wire.last.json["contents"]
    assert contents[1]["parts"] == [call]
    assert contents[2]["parts"][0]["functionResponse"]["id"] == "fc-7"


class City(BaseModel):
    name: str
    population: int


async def test_structured_output_sends_the_json_schema(wire: WireServer) -> None:
    wire.reply_json(answer(text('{"name": "Lisbon", "population": 545000}'), meta=usage()))
    agent = Agent("a", config=config(wire, stream=False), response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Lisbon", population=545000)
    generation = wire.last.json["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    assert generation["responseJsonSchema"] == City.model_json_schema()


async def test_rejected_output_goes_back_as_user_text(wire: WireServer) -> None:
    wire.reply_json(answer(text('{"name": "Oslo"}'), meta=usage()))
    wire.reply_json(answer(text('{"name": "Oslo", "population": 700000}'), meta=usage()))
    reply = await Agent("a", config=config(wire, stream=False), response_schema=City).ask("City")
    assert reply.output.population == 700000
    rejected = next(e for e in reply.events if isinstance(e, OutputRejected))
    contents = wire.last.json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[-1]["parts"] == [{"text": rejected.message}]


async def test_structured_output_prompted_without_native_support(wire: WireServer) -> None:
    wire.reply_json(answer(text('{"name": "Oslo", "population": 700000}'), meta=usage()))
    cfg = config(wire, stream=False, native_output=False)
    reply = await Agent("a", "Be brief.", config=cfg, response_schema=City).ask("A city")
    assert reply.output.name == "Oslo"
    body = wire.last.json
    assert "responseMimeType" not in body.get("generationConfig", {})
    instruction = body["systemInstruction"]["parts"][0]["text"]
    assert instruction.startswith("Be brief.") and '"population"' in instruction


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-1.5-pro"])
async def test_models_before_3_prompt_for_output_when_tools_are_offered(
    wire: WireServer, model: str
) -> None:
    # They refuse JSON output together with function calling: prompted mode, automatically.
    wire.reply_json(answer(fn("add", {"a": 2, "b": 3}), meta=usage()))
    wire.reply_json(answer(text('{"name": "Five", "population": 5}'), meta=usage()))
    cfg = GeminiConfig(model, api_key="g-test", base_url=wire.url, max_retries=0, stream=False)
    agent = Agent("a", "Be brief.", config=cfg, tools=[add], response_schema=City)
    reply = await agent.ask("A city")
    assert reply.output == City(name="Five", population=5)
    for request in wire.requests:
        body = request.json
        assert body["tools"] and "responseMimeType" not in body.get("generationConfig", {})
        instruction = body["systemInstruction"]["parts"][0]["text"]
        assert instruction.startswith("Be brief.\n\n") and '"population"' in instruction


@pytest.mark.parametrize(
    ("model", "tools", "native_output"),
    [
        ("gemini-2.5-flash", [], None),  # no tools on offer
        ("gemini-3-pro-preview", [add], None),
        ("gemini-2.5-flash", [add], True),  # asked for explicitly
    ],
)
async def test_json_output_stays_native_without_tools_from_3_on_or_when_asked(
    wire: WireServer, model: str, tools: list[Tool], native_output: bool | None
) -> None:
    wire.reply_json(answer(text('{"name": "Oslo", "population": 7}'), meta=usage()))
    cfg = GeminiConfig(
        model,
        api_key="g-test",
        base_url=wire.url,
        max_retries=0,
        stream=False,
        native_output=native_output,
    )
    reply = await Agent("a", config=cfg, tools=tools, response_schema=City).ask("A city")
    assert reply.output.name == "Oslo"
    assert wire.last.json["generationConfig"]["responseMimeType"] == "application/json"


async def test_media_inputs_inline_and_by_url(wire: WireServer) -> None:
    wire.reply_json(answer(text("a red dot"), meta=usage()))
    agent = Agent("a", config=config(wire, stream=False))
    await agent.ask(
        [
            "What is this?",
            Image(data=b"\x89PNG", media_type="image/png"),
            Image.from_url("https://example.com/cat.jpg"),
            FileUrl("gs://bucket/report.pdf", media_type="application/pdf"),
            Document(data=b"%PDF-1.7"),
            Data({"rows": [1, 2]}),
        ]
    )
    parts = wire.last.json["contents"][-1]["parts"]
    assert parts[0] == {"text": "What is this?"}
    assert parts[1] == {"inlineData": {"data": "iVBORw==", "mime_type": "image/png"}}
    assert parts[2] == {
        "fileData": {"file_uri": "https://example.com/cat.jpg", "mime_type": "image/jpeg"}
    }
    assert parts[4] == {"inlineData": {"data": "JVBERi0xLjc=", "mime_type": "application/pdf"}}
    assert parts[5] == {"text": '{"rows":[1,2]}'}
    assert parts[3] == {
        "fileData": {"file_uri": "gs://bucket/report.pdf", "mime_type": "application/pdf"}
    }


async def test_reasoning_and_thought_signatures_across_a_tool_round(wire: WireServer) -> None:
    wire.reply_sse(
        [
            answer(text("I should ", thought=True), finish=None),
            answer(text("add.", thought=True), finish=None),
            answer(fn("add", {"a": 1, "b": 1}, thoughtSignature="c2lnLTE="), finish=None),
            answer(text(""), meta=usage(10, 4, thoughts=3)),
        ],
        done=False,
    )
    wire.reply_sse(
        [
            answer(text("2"), finish=None),
            answer(text("", thoughtSignature="c2lnLTI="), meta=usage(12, 1)),
        ],
        done=False,
    )
    wire.reply_sse([answer(text("ok"), meta=usage(14, 1))], done=False)
    agent = Agent("a", config=config(wire, reasoning_effort="low"), tools=[add])
    async with agent.run("1+1") as run:
        thoughts = [e.text async for e in run if isinstance(e, ReasoningChunk)]
        reply = await run.result()
    assert thoughts == ["I should ", "add."]
    assert reply.text == "2"
    assert reply.usage.reasoning_tokens == 3
    assert reply.usage.output_tokens == 4 + 3 + 1  # thinking counts as output
    assert reply.usage.requests == 2 and reply.usage.input_tokens == 22
    assert wire.requests[0].json["generationConfig"]["thinkingConfig"] == {
        "include_thoughts": True,
        "thinking_budget": 2048,
    }
    first = next(e for e in reply.events if isinstance(e, ModelResponse))
    assert first.reasoning == "I should add."
    assert from_dict(to_dict(first)) == first  # provider_data survives storage
    # The thought and the signed call are replayed as Gemini sent them.
    assert wire.requests[1].json["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "I should add.", "thought": True},
            {
                "functionCall": {"name": "add", "args": {"a": 1, "b": 1}},
                "thoughtSignature": "c2lnLTE=",
            },
        ],
    }
    # A signature on an empty closing text part is kept as its own part.
    await reply.ask("thanks")
    assert wire.last.json["contents"][3] == {
        "role": "model",
        "parts": [{"text": "2"}, {"text": "", "thoughtSignature": "c2lnLTI="}],
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ("mul", {"mode": "ANY", "allowedFunctionNames": ["mul"]}),
    ],
)
async def test_tool_choice_is_function_calling_config(
    wire: WireServer, choice: str, expected: dict[str, Any]
) -> None:
    wire.reply_json(answer(text("ok"), meta=usage()))
    await Agent("a", config=config(wire, stream=False, tool_choice=choice), tools=[add, mul]).ask(
        "go"
    )
    assert wire.last.json["toolConfig"] == {"functionCallingConfig": expected}


async def test_settings_vocabulary_is_mapped(wire: WireServer) -> None:
    wire.reply_json(answer(text("ok"), meta=usage()))
    cfg = config(
        wire,
        stream=False,
        top_p=0.5,
        max_tokens=99,
        stop=("END",),
        thinking_budget=0,
        reasoning_effort="high",
        extra={"top_k": 5, "presencePenalty": 0.5, "futureKnob": {"on": True}},
    )
    await Agent("a", config=cfg).ask("go")
    generation = wire.last.json["generationConfig"]
    assert generation["topP"] == 0.5
    assert generation["maxOutputTokens"] == 99
    assert generation["stopSequences"] == ["END"]
    assert generation["thinkingConfig"] == {"thinking_budget": 0}  # an explicit budget wins
    assert generation["topK"] == 5
    assert generation["presencePenalty"] == 0.5
    assert generation["futureKnob"] == {"on": True}  # unknown keys go through untouched


async def test_price_table_states_the_cost(wire: WireServer) -> None:
    from baton.models.pricing import Price

    meta = usage(1_000_000, 400_000, thoughts=100_000, cached=400_000)
    wire.reply_json(answer(text("hi"), meta=meta))
    cfg = config(wire, stream=False, price=Price(input=2.0, output=8.0, cached_input=0.5))
    reply = await Agent("a", config=cfg).ask("hi")
    assert reply.usage.output_tokens == 500_000 and reply.usage.reasoning_tokens == 100_000
    assert reply.usage.cache_read_tokens == 400_000
    # 600k fresh x $2 + 400k cached x $0.5 + 500k out (thinking included) x $8 per million
    assert reply.usage.cost == pytest.approx(1.2 + 0.2 + 4.0)


def google_error(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


async def test_rate_limit_with_retry_after(wire: WireServer) -> None:
    wire.reply_error(
        429, google_error(429, "RESOURCE_EXHAUSTED", "Slow down"), headers={"retry-after": "7"}
    )
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429
    assert "Slow down" in str(caught.value)


async def test_rate_limit_retry_delay_from_retry_info(wire: WireServer) -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}
    wire.reply_error(
        429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", details=[retry_info])
    )
    with pytest.raises(RateLimited) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retry_after == 12.5


async def test_server_error_is_retryable_unavailable(wire: WireServer) -> None:
    wire.reply_error(500, google_error(500, "INTERNAL", "boom"))
    with pytest.raises(ProviderUnavailable) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert caught.value.retryable is True and caught.value.status == 500


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "API key not valid. Please pass a valid API key.", AuthenticationFailed),
        (403, "Permission denied", AuthenticationFailed),
        (
            400,
            "The input token count (2000000) exceeds the maximum number of tokens allowed",
            ContextLengthExceeded,
        ),
        (400, "Invalid JSON payload received.", InvalidRequest),
    ],
)
async def test_client_errors_are_mapped(
    wire: WireServer, status: int, message: str, expected: type[Exception]
) -> None:
    wire.reply_error(status, google_error(status, "INVALID_ARGUMENT", message))
    with pytest.raises(expected) as caught:
        await Agent("a", config=config(wire, stream=False)).ask("hi")
    assert getattr(caught.value, "retryable", None) is False


async def test_stream_cut_off_midway_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse(
        [answer(text("Hel"), finish=None), answer(text("lo"), finish=None), answer(text("!"))],
        cut_after=2,
        done=False,
    )
    with pytest.raises(ConnectionLost) as caught:
        await Agent("a", config=config(wire)).ask("hi")
    assert caught.value.retryable is True


async def test_stream_ending_without_a_finish_reason_is_connection_lost(wire: WireServer) -> None:
    wire.reply_sse([answer(text("Hel"), finish=None)], done=False)
    with pytest.raises(ConnectionLost, match="ended before"):
        await Agent("a", config=config(wire)).ask("hi")


async def test_timeout_is_model_timeout(wire: WireServer) -> None:
    wire.reply_hang(2.0, answer(text("late")))
    with pytest.raises(ModelTimeout) as caught:
        await Agent("a", config=config(wire, stream=False, timeout=0.2)).ask("hi")
    assert caught.value.retryable is True


async def test_safety_stop_is_content_filtered(wire: WireServer) -> None:
    rating = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
    wire.reply_sse(
        [answer(text("Sure, first"), finish=None), answer(finish="SAFETY", safetyRatings=[rating])],
        done=False,
    )
    with pytest.raises(ContentFiltered, match="HARM_CATEGORY_DANGEROUS_CONTENT") as caught:
        await Agent("a", config=config(wire)).ask("something dangerous")
    assert caught.value.retryable is False


async def test_blocked_prompt_is_content_filtered(wire: WireServer) -> None:
    wire.reply_json({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(5, 0)})
    with pytest.raises(ContentFiltered, match="prompt was blocked"):
        await Agent("a", config=config(wire, stream=False)).ask("something dangerous")


async def test_missing_api_key_names_the_variable(wire: WireServer) -> None:
    agent = Agent("a", config=GeminiConfig("gemini-test", base_url=wire.url))
    with pytest.raises(AuthenticationFailed, match="GEMINI_API_KEY"):
        await agent.ask("hi")


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"GOOGLE_API_KEY": "g-google"}, "g-google"),
        ({"GEMINI_API_KEY": "g-gemini", "GOOGLE_API_KEY": "g-google"}, "g-gemini"),
    ],
)
async def test_api_key_is_read_from_the_environment(
    wire: WireServer,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    expected: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    wire.reply_json(answer(text("hi"), meta=usage()))
    cfg = GeminiConfig("gemini-test", base_url=wire.url, stream=False)
    await Agent("a", config=cfg).ask("hi")
    assert wire.last.headers["x-goog-api-key"] == expected


async def test_one_client_per_config_and_incremental_conversion(wire: WireServer) -> None:
    cfg = config(wire, stream=False, headers={"X-Title": "baton"})
    for value in ("one", "two", "three"):
        wire.reply_json(answer(text(value), meta=usage()))
    reply = await Agent("a", config=cfg).ask("1")
    client = cfg.client()
    reply = await reply.ask("2")
    reply = await reply.ask("3")
    assert cfg.client() is client
    contents = wire.last.json["contents"]
    assert [(c["role"], c["parts"][0]["text"]) for c in contents] == [
        ("user", "1"),
        ("model", "one"),
        ("user", "2"),
        ("model", "two"),
        ("user", "3"),
    ]
    assert wire.last.headers["x-title"] == "baton"
    await cfg.aclose()


async def test_string_shorthand_resolves_to_gemini_config() -> None:
    from baton.models import resolve_config

    resolved = resolve_config("gemini:gemini-2.5-flash")
    assert isinstance(resolved, GeminiConfig) and resolved.model == "gemini-2.5-flash"
    assert resolved.provider == "gemini"
