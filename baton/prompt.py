"""Instructions: the agent's prompt, static or rendered from a function before every model call."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .errors import ConfigError
from .tools.injection import Signature, read_signature, resolve_injections

if TYPE_CHECKING:
    from .context import Context
    from .output import OutputSpec

__all__ = ["Instructions"]

PromptSource = str | Callable[..., str | Awaitable[str]] | None


class Instructions:
    """A compiled prompt. Dynamic prompts take injected parameters (Context, Variable, ...)."""

    __slots__ = ("_signature", "_static", "_suffix")

    def __init__(self, prompt: PromptSource, *, owner: str) -> None:
        self._suffix: str | None = None
        self._signature: Signature | None = None
        self._static: str | None = None
        if prompt is None or isinstance(prompt, str):
            self._static = prompt
        elif callable(prompt):
            self._signature = read_signature(prompt, allow_model_params=False)
        else:
            raise ConfigError(f"{owner}: prompt must be a string or a function, got {prompt!r}")

    def with_output(self, output: OutputSpec | None) -> Instructions:
        """These instructions plus what a prompted-mode output schema asks of the model."""
        suffix = output.instructions if output is not None else None
        if suffix is None:
            return self
        copy = object.__new__(Instructions)
        copy._signature = self._signature
        copy._static = self._static
        copy._suffix = suffix
        return copy

    @property
    def is_dynamic(self) -> bool:
        return self._signature is not None

    def static_text(self) -> str | None:
        """The text of static instructions (not ``is_dynamic``): what every ``render`` gives."""
        return self._with_suffix(self._static)

    def _with_suffix(self, text: str | None) -> str | None:
        if self._suffix is None:
            return text
        return f"{text}\n\n{self._suffix}" if text else self._suffix

    async def render(self, context: Context) -> str | None:
        text = self._static
        sig = self._signature
        if sig is not None:
            if sig.needs_cleanup:  # generator dependencies end when the rendering does
                async with contextlib.AsyncExitStack() as exits:
                    kwargs = await resolve_injections(sig, context, None, {}, exits=exits)
                    rendered = sig.fn(**kwargs)
                    if inspect.isawaitable(rendered):
                        rendered = await rendered
            else:
                kwargs = await resolve_injections(sig, context, None, {}) if sig.injections else {}
                rendered = sig.fn(**kwargs)
                if inspect.isawaitable(rendered):
                    rendered = await rendered
            if not isinstance(rendered, str):
                raise ConfigError(
                    f"prompt function {sig.label} returned {type(rendered).__name__}, not str"
                )
            text = rendered
        return self._with_suffix(text)
