"""How an agent's plan is made and chosen: its tools, output, layers and model settings
compiled once into a ``Plan`` (``loop.py``), and per ask the one its options call for (cached
per override and per set of options). The ``Planning`` part of ``Agent``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .hitl import with_approval_policy
from .hooks import ContextPolicy, Middleware, Observer
from .loop import Plan
from .models.base import ModelConfig, ModelSettings
from .models.hosted import check_hosted, resolve_hosted, split_hosted
from .models.registry import resolve_config
from .options import AskOptions, check_settings, check_tool_list
from .output import OutputSpec, build_output_spec
from .overrides import active_override
from .tools.tool import Tool
from .tools.toolkit import build_tool_table, split_sources

if TYPE_CHECKING:
    from .humans import HumanHandler
    from .prompt import Instructions

__all__ = ["Planning"]


class Planning:
    """Making and choosing an agent's plans: a part of ``Agent`` (see the module docs)."""

    if TYPE_CHECKING:  # what it uses of the rest of the agent (``agent.py``)
        name: str
        config: ModelConfig | None
        settings: ModelSettings | None
        hitl: HumanHandler | None
        raise_tool_errors: bool
        middleware: tuple[Middleware, ...]
        policies: tuple[ContextPolicy, ...]
        observers: tuple[Observer, ...]
        _instructions: Instructions
        _tool_sources: tuple[Any, ...]
        _plan: Plan
        _plans: dict[tuple[Any, ...], Plan]
        _settings_cache: dict[int, tuple[ModelConfig, ModelSettings]]

    def _config_for(self, options: AskOptions) -> ModelConfig:
        config = options.get("config") or self.config
        if config is None:
            raise ConfigError(
                f"agent {self.name!r} has no model: pass config=... to Agent(...) or to ask(...), "
                "e.g. config=ScriptedModel('hi') for tests or config='openai:gpt-5'"
            )
        return resolve_config(config)

    def _config_and_plan(self, options: AskOptions) -> tuple[ModelConfig, Plan]:
        config, plan = self._config_for(options), self._plan_for(options)
        if plan.hosted and options.get("config") is not None and config is not self.config:
            # The plan's hosted tools (and their fallbacks) were resolved for the agent's own
            # model: another one must run every hosted tool the plan sends.
            check_hosted(plan.hosted, config, f"agent {self.name!r}")
        return config, plan

    def _build_plan(
        self,
        tools: Iterable[Any],
        output: OutputSpec | None,
        middleware: Sequence[Middleware],
        policies: Sequence[ContextPolicy],
        observers: Sequence[Observer],
        *,
        raise_tool_errors: bool = False,
        replaced: Mapping[str, Tool] | None = None,
    ) -> Plan:
        where = f"agent {self.name!r}"
        rest, hosted = split_hosted(tools)
        hosted, fallbacks = resolve_hosted(hosted, self.config, where)  # before any ask
        static, sources = split_sources([*rest, *fallbacks])
        table = build_tool_table(static, where)
        if replaced:  # agent.override(tools=...): same tools shown, other functions run
            table = {name: replaced.get(name, t) for name, t in table.items()}
        return Plan(
            table,
            output,
            self._instructions,
            with_approval_policy(middleware, table),  # for requires_approval tools
            policies,
            observers,
            hitl=self.hitl,
            sources=sources,
            where=where,
            raise_tool_errors=raise_tool_errors,
            hosted=hosted,
        )

    def _plan_for(self, options: AskOptions) -> Plan:
        extra_tools = options.get("tools")
        has_schema = "response_schema" in options
        layers: tuple[tuple[Any, ...], ...] = (
            tuple(options.get("middleware") or ()),
            tuple(options.get("policies") or ()),
            tuple(options.get("observers") or ()),
        )
        override = active_override(self)  # agent.override(...) in force here
        raise_errors = options.get("raise_tool_errors")
        if raise_errors is None:
            raise_errors = self.raise_tool_errors
            if override is not None and override.raise_tool_errors is not None:
                raise_errors = override.raise_tool_errors
        if (
            not extra_tools
            and not has_schema
            and not any(layers)
            and override is None
            and raise_errors == self.raise_tool_errors
        ):
            return self._plan
        tools_key = check_tool_list(extra_tools) if extra_tools else ()
        schema = options.get("response_schema")
        key: tuple[Any, ...] = (
            tools_key,
            has_schema,
            schema if has_schema else None,
            layers,
            bool(raise_errors),
        )
        plans = self._plans if override is None else override.plans  # dropped with it
        try:
            plan = plans.get(key)
        except TypeError:  # an unhashable schema: build without caching
            plan, key = None, ()
        if plan is None:
            output = build_output_spec(schema) if has_schema else self._plan.output
            middleware, policies, observers = layers
            plan = self._build_plan(
                (*self._tool_sources, *tools_key),
                output,
                (*self.middleware, *middleware),
                (*self.policies, *policies),
                (*self.observers, *observers),
                raise_tool_errors=bool(raise_errors),
                replaced=None if override is None else override.tools,
            )
            if key:
                if len(plans) >= 64:
                    plans.pop(next(iter(plans)))
                plans[key] = plan
        return plan

    def _settings_for(self, config: ModelConfig, override: ModelSettings | None) -> ModelSettings:
        if override is None:
            cached = self._settings_cache.get(id(config))
            if cached is not None and cached[0] is config:
                return cached[1]
        merged = config.settings.merge(self.settings).merge(check_settings(override))
        if override is None:
            self._settings_cache[id(config)] = (config, merged)
        return merged
