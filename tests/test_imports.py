"""What ``import baton`` loads: the core, and not the features, pydantic's schema machinery or
the team event classes, which load when first used. Each check runs in a fresh interpreter (this
one has imported everything by now); how long the import takes is measured in
``benchmarks/imports.py``, not here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import baton.harness
import baton.middleware
from baton.events import Usage, to_dict
from baton.team_events import Handoff, MemberUsage, TeamFinished, TeamStarted
from baton.teams import TeamStarted as TeamStartedFromTeams


def run_python(program: str) -> str:
    """Run ``program`` in a fresh interpreter; its output (a failure shows its stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# Loaded only when used: pydantic's validators and JSON schemas (a tool, an output spec),
# through them importlib.metadata (pydantic's plugin scan); the docstring parser; every
# middleware but the base class; every harness layer; the team event classes; file and URL
# media's type guessing; the "did you mean" of an unknown option.
NOT_AT_IMPORT = (
    "pydantic",
    "docstring_parser",
    "importlib.metadata",
    "baton.tools.schema",
    "baton.team_events",
    "baton.teams",
    "baton.harness.subtasks",
    "baton.harness.tokens",
    "baton.harness.compaction",
    "baton.middleware.history_limits",
    "baton.middleware.retry",
    "baton.middleware.logging",
    "mimetypes",
    "difflib",
    "httpx",
)


def test_import_baton_leaves_features_and_schema_machinery_unloaded() -> None:
    program = (
        "import sys\n"
        "before = set(sys.modules)  # (what the interpreter's start loaded is not baton's doing)\n"
        "import baton\n"
        f"unwanted = {NOT_AT_IMPORT!r}\n"
        "loaded = set(sys.modules) - before\n"
        "print(sorted(m for m in loaded if m in unwanted or m.startswith('pydantic.')))\n"
    )
    assert run_python(program).strip() == "[]"


def test_the_first_tool_and_output_spec_load_what_they_need() -> None:
    program = (
        "import asyncio, sys\n"
        "from baton import Agent, tool\n"
        "from baton.testing import ScriptedModel, call\n"
        "@tool\n"
        "def add(a: int, b: int) -> int:\n"
        "    '''Add two numbers.\n\n    Args:\n"
        "        a: the first\n        b: the second\n    '''\n"
        "    return a + b\n"
        "print(add.parameters['properties']['a']['description'])\n"
        "model = ScriptedModel(call('add', a=2, b='x'), call('add', a=2, b=3), '{\"n\": 5}')\n"
        "agent = Agent('calc', config=model, tools=[add], response_schema=dict[str, int])\n"
        "reply = asyncio.run(agent.ask('2 + 3?'))\n"
        "print(reply.output)\n"
        "errors = [e.message for e in reply.events if type(e).__name__ == 'ToolCallError']\n"
        "print(errors[0].split(':')[0])\n"
        "print('pydantic.type_adapter' in sys.modules, 'docstring_parser' in sys.modules)\n"
    )
    lines = run_python(program).splitlines()
    assert lines == [
        "the first",
        "{'n': 5}",
        "Invalid arguments for tool 'add'",
        "True True",
    ]


@pytest.mark.parametrize("package", [baton.middleware, baton.harness])
def test_lazily_exported_names_are_listed_and_are_their_modules_own(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert set(names) <= set(dir(package))
    for name in names:
        value = getattr(package, name)
        home = sys.modules[f"{package.__name__}.{package._MODULES[name]}"]  # type: ignore[attr-defined]
        assert value is getattr(home, name)
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        package.Nothing  # type: ignore[attr-defined]  # noqa: B018


def test_a_package_name_imported_before_its_module_loads_it() -> None:
    program = (
        "import sys\n"
        "from baton.middleware import RetryMiddleware\n"
        "from baton.harness import run_subtasks, SlidingWindow\n"
        "import baton.middleware as m\n"
        "print(RetryMiddleware.__module__, run_subtasks.__module__, SlidingWindow.__module__)\n"
        "print('HistoryLimit' in dir(m), 'baton.middleware.history_limits' in sys.modules)\n"
        "print(m.history_limits.HistoryLimit is m.HistoryLimit)  # a submodule, by attribute\n"
    )
    assert run_python(program).splitlines() == [
        "baton.middleware.retry baton.harness.subtasks baton.harness.policies",
        "True False",
        "True",
    ]


# -- team events: registered when a process first needs them --------------------------------


def _stored_team_history() -> str:
    usage = Usage(1, 10, 5)
    events = [
        TeamStarted("t1", "crew", "RoundRobin", "c1", task="Write."),
        Handoff("t1", "crew", "writer", "editor", "review"),
        TeamFinished("t1", "crew", "MaxTurns(2)", "done", 2, usage, (MemberUsage("w", usage),)),
    ]
    return json.dumps([to_dict(e) for e in events])


@pytest.mark.parametrize(
    "decode",
    [
        "events_from_json(stored)",
        "[from_dict(d) for d in json.loads(stored)]",
        # the stores' loads: SQL rows (type names and payloads), Redis entries (payloads)
        "events_from_rows([d['type'] for d in json.loads(stored)], "
        "[json.dumps(d) for d in json.loads(stored)])",
        "events_from_payloads([json.dumps(d).encode() for d in json.loads(stored)])",
    ],
)
def test_a_process_that_never_imported_the_team_events_decodes_them(decode: str) -> None:
    program = (
        "import json, sys\n"
        "import baton\n"
        "from baton.events import events_from_json, from_dict\n"
        "from baton.codec_rows import events_from_payloads, events_from_rows\n"
        "assert 'baton.team_events' not in sys.modules\n"
        f"stored = {_stored_team_history()!r}\n"
        f"events = {decode}\n"
        "print([type(e).__name__ for e in events], events[2].members[0].member)\n"
        "print('baton.teams' in sys.modules)\n"
    )
    assert run_python(program).splitlines() == [
        "['TeamStarted', 'Handoff', 'TeamFinished'] w",
        "False",
    ]


def test_the_registry_lists_the_team_events_before_they_are_imported() -> None:
    program = (
        "import sys\n"
        "from baton.events import event_types\n"
        "names = set(event_types())\n"
        "print(sorted(n for n in names if n.startswith('Team')), 'Handoff' in names)\n"
    )
    assert run_python(program).splitlines() == [
        "['TeamFailed', 'TeamFinished', 'TeamStarted'] True"
    ]


def test_registering_another_class_under_a_team_event_name_is_still_refused() -> None:
    program = (
        "from dataclasses import dataclass\n"
        "from baton.events import Event, register\n"
        "@dataclass(frozen=True)\n"
        "class Handoff(Event):\n"
        "    who: str = ''\n"
        "try:\n"
        "    register(Handoff)\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    assert run_python(program).strip() == (
        "Event type name 'Handoff' is already registered by another class"
    )


def test_the_deferred_names_are_the_classes_the_team_events_module_registers() -> None:
    program = (
        "import baton.codec as codec\n"
        "deferred = dict(codec._DEFERRED)\n"
        "before = set(codec._REGISTRY)\n"
        "import baton.team_events\n"
        "added = sorted(set(codec._REGISTRY) - before)\n"
        "print(sorted(deferred) == added, set(deferred.values()), codec._DEFERRED)\n"
    )
    assert run_python(program).strip() == "True {'baton.team_events'} {}"
    assert TeamStartedFromTeams is TeamStarted
