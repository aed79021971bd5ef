"""Built-in tools, imported only when used: ``from baton.tools.builtins import memory_tools``."""

from .memory import Namespace, memory_tools, resolve_namespace, variable_namespace

__all__ = ["Namespace", "memory_tools", "resolve_namespace", "variable_namespace"]
