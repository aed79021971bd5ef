"""`reply.output` is typed by the response schema, as a type checker sees it."""

import subprocess
import sys
from pathlib import Path

import pytest

SNIPPET = """
from typing import Literal
from pydantic import BaseModel
from baton import Agent, Prompted
from baton.testing import ScriptedModel

class City(BaseModel):
    name: str

def pick(name: str) -> int:
    return 1

async def main() -> None:
    reveal_type((await Agent("a", config=ScriptedModel("x"), response_schema=City).ask("q")).output)
    reveal_type((await Agent("b", config=ScriptedModel("x")).ask("q")).output)
    reveal_type((await Agent("c", response_schema=Prompted(City)).ask("q")).output)
    reveal_type((await Agent("d", response_schema=pick).ask("q")).output)
    reveal_type((await Agent("e", response_schema=list[City]).ask("q")).output)
    reveal_type((await Agent("f", response_schema=Literal["a", "b"]).ask("q")).output)
    reply = await Agent("g", response_schema=City).ask("q")
    reveal_type((await reply.ask("again")).output)
    Agent("h", max_turn=3)
"""


def test_reply_output_is_typed_by_the_response_schema(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    source = tmp_path / "snippet.py"
    source.write_text(SNIPPET)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    revealed = [
        line.split('Revealed type is "')[1].rstrip('"')
        for line in result.stdout.splitlines()
        if "Revealed type is" in line
    ]
    assert revealed == [
        "snippet.City",
        "str",
        "snippet.City",
        "int",
        "list[snippet.City]",
        "Any",
        "snippet.City",
    ]
    # A misspelt option is a type error, not silently accepted.
    assert 'No overload variant of "Agent"' in result.stdout
