"""An opt-in setting of CPython's cyclic garbage collector for processes that run thousands of
asks at once.

Baton never changes the collector's settings by itself: they belong to the whole process (a
history load only pauses it for the one call that decodes the stored events, and restores it
before returning: see ``events.events_from_json``). An ask leaves no reference cycles
(reference counting frees all it made), but while thousands of asks are in flight their
objects are alive, and with the default thresholds (700, 10, 10) the collector keeps walking
them, and every object the process holds, in full collections: at 10,000 asks in flight that
is about 40 % of the time (``python3 dev.py bench --only DS``).
A server can call ``tune_collector()`` once, after its imports, to run the collector less often.
"""

from __future__ import annotations

import gc

__all__ = ["tune_collector"]


def tune_collector(gen0: int = 50_000, *, freeze: bool = True) -> tuple[int, int, int]:
    """Collect the youngest generation every ``gen0`` new container objects instead of every
    700, and with ``freeze`` move everything alive now (modules, classes, the agents made so far)
    out of the collector's sight (``gc.freeze()``), so full collections walk only what came
    after. Returns the thresholds it replaced (give them to ``gc.set_threshold`` to undo; undo
    the freeze with ``gc.unfreeze()``).

    What it costs: reference cycles made by other code are freed later (after more allocations),
    so memory held by such garbage can grow for longer between collections."""
    if isinstance(gen0, bool) or not isinstance(gen0, int) or gen0 < 1:
        raise ValueError(f"tune_collector(gen0=...) takes a positive integer, got {gen0!r}")
    previous = gc.get_threshold()
    if freeze:
        gc.collect()  # what is garbage now is freed, not frozen
        gc.freeze()
    gc.set_threshold(gen0, previous[1], previous[2])
    return previous
