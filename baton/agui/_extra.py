"""The ``agui`` extra: ``ag-ui-protocol`` and Starlette, loaded only when AG-UI is used."""

from __future__ import annotations

import importlib

from ..errors import ConfigError

__all__ = ["require_extra"]


def require_extra() -> None:
    """A ``ConfigError`` naming the extra when ``ag_ui`` or Starlette is not installed."""
    for module in ("ag_ui.core", "ag_ui.encoder", "starlette.requests"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                f"serving an agent over AG-UI needs the AG-UI protocol package and Starlette: "
                f"pip install 'baton-agents[agui]' ({exc})"
            ) from None
