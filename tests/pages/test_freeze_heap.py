"""servicewatch.ui._freeze_heap's rate limit (issue 21 item 5): the heap is frozen at the first run, then
again only when modules were imported since and at least FREEZE_INTERVAL_S seconds have passed."""

from __future__ import annotations

import gc

import pytest

from servicewatch import ui


@pytest.fixture
def fresh(monkeypatch):
    """The module's freeze state as at a server's start (nothing frozen yet)."""
    monkeypatch.setattr(ui, "_frozen_modules", 0)
    monkeypatch.setattr(ui, "_frozen_at", None)
    return ui


def test_first_run_freezes_at_once(fresh):
    assert fresh._freeze_due(1200, now=5.0)


def test_no_new_module_no_freeze(fresh, monkeypatch):
    monkeypatch.setattr(ui, "_frozen_modules", 1200)
    monkeypatch.setattr(ui, "_frozen_at", 100.0)
    assert not fresh._freeze_due(1200, now=100.0 + 10 * ui.FREEZE_INTERVAL_S)


@pytest.mark.parametrize("later, due", [(0.0, False), (1.0, False), (59.9, False), (60.0, True), (600.0, True)])
def test_new_modules_wait_for_the_interval(fresh, monkeypatch, later, due):
    assert ui.FREEZE_INTERVAL_S == 60.0  # once a minute, as issue 21 asks
    monkeypatch.setattr(ui, "_frozen_modules", 1200)
    monkeypatch.setattr(ui, "_frozen_at", 100.0)
    assert fresh._freeze_due(1201, now=100.0 + later) is due


def test_outside_streamlit_run_nothing_is_frozen(fresh):
    """A bare script (no Streamlit runtime): no freeze, and the state stays as it was."""
    before = gc.get_freeze_count()
    fresh._freeze_heap()
    assert gc.get_freeze_count() == before
    assert ui._frozen_at is None and ui._frozen_modules == 0
