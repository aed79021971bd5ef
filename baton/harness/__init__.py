"""Opt-in layers composed onto the loop: context policies, observers, and (in their own modules)
compaction, knowledge, sub-tasks."""

from .observers import Observer
from .policies import ContextPolicy

__all__ = ["ContextPolicy", "Observer"]
