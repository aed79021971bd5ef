"""The ``memory`` tools: notes the agent keeps across conversations, in a knowledge store.

    from baton.harness.knowledge import SQLiteKnowledge
    from baton.tools.builtins import memory_tools, variable_namespace

    store = SQLiteKnowledge("notes.db")
    agent = Agent("assistant", tools=[memory_tools(store, namespace=variable_namespace("user_id"))])
    await agent.ask("I prefer metric units", variables={"user_id": "42"})

Every note lives under a namespace (a key prefix) chosen per ask: a fixed string, or a function
of the ``Context`` (e.g. the conversation's ``user_id`` variable), so notes persist across the
conversations of one user and stay invisible to others. The model only ever sees keys relative
to its namespace. Problems it can fix (a missing note, a bad key) come back as plain sentences.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ...context import Context
from ...errors import ConfigError, MissingDependency
from ..tool import Tool
from ..toolkit import Toolkit

if TYPE_CHECKING:
    from ...harness.knowledge.base import KnowledgeStore

__all__ = ["Namespace", "memory_tools", "resolve_namespace", "variable_namespace"]

Namespace = str | Callable[[Context], str | Awaitable[str]] | None
"""Where an ask's notes live: a fixed key prefix, a function of the Context that returns one,
or ``None`` for ``"agent:<agent name>"`` (notes shared by all conversations of that agent)."""

_MAX_LISTED = 50
_SNIPPET = 300


async def resolve_namespace(namespace: Namespace, context: Context) -> str:
    """The namespace (key prefix, without a trailing ``/``) of this ask's notes."""
    if namespace is None:
        return f"agent:{context.agent_name}"
    value = namespace(context) if callable(namespace) else namespace
    if inspect.isawaitable(value):
        value = await value
    if not isinstance(value, str):
        raise ConfigError(f"a memory namespace must be a string, got {value!r}")
    value = value.rstrip("/")
    if value and any(s in ("", ".", "..") or "\\" in s for s in value.split("/")):
        raise ConfigError(
            f"memory namespace {value!r} is not a valid key prefix: use segments like "
            "'user:42' joined by '/', without empty, '.' or '..' segments or backslashes"
        )
    return value


def variable_namespace(name: str = "user_id", *, label: str | None = None) -> Namespace:
    """A namespace from a conversation variable: ``variable_namespace("user_id")`` puts the
    notes of ``variables={"user_id": "42"}`` under ``"user:42"`` (``label`` defaults to the
    variable's name without a trailing ``_id``). ``/`` and ``%`` in the value are escaped, so
    user ``"a/b"`` can never reach the notes of user ``"a"``."""
    tag = label if label is not None else name.removesuffix("_id")

    def namespace(context: Context) -> str:
        value = context.variables.get(name)
        if value is None or value == "":
            raise MissingDependency(
                f"the memory namespace needs the conversation variable {name!r}: pass "
                f"variables={{{name!r}: ...}} to Agent(...) or ask(...)"
            )
        escaped = str(value).replace("%", "%25").replace("/", "%2F")
        return f"{tag}:{escaped}"

    return namespace


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def memory_tools(
    store: KnowledgeStore, *, namespace: Namespace = None, max_note_chars: int = 4000
) -> Toolkit:
    """A ``Toolkit`` (``memory_save``, ``memory_read``, ``memory_list``, ``memory_search``,
    ``memory_delete``) over ``store``, scoped to ``namespace`` (see ``Namespace``).

    Each saved note records the agent and conversation that wrote it as metadata.
    """
    if max_note_chars < 1:
        raise ConfigError(f"max_note_chars must be positive, got {max_note_chars}")

    async def scope(context: Context) -> str:
        ns = await resolve_namespace(namespace, context)
        return f"{ns}/" if ns else ""

    async def save(key: str, text: str, context: Context) -> str:
        """Save a note so it is available in later conversations; a note with the same key is
        replaced. Keep one topic per note and write it so it makes sense on its own.

        Args:
            key: A short name for the note, e.g. "preferences" or "projects/website".
            text: What to remember.
        """
        if len(text) > max_note_chars:
            return (
                f"Not saved: the note has {len(text)} characters, the limit is "
                f"{max_note_chars}. Shorten it or split it into several notes."
            )
        if not text.strip():
            return "Not saved: the note is empty. To remove a note, delete it."
        full = await scope(context) + key
        metadata = {
            "agent": context.agent_name,
            "conversation_id": context.conversation_id,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            existed = await store.read(full) is not None
            await store.write(full, text, metadata=metadata)
        except ValueError as exc:
            return _bad_key(key, exc)
        return f"{'Updated' if existed else 'Saved'} note {key!r}."

    async def read(key: str, context: Context) -> str:
        """Read a note by its key.

        Args:
            key: The note's key, as listed by the list or search tools.
        """
        try:
            text = await store.read(await scope(context) + key)
        except ValueError as exc:
            return _bad_key(key, exc)
        if text is None:
            return f"No note named {key!r}. List or search the notes to find the right key."
        return text

    async def list_notes(context: Context, prefix: str = "") -> str:
        """List the keys of saved notes.

        Args:
            prefix: Only keys starting with this, e.g. "projects/".
        """
        base = await scope(context)
        try:
            keys = await store.list(base + prefix)
        except ValueError as exc:
            return f"Invalid prefix {prefix!r}: {exc}"
        if not keys:
            return "No notes saved yet." if not prefix else f"No notes start with {prefix!r}."
        shown = ", ".join(k[len(base) :] for k in keys[:_MAX_LISTED])
        more = f" (and {len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
        return f"{len(keys)} note{'s' if len(keys) != 1 else ''}: {shown}{more}"

    async def search(query: str, context: Context, limit: int = 5) -> str:
        """Search saved notes by words they contain; best matches first.

        Args:
            query: Words to look for, e.g. "coffee preference".
            limit: How many notes to return (1-20).
        """
        base = await scope(context)
        notes = await store.search(query, limit=max(1, min(limit, 20)), prefix=base)
        if not notes:
            return f"No notes match {query!r}."
        lines = [f"- {n.key[len(base) :]}: {_shorten(n.text, _SNIPPET)}" for n in notes]
        return "\n".join([f"{len(notes)} matching note{'s' if len(notes) != 1 else ''}:", *lines])

    async def delete(key: str, context: Context) -> str:
        """Delete a note that is wrong or no longer needed.

        Args:
            key: The note's key.
        """
        try:
            deleted = await store.delete(await scope(context) + key)
        except ValueError as exc:
            return _bad_key(key, exc)
        return f"Deleted note {key!r}." if deleted else f"No note named {key!r}; nothing deleted."

    return Toolkit(
        Tool(save, name="save"),
        Tool(read, name="read"),
        Tool(list_notes, name="list"),
        Tool(search, name="search"),
        Tool(delete, name="delete"),
        name="memory",
        prefix="memory",
    )


def _bad_key(key: str, exc: Exception) -> str:
    return f"Invalid note key {key!r} ({exc}). Use a short name like 'preferences' or 'topic/sub'."
