"""``SQLHistory``: conversations' events in SQLite or PostgreSQL.

Each event is one row of ``baton_events`` (conversation id, ``seq``, type name, JSON payload,
time). ``baton_conversations`` holds one counter row per conversation: an append bumps it with
an upsert that locks the row, and numbers its events from the old length, in the same statement
or transaction. Concurrent writers to one conversation (tasks or processes) therefore take turns
and ``seq`` runs 0, 1, 2, ... with no gap or duplicate; ``length`` is a single-row read.

Claims (``baton_claims``): an ask claims its conversation before loading it, with a row naming
its holder and lease; the lease is renewed while the ask runs and taken over once it expired, so
a process that died blocks the conversation for at most ``lease`` seconds.

A load decodes a whole history at once: SQLite fetches it as one row (the database joins the
payloads), PostgreSQL as rows of type and payload. With msgspec installed (the ``sqlite`` and
``postgres`` extras install it) each payload is decoded straight into its row's class
(``codec_rows.events_from_rows``); without it, in one pass (``events.events_from_json``) of
JSON arrays of ``events.JSON_PIECE`` events (SQLite's joined by the database, PostgreSQL's
here). Anything off (a gap or
disorder in SQLite's ``seq``, a type that is not a registered event or not its row's, a payload
that one pass refuses, a history too long for SQLite to join into one value) sends it row by
row through ``events.from_dict``, which names the row. Either way only registered classes are
ever built, and a row naming a type that is not a registered event raises ``EventDecodeError``
(rows are checked for it before any is decoded one by one).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from operator import attrgetter, itemgetter
from typing import Any

from pydantic_core import from_json

from ...codec_rows import events_from_rows, fast
from ...conversation import new_id
from ...errors import EventDecodeError
from ...events import (
    JSON_PIECE,
    Event,
    event_types,
    events_from_json,
    from_dict,
    to_dict,
)
from ...history import Claim, KeptClaim, lease_seconds, take_claim
from ...redaction import logger
from ._base import SQLStore
from .database import Database

__all__ = ["SQLHistory"]

log = logger("baton.backends.sql")

_BUMP = (
    "INSERT INTO baton_conversations AS c (conversation_id, length) VALUES ($1, $2) "
    "ON CONFLICT (conversation_id) DO UPDATE SET length = c.length + excluded.length, "
    "updated_at = now() RETURNING length"
)
# SQLite: one statement, so one trip to the connection's thread and atomic on its own. The
# batch comes as a JSON array of [type, payload] pairs, numbered from the stored length (a
# subquery that does not depend on the row, so SQLite evaluates it once, before any insert);
# the trigger of schema step 4 keeps baton_conversations' length.
_APPEND_SQLITE = (
    "INSERT INTO baton_events (conversation_id, seq, type, payload) "
    "SELECT $1, (SELECT coalesce((SELECT length FROM baton_conversations "
    "WHERE conversation_id = $1), 0)) + e.key, json_extract(e.value, '$[0]'), "
    "json_extract(e.value, '$[1]') FROM json_each($2) AS e"
)
# SQLite, a run's last events: appended only while the claim ($3) is held (a row per event
# comes back), then the claim released by a statement of its own.
_APPEND_HELD_SQLITE = (
    f"{_APPEND_SQLITE} WHERE EXISTS (SELECT 1 FROM baton_claims "
    "WHERE conversation_id = $1 AND holder = $3) RETURNING seq"
)
# PostgreSQL: one statement (one round trip) bumps the counter and inserts the batch.
_APPEND_POSTGRES = (
    f"WITH c AS ({_BUMP}) "
    "INSERT INTO baton_events (conversation_id, seq, type, payload) "
    "SELECT $1, c.length - $2 + e.n - 1, e.type, e.payload "
    "FROM c, unnest($3::text[], $4::json[]) WITH ORDINALITY AS e(type, payload, n)"
)
# PostgreSQL, a run's last events: the same, counted and inserted only while the claim ($5) is
# held. (The release stays a statement of its own: a claim taken while one transaction both
# appended and released could read the length from before that append.)
_APPEND_HELD_POSTGRES = (
    "WITH c AS (INSERT INTO baton_conversations AS c (conversation_id, length) "
    "SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM baton_claims WHERE conversation_id = $1 "
    "AND holder = $5) ON CONFLICT (conversation_id) DO UPDATE SET length = c.length + "
    "excluded.length, updated_at = now() RETURNING length) "
    "INSERT INTO baton_events (conversation_id, seq, type, payload) "
    "SELECT $1, c.length - $2 + e.n - 1, e.type, e.payload "
    "FROM c, unnest($3::text[], $4::json[]) WITH ORDINALITY AS e(type, payload, n) RETURNING seq"
)
# A claim is a row naming its holder and when its lease ends (seconds since the epoch, by the
# database's clock, so processes on hosts whose clocks differ agree); taking it succeeds when
# there is none or the last one expired, in one statement.
_NOW = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "extract(epoch from clock_timestamp())::float8",
}
_CLAIM = (
    "INSERT INTO baton_claims AS c (conversation_id, holder, expires_at) "
    "VALUES ($1, $2, {now} + CAST($3 AS DOUBLE PRECISION)) "
    "ON CONFLICT (conversation_id) DO UPDATE SET holder = excluded.holder, "
    "expires_at = excluded.expires_at WHERE c.expires_at < {now} "
    # the conversation's length comes back in the same round trip (SQLite: a writing statement
    # reads the latest state; PostgreSQL reads it again, see SQLHistory.claim)
    "RETURNING holder, (SELECT length FROM baton_conversations WHERE conversation_id = $1)"
)
# PostgreSQL, after a claim: the stored length, and the run's first events appended if it is $5.
_START_POSTGRES = (
    "WITH n AS (SELECT coalesce((SELECT length FROM baton_conversations "
    "WHERE conversation_id = $1), 0) AS length), "
    "c AS (INSERT INTO baton_conversations AS c (conversation_id, length) "
    "SELECT $1, $2 FROM n WHERE n.length = $5 ON CONFLICT (conversation_id) DO UPDATE "
    "SET length = c.length + excluded.length, updated_at = now() RETURNING length), "
    "i AS (INSERT INTO baton_events (conversation_id, seq, type, payload) "
    "SELECT $1, c.length - $2 + e.n - 1, e.type, e.payload "
    "FROM c, unnest($3::text[], $4::json[]) WITH ORDINALITY AS e(type, payload, n)) "
    "SELECT n.length, (SELECT count(*) FROM c) FROM n"
)
_RENEW = (
    "UPDATE baton_claims SET expires_at = {now} + CAST($3 AS DOUBLE PRECISION) "
    "WHERE conversation_id = $1 AND holder = $2"
)
_RELEASE = "DELETE FROM baton_claims WHERE conversation_id = $1 AND holder = $2"
_LOAD = "SELECT seq, type, payload FROM baton_events WHERE conversation_id = $1 ORDER BY seq"
# SQLite: a whole history as one row: how many events, their seqs, their type names (each
# joined by commas) and their payloads joined into JSON arrays of ``JSON_PIECE`` events each
# (a row's separator precedes its value: every ``JSON_PIECE``-th ends one array and starts the
# next, split apart at the ``\x1e`` between them, a byte no JSON text holds), so the driver
# hands back four values instead of a row per event. SQLite does not promise the order in which
# an aggregate sees its rows (before 3.44 it has no ORDER BY inside one), so the seqs come back
# too and the load checks they are 0, 1, 2, ... in this order (``_in_order``); one step of an
# aggregate query feeds a row to all its aggregates, so the lists are aligned. The order is
# then only a matter of speed: SQLite reads a conversation's rows along its primary key
# (conversation id, seq), in seq order. It hands the types and payloads back as BLOBs (bytes):
# a value that is not UTF-8 fails the decode, not the fetch. PostgreSQL fetches the rows
# (``_LOAD_ROWS``): its server spends more on joining them (a cast of each payload to text, and
# copies of the whole) than on sending them (benchmarks/README.md, "Loads in pieces").
_LOAD_JOINED = (
    "SELECT count(*), group_concat(seq, ','), CAST(group_concat(type, ',') AS BLOB), "
    f"CAST('[' || group_concat(payload, CASE WHEN seq % {JSON_PIECE} = 0 THEN ']' || char(30) "
    "|| '[' ELSE ',' END) || ']' AS BLOB) FROM baton_events WHERE conversation_id = $1"
)
# SQLite with msgspec installed (``codec_rows.fast()``): the same row, the payloads separated
# by ``\x1e`` alone, split apart here and each decoded as its row's class
# (``codec_rows.events_from_rows``); no ``CASE`` a row, no brackets.
_LOAD_SEPARATED = (
    "SELECT count(*), group_concat(seq, ','), CAST(group_concat(type, ',') AS BLOB), "
    "CAST(group_concat(payload, char(30)) AS BLOB) FROM baton_events WHERE conversation_id = $1"
)
# PostgreSQL: the rows' types and payloads, in seq order (the seqs are not needed: the order
# is the query's, and a gap changes nothing).
_LOAD_ROWS = "SELECT type, payload FROM baton_events WHERE conversation_id = $1 ORDER BY seq"
_LENGTH = "SELECT length FROM baton_conversations WHERE conversation_id = $1"


def _encode(event: Event) -> tuple[str, str]:
    if not isinstance(event, Event):
        raise TypeError(f"a history holds events, got {type(event).__name__}")
    data = to_dict(event)
    try:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"{data['type']} cannot be stored as JSON: {exc}") from None
    return data["type"], payload


class SQLHistory(SQLStore):
    """A ``History`` in SQLite or PostgreSQL: ``SQLHistory("sqlite:///baton.db")``,
    ``SQLHistory("postgresql://user@host/db")`` or ``SQLHistory(database)``.

    The schema is created or upgraded on first use. Close with ``await history.aclose()`` (or
    ``async with``) when it was made from a URL.
    """

    def __init__(self, database: Database | str, *, lease: float = 15.0) -> None:
        super().__init__(database)
        self.lease = lease_seconds("SQLHistory", lease)

    async def claim(
        self,
        conversation_id: str,
        *,
        wait: float | None = 0,
        start: Sequence[Event] = (),
        at: int = 0,
    ) -> Claim:
        """Claim a conversation for one ask (``baton.history.ClaimingHistory``): a row in
        ``baton_claims`` renewed every third of ``lease`` seconds, taken over once expired.

        SQLite reads the length in the claim's own statement. On PostgreSQL a statement that
        waited for the last holder's release still sees the data as it was when it began, so
        the length is read by a second statement, which also appends ``start`` when the
        length is ``at`` (``claim.started``); on SQLite the ask writes ``start`` itself."""
        holder = new_id()
        now = _NOW[self.db.dialect]
        claim_sql, renew_sql = _CLAIM.format(now=now), _RENEW.format(now=now)

        async def attempt() -> int | None:
            rows = await self.db.fetch(claim_sql, conversation_id, holder, self.lease)
            return int(rows[0][1] or 0) if rows and rows[0][0] == holder else None

        length = await take_claim(conversation_id, wait, attempt)

        async def renew() -> bool:
            updated = await self.db.execute(renew_sql, conversation_id, holder, self.lease)
            return updated > 0

        async def release() -> object:
            return await self.db.fetch(_RELEASE, conversation_id, holder)  # one trip, no count

        async def finish(events: Sequence[Event]) -> bool:
            # Two statements: the last events, only while this claim is held, then the release.
            if events:
                encoded = [_encode(e) for e in events]
                if self.db.dialect == "postgresql":
                    types, payloads = [t for t, _ in encoded], [p for _, p in encoded]
                    held = await self.db.fetch(
                        _APPEND_HELD_POSTGRES,
                        conversation_id,
                        len(encoded),
                        types,
                        payloads,
                        holder,
                    )
                else:
                    batch = json.dumps(encoded, ensure_ascii=False, separators=(",", ":"))
                    held = await self.db.fetch(_APPEND_HELD_SQLITE, conversation_id, batch, holder)
                if not held:
                    return False
            try:
                await release()
            except Exception as exc:  # the events are stored: the ask succeeded; the lease ends
                log.warning("could not release the claim on %s (%s)", conversation_id, exc)
            return True

        claim = KeptClaim(
            f"conversation {conversation_id}", self.lease, renew, release, finish, length
        )
        if self.db.dialect == "postgresql":
            try:
                if start:
                    encoded = [_encode(e) for e in start]
                    rows = await self.db.fetch(
                        _START_POSTGRES,
                        conversation_id,
                        len(encoded),
                        [t for t, _ in encoded],
                        [p for _, p in encoded],
                        at,
                    )
                    claim.length, claim.started = int(rows[0][0]), bool(rows[0][1])
                else:
                    claim.length = await self.length(conversation_id)
            except BaseException:
                await claim.release()
                raise
        return claim

    async def append(self, conversation_id: str, events: Sequence[Event]) -> None:
        """Append ``events``, in order and contiguously, to the end of a conversation."""
        if not events:
            return
        encoded = [_encode(e) for e in events]
        if self.db.dialect == "postgresql":
            await self.db.execute(
                _APPEND_POSTGRES,
                conversation_id,
                len(encoded),
                [t for t, _ in encoded],
                [p for _, p in encoded],
            )
            return
        batch = json.dumps(encoded, ensure_ascii=False, separators=(",", ":"))
        await self.db.fetch(_APPEND_SQLITE, conversation_id, batch)  # one trip, no count

    async def load(self, conversation_id: str) -> list[Event]:
        """All events of a conversation, oldest first (empty if unknown)."""
        if self.db.dialect == "sqlite":
            try:
                query = _LOAD_SEPARATED if fast() else _LOAD_JOINED
                joined = await self.db.fetch(query, conversation_id)
            except Exception as exc:
                if not _too_big(exc):
                    raise
                joined = None  # one value can't hold it all: each row still fits in one
            if joined is not None:
                if not joined or not joined[0][0]:
                    return []
                count, seqs, types, array = joined[0]
                events = _decode_joined(int(count), seqs, types, array)
                if events is not None:
                    return events
        else:
            events = _decode_rows(await self.db.fetch(_LOAD_ROWS, conversation_id))
            if events is not None:
                return events
        # Row by row: what the one-pass decode refused is decoded, or named, here (the rows
        # are fetched again, with their seqs: this is the path of a damaged history).
        rows = await self.db.fetch(_LOAD, conversation_id)
        registry = event_types()
        for seq, type_name, _ in rows:  # check every row before building any event
            cls = registry.get(type_name)
            if cls is None or not issubclass(cls, Event):
                raise EventDecodeError(
                    f"conversation {conversation_id!r}, event {seq}: {type_name!r} is not a "
                    "registered event type, so nothing was loaded (register custom events "
                    "with baton.events.register before loading)"
                )
        return [_decode(conversation_id, seq, t, p) for seq, t, p in rows]

    async def length(self, conversation_id: str) -> int:
        """How many events a conversation holds (0 if unknown)."""
        value = await self.db.fetchval(_LENGTH, conversation_id)
        return 0 if value is None else int(value)

    async def conversation_ids(self) -> list[str]:
        """The stored conversations' ids, sorted."""
        rows = await self.db.fetch(
            "SELECT conversation_id FROM baton_conversations ORDER BY conversation_id"
        )
        return [str(r[0]) for r in rows]

    async def delete(self, conversation_id: str) -> bool:
        """Remove a conversation and its events; ``True`` if there was one."""
        async with self.db.transaction() as session:
            await session.execute(
                "DELETE FROM baton_events WHERE conversation_id = $1", conversation_id
            )
            removed = await session.execute(
                "DELETE FROM baton_conversations WHERE conversation_id = $1", conversation_id
            )
        return removed > 0


def _too_big(exc: Exception) -> bool:
    """Whether SQLite's one-row fetch failed because the joined history passes its limit on one
    value (1,000,000,000 bytes by default): the rows, fetched one by one, may still fit.
    Anything else (a database gone, a query refused) is raised as it is."""
    return isinstance(exc, sqlite3.DataError)  # SQLITE_TOOBIG: "string or blob too big"


def _decode_joined(count: int, seqs: Any, types: Any, array: Any) -> list[Event] | None:
    """A history fetched as one row (``_LOAD_JOINED``, SQLite), decoded in one pass, or
    ``None`` when anything is off: rows not in seq order, a payload the one-pass decoder
    refuses (a type that is not a registered event among them), or one whose type is not its
    row's. The load then goes row by row, as it always did, and names the row."""
    if not _in_order(seqs, count):
        return None
    if isinstance(types, bytes):
        try:
            types = types.decode()
        except UnicodeDecodeError:
            return None
    if not isinstance(types, str) or types.count(",") != count - 1:  # a comma in a name
        return None
    if fast():  # the payloads separated by \x1e (``_LOAD_SEPARATED``), one by one
        if not isinstance(array, bytes):  # pragma: no cover - a driver handing back text
            return None
        # ``events_from_rows`` checks each payload's class is its row's; a payload holding a
        # \x1e of its own (no JSON text does) makes one too many and fails the count.
        names, payloads = types.split(","), array.split(b"\x1e")
        if len(payloads) != count:
            return None
        return events_from_rows(names, payloads)
    if isinstance(array, bytes):  # SQLite's BLOB
        pieces: list[bytes] | list[str] = _pieces(array, b"\x1e")
    elif isinstance(array, str):  # pragma: no cover - a driver handing back text
        pieces = _pieces(array, "\x1e")
    else:  # pragma: no cover - a driver handing back another type
        return None
    events = events_from_json(pieces)
    # Each event's class is its row's type: the decoded classes' names, joined, are the rows'
    # (with as many names as rows and no comma in the rows' names, the two lists are equal).
    # Only registered event classes are ever built, so every row's type is one too.
    if events is None or len(events) != count or ",".join(map(_NAME, map(type, events))) != types:
        return None
    return events


def _pieces(array: Any, separator: Any) -> Any:
    """``array.split(separator)``, with ``find``: a split by one character looks at each
    character in turn (about 1,400 instructions an event here), ``find`` uses ``memchr``."""
    pieces = []
    find, start = array.find, 0
    while (end := find(separator, start)) >= 0:
        pieces.append(array[start:end])
        start = end + 1
    pieces.append(array[start:])
    return pieces


def _decode_rows(rows: Sequence[Any]) -> list[Event] | None:
    """A history fetched as rows (type, payload) in seq order (``_LOAD_ROWS``), decoded
    (``codec_rows.events_from_rows``: each payload as its row's class with msgspec, else in
    one pass, in pieces of ``JSON_PIECE`` events joined into JSON arrays: PostgreSQL's
    ``json`` column holds one JSON value a row, so each row makes one item of an array), or
    ``None`` when a payload is refused or one's type is not its row's (the load then goes row
    by row and names the row)."""
    return events_from_rows(list(map(_TYPE, rows)), list(map(_PAYLOAD, rows)))


_NAME = attrgetter("__name__")
_TYPE = itemgetter(0)
_PAYLOAD = itemgetter(1)


# "0,1,2,...": the seqs of the longest history checked so far, as the databases join them, up
# to ``_SEQS_KEPT`` of them (about 600 kB): a longer history's are made for its check alone.
_SEQS = [""]
_SEQS_KEPT = 100_000


def _in_order(seqs: Any, count: int) -> bool:
    """Whether ``seqs`` is ``"0,1,...,count-1"``: the seqs of a whole history (numbered from 0
    without a gap), fed to the aggregates in order. A prefix of a string made once and grown
    as histories grow, so the check is one comparison of the text, not a parse."""
    if not isinstance(seqs, str):
        return False
    length, width, start, bound = count - 1, 1, 0, 10  # the commas, then the digits
    while start < count:
        end = min(count, bound)
        length += (end - start) * width
        start, width, bound = end, width + 1, bound * 10
    if len(seqs) != length:
        return False
    known = _SEQS[0]
    if len(known) < length:
        if count > _SEQS_KEPT:
            return seqs == ",".join(map(str, range(count)))
        known = _SEQS[0] = ",".join(map(str, range(min(2 * count, _SEQS_KEPT))))
    return known.startswith(seqs)


def _decode(conversation_id: str, seq: Any, type_name: str, payload: Any) -> Event:
    try:
        data = from_json(payload)  # pydantic-core parses in Rust, about twice as fast as json
    except ValueError:
        try:  # what it refuses (a lone surrogate, say) reads as ``json`` reads it, or fails so
            data = json.loads(payload)
        except ValueError as exc:
            where = _where(conversation_id, seq)
            raise EventDecodeError(f"{where}: the stored payload is not JSON ({exc})") from None
    if type(data) is not dict or data.get("type") != type_name:
        found = data.get("type") if isinstance(data, dict) else type(data).__name__
        where = _where(conversation_id, seq)
        raise EventDecodeError(f"{where}: the payload's type {found!r} is not {type_name!r}")
    try:
        event = from_dict(data)
    except EventDecodeError as exc:
        raise EventDecodeError(f"{_where(conversation_id, seq)}: {exc}") from exc
    if not isinstance(event, Event):
        raise EventDecodeError(f"{_where(conversation_id, seq)}: {type_name!r} is not an event")
    return event


def _where(conversation_id: str, seq: Any) -> str:
    """Which stored event an error is about (made only when there is an error: loads are hot)."""
    return f"conversation {conversation_id!r}, event {seq}"
