"""Team events are stored with the conversation, so a process that never imported
``baton.teams`` (an agent continuing the conversation, a watcher, the dev UI) decodes them."""

from __future__ import annotations

import json
import subprocess
import sys

from baton.events import to_dict
from baton.teams import TeamStarted


def test_a_process_without_baton_teams_decodes_a_team_event() -> None:
    stored = json.dumps(to_dict(TeamStarted("t1", "crew", "RoundRobin", "c1", task="Write.")))
    program = (
        "import sys, json\n"
        "from baton.events import from_dict\n"
        f"event = from_dict(json.loads({stored!r}))\n"
        "assert 'baton.teams' not in sys.modules, 'baton.teams was imported'\n"
        "print(type(event).__name__, event.team, event.task)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TeamStarted", "crew", "Write."]
