"""Samples of every record type Baton registers, and hostile field values, shared by the tests
of the event codec (``test_events``) and of the one-pass history decoder (``test_events_json``)."""

from __future__ import annotations

from baton.events import (
    ApprovalRequest,
    Audio,
    CompactionSummary,
    Data,
    Document,
    FileUrl,
    HostedToolCall,
    HumanInputRequest,
    HumanMessage,
    Image,
    ModelCallRetry,
    ModelRequest,
    ModelResponse,
    ObserverAlert,
    OutputRejected,
    RateLimitWait,
    ReasoningChunk,
    Record,
    RunFailed,
    RunFinished,
    RunStarted,
    SubscriberFailed,
    TaskCompleted,
    TaskFailed,
    TaskProgress,
    TaskStarted,
    Text,
    TextChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallError,
    ToolCallResult,
    ToolThreadAbandoned,
    UnattendedRequest,
    Usage,
    UsageLine,
    UsageReport,
    Video,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x01\xff\xfe"
PDF = b"%PDF-1.7\n\x00\x80binary\xff"
WAV = b"RIFF\x00\x00\x00\x00WAVEfmt "
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\xff"

# A payload whose "type" names a registered class, inside fields typed `Any`: it must stay a dict.
LOOKS_LIKE_EVENT = {"type": "ToolCall", "id": "x", "name": "evil", "arguments": "{}"}

USAGE = Usage(
    requests=2,
    input_tokens=30,
    output_tokens=12,
    cache_read_tokens=5,
    cache_write_tokens=3,
    reasoning_tokens=4,
    tool_calls=1,
)


def samples() -> dict[str, Record]:
    """One rich instance of every record type registered by baton.events."""
    call_a = ToolCall("call_1", "add", '{"a": 2, "b": 3}')
    call_b = ToolCall("call_2", "lookup", '{"q": "x"}')
    searched = HostedToolCall("ws_1", "web_search", "web_search_call", "baton", "Baton - https://b")
    return {
        "Usage": USAGE,
        "Text": Text("hello"),
        "Data": Data(
            {
                "n": 1,
                "ok": True,
                "nothing": None,
                "nested": LOOKS_LIKE_EVENT,
                "items": [{"type": "Usage", "requests": 9}, {"type": "os.system"}],
            }
        ),
        "Image": Image(data=PNG),
        "Audio": Audio(data=WAV, media_type="audio/wav"),
        "Document": Document(data=PDF),
        "Video": Video(data=MP4, media_type="video/webm"),
        "FileUrl": FileUrl("https://example.com/report.csv", "text/csv"),
        "RunStarted": RunStarted("run_1", "calc", "conv_1"),
        "ModelRequest": ModelRequest(
            (
                Text("what is this?"),
                Image(url="https://example.com/cat.jpg", media_type="image/jpeg"),
                Document(data=PDF),
                Data({"type": "Text", "text": "not a part"}),
                Video(url="gs://bucket/clip.mp4"),
            )
        ),
        "ToolCall": call_a,
        "HostedToolCall": searched,
        "ModelResponse": ModelResponse(
            text="let me check",
            tool_calls=(call_a, call_b),
            usage=USAGE,
            finish_reason="tool_calls",
            model="gpt-x",
            provider="openai",
            reasoning="thinking...",
            provider_data={"blocks": [LOOKS_LIKE_EVENT], "signature": "abc"},
            files=(Image(data=PNG), Video(url="gs://out/clip.mp4"), Document(data=PDF)),
            hosted_calls=(searched,),
        ),
        "TextChunk": TextChunk("He"),
        "ReasoningChunk": ReasoningChunk("hmm"),
        "ToolCallDelta": ToolCallDelta("call_1", "add", '{"a": 2,'),
        "ToolCallResult": ToolCallResult(
            "call_1", "add", "5", value={"type": "RunFinished", "total": 5}, final=True
        ),
        "ToolCallError": ToolCallError("call_2", "lookup", "not found", "KeyError"),
        "OutputRejected": OutputRejected("missing field 'x'", '{"y": 1}'),
        "HumanInputRequest": HumanInputRequest("req_1", "Which city?", "call_3"),
        "ApprovalRequest": ApprovalRequest("req_2", call_b, "spends money"),
        "HumanMessage": HumanMessage("yes", "req_2", True),
        "UsageReport": UsageReport(USAGE, (UsageLine("model", "openai", "gpt-5", USAGE),)),
        "UsageLine": UsageLine("subtask", "anthropic", "claude", USAGE),
        "ModelCallRetry": ModelCallRetry(2, 1.5, "RateLimited", "slow down"),
        "CompactionSummary": CompactionSummary("earlier: the user asked about Lisbon", 12),
        "TaskStarted": TaskStarted("t1", "researcher", "find sources"),
        "TaskProgress": TaskProgress("t1", "tool", "search"),
        "TaskCompleted": TaskCompleted("t1", "done", USAGE),
        "TaskFailed": TaskFailed("t2", "RateLimited", "slow down"),
        "RunFinished": RunFinished("run_1", "5", output={"type": "Text", "text": "5"}),
        "RunFailed": RunFailed("run_1", "MaxTurnsExceeded", "too many turns"),
        "ObserverAlert": ObserverAlert("loop-detector", "same call 3 times", "error", True),
        "SubscriberFailed": SubscriberFailed("printer", "TextChunk", "RuntimeError", "boom"),
        "ToolThreadAbandoned": ToolThreadAbandoned("call_1", "fetch", 2.5, 1),
        "UnattendedRequest": UnattendedRequest("req-9", "the ask waits for 'Which city?'"),
        "RateLimitWait": RateLimitWait(12.5, "RateLimiter"),
    }


SAMPLES = samples()

# Values put in turn in each field of a complete payload: each must decode as the field's type
# allows or be refused with an EventDecodeError naming the field.
HOSTILE_VALUES: list[object] = [
    12345,
    None,
    True,
    "text",
    1.5,
    ["a", {"type": "os.system"}],
    {"type": "Sentinel"},
    {"type": "RunFailed", "run_id": "r", "error_type": "E", "message": "m"},
    {"$bytes": 7},
]
