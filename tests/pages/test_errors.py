"""Errors shown to a user (issue 12): an unexpected failure while a page runs or the meeting pack is
built shows one line in the user's language with an 8-hex-digit id, never the exception's text, a
path or a password; the server log holds the detail under the same id (``servicewatch.errors``)."""

from __future__ import annotations

import logging
import re

import pytest
from page_helpers import open_page

from metrics.model.i18n import t

SECRET = "/srv/secret/db.duckdb"
PASSWORD = "hunter2"


class Boom(RuntimeError):
    pass


def _boom(*args, **kwargs):
    raise Boom(f"Connection already closed! cannot open {SECRET} (password={PASSWORD})")


def _shown(at) -> str:
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "exception", "code", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [s.label for s in at.status]
    return "\n".join(parts)


def _error_id(text: str, key: str, lang: str) -> str:
    pattern = re.escape(t(key, lang, id="@@")).replace("@@", "([0-9a-f]{8})")
    found = re.findall(pattern, text)
    assert len(found) == 1, text
    return found[0]


def _logged(caplog, error_id: str) -> str:
    records = [r for r in caplog.records if error_id in r.getMessage()]
    assert records, [r.getMessage() for r in caplog.records]
    text = "\n".join(r.getMessage() + "\n" + logging.Formatter().formatException(r.exc_info)
                     for r in records if r.exc_info)
    return text


@pytest.mark.parametrize(("page", "target", "lang"), [
    ("pages/5_Regions.py", "metrics.analysis.league.scope", "zh"),
    ("pages/2_Complaints.py", "metrics.analysis.league.scope", "en"),
    ("pages/8_At_risk.py", "metrics.analysis.customer_history.profile", "en"),
    ("pages/10_Portfolio.py", "metrics.analysis.portfolio.league", "zh"),
    ("pages/11_Outlets.py", "metrics.analysis.outlets.outlet_league", "en"),
    ("pages/12_Regulator.py", "metrics.analysis.regulator.rates", "zh"),
    ("app.py", "metrics.analysis.drill.status", "zh"),
])
def test_page_error_shows_an_id_and_logs_the_detail(page, target, lang, fitted_duckdb_url, monkeypatch,
                                                     caplog) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setattr(target, _boom)
    caplog.set_level(logging.ERROR, logger="servicewatch.dashboard")
    at = open_page(page, {"lang": lang})  # asserts no exception element: Streamlit's display is replaced
    shown = _shown(at)
    error_id = _error_id(shown, "error.page", lang)
    assert SECRET not in shown and PASSWORD not in shown and "Boom" not in shown and "Traceback" not in shown
    detail = _logged(caplog, error_id)
    assert SECRET in detail and "Boom" in detail and "Traceback" in detail and page.split("/")[-1] not in shown


def test_two_errors_have_different_ids(fitted_duckdb_url, monkeypatch, caplog) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setattr("metrics.analysis.league.scope", _boom)
    ids = {_error_id(_shown(open_page("pages/5_Regions.py", {"lang": "en"})), "error.page", "en") for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_meeting_pack_failure_shows_an_id(lang, duckdb_url, monkeypatch, caplog) -> None:
    import metrics.report

    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setattr(metrics.report, "build_pack", _boom)
    caplog.set_level(logging.ERROR, logger="servicewatch.dashboard")
    at = open_page("app.py", {"lang": lang})
    for _ in range(2):  # AppTest under load has dropped a first click (tests/report/test_report.py)
        at.button(key="sw_pack_build").click().run()
        assert not at.exception
        if any(s.state == "error" for s in at.status):
            break
    failed = [s.label for s in at.status if s.state == "error"]
    assert failed, [s.label for s in at.status]
    error_id = _error_id("\n".join(failed), "error.pack", lang)
    assert SECRET not in _shown(at) and "Connection already closed" not in _shown(at)
    assert SECRET in _logged(caplog, error_id)
    assert at.title  # the page itself is still there
