"""``WorkerSpec``: the contract of a bounded worker, from a ``*.worker.md`` file or from code.

A worker file is Baton's reading of the "worker.md" pattern: YAML front matter (``id``,
``name``, ``version`` and optionally ``constraints``), then markdown. The markdown is the
agent's instructions, except three sections Baton reads itself (any heading level, any case):

- ``Input schema``: a fenced ``json`` block, the JSON schema (2020-12) a payload must match;
- ``Output schema``: a fenced ``json`` block, the schema of ``{run_id, status, result}``; its
  ``result`` property is the schema the agent's answer is built and checked against;
- ``Constraints``: a list of ``key: value`` lines (``timeout_seconds``, ``max_attempts``,
  ``idempotency_key``, ``retention_seconds``); the front matter's ``constraints`` win.

Whatever is left out takes the default contract (``DEFAULT_INPUT_SCHEMA``,
``DEFAULT_OUTPUT_SCHEMA``, 30 s, 2 attempts, ``run_id``). Anything wrong is a ``ConfigError``
naming the file and the line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .requires import require, require_jsonschema, require_yaml

__all__ = [
    "DEFAULT_INPUT_SCHEMA",
    "DEFAULT_OUTPUT_SCHEMA",
    "STATUSES",
    "WorkerSpec",
]

STATUSES = ("ok", "retryable_error", "invalid_request", "invalid_output")
"""The statuses every worker's output schema must allow (``failed`` may be added)."""

DEFAULT_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string", "minLength": 1},
        "task": {"type": "string"},
        "context": {"type": "object"},
    },
    "required": ["run_id", "task"],
    "additionalProperties": False,
}

DEFAULT_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "status": {"enum": list(STATUSES)},
        "result": {"type": "object"},
    },
    "required": ["run_id", "status", "result"],
    "additionalProperties": False,
}

CONSTRAINTS = ("timeout_seconds", "max_attempts", "idempotency_key", "retention_seconds")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_-]*)\s*$")
_ITEM = re.compile(r"^\s*[-*+]\s+`?([A-Za-z_][A-Za-z0-9_]*)`?\s*:\s*(.*?)\s*$")


def is_spec_id(value: object) -> bool:
    """Whether ``value`` can be a worker's id (1-128 letters, digits, '_', '.' or '-')."""
    return isinstance(value, str) and _ID.match(value) is not None


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker promises: its id, input and output schemas, and constraints.

    ``id`` names the worker (its Redis stream, its stored outcomes); ``instructions`` is the
    prompt of the agent that does the work (``spec.agent(...)`` builds one). Build it in code
    (``WorkerSpec("triage", input_schema=..., result_schema=...)``) or load a file with
    ``WorkerSpec.load(path)``.
    """

    id: str
    name: str = ""
    version: str = "1"
    instructions: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_INPUT_SCHEMA))
    output_schema: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_OUTPUT_SCHEMA))
    timeout_seconds: float = 30.0
    max_attempts: int = 2
    idempotency_key: str = "run_id"
    retention_seconds: float | None = 7 * 24 * 3600.0
    triggers: tuple[Mapping[str, Any], ...] = ()
    source: str = "<code>"

    def __post_init__(self) -> None:
        where = self.source
        if not is_spec_id(self.id):
            raise ConfigError(
                f"{where}: a worker id is 1-128 letters, digits, '_', '.' or '-' (it names a "
                f"Redis stream and stored outcomes), got {self.id!r}"
            )
        if not self.name:
            object.__setattr__(self, "name", self.id)
        for key in CONSTRAINTS:
            object.__setattr__(self, key, check_constraint(key, getattr(self, key), where))
        _check_schema(self.input_schema, f"{where}: the input schema")
        _check_schema(self.output_schema, f"{where}: the output schema")
        _check_statuses(self.output_schema, where)
        object.__setattr__(
            self, "triggers", tuple(check_trigger(t, where) for t in self.triggers or ())
        )
        _check_schema(self.result_schema, f"{where}: the output schema's result")

    @property
    def statuses(self) -> tuple[str, ...]:
        """The statuses the output schema allows (``status.enum``, or ``const``)."""
        return _statuses(self.output_schema)

    @property
    def failed_status(self) -> str | None:
        """``"failed"`` when the output schema allows it: then a failure retrying can't fix
        ends with it (otherwise with ``retryable_error`` and ``"retryable": false``)."""
        return "failed" if "failed" in self.statuses else None

    @property
    def result_schema(self) -> dict[str, Any]:
        """The schema of ``result`` in the ``ok`` case: the agent's structured output."""
        result = _properties(self.output_schema).get("result")
        if not isinstance(result, Mapping):
            return {"type": "object"}
        schema = dict(result)
        defs = self.output_schema.get("$defs")
        if isinstance(defs, Mapping) and "$defs" not in schema:
            schema["$defs"] = dict(defs)  # the result's $refs point at the document's $defs
        return schema

    def agent(self, **options: Any) -> Any:
        """An ``Agent`` named after this spec, prompted with its instructions and answering in
        its result schema; ``options`` go to ``Agent`` (``config=...``, ``tools=[...]``)."""
        from ..agent import Agent

        return Agent(
            self.name,
            prompt=self.instructions or None,
            response_schema=self.result_schema,
            **options,
        )

    def to_markdown(self) -> str:
        """This spec as a ``*.worker.md`` file's text (``WorkerSpec.parse`` reads it back)."""
        constraints = "".join(
            f"- {key}: {'none' if getattr(self, key) is None else getattr(self, key)}\n"
            for key in CONSTRAINTS
        )
        triggers = f"triggers: {json.dumps(list(self.triggers))}\n" if self.triggers else ""
        return (
            f"---\nid: {json.dumps(self.id)}\nname: {json.dumps(self.name)}\n"
            f"version: {json.dumps(self.version)}\n{triggers}---\n\n{self.instructions}\n\n"
            f"## Input schema\n\n```json\n{json.dumps(self.input_schema, indent=2)}\n```\n\n"
            f"## Output schema\n\n```json\n{json.dumps(self.output_schema, indent=2)}\n```\n\n"
            f"## Constraints\n\n{constraints}"
        )

    @classmethod
    def load(cls, path: str | Path) -> WorkerSpec:
        """Read a ``*.worker.md`` file (see the module docs)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the worker spec {file}: {exc.strerror}") from None
        return cls.parse(text, source=str(file))

    @classmethod
    def parse(cls, text: str, *, source: str = "<text>") -> WorkerSpec:
        """Read the text of a ``*.worker.md`` file; ``source`` names it in errors."""
        front, body, body_line = _split_front_matter(text, source)
        for key in ("id", "name", "version"):
            value = front.values.get(key)
            if value is not None and not isinstance(value, str | int | float):
                raise ConfigError(f"{source}:{front.line_of(key)}: {key} must be a string")
        if "id" not in front.values:
            raise ConfigError(
                f"{source}:1: the front matter needs an id (e.g. 'id: support-triage'): it "
                "names the worker's stream and stored outcomes"
            )
        unknown = sorted(set(front.values) - {"id", "name", "version", "constraints", "triggers"})
        if unknown:
            raise ConfigError(
                f"{source}:{front.line_of(unknown[0])}: unknown front matter key "
                f"{unknown[0]!r}; a worker spec takes id, name, version, constraints and "
                "triggers"
            )
        triggers = front.values.get("triggers") or []
        if not isinstance(triggers, list):
            raise ConfigError(
                f"{source}:{front.line_of('triggers')}: triggers is a list, e.g. "
                "'- every: 300' with 'task: ...' under it"
            )
        for trigger in triggers:
            check_trigger(trigger, f"{source}:{front.line_of('triggers')}")
        sections = _read_sections(body, body_line, source)
        constraints: dict[str, Any] = {}
        for key, (value, line) in sections.constraints.items():
            constraints[key] = check_constraint(key, value, f"{source}:{line}")
        front_constraints = front.values.get("constraints")
        if front_constraints is not None:
            if not isinstance(front_constraints, Mapping):
                raise ConfigError(
                    f"{source}:{front.line_of('constraints')}: constraints must be a mapping "
                    "of key: value lines"
                )
            for key, value in front_constraints.items():
                line = front.line_of(str(key))
                if key not in CONSTRAINTS:
                    raise ConfigError(
                        f"{source}:{line}: unknown constraint {key!r}; "
                        f"a worker takes {', '.join(CONSTRAINTS)}"
                    )
                constraints[key] = check_constraint(key, value, f"{source}:{line}")
        options: dict[str, Any] = {}
        if sections.input_schema is not None:
            options["input_schema"] = sections.input_schema
        if sections.output_schema is not None:
            options["output_schema"] = sections.output_schema
        return cls(
            id=str(front.values["id"]),
            name=str(front.values.get("name") or ""),
            version=str(front.values.get("version", "1")),
            instructions=sections.instructions,
            source=source,
            triggers=tuple(triggers),
            **constraints,
            **options,
        )


def check_constraint(key: str, value: Any, where: str) -> Any:
    """A constraint's value, checked (numbers given as text are read)."""
    if key in ("timeout_seconds", "retention_seconds"):
        if key == "retention_seconds" and value in (None, "none", "null", "forever"):
            return None
        number = _number(value)
        if number is None or not 0 < number < math.inf:
            raise ConfigError(f"{where}: {key} must be a positive number of seconds, got {value!r}")
        return number
    if key == "max_attempts":
        number = _number(value)
        if number is None or number != int(number) or number < 1:
            raise ConfigError(
                f"{where}: max_attempts must be an integer of at least 1, got {value!r}"
            )
        return int(number)
    if key == "idempotency_key":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: idempotency_key names an input field, got {value!r}")
        return value.strip()
    raise ConfigError(
        f"{where}: unknown constraint {key!r}; a worker takes {', '.join(CONSTRAINTS)}"
    )


def check_seconds(name: str, value: Any, *, zero: bool = False) -> float:
    """``value`` as seconds: a finite number, positive (or ``0`` too, with ``zero``); else a
    ``ConfigError`` naming ``name``."""
    number = None if isinstance(value, bool) or not isinstance(value, int | float) else value
    if number is None or not (number >= 0 if zero else number > 0) or not number < math.inf:
        more = "0 or more" if zero else "more than 0"
        raise ConfigError(f"{name} is a number of seconds, {more}, got {value!r}")
    return float(value)


TRIGGER_KEYS = ("name", "every", "cron", "task", "context", "missed", "catch_up")


def check_trigger(trigger: Any, where: str) -> Mapping[str, Any]:
    """A trigger declared in a spec (``every`` seconds or a ``cron`` expression, the ``task``
    each tick submits, optionally ``name``, ``context``, ``missed``, ``catch_up``), checked."""
    if not isinstance(trigger, Mapping):
        raise ConfigError(f"{where}: a trigger is a mapping (every or cron, and task)")
    unknown = sorted(set(trigger) - set(TRIGGER_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown trigger key {unknown[0]!r}; "
            f"a trigger takes {', '.join(TRIGGER_KEYS)}"
        )
    if ("every" in trigger) == ("cron" in trigger):
        raise ConfigError(f"{where}: a trigger has either 'every' (seconds) or 'cron', not both")
    if "every" in trigger:
        every = _number(trigger["every"])
        if every is None or not 0 < every < math.inf:
            raise ConfigError(f"{where}: every must be a positive number of seconds")
    elif not isinstance(trigger["cron"], str):
        raise ConfigError(f"{where}: cron is a cron expression, e.g. '*/5 * * * *'")
    else:
        _check_cron(trigger["cron"], where)
    if not isinstance(trigger.get("task"), str) or not trigger["task"]:
        raise ConfigError(f"{where}: a trigger needs the task text each tick submits")
    if trigger.get("missed", "skip") not in ("skip", "catch_up"):
        raise ConfigError(f"{where}: missed is skip or catch_up, not {trigger['missed']!r}")
    if not isinstance(trigger.get("context", {}), Mapping):
        raise ConfigError(f"{where}: a trigger's context is a mapping")
    catch_up = trigger.get("catch_up", 10)
    if isinstance(catch_up, bool) or not isinstance(catch_up, int) or catch_up < 0:
        raise ConfigError(f"{where}: catch_up is a count of ticks (0 or more), not {catch_up!r}")
    name = trigger.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise ConfigError(f"{where}: a trigger's name is text (its ticks' run ids start with it)")
    return dict(trigger)


def _check_cron(expression: str, where: str) -> None:
    """Refuse a cron expression ``Schedule.cron`` could not read, here where the file and line
    are known (not later, when ``baton worker run`` starts the trigger)."""
    from datetime import UTC, datetime

    cronsim = require("cronsim", "worker", "a cron trigger")
    try:
        cronsim.CronSim(expression, datetime.now(UTC))
    except (cronsim.CronSimError, TypeError) as exc:
        raise ConfigError(
            f"{where}: cron {expression!r} is not a cron expression ({exc}); it takes five "
            "fields, e.g. '*/5 * * * *'"
        ) from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().removesuffix("s"))
        except ValueError:
            return None
    return None


def _statuses(schema: Mapping[str, Any]) -> tuple[str, ...]:
    status = _properties(schema).get("status")
    if not isinstance(status, Mapping):
        return ()
    if "enum" in status and isinstance(status["enum"], list):
        return tuple(str(s) for s in status["enum"])
    if "const" in status:
        return (str(status["const"]),)
    return ()


def _check_statuses(schema: Mapping[str, Any], where: str) -> None:
    missing = [s for s in STATUSES if s not in _statuses(schema)]
    if missing:
        raise ConfigError(
            f"{where}: the output schema's status must allow {', '.join(STATUSES)} "
            f"(missing {', '.join(missing)}); give it "
            '{"status": {"enum": ["ok", "retryable_error", "invalid_request", '
            '"invalid_output"]}}'
        )


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = schema.get("properties")
    return properties if isinstance(properties, Mapping) else {}


def _check_schema(schema: Any, what: str) -> None:
    if not isinstance(schema, Mapping):
        raise ConfigError(f"{what} must be a JSON object (a JSON schema), got {schema!r}")
    jsonschema = require_jsonschema()
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        at = "/".join(map(str, exc.absolute_path)) or "the top level"
        raise ConfigError(f"{what} is not a valid JSON schema (at {at}: {exc.message})") from None


# -- reading the file ---------------------------------------------------------------------------


@dataclass
class _FrontMatter:
    values: dict[str, Any]
    lines: dict[str, int]  # key -> line number in the file (1-based)
    first_line: int

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.first_line)


def _split_front_matter(text: str, source: str) -> tuple[_FrontMatter, str, int]:
    """The front matter (values and the line of each key), the body and the body's first line."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ConfigError(
            f"{source}:1: a worker spec starts with YAML front matter between '---' lines "
            "(id, name, version, optionally constraints)"
        )
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise ConfigError(f"{source}:1: the front matter's closing '---' line is missing") from None
    yaml = require_yaml()
    raw = "\n".join(lines[1:end])
    try:
        node = yaml.compose(raw, Loader=yaml.SafeLoader)
        values = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{source}:{line}: the front matter is not valid YAML ({problem})"
        ) from None
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source}:2: the front matter must be a mapping of key: value lines")
    key_lines: dict[str, int] = {}
    if node is not None:
        _note_key_lines(node, key_lines)
    body = "\n".join(lines[end + 1 :])
    return _FrontMatter(values, key_lines, 2), body, end + 2


def _note_key_lines(node: Any, out: dict[str, int]) -> None:
    """The line (1-based, in the file) of each key of a mapping node, nested ones too (the
    first place a key appears wins)."""
    yaml = require_yaml()
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _note_key_lines(item, out)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                out.setdefault(str(key_node.value), key_node.start_mark.line + 2)
            _note_key_lines(value_node, out)


@dataclass
class _Sections:
    instructions: str = ""
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    constraints: dict[str, tuple[str, int]] = field(default_factory=dict)


def _read_sections(body: str, first_line: int, source: str) -> _Sections:
    """Split the body into the instructions and the sections Baton reads."""
    sections = _Sections()
    kept: list[str] = []
    lines = body.splitlines()
    current: str | None = None  # the Baton section being read, else None
    level = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(2).strip().lower().rstrip(":")
            depth = len(heading.group(1))
            if title in ("input schema", "output schema", "constraints"):
                current, level = title, depth
                i += 1
                continue
            if current is not None and depth <= level:
                current = None
        fence = _FENCE.match(line)
        if fence and current in ("input schema", "output schema"):
            close = fence.group(1)
            start = i
            j = i + 1
            while j < len(lines) and lines[j].strip() != close:
                j += 1
            if j >= len(lines):
                raise ConfigError(
                    f"{source}:{first_line + start}: the {current} block is not closed "
                    f"(a {close} line is missing)"
                )
            text = "\n".join(lines[start + 1 : j])
            schema = _read_json(text, source, first_line + start + 1, current)
            if current == "input schema":
                sections.input_schema = schema
            else:
                sections.output_schema = schema
            i = j + 1
            continue
        if current == "constraints":
            item = _ITEM.match(line)
            if item:
                key, value = item.group(1), item.group(2).strip().strip("`")
                if key not in CONSTRAINTS:
                    raise ConfigError(
                        f"{source}:{first_line + i}: unknown constraint {key!r}; "
                        f"a worker takes {', '.join(CONSTRAINTS)}"
                    )
                sections.constraints[key] = (value, first_line + i)
            i += 1
            continue
        if current is None:
            kept.append(line)
        i += 1
    sections.instructions = "\n".join(kept).strip()
    return sections


def _read_json(text: str, source: str, line: int, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}:{line + exc.lineno - 1}: the {what} is not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}:{line}: the {what} must be a JSON object (a JSON schema)")
    _check_schema(value, f"{source}:{line}: the {what}")
    if what == "output schema":
        _check_statuses(value, f"{source}:{line}")
    return value
