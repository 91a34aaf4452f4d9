"""The server's heap frozen out of Streamlit's garbage collections (issue 21 item 5).

Streamlit runs a full collection after every script run (``runner.postScriptGC``), which otherwise walks
the whole heap of plotly, pandas, statsmodels and SQLAlchemy, ~0.2–0.3 s of CPU per page view
(`bench/server_cpu.py`). :func:`freeze_heap` moves what the server process holds so far (modules, their
tables, the open engine) into the collector's permanent generation, again when modules were imported
since, at most once every :data:`FREEZE_INTERVAL_S` seconds. Each freeze first unfreezes and collects the
whole heap (objects frozen are still freed when no longer referenced; those in reference cycles at the
next freeze), so under many sessions, whose first views import modules lazily one after another, a
freeze per import would be a full collection of a big heap each time. One session's run freezes at a
time; the others go on.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

FREEZE_INTERVAL_S = 60.0  # the heap is frozen again at most this often (monotonic clock), s
_frozen_modules = 0  # len(sys.modules) when the heap was last frozen
_frozen_at: float | None = None  # time.monotonic() of the last freeze; None: not yet frozen
_freeze_lock = threading.Lock()


def freeze_due(modules: int, now: float) -> bool:
    """Whether the heap is frozen again: ``modules`` (``len(sys.modules)``) changed since the last
    freeze and that freeze was at least :data:`FREEZE_INTERVAL_S` seconds before ``now`` (monotonic
    seconds); the first freeze at once."""
    return modules != _frozen_modules and (_frozen_at is None or now - _frozen_at >= FREEZE_INTERVAL_S)


def freeze_if_due() -> bool:
    """Unfreeze, collect and freeze the heap if :func:`freeze_due`, unless another thread is doing it
    now; True when this call froze it."""
    global _frozen_modules, _frozen_at
    if not freeze_due(len(sys.modules), time.monotonic()):
        return False
    if not _freeze_lock.acquire(blocking=False):  # another session's run is freezing now
        return False
    try:
        if not freeze_due(len(sys.modules), time.monotonic()):
            return False
        gc.unfreeze()  # what died in a reference cycle since the last freeze is freed now, not kept for good
        gc.collect()
        gc.freeze()
        _frozen_modules, _frozen_at = len(sys.modules), time.monotonic()
        return True
    finally:
        _freeze_lock.release()


def freeze_heap() -> None:
    """:func:`freeze_if_due`, only under ``streamlit run``: not in AppTest (its runtime is a stand-in)
    or a bare script."""
    from streamlit import runtime

    # This freeze_due only lets a repeated view (nothing due) skip the runtime's checks; the test that
    # decides is freeze_if_due's, made again under its lock.
    if not freeze_due(len(sys.modules), time.monotonic()) or not runtime.exists() or \
            type(runtime.get_instance()) is not runtime.Runtime:
        return
    freeze_if_due()
