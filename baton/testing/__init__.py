"""Test agents with no network: a model that follows a script, and helpers to write one.

    model = ScriptedModel(call("add", a=2, b=3), "5")
    agent = Agent("calc", config=model, tools=[add])
    reply = await agent.ask("2 + 3?")
    assert reply.text == "5"
    assert model.requests[1].messages[-1].content == "5"   # the tool result the model saw

A turn is one model answer:

- ``"text"``: a final text answer;
- ``call(name, **arguments)``: one tool call; a list of calls (and text) answers several at once;
- ``chunks("He", "llo", call(...))``: a streamed answer, emitted piece by piece (each call as
  one ``ToolCallDelta`` holding its whole arguments, as a provider streams a call forming; calls
  in other turns emit no deltas);
- an exception (instance or class): the model call raises it;
- a ``ModelResponse``: returned as is;
- a function of the ``ModelCall`` (sync or async) returning any of the above.

Each ScriptedModel is its own script, so every agent (a sub-agent too) can have its own. By
default the script is one tape shared by all asks; ``per_conversation=True`` replays it for each
conversation, ``repeat=True`` starts over when it runs out.

``RecordingModel(config)`` wraps any model config (a provider's or a ScriptedModel) and records
each call it passes on: the ``ModelCall`` sent, the ``ModelResponse`` (or the error) received
and the chunks streamed. Tool execution is replaced with ``agent.override(tools=...)``, and
``Agent(..., raise_tool_errors=True)`` makes a tool's exception fail the test.
"""

# One name a line, in the order the reference lists them (mkdocstrings: members_order source).
# isort: off
from .turns import ScriptedCall
from .seen import Seen
from .scripted import ScriptedModel
from .recording import RecordedCall, RecordingModel
from .turns import call, reasoning, chunks
from .tokens import estimate_tokens
from .seen import seen_by

# isort: on
# Importable from here as before, though not listed in ``__all__``.
from .turns import Chunks as Chunks
from .turns import Reasoning as Reasoning
from .turns import TurnFunction as TurnFunction

__all__ = [
    "RecordedCall",
    "RecordingModel",
    "ScriptedCall",
    "ScriptedModel",
    "Seen",
    "call",
    "chunks",
    "estimate_tokens",
    "reasoning",
    "seen_by",
]
