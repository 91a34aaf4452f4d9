"""servicewatch.heap (issue 21 item 5): the heap is frozen at the first run, then again only when modules
were imported since and at least FREEZE_INTERVAL_S seconds have passed; one thread freezes at a time;
nothing is frozen outside ``streamlit run``."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from servicewatch import heap


@pytest.fixture
def fresh(monkeypatch):
    """The module's freeze state as at a server's start (nothing frozen yet); the heap unfrozen after."""
    monkeypatch.setattr(heap, "_frozen_modules", 0)
    monkeypatch.setattr(heap, "_frozen_at", None)
    yield heap
    gc.unfreeze()


def test_first_run_freezes_at_once(fresh):
    assert fresh.freeze_due(1200, now=5.0)


def test_no_new_module_no_freeze(fresh, monkeypatch):
    monkeypatch.setattr(heap, "_frozen_modules", 1200)
    monkeypatch.setattr(heap, "_frozen_at", 100.0)
    assert not fresh.freeze_due(1200, now=100.0 + 10 * heap.FREEZE_INTERVAL_S)


@pytest.mark.parametrize("later, due", [(0.0, False), (1.0, False), (59.9, False), (60.0, True), (600.0, True)])
def test_new_modules_wait_for_the_interval(fresh, monkeypatch, later, due):
    assert heap.FREEZE_INTERVAL_S == 60.0  # once a minute, as issue 21 asks
    monkeypatch.setattr(heap, "_frozen_modules", 1200)
    monkeypatch.setattr(heap, "_frozen_at", 100.0)
    assert fresh.freeze_due(1201, now=100.0 + later) is due


def test_a_freeze_records_its_state_and_the_next_waits(fresh):
    """A real freeze: objects move to the permanent generation, the state says when and how many
    modules; a second call right after (even with a new module) does nothing."""
    assert fresh.freeze_if_due()
    assert gc.get_freeze_count() > 0
    assert heap._frozen_modules == len(sys.modules) and heap._frozen_at is not None
    sys.modules["_sw_test_new_module"] = type(sys)("_sw_test_new_module")
    try:
        assert not fresh.freeze_if_due()
    finally:
        del sys.modules["_sw_test_new_module"]


def test_two_threads_at_once_freeze_once(fresh, monkeypatch):
    """Many sessions' runs at the same moment: exactly one freezes (the lock and the state checked
    again under it), the others go on without waiting."""
    calls = []
    real = gc.freeze
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(1) or real())
    start = threading.Barrier(8)
    froze = []

    def run():
        start.wait()
        froze.append(fresh.freeze_if_due())

    threads = [threading.Thread(target=run) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sum(froze) == 1 and len(calls) == 1 and len(froze) == 8


def test_outside_streamlit_run_nothing_is_frozen(fresh):
    """A bare script (no Streamlit runtime): no freeze, and the state stays as it was."""
    before = gc.get_freeze_count()
    fresh.freeze_heap()
    assert gc.get_freeze_count() == before
    assert heap._frozen_at is None and heap._frozen_modules == 0
