"""A paused run as an ``input-required`` task: what the client is asked, and reading its
next message as the answer.

An approval is answered with a data part ``{"approved": true|false, "reason": "..."}`` or a
text part holding one of the words below (case and surrounding punctuation ignored); a
question (``context.input``) with any text, or a data part (given to the agent as JSON). An
answer that doesn't fit (``"maybe"`` to an approval, an empty message) is asked again. When
the run waits on several requests, one answer answers them all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..events import ApprovalRequest, HumanInputRequest, HumanMessage
from .wire import to_python

if TYPE_CHECKING:
    from a2a.types.a2a_pb2 import Message

__all__ = ["APPROVE_WORDS", "DENY_WORDS", "describe", "pending_record", "read_answers"]

APPROVE_WORDS = frozenset({"yes", "y", "approve", "approved", "allow", "ok", "okay", "go ahead"})
DENY_WORDS = frozenset({"no", "n", "deny", "denied", "reject", "refuse", "don't", "do not"})


def pending_record(
    task_id: str, requests: Sequence[ApprovalRequest | HumanInputRequest]
) -> dict[str, Any]:
    """What is stored about a paused task: its id and the requests its run waits on."""
    listed: list[dict[str, Any]] = []
    for request in requests:
        if isinstance(request, ApprovalRequest):
            listed.append(
                {
                    "request_id": request.request_id,
                    "kind": "approval",
                    "tool": request.call.name,
                    "arguments": request.call.arguments,
                    "reason": request.reason,
                }
            )
        else:
            listed.append(
                {"request_id": request.request_id, "kind": "input", "prompt": request.prompt}
            )
    return {"task_id": task_id, "requests": listed}


def describe(record: dict[str, Any]) -> str:
    """The question an ``input-required`` status message puts to the client."""
    lines = []
    for request in record["requests"]:
        if request["kind"] == "approval":
            why = f" ({request['reason']})" if request.get("reason") else ""
            lines.append(
                f"Approve the call of {request['tool']!r} with {request['arguments']}{why}? "
                'Answer yes or no, or send a data part {"approved": true|false, "reason": "..."}.'
            )
        else:
            lines.append(str(request["prompt"]))
    return "\n".join(lines)


def _verdict(text: str) -> bool | None:
    word = " ".join(text.strip().strip(".!?\"'").lower().split())
    if word in APPROVE_WORDS:
        return True
    if word in DENY_WORDS:
        return False
    return None


def read_answers(record: dict[str, Any], message: Message | None) -> list[HumanMessage] | str:
    """The ``HumanMessage`` answers ``message`` gives to the stored requests, or why it
    doesn't answer them (then the client is asked again)."""
    texts: list[str] = []
    data: list[Any] = []
    for part in message.parts if message is not None else ():
        if part.HasField("text") and part.text.strip():
            texts.append(part.text)
        elif part.HasField("data"):
            data.append(to_python(part.data))
    text = "\n".join(texts).strip()
    answers: list[HumanMessage] = []
    for request in record["requests"]:
        rid = request["request_id"]
        if request["kind"] == "approval":
            verdict: bool | None = None
            reason = ""
            for value in data:
                if isinstance(value, dict) and isinstance(value.get("approved"), bool):
                    verdict = value["approved"]
                    reason = str(value.get("reason") or "")
                    break
            if verdict is None and text:
                verdict = _verdict(text)
            if verdict is None:
                return (
                    f"That doesn't answer the approval of {request['tool']!r}: answer yes or "
                    'no, or send a data part {"approved": true|false, "reason": "..."}.'
                )
            reason = reason or ("approved" if verdict else "denied")
            answers.append(HumanMessage(reason, request_id=rid, approved=verdict))
        else:
            answer = text or (json.dumps(data[0] if len(data) == 1 else data) if data else "")
            if not answer:
                return f"An answer is needed: {request['prompt']}"
            answers.append(HumanMessage(answer, request_id=rid))
    return answers
