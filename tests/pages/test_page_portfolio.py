"""The Portfolio page (issue 18, pages/10_Portfolio.py) in AppTest on the demo DuckDB with a fitted
churn model: the league's figures are the engine's, an account manager sees only their own customers,
and the effect section shows the engine's numbers and the too-small warning; in Chinese and English."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import sqlalchemy as sa
from page_helpers import filters, open_page, plain, show_section, write_users

from metrics.access.users import User
from metrics.analysis import portfolio as pf
from metrics.churn import action_effect as ae
from metrics.model import schema as s
from metrics.model.i18n import label, t
from metrics.present.formatting import fmt_percent, number
from metrics.query.warehouse import Warehouse

PAGE = "pages/10_Portfolio.py"


@pytest.fixture()
def url(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    return fitted_duckdb_url


def _table(at, header: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if header in d.value.columns]
    assert found, f"no table with {header!r}"
    return found[0]


def _texts(at) -> str:
    return "\n".join(plain(str(e.value)) for kind in ("markdown", "caption", "info", "warning")
                     for e in getattr(at, kind))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_league_is_the_engines(url: str, lang: str) -> None:
    at = open_page(PAGE, {"lang": lang})
    assert at.title[0].value == t("page.portfolio.title", lang)
    wh = Warehouse.open(url)
    r = pf.league(wh, filters(at), "csat")
    table = _table(at, t("page.portfolio.col.manager", lang))
    assert len(table) == len(r.managers) > 1
    assert list(table[t("page.portfolio.col.manager", lang)]) == list(r.managers["manager_name"].astype(str))
    assert list(table[t("page.portfolio.col.rate", lang)]) == [fmt_percent(v) for v in r.managers["csat"]]
    first = r.managers.iloc[0]
    assert table[t("page.portfolio.col.interval", lang)].iloc[0] == \
        f"{fmt_percent(first['csat_lower'])} – {fmt_percent(first['csat_upper'])}"
    assert t("portfolio.league", lang, n=len(r.managers), rate=t("portfolio.rate.csat", lang), min=pf.MIN_RANK_N,
             day=r.day.isoformat(), bound=t("portfolio.bound_lower", lang)) in _texts(at)
    assert at.get("plotly_chart"), "no league chart"
    assert any(b.label == t("export.download_list", lang) for b in at.get("download_button"))
    # ranking on another rate: in the URL, and the table follows the engine
    at.selectbox(key="_w_choice_rank_by").set_value("coverage_90d").run()
    assert not at.exception
    assert at.query_params["rank_by"] == ["coverage_90d"] or at.query_params["rank_by"] == "coverage_90d"
    r90 = pf.league(wh, filters(at), "coverage_90d")
    table = _table(at, t("page.portfolio.col.manager", lang))
    assert list(table[t("page.portfolio.col.manager", lang)]) == list(r90.managers["manager_name"].astype(str))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_account_manager_sees_only_their_customers(url: str, lang: str, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path) -> None:
    wh = Warehouse.open(url)
    at = open_page(PAGE, {"lang": lang, "section": "customers"})
    f = filters(at)
    managers = pf.league(wh, f, "csat").managers
    mid = int(managers.sort_values("customers", ascending=False)["manager_id"].iloc[0])
    user = User("wang", "account_manager", manager_id=mid)
    write_users(tmp_path / "users.json", monkeypatch, [user])
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(PAGE, {"lang": lang, "section": "customers"}, {"sw_user": user, "_sw_seen": time.time()})
    box = at.selectbox(key="_w_choice_manager")
    assert list(box.options) and len(box.options) == 1  # themself only
    f = filters(at)
    assert f.scope is not None and f.scope.manager_id == mid  # signed in: the scope is theirs
    df, _ = pf.customers(wh, f, mid)
    table = _table(at, t("churn.col.customer_id", lang))
    assert sorted(table[t("churn.col.customer_id", lang)].astype(int)) == sorted(df["customer_id"].astype(int))
    c = s.customers  # every customer shown is theirs
    own = set(wh.read(sa.select(c.c.customer_id).where(c.c.account_manager_id == mid))["customer_id"].astype(int))
    assert len(table) and set(table[t("churn.col.customer_id", lang)].astype(int)) <= own
    # falling spend first, as the engine orders
    assert list(table[t("page.portfolio.col.spend_falling", lang)]) == list(df["spend_falling"].astype(bool))
    days = pd.to_numeric(df["days_since_visit"], errors="coerce")
    unvisited = int((days.isna() | (days > 90)).sum())
    assert t("page.portfolio.customers_sentence", lang, n=len(df), falling=int(df["spend_falling"].sum()),
             unvisited=unvisited) in _texts(at)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_effect_shows_the_engines_numbers_and_the_warning(url: str, lang: str) -> None:
    at = open_page(PAGE, {"lang": lang})
    show_section(at, "effect")
    wh = Warehouse.open(url)
    df = ae.action_effect(wh, filters(at), ("action_type", "risk_band"))
    assert len(df)
    table = _table(at, t("page.portfolio.col.difference", lang))
    assert len(table) == len(df)
    assert list(table[t("page.portfolio.col.action_type", lang)]) == [label("action_type", v, lang)
                                                                     for v in df["action_type"]]
    assert list(table[t("page.portfolio.col.n_holdout", lang)]) == [number(float(v), 0) for v in df["n_holdout"]]
    assert list(table[t("page.portfolio.col.churn_treated", lang)]) == [fmt_percent(v) for v in df["churn_treated"]]
    diffs = [t("page.portfolio.pp", lang, value=number(100 * float(v), 1, signed=True)) for v in df["difference"]]
    assert list(table[t("page.portfolio.col.difference", lang)]) == diffs
    small = df[df["too_small"].astype(bool)]
    assert len(small), "the demo's holdouts per type and band are small: the warning must be shown"
    tell = list(table[t("page.portfolio.col.tell", lang)])
    assert tell == [t(f"page.portfolio.tell.{'too_small' if v else 'yes'}", lang) for v in df["too_small"]]
    text = _texts(at)
    for _, r in small.iterrows():
        group = f"{label('action_type', r['action_type'], lang)} · {label('risk_band', r['risk_band'], lang)}"
        assert t("actions.too_small", lang, group=group, n=int(r["n_holdout"]), min=ae.MIN_HOLDOUT) in text
    assert at.selectbox(key="_w_choice_group") is not None
    assert len(at.get("plotly_chart")) == 1  # the Kaplan-Meier curves of the group chosen


def test_a_link_opens_a_managers_customers_and_the_revenue_is_the_engines(url: str) -> None:
    """``manager=`` in the link picks the manager (key as the source wrote it); the effect's money
    columns are the engine's, rounded to yuan."""
    wh = Warehouse.open(url)
    at = open_page(PAGE, {"lang": "en"})
    managers = pf.league(wh, filters(at), "csat").managers
    mid = int(managers["manager_id"].iloc[-1])
    at = open_page(PAGE, {"lang": "en", "section": "customers", "manager": str(mid)})
    assert at.selectbox(key="_w_choice_manager").value == mid
    df, _ = pf.customers(wh, filters(at), mid)
    table = _table(at, t("churn.col.customer_id", "en"))
    assert list(table[t("churn.col.customer_id", "en")].astype(int)) == list(df["customer_id"].astype(int))
    show_section(at, "effect")
    eff = ae.action_effect(wh, filters(at), ("action_type", "risk_band"))
    table = _table(at, t("page.portfolio.col.difference", "en"))
    money = [number(float(v), 0) if pd.notna(v) else "—" for v in eff["revenue_kept"]]
    assert list(table[t("page.portfolio.col.revenue_kept", "en")]) == money
    assert list(table[t("page.portfolio.col.cost", "en")]) == [number(float(v), 0) for v in eff["cost"]]


def test_a_group_without_a_risk_band_has_its_curves_and_a_readable_link(duck: str, monkeypatch) -> None:  # noqa: ANN001
    """Actions whose risk decile was unknown form a group of their own: the link names it
    ``care_visit.none`` (not ``care_visit.nan``) and it opens that group's curves."""
    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE retention_actions SET risk_decile = NULL, risk_score = NULL "
                             "WHERE action_type = 'care_visit' AND action_id % 3 = 0"))
    eng.dispose()
    monkeypatch.setenv("SERVICEWATCH_DB", duck)
    at = open_page(PAGE, {"lang": "en", "group": "care_visit.none"})
    show_section(at, "effect")
    assert at.query_params.get("group") in ("care_visit.none", ["care_visit.none"])
    choice = at.selectbox(key="_w_choice_group")
    wh = Warehouse.open(duck)
    df = ae.action_effect(wh, filters(at), ("action_type", "risk_band"))
    wh.engine.dispose()
    i = int(df.index[(df["action_type"] == "care_visit") & df["risk_band"].isna()][0])
    assert choice.value == i
    assert len(at.get("plotly_chart")) == 1  # the curves of the group without a band
