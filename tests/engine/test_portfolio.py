"""Account managers' portfolios (metrics.analysis.portfolio): the league's figures equal a pandas
reference computed from the demo's raw frames (DuckDB, PostgreSQL, MariaDB); visit coverage, the
six-month spend flag and the ranking on a small hand-made database with known answers; scope (an
account manager sees their own customers, a city manager their city's)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from handmade_db import add_one_city

from metrics.access.users import Scope, ScopeError
from metrics.analysis import portfolio as pf
from metrics.analysis.portfolio_sql import visits_table
from metrics.model import schema as s
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse


def _filters(wh: Warehouse, **kw) -> Filters:
    start, end = preset_period("last_12_months", wh.as_of())
    return Filters(start=start, end=end, **kw)


def reference(frames: dict[str, pd.DataFrame], f: Filters, as_of: date) -> pd.DataFrame:
    """Per manager, from the raw frames, written from the definitions in docs/portfolio.md."""
    day = min(f.end, as_of)
    start, stop = pd.Timestamp(f.start), pd.Timestamp(day + timedelta(days=1))
    known = pd.Timestamp(as_of + timedelta(days=1))
    c = frames["customers"].copy()
    c = c[c["account_manager_id"].notna()]
    sd, ed = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    c["active"] = (sd < stop) & (ed.isna() | (ed >= stop))
    c["in_period"] = (sd < stop) & (ed.isna() | (ed >= start))
    c["churned"] = ed.notna() & (ed >= start) & (ed < stop)
    c["lost"] = np.where(c["churned"], 12 * c["monthly_revenue"], 0.0)
    v = frames.get("visits")
    if v is not None and len(v):
        vd = pd.to_datetime(v["visit_date"])
        last = v[vd < stop].assign(vd=vd).groupby("customer_id")["vd"].max()
        lv = c["customer_id"].map(last)
        for n in (30, 90):
            c[f"visited_{n}d"] = c["active"] & lv.notna() & (lv >= stop - pd.Timedelta(days=n))
    out = c.groupby("account_manager_id").agg(
        customers=("active", "sum"), in_period=("in_period", "sum"), churned=("churned", "sum"),
        revenue_lost=("lost", "sum"), **({f"visited_{n}d": (f"visited_{n}d", "sum") for n in (30, 90)}
                                         if "visited_30d" in c else {}))
    out = out[out["in_period"] > 0]
    b = frames["billing_monthly"].merge(c[["customer_id", "account_manager_id"]], on="customer_id")
    bm = pd.to_datetime(b["month"])
    out["revenue"] = b[(bm >= start) & (bm < stop)].groupby("account_manager_id")["revenue"].sum()
    t = frames["tickets"].merge(c[["customer_id", "account_manager_id"]], on="customer_id")
    opened, res, due = (pd.to_datetime(t[k]) for k in ("opened_at", "resolved_at", "resolution_due_at"))
    status = t["status"] if "status" in t else pd.Series(None, index=t.index)
    undated = (status == "resolved") & res.isna()
    complaint, period = t["kind"] == "complaint", (opened >= start) & (opened < stop)
    t["complaint"] = complaint & period
    t["open_complaint"] = complaint & (opened < stop) & (res.isna() | (res >= stop)) & ~undated
    res_known = res.notna() & (res < known)
    t["decided"] = period & due.notna() & (res_known | ((due < known) & ~undated))
    t["met"] = period & due.notna() & res_known & (res <= due)
    g = t.groupby("account_manager_id")
    out["complaints"], out["open_complaints"] = g["complaint"].sum(), g["open_complaint"].sum()
    out["sla_decided"], out["sla_met"] = g["decided"].sum(), g["met"].sum()
    sv = frames["surveys"].merge(c[["customer_id", "account_manager_id"]], on="customer_id")
    at = pd.to_datetime(sv["answered_at"])
    sv = sv[(at >= start) & (at < stop) & sv["csat"].notna()]
    out["csat_n"] = sv.groupby("account_manager_id").size()
    out["csat_good"] = sv[sv["csat"] >= 4].groupby("account_manager_id").size()
    out = out.fillna(0)
    out.index = out.index.astype(int).rename("manager_id")
    return out


def test_league_equals_the_pandas_reference(db_url: str, demo_frames: dict) -> None:
    wh = Warehouse.open(db_url)
    f = _filters(wh)
    got = pf.league(wh, f).managers.set_index("manager_id").sort_index()
    ref = reference(demo_frames, f, wh.as_of()).sort_index()
    assert list(got.index) == list(ref.index) and len(got) > 5
    for col in ref.columns:
        np.testing.assert_allclose(got[col].astype(float), ref[col].astype(float), rtol=1e-9, err_msg=col)
    # the rates and their intervals from the counts
    lo, hi = pf.stats.wilson(ref["csat_good"], ref["csat_n"])
    np.testing.assert_allclose(got["csat"], ref["csat_good"] / ref["csat_n"])
    np.testing.assert_allclose(got["csat_lower"], lo)
    np.testing.assert_allclose(got["csat_upper"], hi)
    np.testing.assert_allclose(got["sla_breaches"].astype(float), ref["sla_decided"] - ref["sla_met"])


def test_tiers_add_up_to_the_league(wh: Warehouse) -> None:
    r = pf.league(wh, _filters(wh))
    by = r.tiers.groupby("manager_id")[["customers", "revenue"]].sum()
    m = r.managers.set_index("manager_id")
    assert (by["customers"] == m["customers"].reindex(by.index)).all()
    np.testing.assert_allclose(by["revenue"], m["revenue"].reindex(by.index))
    assert set(r.tiers["tier"]) <= set(wh.values("tier"))


def test_revenue_at_risk_is_the_stored_scores_of_the_active_portfolio(fitted_duckdb_url: str,
                                                                     demo_frames: dict) -> None:
    from metrics.churn.store import churn_scores

    wh = Warehouse.open(fitted_duckdb_url)
    f = _filters(wh)
    r = pf.league(wh, f)
    assert pf.NOTE_NO_MODEL not in r.notes
    scores = wh.read(sa.select(churn_scores.c.customer_id, churn_scores.c.revenue_at_risk))
    c = demo_frames["customers"]
    stop = pd.Timestamp(r.day + timedelta(days=1))
    active = c[c["account_manager_id"].notna() & (pd.to_datetime(c["start_date"]) < stop)
               & (pd.to_datetime(c["end_date"]).isna() | (pd.to_datetime(c["end_date"]) >= stop))]
    ref = active.merge(scores, on="customer_id").groupby("account_manager_id")["revenue_at_risk"].sum()
    got = r.managers.set_index("manager_id")["revenue_at_risk"]
    np.testing.assert_allclose(got.reindex(ref.index.astype(int)), ref.to_numpy())
    # one manager's list carries the same risk
    m = int(ref.idxmax())
    rows, _ = pf.customers(wh, f, m)
    assert rows["revenue_at_risk"].sum() == pytest.approx(ref[m])


def test_without_a_model_revenue_at_risk_says_why(wh: Warehouse) -> None:
    r = pf.league(wh, _filters(wh))
    assert pf.NOTE_NO_MODEL in r.notes and r.managers["revenue_at_risk"].isna().all()


# -- scope --------------------------------------------------------------------------------------
def test_an_account_manager_sees_only_their_own_customers(wh: Warehouse, demo_frames: dict) -> None:
    c = demo_frames["customers"]
    mine, other = (int(m) for m in c["account_manager_id"].dropna().unique()[:2])
    f = _filters(wh, scope=Scope("am", manager_id=mine))
    r = pf.league(wh, f)
    assert list(r.managers["manager_id"]) == [mine]
    assert set(r.tiers["manager_id"]) == {mine}
    rows, _ = pf.customers(wh, f, mine)
    assert len(rows) and set(rows["customer_id"]) <= set(c.loc[c["account_manager_id"] == mine, "customer_id"])
    with pytest.raises(ScopeError):
        pf.customers(wh, f, other)
    with pytest.raises(ScopeError):
        pf.league(wh, f, manager_id=other)


def test_a_city_manager_sees_only_their_city(wh: Warehouse, demo_frames: dict) -> None:
    regions = demo_frames["regions"]
    city = int(regions.loc[regions["level"] == "city", "region_id"].iloc[0])
    inside = {city} | set(regions.loc[regions["parent_id"] == city, "region_id"].astype(int))
    f = _filters(wh, scope=Scope("boss", regions=(city,)))
    r = pf.league(wh, f)
    c = demo_frames["customers"]
    in_city = c[c["region_id"].isin(inside) & c["account_manager_id"].notna()]
    ref = reference({**demo_frames, "customers": in_city}, _filters(wh), wh.as_of())
    got = r.managers.set_index("manager_id").sort_index()
    assert list(got.index) == list(ref.sort_index().index)
    np.testing.assert_allclose(got["customers"].astype(float), ref.sort_index()["customers"].astype(float))
    m = int(got.index[0])
    rows, _ = pf.customers(wh, f, m)
    assert set(rows["region_id"].astype(int)) <= inside


def test_a_viewer_gets_no_customer_list_and_small_portfolios_withheld(wh: Warehouse) -> None:
    f = _filters(wh, scope=Scope("v", aggregates_only=True))
    with pytest.raises(PermissionError):
        pf.customers(wh, f, 1)
    full = pf.league(wh, _filters(wh)).managers.set_index("manager_id")
    cut = int(full["customers"].median())
    r = pf.league(wh, _filters(wh, scope=Scope("v", aggregates_only=True, min_group_size=cut)))
    m = r.managers.set_index("manager_id")
    small = full["customers"] < cut
    assert small.any() and m.loc[small[small].index, "suppressed"].all()
    assert m.loc[small[small].index, ["customers", "csat", "revenue", "rank"]].isna().all().all()
    big = small[~small].index
    assert (m.loc[big, "customers"] == full.loc[big, "customers"]).all() and not m.loc[big, "suppressed"].any()
    assert (r.tiers["customers"] >= cut).all()


# -- a small hand-made database: coverage, the spend flag, ranking -----------------------------
D = date(2026, 6, 30)


def _hand_db(tmp_path, visits: bool = True, small_perfect: int = 3, answers: int = 100, good: int = 90) -> Warehouse:
    """Two managers of one city. Manager 1: customers 1 (spend 100 → 70 a month: -30%, flagged),
    2 (100 → 90: -10%), 3 (billed two months before the last three: no change); visits: customer 1
    10 days before D, customer 2 60 days before, 3 none. Manager 2: ``small_perfect`` customers each
    with one CSAT 5. Manager 1 has ``answers`` CSAT answers, ``good`` of them 4–5."""
    url = f"duckdb:///{tmp_path / 'hand.duckdb'}"
    eng = sa.create_engine(url)
    s.metadata.create_all(eng)
    vt = visits_table()
    if not isinstance(vt, sa.Table):  # a data model without visits: the same columns, for this test
        vt = sa.Table("visits", sa.MetaData(), sa.Column("visit_id", sa.Integer, primary_key=True, autoincrement=False),
                      sa.Column("customer_id", sa.Integer), sa.Column("manager_id", sa.Integer),
                      sa.Column("visit_date", sa.Date), sa.Column("kind", sa.String(24)),
                      sa.Column("purpose", sa.String(200)), sa.Column("outcome", sa.String(200)),
                      sa.Column("next_step", sa.String(200)))
        vt.create(eng)
    cust = [dict(customer_id=i, name=f"C{i}", segment="enterprise", tier="enterprise", region_id=2,
                 acquisition_channel="account_manager", account_manager_id=1, sla_level="gold",
                 start_date=date(2024, 1, 1), end_date=None, churn_reason=None, monthly_revenue=100.0)
            for i in (1, 2, 3)]
    cust += [dict(cust[0], customer_id=10 + i, name=f"S{i}", account_manager_id=2) for i in range(small_perfect)]
    months = [date(2026, m, 1) for m in range(1, 7)]
    bill = [dict(customer_id=1, month=m, revenue=100.0 if m.month <= 3 else 70.0) for m in months]
    bill += [dict(customer_id=2, month=m, revenue=100.0 if m.month <= 3 else 90.0) for m in months]
    bill += [dict(customer_id=3, month=m, revenue=50.0) for m in months[1:]]
    surveys = [dict(survey_id=k, customer_id=1 + k % 3, ticket_id=None, channel="hotline", kind="post_interaction",
                    answered_at=datetime(2026, 5, 1 + k % 28), csat=5 if k < good else 2, nps=None, ces=None,
                    comment=None) for k in range(answers)]
    surveys += [dict(surveys[0], survey_id=100_000 + i, customer_id=10 + i, csat=5) for i in range(small_perfect)]
    with eng.begin() as conn:
        add_one_city(conn)
        conn.execute(s.customers.insert(), cust)
        conn.execute(s.billing_monthly.insert(), bill)
        conn.execute(s.surveys.insert(), surveys)
        conn.execute(s.meta.insert(), [dict(key="as_of", value=D.isoformat())])
        if visits:
            conn.execute(vt.insert(), [
                dict(visit_id=1, customer_id=1, manager_id=1, visit_date=D - timedelta(days=10), kind="visit",
                     purpose="care", outcome="ok", next_step=None),
                dict(visit_id=2, customer_id=2, manager_id=1, visit_date=D - timedelta(days=60), kind="call",
                     purpose="care", outcome="ok", next_step=None),
                dict(visit_id=3, customer_id=2, manager_id=1, visit_date=D + timedelta(days=5), kind="call",
                     purpose="after D: not counted", outcome="ok", next_step=None)])
    eng.dispose()
    return Warehouse.open(url)


def _hand_filters() -> Filters:
    return Filters(start=date(2026, 1, 1), end=D)


def test_spend_flag_and_last_visit_on_a_hand_made_case(tmp_path) -> None:
    wh = _hand_db(tmp_path)
    rows, notes = pf.customers(wh, _hand_filters(), 1)
    assert notes == [pf.NOTE_NO_MODEL]
    r = rows.set_index("customer_id")
    assert r.loc[1, "spend_prev3"] == 300 and r.loc[1, "spend_last3"] == 210
    assert r.loc[1, "spend_change"] == pytest.approx(-0.30) and bool(r.loc[1, "spend_falling"])
    assert r.loc[2, "spend_change"] == pytest.approx(-0.10) and not r.loc[2, "spend_falling"]
    assert np.isnan(r.loc[3, "spend_change"]) and r.loc[3, "spend_note"] == "new" and not r.loc[3, "spend_falling"]
    assert list(rows["customer_id"])[0] == 1  # falling spend first
    assert r.loc[1, "last_visit"] == D - timedelta(days=10) and r.loc[1, "days_since_visit"] == 10
    assert r.loc[2, "last_visit"] == D - timedelta(days=60)  # the visit after D is not counted
    assert r.loc[3, "last_visit"] is None


def test_spend_trend_threshold() -> None:
    got = pf.spend_trend(pd.Series([100.0, 100.0, 0.0, 100.0]), pd.Series([79.0, 80.0, 10.0, 50.0]),
                         pd.Series([3, 3, 3, 2]))
    assert list(got["spend_falling"]) == [True, False, False, False]  # exactly -20% is not "more than"
    assert list(got["spend_note"]) == [None, None, "no_spend", "new"]


def test_visit_coverage_on_a_hand_made_case(tmp_path) -> None:
    wh = _hand_db(tmp_path)
    m = pf.league(wh, _hand_filters()).managers.set_index("manager_id").loc[1]
    assert (m["customers"], m["visited_30d"], m["visited_90d"]) == (3, 1, 2)
    assert m["coverage_30d"] == pytest.approx(1 / 3) and m["coverage_90d"] == pytest.approx(2 / 3)
    lo, hi = pf.stats.wilson(2, 3)
    assert (m["coverage_90d_lower"], m["coverage_90d_upper"]) == (pytest.approx(lo), pytest.approx(hi))


def test_no_visits_recorded_is_a_reason_not_zero(tmp_path) -> None:
    wh = _hand_db(tmp_path, visits=False)  # the table is there but empty
    r = pf.league(wh, _hand_filters())
    assert pf.NOTE_NO_VISITS in r.notes
    assert r.managers[["coverage_30d", "coverage_90d", "visited_90d"]].isna().all().all()
    wh.engine.dispose()
    writer = sa.create_engine(wh.url)
    with writer.begin() as conn:  # no table at all
        conn.execute(sa.text("DROP TABLE visits"))
    writer.dispose()
    r = pf.league(Warehouse.open(wh.url), _hand_filters())
    assert pf.NOTE_NO_VISITS in r.notes and r.managers["coverage_30d"].isna().all()


def test_a_small_perfect_portfolio_never_ranks_first(tmp_path) -> None:
    # 3 answers all good against 90 of 100: too few to rank
    m = pf.league(_hand_db(tmp_path, small_perfect=3), _hand_filters(), "csat").managers.set_index("manager_id")
    assert m.loc[1, "rank"] == 1 and np.isnan(m.loc[2, "rank"]) and m.loc[2, "rank_note"] == "small"
    assert m.loc[2, "csat"] == 1.0 > m.loc[1, "csat"]


def test_ranking_is_on_the_interval_bound(tmp_path) -> None:
    # 30 of 30 good (enough to rank, rate 100%) against 950 of 1,000 (95%): ranked on the lower bound of
    # the Wilson interval (0.886 against 0.935) the big portfolio is first although its rate is lower
    wh = _hand_db(tmp_path, small_perfect=30, answers=1000, good=950)
    m = pf.league(wh, _hand_filters(), "csat").managers.set_index("manager_id")
    assert m.loc[2, "csat"] == 1.0 > m.loc[1, "csat"] == 0.95
    assert m.loc[2, "csat_lower"] == pytest.approx(0.8865, abs=1e-3)
    assert m.loc[1, "csat_lower"] == pytest.approx(pf.stats.wilson(950, 1000)[0])
    assert (m.loc[1, "rank"], m.loc[2, "rank"]) == (1, 2)


def test_a_managers_customer_complaints_follow_the_ticket_filters(wh: Warehouse, demo_frames: dict) -> None:
    """Under a category filter a manager's customer list counts the complaints the league counts: the
    same ticket conditions, on the manager's customers active on D."""
    t = demo_frames["tickets"]
    cat = str(t.loc[t["kind"] == "complaint", "category"].value_counts().index[0])
    for kw in ({"categories": (cat,)},):
        f = _filters(wh, **kw)
        league = pf.league(wh, f).managers.set_index("manager_id")
        full = pf.league(wh, _filters(wh)).managers.set_index("manager_id")
        m = int(league["complaints"].idxmax())
        assert league.loc[m, "complaints"] < full.loc[m, "complaints"]  # the filter bites
        rows, _ = pf.customers(wh, f, m)
        # the league counts every customer's tickets; the list only those active on D
        c = demo_frames["customers"]
        stop = pd.Timestamp(pf.league(wh, f).day + timedelta(days=1))
        gone = c[(c["account_manager_id"] == m) & pd.to_datetime(c["end_date"]).notna()
                 & (pd.to_datetime(c["end_date"]) < stop)]["customer_id"]
        start = pd.Timestamp(f.start)
        opened = pd.to_datetime(t["opened_at"])
        mine = t[t["customer_id"].isin(gone) & (t["kind"] == "complaint") & (t["category"] == cat)
                 & (opened >= start) & (opened < stop)]
        assert int(rows["complaints"].sum()) == league.loc[m, "complaints"] - len(mine)


def test_a_viewer_sees_ranks_without_gaps_for_withheld_managers(tmp_path) -> None:
    """Withheld managers take no rank position. Manager 1 (3 customers, 950 of 1,000) ranks first,
    manager 2 (30 customers, 30 of 30) second; a viewer who may not see portfolios under 5 customers
    sees manager 2 ranked 1, not 2 (a gap would tell them a hidden manager ranked above)."""
    wh = _hand_db(tmp_path, small_perfect=30, answers=1000, good=950)
    full = pf.league(wh, _hand_filters(), "csat").managers.set_index("manager_id")
    assert (full.loc[1, "rank"], full.loc[2, "rank"]) == (1, 2)
    f = Filters(start=date(2026, 1, 1), end=D, scope=Scope("v", aggregates_only=True, min_group_size=5))
    m = pf.league(wh, f, "csat").managers.set_index("manager_id")
    assert bool(m.loc[1, "suppressed"]) and pd.isna(m.loc[1, "rank"])
    assert m.loc[2, "rank"] == 1 and not m.loc[2, "suppressed"]
