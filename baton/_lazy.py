"""Names a package re-exports from its modules, imported on first use (PEP 562).

``import baton`` loads only what an ask needs. A package such as ``baton.middleware`` or
``baton.harness`` re-exports its features by name, and importing them all whenever one module of
the package is wanted (the core uses ``baton.middleware.base``) would load every feature at start.
With ``lazy_exports`` the package lists which module holds each name; ``from baton.middleware
import RetryMiddleware`` imports ``baton.middleware.retry`` then, and keeps the name in the
package so later reads are plain attribute reads. ``dir()`` lists the names before they load.

Type checkers see the package's ``if TYPE_CHECKING:`` imports of the same names, and no module
``__getattr__`` (a package defines it under ``if not TYPE_CHECKING:``), so a misspelt name is
still an error there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, modules: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose globals are ``namespace``:
    ``modules`` maps each lazily exported name to the submodule holding it."""

    submodules = frozenset(modules.values())

    def __getattr__(name: str) -> Any:
        if name in submodules:
            # A submodule, as an attribute of its package: there once any of them was imported
            # (``baton.middleware.retry``), as it was before the names loaded lazily.
            return importlib.import_module(f"{package}.{name}")
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # from now on found without this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *modules})

    return __getattr__, __dir__
