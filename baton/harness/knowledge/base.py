"""The knowledge store protocol, its ``Note``, key rules and the shared search ranking.

A knowledge store keeps short texts (notes) under namespaced keys such as
``"user:42/preferences"``: ``/`` separates segments, and a namespace is simply a key prefix.
Every backend (memory, files, SQLite here; Redis and PostgreSQL elsewhere) validates keys and
metadata the same way, with the helpers in this module, so that a note written to one can be
written to any other.
"""

from __future__ import annotations

import builtins
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ...errors import BatonError

__all__ = [
    "MAX_KEY_LENGTH",
    "InvalidKey",
    "KnowledgeStore",
    "Note",
    "check_limit",
    "decode_metadata",
    "encode_metadata",
    "query_terms",
    "rank",
    "terms",
    "validate_key",
    "validate_prefix",
]

MAX_KEY_LENGTH = 256
"""The longest key (in characters) every backend accepts."""


class InvalidKey(BatonError, ValueError):
    """A key (or prefix) that no knowledge store accepts: empty, too long, or path-like tricks."""


@dataclass(frozen=True, slots=True)
class Note:
    """A note found by ``search``: its key, text, metadata and relevance (higher is better)."""

    key: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0


@runtime_checkable
class KnowledgeStore(Protocol):
    """Durable notes under namespaced keys (``"user:42/preferences"``).

    ``list`` and ``search`` take a key ``prefix`` so that one store can serve many users or
    agents without them seeing each other's notes.

    Implementations check keys with ``validate_key``/``validate_prefix`` (raising
    ``InvalidKey``), metadata with ``encode_metadata`` (a ``TypeError`` for what isn't JSON),
    ``limit`` with ``check_limit``; ``search`` returns only notes with a positive score, best
    first (ties by key), and may use ``rank`` when the backend has no relevance search of its
    own. ``tests/test_knowledge.py`` is the behaviour every implementation must pass.
    """

    async def read(self, key: str) -> str | None:
        """The text stored under ``key``, or ``None`` if there is none."""
        ...

    async def write(
        self, key: str, text: str, *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """Store ``text`` (and JSON-able ``metadata``) under ``key``, replacing what was there."""
        ...

    async def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove a note; ``True`` if there was one."""
        ...

    async def search(self, query: str, *, limit: int = 5, prefix: str = "") -> builtins.list[Note]:
        """Up to ``limit`` notes under ``prefix`` relevant to ``query``, best first."""
        ...


# -- keys ----------------------------------------------------------------------------------------


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidKey(f"a knowledge {what} must be a string, got {type(value).__name__}")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidKey(
            f"knowledge {what} {value[:40]!r}... is {len(value)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}"
        )
    for char in value:
        if char == "\\" or unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidKey(
                f"knowledge {what} {value!r} contains {char!r}: backslashes, control characters "
                "and unpaired surrogates are not allowed"
            )
    return value


def validate_key(key: object) -> str:
    """Return ``key`` if every store accepts it, else raise ``InvalidKey`` saying why.

    A key is 1 to ``MAX_KEY_LENGTH`` characters of segments joined by ``/``: no empty segment
    (no leading, trailing or doubled ``/``), no ``.`` or ``..`` segment, no backslash or control
    character, no leading or trailing whitespace.
    """
    text = _check_text(key, "key")
    if not text:
        raise InvalidKey(
            "a knowledge key cannot be empty; use something like 'user:42/preferences'"
        )
    if text.strip() != text:
        raise InvalidKey(f"knowledge key {text!r} starts or ends with whitespace")
    for segment in text.split("/"):
        if not segment:
            raise InvalidKey(
                f"knowledge key {text!r} has an empty segment: no leading, trailing or double '/'"
            )
        if segment in (".", ".."):
            raise InvalidKey(
                f"knowledge key {text!r} has a {segment!r} segment; paths like '../x' are not keys"
            )
    return text


def validate_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start a key (it may be empty or end with ``/``)."""
    text = _check_text(prefix, "prefix")
    segments = text.split("/")
    if any(s in (".", "..") for s in segments) or any(not s for s in segments[:-1]):
        raise InvalidKey(f"knowledge prefix {text!r} cannot start any valid key")
    return text


# -- metadata ------------------------------------------------------------------------------------


def encode_metadata(metadata: Mapping[str, Any] | None) -> str:
    """Metadata as compact JSON text (``"{}"`` for none); a clear error if it isn't JSON-able."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise TypeError(f"note metadata must be a mapping with string keys, got {metadata!r}")
    try:
        return json.dumps(dict(metadata), ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"note metadata must be JSON-serializable: {exc}") from None


def decode_metadata(text: str | None) -> dict[str, Any]:
    """The metadata dict stored as ``text`` (empty for none or unreadable)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- search --------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by did do does for from has have how i in is it its me my of on or "
        "our so that the their them they this to was we were what when where which who why will "
        "with you your",
    )
)
_K1 = 1.2
_B = 0.75


def _fold(word: str) -> str:
    # Case- and accent-insensitive, and a light plural folding ("notes" ~ "note").
    word = unicodedata.normalize("NFKD", word.casefold())
    word = "".join(c for c in word if not unicodedata.combining(c))
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The searchable terms of a text: words, case- and accent-folded, plurals folded."""
    return [_fold(w) for w in _WORD.findall(text)]


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, without common English stopwords (unless that's all)."""
    words = list(dict.fromkeys(_WORD.findall(query.casefold())))
    kept = [w for w in words if w not in _STOPWORDS] or words
    return list(dict.fromkeys(_fold(w) for w in kept))


def rank(query: str, notes: Iterable[tuple[str, str, str]], *, limit: int = 5) -> list[Note]:
    """Score ``(key, text, metadata JSON)`` candidates against ``query`` (BM25 over the key and
    text: case-insensitive term overlap weighted by rarity) and return the best ``limit`` with a
    positive score.

    Backends that cannot search natively use this; it reads every candidate, so it suits stores
    of up to some thousands of notes per prefix.
    """
    wanted = query_terms(query)
    if not wanted or limit <= 0:
        return []
    docs: list[tuple[str, str, str, Counter[str], int]] = []
    frequency: Counter[str] = Counter()
    for key, text, metadata in notes:
        counts = Counter(terms(key) + terms(text))
        docs.append((key, text, metadata, counts, sum(counts.values())))
        frequency.update(t for t in wanted if t in counts)
    if not docs or not frequency:
        return []
    total = len(docs)
    average = sum(d[4] for d in docs) / total or 1.0
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
    scored: list[tuple[float, str, str, str]] = []
    for key, text, metadata, counts, length in docs:
        score = 0.0
        norm = _K1 * (1 - _B + _B * length / average)
        for term, weight in idf.items():
            tf = counts.get(term, 0)
            if tf:
                score += weight * tf * (_K1 + 1) / (tf + norm)
        if score > 0:
            scored.append((-round(score, 6), key, text, metadata))
    scored.sort()
    return [Note(k, t, decode_metadata(m), -s) for s, k, t, m in scored[:limit]]


def check_limit(limit: object) -> int:
    """``limit`` if it is a non-negative integer, else a ``ValueError``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"search limit must be a non-negative integer, got {limit!r}")
    return limit
