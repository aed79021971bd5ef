"""WorkerSpec: the worker.md file read into a contract, its defaults, and errors that name the
file and the line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from baton.errors import ConfigError
from baton.worker import DEFAULT_INPUT_SCHEMA, DEFAULT_OUTPUT_SCHEMA, WorkerSpec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support_triage.worker.md"


def test_the_example_file_loads_with_its_schemas_constraints_and_instructions() -> None:
    spec = WorkerSpec.load(EXAMPLE)
    assert (spec.id, spec.name, spec.version) == ("support-triage", "Support triage", "1.0")
    assert spec.timeout_seconds == 30  # the front matter wins over the body's 60
    assert spec.max_attempts == 2 and spec.idempotency_key == "run_id"
    assert spec.result_schema["required"] == ["team", "urgency", "summary"]
    assert spec.input_schema["additionalProperties"] is False
    assert spec.instructions.startswith("# Support triage\n\nYou read one customer")
    # Baton's own sections are not the agent's instructions
    assert "Input schema" not in spec.instructions and "```" not in spec.instructions
    assert "timeout_seconds" not in spec.instructions
    assert spec.failed_status is None


def test_a_spec_built_in_code_has_the_default_contract() -> None:
    spec = WorkerSpec("triage")
    assert spec.input_schema == DEFAULT_INPUT_SCHEMA and spec.output_schema == DEFAULT_OUTPUT_SCHEMA
    assert (spec.timeout_seconds, spec.max_attempts, spec.idempotency_key) == (30, 2, "run_id")
    assert spec.name == "triage" and spec.result_schema == {"type": "object"}


def test_a_spec_round_trips_through_its_markdown() -> None:
    spec = WorkerSpec("t", instructions="Do it.", timeout_seconds=2.5, max_attempts=3)
    again = WorkerSpec.parse(spec.to_markdown(), source="t.worker.md")
    assert again == WorkerSpec(
        "t", instructions="Do it.", timeout_seconds=2.5, max_attempts=3, source="t.worker.md"
    )


def test_triggers_are_declared_in_the_front_matter() -> None:
    text = (
        "---\nid: w\ntriggers:\n  - every: 300\n    task: Summarise the queue\n"
        "  - cron: '0 * * * *'\n    task: Hourly\n    missed: catch_up\n---\nDo it.\n"
    )
    spec = WorkerSpec.parse(text)
    assert spec.triggers == (
        {"every": 300, "task": "Summarise the queue"},
        {"cron": "0 * * * *", "task": "Hourly", "missed": "catch_up"},
    )
    assert WorkerSpec.parse(spec.to_markdown()).triggers == spec.triggers
    with pytest.raises(ConfigError, match=r"bad.worker.md:3: a trigger needs the task"):
        WorkerSpec.parse("---\nid: w\ntriggers:\n  - every: 5\n---\n", source="bad.worker.md")
    with pytest.raises(ConfigError, match="either 'every' \\(seconds\\) or 'cron'"):
        WorkerSpec("w", triggers=({"every": 5, "cron": "* * * * *", "task": "x"},))


def test_a_trigger_that_could_not_start_is_refused_with_the_file_and_line() -> None:
    # Found when the file is read, not later as a bare error when `baton worker run` starts it.
    for declared, problem in (
        ("cron: '61 * * * *'", "cron '61 \\* \\* \\* \\*' is not a cron expression"),
        ("every: 60\n    catch_up: lots", "catch_up is a count of ticks"),
        ("every: 60\n    name: 5", "a trigger's name is text"),
    ):
        text = f"---\nid: w\ntriggers:\n  - {declared}\n    task: Go\n---\nDo it.\n"
        with pytest.raises(ConfigError, match=f"bad.worker.md:3: {problem}"):
            WorkerSpec.parse(text, source="bad.worker.md")


def test_constraints_may_come_only_from_the_body() -> None:
    text = (
        "---\nid: w\n---\nDo it.\n\n### Constraints\n\n- `timeout_seconds`: 5s\n- max_attempts: 4\n"
    )
    spec = WorkerSpec.parse(text)
    assert (spec.timeout_seconds, spec.max_attempts) == (5, 4)
    assert spec.instructions == "Do it."


def test_a_status_enum_with_failed_is_used_for_failures_retrying_cannot_fix() -> None:
    output = dict(DEFAULT_OUTPUT_SCHEMA)
    output["properties"] = {
        **DEFAULT_OUTPUT_SCHEMA["properties"],
        "status": {
            "enum": ["ok", "retryable_error", "invalid_request", "invalid_output", "failed"]
        },
    }
    assert WorkerSpec("w", output_schema=output).failed_status == "failed"


BAD = [
    ("no front matter\n", 1, "starts with YAML front matter"),
    ("---\nid: w\n", 1, "closing '---'"),
    ("---\nid: w\nname: [unclosed\n---\n", 3, "not valid YAML"),
    ("---\nname: w\n---\n", 1, "needs an id"),
    ("---\nid: w\ncolour: red\n---\n", 3, "unknown front matter key 'colour'"),
    ("---\nid: w\nconstraints:\n  max_attempts: 0\n---\n", 4, "max_attempts must be"),
    ("---\nid: w\nconstraints:\n  retries: 3\n---\n", 4, "unknown constraint 'retries'"),
    ("---\nid: w\n---\n\n## Constraints\n- timeout_seconds: soon\n", 6, "timeout_seconds must"),
    (
        '---\nid: w\n---\n\n## Input schema\n```json\n{\n  "type": "object",,\n}\n```\n',
        8,
        "not valid JSON",
    ),
    (
        '---\nid: w\n---\n## Output schema\n```json\n{"type": 3}\n```\n',
        6,
        "not a valid JSON schema",
    ),
    ('---\nid: w\n---\n## Input schema\n```json\n{"type": "object"}\n', 5, "not closed"),
    (
        "---\nid: w\n---\n## Output schema\n```json\n"
        '{"properties": {"status": {"enum": ["ok"]}}}\n```\n',
        6,
        "missing retryable_error",
    ),
    ("---\nid: 'has spaces'\n---\n", None, "a worker id is"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD)
def test_an_invalid_spec_is_a_config_error_naming_the_file_and_line(
    text: str, line: int | None, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        WorkerSpec.parse(text, source="bad.worker.md")
    message = str(caught.value)
    assert problem in message
    where = "bad.worker.md" if line is None else f"bad.worker.md:{line}:"
    assert message.startswith(where), message


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the worker spec"):
        WorkerSpec.load(tmp_path / "absent.worker.md")


def test_the_worker_package_loads_its_extras_only_when_used() -> None:
    code = (
        "import sys, baton, baton.worker\n"
        "extras = {'yaml', 'jsonschema', 'redis', 'dbos', 'starlette', 'cronsim'}\n"
        "assert not extras & set(sys.modules), extras & set(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_missing_library_names_the_extra_to_install() -> None:
    from baton.worker.requires import require

    with pytest.raises(ConfigError, match=r"pip install 'baton-agents\[worker\]'"):
        require("baton_no_such_module", "worker", "reading a worker spec")
