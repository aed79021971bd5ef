"""``baton.loading.load_target``: how ``baton mcp serve``, ``baton dev`` and ``baton worker``
find the agent a ``module:attribute`` names."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton import Agent
from baton.errors import ConfigError
from baton.loading import load_target

MODULE = """
from baton import Agent
from baton.testing import ScriptedModel

agent = Agent("made", config=ScriptedModel("hi"))

def make():
    return Agent("from-factory", config=ScriptedModel("hi"))

class Holder:
    inner = agent

number = 3
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module ``loading_target_mod`` in a fresh working directory."""
    (tmp_path / "loading_target_mod.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield "loading_target_mod"
    sys.modules.pop("loading_target_mod", None)


def is_agent(found: object) -> bool:
    return isinstance(found, Agent)


def test_objects_factories_and_dotted_names_are_found(module: str) -> None:
    assert load_target(f"{module}:agent", is_agent, "an Agent").name == "made"
    assert load_target(f"{module}:make", is_agent, "an Agent").name == "from-factory"
    assert load_target(f"{module}:Holder.inner", is_agent, "an Agent").name == "made"


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("loading_target_mod", "name --agent as 'module:attribute'"),
        (":agent", "name --agent as 'module:attribute'"),
        ("no_such_module_here:agent", "cannot import 'no_such_module_here'"),
        ("loading_target_mod:missing", "'loading_target_mod' has no attribute 'missing'"),
        ("loading_target_mod:number", "'loading_target_mod:number' is int, not an Agent"),
    ],
)
def test_bad_targets_are_config_errors_naming_them(module: str, target: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_target(target, is_agent, "an Agent", option="--agent")
