"""Working memory from a knowledge store: the notes relevant to an ask, added to the
instructions of its model calls (a ``WorkingMemory`` policy whose source is the store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...events import ModelRequest
from ...tools.builtins.memory import Namespace, resolve_namespace
from ..policies import WorkingMemory
from .base import KnowledgeStore, Note

if TYPE_CHECKING:
    from ...context import Context

__all__ = ["NotesInInstructions"]


def _latest_request(context: Context) -> str:
    events = context.events
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if isinstance(event, ModelRequest):
            return event.text
    return ""


class NotesInInstructions(WorkingMemory):
    """Add the saved notes most relevant to the user's latest message to the instructions.

    Notes are searched in ``namespace`` (the same ``Namespace`` as ``memory_tools``, so the
    agent sees the notes it saved for this user) with the latest user message as the query;
    when fewer than ``limit`` match, the first notes by key fill the rest, so a small memory is
    always shown whole. Each note is cut to ``note_chars`` and the list to ``max_chars``. The
    store is asked once per ask; later model calls of the ask reuse the answer.

        users = variable_namespace("user_id")
        Agent(..., tools=[memory_tools(store, namespace=users)],
              policies=[NotesInInstructions(store, users)])
    """

    def __init__(
        self,
        store: KnowledgeStore,
        namespace: Namespace = None,
        *,
        limit: int = 5,
        max_chars: int = 2000,
        note_chars: int = 500,
        title: str = "Notes saved in earlier conversations",
    ) -> None:
        if limit < 1 or max_chars < 1 or note_chars < 1:
            raise ValueError("limit, max_chars and note_chars must be positive")
        super().__init__(self.text, title=title)
        self.store = store
        self.namespace = namespace
        self.limit = limit
        self.max_chars = max_chars
        self.note_chars = note_chars

    def __repr__(self) -> str:
        return f"NotesInInstructions({self.store!r}, limit={self.limit})"

    async def text(self, context: Context) -> str:
        """The notes for this ask, one ``- key: text`` line each ("" when there are none)."""
        cache: list[str] = context.state(self, lambda: ["", ""])
        if cache[0] != context.run_id:
            cache[1] = await self._render(context)
            cache[0] = context.run_id
        return cache[1]

    async def notes(self, context: Context) -> list[Note]:
        """The notes to show for this ask (full keys): relevant ones first, then by key."""
        namespace = await resolve_namespace(self.namespace, context)
        return await self._find(f"{namespace}/" if namespace else "", _latest_request(context))

    async def _find(self, prefix: str, query: str) -> list[Note]:
        found = await self.store.search(query, limit=self.limit, prefix=prefix) if query else []
        if len(found) < self.limit:
            seen = {n.key for n in found}
            for key in await self.store.list(prefix):
                if len(found) >= self.limit:
                    break
                if key in seen:
                    continue
                text = await self.store.read(key)
                if text is not None:
                    found.append(Note(key, text))
        return found

    async def _render(self, context: Context) -> str:
        namespace = await resolve_namespace(self.namespace, context)
        prefix = f"{namespace}/" if namespace else ""
        lines: list[str] = []
        size = 0
        for note in await self._find(prefix, _latest_request(context)):
            text = " ".join(note.text.split())
            if len(text) > self.note_chars:
                text = text[: self.note_chars - 1].rstrip() + "…"
            line = f"- {note.key[len(prefix) :]}: {text}"
            room = self.max_chars - size
            if len(line) > room:
                if room >= 40:  # enough for a useful part of the note
                    lines.append(line[: room - 1].rstrip() + "…")
                break
            lines.append(line)
            size += len(line) + 1
        return "\n".join(lines)
