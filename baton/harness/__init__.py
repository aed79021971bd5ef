"""Opt-in layers composed onto the loop: context policies, compaction, observers, and (in their
own modules) knowledge, sub-tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .compaction import Compacted, Compaction, CompactionStrategy, LLMSummary, TailWindow
    from .observers import LoopDetector, Observer, TokenMonitor
    from .policies import (
        AlertPolicy,
        ContextPolicy,
        ConversationalOnly,
        SlidingWindow,
        TokenBudget,
        WorkingMemory,
    )
    from .subtasks import (
        Subtask,
        SubtaskFailed,
        SubtaskResult,
        fan_out_tool,
        run_subtask,
        run_subtasks,
    )

__all__ = [
    "AlertPolicy",
    "Compacted",
    "Compaction",
    "CompactionStrategy",
    "ContextPolicy",
    "ConversationalOnly",
    "LLMSummary",
    "LoopDetector",
    "Observer",
    "SlidingWindow",
    "Subtask",
    "SubtaskFailed",
    "SubtaskResult",
    "TailWindow",
    "TokenBudget",
    "TokenMonitor",
    "WorkingMemory",
    "fan_out_tool",
    "run_subtask",
    "run_subtasks",
]

# Each layer loads when first named: the core counts tokens with ``baton.harness.tokens`` and
# needs none of the layers (sub-tasks, compaction...) until an agent is given one.
_MODULES = {
    "Compacted": "compaction",
    "Compaction": "compaction",
    "CompactionStrategy": "compaction",
    "LLMSummary": "compaction",
    "TailWindow": "compaction",
    "LoopDetector": "observers",
    "Observer": "observers",
    "TokenMonitor": "observers",
    "AlertPolicy": "policies",
    "ContextPolicy": "policies",
    "ConversationalOnly": "policies",
    "SlidingWindow": "policies",
    "TokenBudget": "policies",
    "WorkingMemory": "policies",
    "Subtask": "subtasks",
    "SubtaskFailed": "subtasks",
    "SubtaskResult": "subtasks",
    "fan_out_tool": "subtasks",
    "run_subtask": "subtasks",
    "run_subtasks": "subtasks",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())
