"""A2A tasks kept in the agent's ``Storage`` (memory, SQLite, PostgreSQL, Redis), so every
replica serving the agent sees the same tasks: an ``input-required`` task answered in another
process finds its task there, and its paused run in the same storage.

Each task is one JSON value under ``baton:a2a:task:<id>``. Tasks are not scoped by user: the
server has one bearer token, so every client it lets in is the same principal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..history import Storage
from .wire import from_dict, to_dict

if TYPE_CHECKING:
    from a2a.server.context import ServerCallContext
    from a2a.types.a2a_pb2 import ListTasksRequest, ListTasksResponse, Task

__all__ = ["TASK_PREFIX", "storage_task_store"]

TASK_PREFIX = "baton:a2a:task:"
_MAX_PAGE = 100


def storage_task_store(storage: Storage) -> Any:
    """An a2a-sdk ``TaskStore`` over ``storage`` (the SDK's classes are loaded here, on use)."""
    from a2a.server.tasks.task_store import TaskStore
    from a2a.types.a2a_pb2 import ListTasksResponse, Task

    class StorageTaskStore(TaskStore):
        """The SDK's task store interface over a Baton ``Storage``."""

        def __init__(self) -> None:
            self.storage = storage

        def __repr__(self) -> str:
            return f"StorageTaskStore({type(storage).__name__})"

        async def save(self, task: Task, context: ServerCallContext) -> None:
            await storage.put(TASK_PREFIX + task.id, to_dict(task))

        async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
            value = await storage.get(TASK_PREFIX + task_id)
            return None if value is None else from_dict(value, Task())

        async def delete(self, task_id: str, context: ServerCallContext) -> None:
            await storage.delete(TASK_PREFIX + task_id)

        async def list(
            self, params: ListTasksRequest, context: ServerCallContext
        ) -> ListTasksResponse:
            # A scan of the task keys: fine for the hundreds of tasks a ListTasks is for; the
            # page token is an offset into the newest-first order.
            tasks = []
            for key in await storage.keys(TASK_PREFIX):
                value = await storage.get(key)
                if value is None:
                    continue
                task = from_dict(value, Task())
                if params.context_id and task.context_id != params.context_id:
                    continue
                if params.status and task.status.state != params.status:
                    continue
                tasks.append(task)
            tasks.sort(key=lambda t: (t.status.timestamp.ToNanoseconds(), t.id), reverse=True)
            size = min(params.page_size or 50, _MAX_PAGE)
            start = int(params.page_token) if params.page_token.isdigit() else 0
            page = tasks[start : start + size]
            more = start + size < len(tasks)
            return ListTasksResponse(
                tasks=page,
                next_page_token=str(start + size) if more else "",
                total_size=len(tasks),
                page_size=size,
            )

    return StorageTaskStore()
