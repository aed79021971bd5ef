"""Every program in ``examples/`` runs, as a user runs it (``python examples/x.py``, a process of
its own, on the scripted model it is written for), and prints what it promises.

Examples that need a service skip without it (Redis; bubblewrap for the sandbox), except under
``CI=true``, where a missing Redis fails them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
REDIS_URL = os.environ.get("BATON_REDIS_URL", "redis://127.0.0.1:6379/0")


class Started:
    """An example running as a process of its own (started early, so that they run at once:
    each is mostly waiting on its imports and its processes)."""

    def __init__(self, name: str, *args: str, **env: str) -> None:
        self.name = name
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def output(self) -> str:
        """Its output, once it exited; the test fails with that output if it failed."""
        try:
            output, _ = self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
            raise AssertionError(f"{self.name}.py did not finish in 120 s:\n{output}") from None
        code = self.process.returncode
        assert code == 0, f"{self.name}.py exited with {code}:\n{output}"
        assert "Traceback" not in output, output
        return output

    def crashed_output(self) -> str:
        """Its output, once it exited with an error, as it should have."""
        output, _ = self.process.communicate(timeout=120)
        assert self.process.returncode != 0, f"{self.name}.py should have failed:\n{output}"
        return output

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def redis_problem() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis package is missing"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        return f"Redis at {REDIS_URL} is unreachable ({exc})"
    return None


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# example -> None when it can run here, else why not
NEEDS: dict[str, str | None] = {
    "support_approvals": None,
    "structured_output": None,
    "streaming": None,
    "tools_injection": None,
    "research_team": None,
    "swarm_handoffs": None,
    "mcp_tools": None if has("mcp_server_time") else "mcp-server-time is not installed",
    "mcp_server": None if has("mcp") else "the mcp extra is not installed",
    "a2a_agents": None if has("a2a") else "the a2a extra is not installed",
    "agui_app": None if has("ag_ui") else "the agui extra is not installed",
    "sandboxed_tools": None
    if shutil.which("bwrap")
    else "bubblewrap is not installed: apt-get install bubblewrap",
}


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Started]]:
    """Every example that can run here, started at once; ``worker_fleet`` only when Redis
    answers. The two durable examples run twice: here their first runs start (named
    ``<name>:first``, with their database in ``state``), and their tests run the second."""
    started = {name: Started(name) for name, problem in NEEDS.items() if problem is None}
    if redis_problem() is None:
        started["worker_fleet"] = Started("worker_fleet", REDIS_URL=REDIS_URL)
    state = tmp_path_factory.mktemp("durable")
    if has("aiosqlite"):
        started["durable_sqlite:first"] = Started("durable_sqlite", str(state / "example.db"))
    if has("dbos"):
        started["durable_dbos:first"] = Started("durable_dbos", str(state / "dbos.sqlite"), "crash")
    try:
        yield started
    finally:
        for example in started.values():
            example.stop()


def output_of(examples: dict[str, Started], name: str) -> str:
    if name not in examples:
        pytest.skip(str(NEEDS.get(name)))
    return examples[name].output()


def lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip()]


def test_every_example_is_tested_here() -> None:
    source = Path(__file__).read_text()
    untested = [p.stem for p in EXAMPLES.glob("*.py") if f'"{p.stem}"' not in source]
    assert untested == []


def test_every_example_has_the_model_line_and_a_docstring_saying_how_to_run_it() -> None:
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text()
        assert text.startswith('"""'), path.name
        assert f"python examples/{path.name}" in text, path.name
        assert re.search(r'^MODEL: ModelConfig \| str = "scripted"  # ', text, re.M), path.name


def test_support_approvals(examples: dict[str, Started]) -> None:
    out = output_of(examples, "support_approvals")
    assert 'refund {"order_id":"A-1001","amount":39.0} -> yes' in out
    assert "refund tool: refunded 39.00 EUR on A-1001" in out
    assert 'refund {"order_id":"A-1002","amount":649.0} -> no' in out
    assert "The user denied this call: refunds over 100 EUR go to the finance team" in out
    assert lines(out).count("recorded answer: approved=False") == 1


def test_structured_output(examples: dict[str, Started]) -> None:
    out = lines(output_of(examples, "structured_output"))
    assert "Nordlicht GmbH #2026-114: 2 item(s), total 81.20 EUR" in out
    assert "Casa Verde Ltd #88: 1 item(s), total 24.00 GBP" in out
    assert "3 x desk lamp @ 24.90" in out


def test_streaming(examples: dict[str, Started]) -> None:
    out = output_of(examples, "streaming")
    assert '[calling moon_phase {"date":"2026-12-24"}]' in out
    assert "[moon_phase returned: waxing gibbous, 87% illuminated]" in out
    assert "the moon is waxing gibbous, 87% lit, so the night is bright." in out
    assert "\033[" not in out  # no terminal colours when the output is not a terminal
    assert re.search(r"^2 model calls, \d+ tokens$", out, re.M)


def test_tools_injection(examples: dict[str, Started]) -> None:
    out = lines(output_of(examples, "tools_injection"))
    assert "tools the model sees: ['order_status', 'support_escalate']" in out
    assert "order_status's parameters, as the model sees them: ['order_id']" in out
    audits = [line for line in out if line.startswith("audit:")]
    assert [a.split(" (")[0] for a in audits] == ["audit: u-42 read B-7", "audit: u-42 read B-8"]
    assert "agent: B-7 shipped on 3 December. I can't find B-8 on your account." in out
    assert "agent: Escalated to a human: Customer u-42 says order B-8 is theirs." in out


def test_research_team(examples: dict[str, Started]) -> None:
    out = lines(output_of(examples, "research_team"))
    selected = [line.split(" (")[0] for line in out if line.startswith("->")]
    assert selected == ["-> researcher", "-> writer", "-> critic"]
    assert any(line.startswith("[researcher] [used search_notes] Facts:") for line in out)
    assert "[critic] Clear and accurate. APPROVED" in out
    assert "ended by: TextMention('APPROVED')" in out


def test_swarm_handoffs(examples: dict[str, Started]) -> None:
    out = lines(output_of(examples, "swarm_handoffs"))
    assert out == [
        "handoff: triage -> billing (double charge)",
        "[billing] INV-31 was charged twice; I've refunded the extra 19.00.",
        "[billing] Refunds reach your card within 5 business days.",
    ]


def test_mcp_tools(examples: dict[str, Started]) -> None:
    out = output_of(examples, "mcp_tools")
    assert "the server's tools: ['convert_time', 'get_current_time']" in out
    assert "get_current_time returned {'timezone': 'Asia/Tokyo'" in out
    assert re.search(r"^agent: It is \d\d:\d\d in Tokyo \(Asia/Tokyo\)\.$", out, re.M)


def test_mcp_server(examples: dict[str, Started]) -> None:
    out = lines(output_of(examples, "mcp_server"))
    assert out[0] == "tools served: ['ask', 'convert']"
    assert "ask -> A marathon, 42.195 km, is 26.22 miles." in out
    assert "ask (same conversation) -> Half of it is 13.11 miles, about 21.1 km." in out
    assert re.match(r"continued conversation \w+: True", out[-1])


def test_a2a_agents(examples: dict[str, Started]) -> None:
    out = output_of(examples, "a2a_agents")
    assert re.search(r"^A2A server at http://127\.0\.0\.1:\d+$", out, re.M)
    assert "task started on weather-desk: Tomorrow's forecast for Utrecht" in out
    assert "task completed: Utrecht tomorrow: 14 °C with afternoon showers." in out
    assert "planner: Cycle there in the morning" in out


def test_agui_app(examples: dict[str, Started]) -> None:
    out = lines(output_of(examples, "agui_app"))
    first = out[
        out.index("request 1: the user asks") + 1 : out.index("request 2: the user approves")
    ]
    assert first[0] == "RUN_STARTED" and first[-2] == "RUN_FINISHED"
    assert "TOOL_CALL_START: deploy" in first and "TOOL_CALL_RESULT" not in str(first)
    assert first[-1].startswith("interrupt: tool_call for tool call ")
    second = out[out.index("request 2: the user approves") + 1 :]
    assert second[0] == "RUN_STARTED" and second[-1] == "RUN_FINISHED"
    assert "TOOL_CALL_RESULT: checkout 2.4.1 is live" in second


def test_durable_sqlite_resumes_in_a_second_process(examples: dict[str, Started]) -> None:
    if "durable_sqlite:first" not in examples:
        pytest.skip("the sqlite extra is not installed")
    database = examples["durable_sqlite:first"].args[0]
    first = examples["durable_sqlite:first"].output()
    assert "paused: 1 approval pending in conversation" in first
    second = Started("durable_sqlite", database).output()
    assert 'pending approval of cancel_subscription {"customer":"lee@example.com"}' in second
    assert "resumed: Done: subscription of lee@example.com cancelled." in second
    assert "follow-up: No: your final invoice will arrive by email." in second
    assert not Path(database).with_suffix(".paused.json").exists()


def test_review_graph_pauses_at_the_editor_between_processes(tmp_path: Path) -> None:
    if not has("aiosqlite"):
        pytest.skip("the sqlite extra is not installed")
    database = str(tmp_path / "review.db")
    first = lines(Started("review_graph", database).output())
    assert first[1:] == [
        "draft: Steam over the cup / the kettle hums to itself / leaves unfold slowly",
        "paused: the editor's turn; the process can exit now. Run me with an answer.",
    ]
    assert lines(Started("review_graph", database).output()) == [
        "waiting for the editor; run me with an answer"
    ]
    second = lines(Started("review_graph", database, "Make it about green tea.").output())
    assert (
        second[1]
        == "draft: Green leaves in the pot / a pale jade steam rises / the first sip is spring"
    )
    third = lines(Started("review_graph", database, "APPROVED").output())
    assert third[-1] == (
        "graph done: Published: Green leaves in the pot / a pale jade steam rises / "
        "the first sip is spring"
    )


def test_durable_dbos_resumes_a_crashed_run_without_redoing_finished_steps(
    examples: dict[str, Started],
) -> None:
    if "durable_dbos:first" not in examples:
        pytest.skip("the dbos extra is not installed")
    database = examples["durable_dbos:first"].args[0]
    crashed = examples["durable_dbos:first"].crashed_output()
    assert "crashing in send_welcome_mail" in crashed
    out = lines(Started("durable_dbos", database).output())
    assert json.loads(out[0]) == {
        "run_id": "onboard-kim",
        "status": "ok",
        "result": {"onboarded": "kim@example.com", "steps": 2},
    }
    steps = out[out.index("steps that really ran:") + 1 :]
    assert [step.split(" (")[0] for step in steps] == [
        "create_account",
        "send_welcome_mail",
        "send_welcome_mail",  # the one the crash cut short, run again; create_account was not
    ]
    assert steps[0].split(" (")[1] == steps[1].split(" (")[1] != steps[2].split(" (")[1]


def test_worker_fleet(examples: dict[str, Started]) -> None:
    problem = redis_problem()
    if problem is not None and os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs Redis: {problem}")
    if problem is not None:
        pytest.skip(problem)
    out = lines(output_of(examples, "worker_fleet"))
    triaged = {line.split()[0]: line.split()[1:4] for line in out if re.match(r"t-\d \w+:", line)}
    assert triaged["t-1"] == ["ok:", "billing", "high"]
    assert triaged["t-2"] == ["ok:", "technical", "normal"]
    assert triaged["t-3"] == ["ok:", "account", "low"]
    assert triaged["t-4"] == ["ok:", "technical", "high"]
    assert "t-1 submitted again: same outcome, 1 attempt(s) in all" in out
    handled = re.search(r"'worker-1': (\d+), 'worker-2': (\d+)", out[-1])
    assert handled and int(handled[1]) + int(handled[2]) == 4


def test_sandboxed_tools(examples: dict[str, Started]) -> None:
    out = output_of(examples, "sandboxed_tools")
    assert "fib(30) = 832040" in out
    assert "secrets in my environment: []" in out
    assert "network: unreachable" in out
    assert "files written: fib.txt" in out
    assert "files_read failed" in out and "is outside the directory" in out
    assert "The answer goes here: fib(30) = 832040" in out


def test_the_migration_guides_baton_programs_run_and_its_ag2_ones_parse() -> None:
    migration = EXAMPLES / "migration"
    tools = Started("migration/tools_baton").output()
    assert tools.strip() == "B-7 shipped on 3 December."
    chat = lines(Started("migration/groupchat_baton").output())
    assert chat == [
        "[writer] A haiku about tea.",
        "[critic] Too plain.",
        "[writer] A better haiku.",
        "[critic] APPROVED",
        "TextMention('APPROVED')",
    ]
    # AG2 is not a dependency: its halves are only checked to be Python here
    for path in migration.glob("*_ag2*.py"):
        compile(path.read_text(), str(path), "exec")
    assert len(list(migration.glob("*_ag2*.py"))) == 2
