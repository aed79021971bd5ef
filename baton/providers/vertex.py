"""Gemini models on Google Cloud's Vertex AI, through the same ``google-genai`` client as the
Gemini API (``gemini.py``): only how the client is made differs."""

from __future__ import annotations

import os
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigError
from .gemini import GeminiConfig

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

__all__ = ["VertexConfig"]


@dataclass(eq=False)
class VertexConfig(GeminiConfig):
    """Vertex AI. ``project`` and ``location`` default to ``GOOGLE_CLOUD_PROJECT`` and
    ``GOOGLE_CLOUD_LOCATION``; ``credentials`` (a ``google.auth`` credentials object) default to
    Application Default Credentials. No API key is needed; giving ``api_key`` uses Vertex AI's
    express mode instead, without project and location. Settings map as for ``GeminiConfig``.
    """

    _: KW_ONLY
    project: str | None = None
    location: str | None = None
    credentials: Credentials | None = field(default=None, repr=False)

    provider_name: ClassVar[str] = "vertex"
    env_keys: ClassVar[tuple[str, ...]] = ()
    extra_name: ClassVar[str] = "gemini"

    def resolved_project(self) -> str:
        return self._setting(self.project, "project", "GOOGLE_CLOUD_PROJECT")

    def resolved_location(self) -> str:
        return self._setting(self.location, "location", "GOOGLE_CLOUD_LOCATION")

    def _setting(self, given: str | None, name: str, variable: str) -> str:
        value = given or os.environ.get(variable)
        if not value:
            raise ConfigError(
                f"Vertex AI needs a {name}: set {variable}, or pass VertexConfig(..., {name}=...)"
            )
        return value

    def sdk_options(self) -> dict[str, Any]:
        if self.api_key:
            return {"vertexai": True, "api_key": self.api_key}
        return {
            "vertexai": True,
            "project": self.resolved_project(),
            "location": self.resolved_location(),
            "credentials": self.credentials,
        }
