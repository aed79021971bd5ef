"""The knowledge store: durable notes under namespaced keys, searchable by relevance.

    from baton.harness.knowledge import SQLiteKnowledge, NotesInInstructions
    from baton.tools.builtins import memory_tools, variable_namespace

    store = SQLiteKnowledge("knowledge.db")
    users = variable_namespace("user_id")
    agent = Agent("assistant", tools=[memory_tools(store, namespace=users)],
                  policies=[NotesInInstructions(store, users)])

``KnowledgeStore`` is the protocol (read, write, list, delete, search); ``MemoryKnowledge``,
``FileKnowledge`` and ``SQLiteKnowledge`` implement it here, other backends elsewhere.
"""

from .base import MAX_KEY_LENGTH, InvalidKey, KnowledgeStore, Note, validate_key, validate_prefix
from .files import FileKnowledge
from .memory import MemoryKnowledge
from .policy import NotesInInstructions
from .sqlite import SQLiteKnowledge

__all__ = [
    "MAX_KEY_LENGTH",
    "FileKnowledge",
    "InvalidKey",
    "KnowledgeStore",
    "MemoryKnowledge",
    "Note",
    "NotesInInstructions",
    "SQLiteKnowledge",
    "validate_key",
    "validate_prefix",
]
