"""The contract table's cases: for each, a spec and a fresh agent, importable by the worker
processes the Redis and HTTP runners start (``--agent contract_cases:<case>``).

- ``once``: answers once (a second run of the same run id would exhaust the script);
- ``never_runs``: has no answer at all (running it at all fails);
- ``flaky``: the provider is unavailable on the first call, then answers;
- ``slow``: calls a tool that waits on an event nobody sets (past the spec's small limit);
- ``unfit``: always answers with JSON that does not match the result schema.
"""

from __future__ import annotations

import asyncio
from typing import Any

from baton import Agent, tool
from baton.errors import ProviderUnavailable
from baton.testing import ScriptedModel, call
from baton.worker import DEFAULT_OUTPUT_SCHEMA, WorkerSpec

RESULT = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
OUTPUT = {
    **DEFAULT_OUTPUT_SCHEMA,
    "properties": {**DEFAULT_OUTPUT_SCHEMA["properties"], "result": RESULT},
}
SLOW_LIMIT = 0.3  # seconds: the "slow" case's tool never returns, so the limit always ends it

CASES = ("once", "never_runs", "flaky", "slow", "unfit")


@tool
async def wait_forever() -> str:
    """Wait for something that never happens."""
    await asyncio.Event().wait()
    return "never"


def case_spec(case: str) -> WorkerSpec:
    timeout = SLOW_LIMIT if case == "slow" else 20.0
    return WorkerSpec(f"contract-{case}", output_schema=OUTPUT, timeout_seconds=timeout)


def case_agent(case: str, **options: Any) -> Agent[Any]:
    turns: dict[str, tuple[Any, ...]] = {
        "once": ('{"answer": "done"}',),
        "never_runs": (),
        "flaky": (ProviderUnavailable("overloaded", status=503), '{"answer": "done"}'),
        "slow": (call("wait_forever"),),
        "unfit": ('{"answer": 42}',),
    }
    repeat = case in ("slow", "unfit")
    return case_spec(case).agent(
        config=ScriptedModel(*turns[case], repeat=repeat),
        tools=[wait_forever],
        output_retries=1,
        **options,
    )


def __getattr__(name: str) -> Any:
    """``contract_cases:<case>``: a fresh agent for a worker process to load."""
    if name in CASES:
        return case_agent(name)
    raise AttributeError(name)
