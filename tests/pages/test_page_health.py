"""The Portfolio page's account health section (issue 18 item 3) in AppTest on the demo DuckDB with a
fitted churn model: a manager's customers by health are the engine's, each part's weight is in its
column header, the trend arrow and what moved it, the AUC with its interval and n next to the score,
one customer's history chart; an account manager sees only their own customers and a viewer no list;
in Chinese and English without leftover keys."""

from __future__ import annotations

import json
import re
import time

import pytest
from page_helpers import filters, open_page, plain, write_users

from metrics.access.users import User
from metrics.analysis import health as hl
from metrics.analysis import portfolio as pf
from metrics.churn import store as churn_store
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/10_Portfolio.py"


@pytest.fixture()
def url(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    return fitted_duckdb_url


def _texts(at) -> str:
    return "\n".join(plain(str(e.value)) for kind in ("markdown", "caption", "info", "warning")
                     for e in getattr(at, kind))


def _no_leftovers(at) -> None:
    """No catalogue key or format field left in what the page shows (an untranslated text)."""
    shown = _texts(at) + "\n".join(" ".join(map(str, d.value.columns)) for d in at.dataframe)
    shown += "\n".join(json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart"))
    assert not re.search(r"health\.|page\.health|\{[a-z_]+\}", shown), shown[:2000]


def _health_table(at, lang: str):
    found = [d.value for d in at.dataframe if t("health.col.score", lang) in d.value.columns]
    assert found, "no health table"
    return found[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_health_section_is_the_engines(url: str, lang: str) -> None:
    at = open_page(PAGE, {"lang": lang, "section": "health"})
    assert not at.exception
    wh = Warehouse.open(url)
    f = filters(at)
    manager = next(iter(pf.league(wh, f, "csat").managers["manager_id"].astype(int)))
    r = hl.health(wh, f, None, manager)
    table = _health_table(at, lang)
    assert len(table) == len(r.customers) > 0
    assert list(table[t("health.col.name", lang)]) == list(r.customers["name"].astype(str))
    assert list(table[t("health.col.score", lang)]) == [f"{v:.0f}" for v in r.customers["score"]]
    assert list(table[t("health.col.trend", lang)]) == [t(f"health.trend.{v}", lang) for v in r.customers["trend"]]
    header = t("page.health.part_header", lang, part=t("health.part.complaints", lang), weight="20%")
    assert header in table.columns  # the weight is visible with the part
    texts = _texts(at)
    assert hl.weights_sentence(r.weights, lang) in texts
    assert hl.auc_sentence(r.backtest, lang) in texts and str(r.backtest["n"]) in texts
    if r.backtest["reason"] is None:
        assert f"{r.backtest['auc_lower']:.3f}" in texts
    fit_day = churn_store.model_date(churn_store.latest_model(wh)).isoformat()
    assert r.notes and r.notes[0][1] == {"day": fit_day}  # the stored scores' day, said on the page
    assert all(t(key, lang, **params) in texts for key, params in r.notes)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    first = r.customers.iloc[0]
    assert any(str(first["name"]) in x for x in titles), titles  # the first customer's history
    _no_leftovers(at)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scope_an_account_manager_and_a_viewer(url: str, lang: str, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path) -> None:
    wh = Warehouse.open(url)
    full = hl.health(wh, filters(open_page(PAGE, {"lang": lang})), None, None, with_backtest=False)
    mid = int(full.customers["manager_id"].value_counts().index[-1])
    am = User("wang", "account_manager", manager_id=mid)
    viewer = User("zhao", "viewer")
    write_users(tmp_path / "users.json", monkeypatch, [am, viewer])
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(PAGE, {"lang": lang, "section": "health"}, {"sw_user": am, "_sw_seen": time.time()})
    assert not at.exception
    table = _health_table(at, lang)
    own = full.customers[full.customers["manager_id"] == mid]
    assert sorted(table[t("health.col.name", lang)]) == sorted(own["name"].astype(str))
    _no_leftovers(at)
    at = open_page(PAGE, {"lang": lang, "section": "health"}, {"sw_user": viewer, "_sw_seen": time.time()})
    assert not at.exception
    assert not [d for d in at.dataframe if t("health.col.score", lang) in d.value.columns]
    _no_leftovers(at)
