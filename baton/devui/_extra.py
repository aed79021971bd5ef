"""The ``devui`` extra: Starlette, uvicorn and the AG-UI protocol package, loaded only when
``baton dev`` runs."""

from __future__ import annotations

import importlib

from ..errors import ConfigError

__all__ = ["require_extra"]


def require_extra() -> None:
    """A ``ConfigError`` naming the extra when a package the dev UI needs is missing."""
    for module in ("ag_ui.core", "starlette.applications", "uvicorn"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                "the dev UI needs Starlette, uvicorn and the AG-UI protocol package: "
                f"pip install 'baton-agents[devui]' ({exc})"
            ) from None
