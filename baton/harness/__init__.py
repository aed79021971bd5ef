"""Opt-in layers composed onto the loop: context policies, compaction, observers, and (in their
own modules) knowledge, sub-tasks."""

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
