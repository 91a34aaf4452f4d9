"""Account health score (metrics.analysis.health): a hand-made customer's score, trend and "what moved
it" computed by hand; a missing part re-weighted, never scored 0; the AUC equal to a brute-force pair
count and its DeLong interval covering a known AUC in simulation; the back-test's departures counted
from the demo's raw frames; scope (an account manager sees only their own customers, a viewer no list);
a bad weights file refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from math import erf, sqrt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from handmade_db import add_one_city

from metrics.access.users import Scope, ScopeError
from metrics.analysis import health as hl
from metrics.model import schema as s
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

D = date(2026, 6, 30)
W = {"sla_compliance": 0.20, "availability": 0.15, "complaints": 0.20, "satisfaction": 0.15, "spend_trend": 0.15,
     "churn_risk": 0.15}


def _ticket(i: int, cust: int, opened: datetime, late: bool, kind: str) -> dict:
    due = opened + timedelta(hours=24)
    return dict(ticket_id=i, customer_id=cust, channel="hotline", kind=kind, category="billing", priority="P2",
                opened_at=opened, first_response_at=None, resolved_at=due + timedelta(hours=5 if late else -5),
                status="resolved", response_due_at=None, resolution_due_at=due)


def _hand_db(tmp_path) -> Warehouse:
    """Customer 1 (manager 1): June tickets 3 on time + 1 late, 2 of them complaints; one circuit since
    2024 with a 10.92-hour outage in June; 5 CSAT answers in May, 4 of them 4–5; billing 100 a month
    Oct–Mar, 80 Apr–Jun. Customer 2 (manager 2): one on-time ticket in June, billing flat, no circuit,
    no surveys. Customer 3: a consumer (not in the score)."""
    url = f"duckdb:///{tmp_path / 'health.duckdb'}"
    eng = sa.create_engine(url)
    s.metadata.create_all(eng)
    base = dict(segment="enterprise", tier="enterprise", region_id=2, acquisition_channel="account_manager",
                sla_level="gold", start_date=date(2024, 1, 1), end_date=None, churn_reason=None, monthly_revenue=100.0)
    cust = [dict(base, customer_id=1, name="C1", account_manager_id=1),
            dict(base, customer_id=2, name="C2", account_manager_id=2),
            dict(base, customer_id=3, name="C3", account_manager_id=1, segment="consumer", tier="gold")]
    june = datetime(2026, 6, 10, 9)
    tickets = [_ticket(1, 1, june, False, "complaint"), _ticket(2, 1, june, True, "complaint"),
               _ticket(3, 1, june, False, "request"), _ticket(4, 1, june, False, "request"),
               _ticket(5, 2, june, False, "request"), _ticket(6, 3, june, True, "complaint")]
    months = [date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1)] + [date(2026, m, 1) for m in range(1, 7)]
    bill = [dict(customer_id=1, month=m, revenue=80.0 if m >= date(2026, 4, 1) else 100.0) for m in months]
    bill += [dict(customer_id=2, month=m, revenue=50.0) for m in months]
    surveys = [dict(survey_id=k, customer_id=1, ticket_id=None, channel="hotline", kind="post_interaction",
                    answered_at=datetime(2026, 5, 2 + k), csat=5 if k < 4 else 1, nps=None, ces=None, comment=None)
               for k in range(5)]
    start = datetime(2026, 6, 20, 0)
    with eng.begin() as conn:
        add_one_city(conn)
        conn.execute(s.customers.insert(), cust)
        conn.execute(s.tickets.insert(), tickets)
        conn.execute(s.billing_monthly.insert(), bill)
        conn.execute(s.surveys.insert(), surveys)
        conn.execute(s.services.insert(), [dict(service_id=1, customer_id=1, product="line", sla_level="gold",
                                                start_date=date(2024, 1, 1), end_date=None)])
        conn.execute(s.outages.insert(), [dict(outage_id=1, service_id=1, started_at=start,
                                               restored_at=start + timedelta(hours=10.92), cause="fibre")])
        conn.execute(s.meta.insert(), [dict(key="as_of", value=D.isoformat())])
    eng.dispose()
    return Warehouse.open(url)


def _cfg(**weights: float) -> dict:
    cfg = hl.load_weights()
    cfg["weights"] = {**W, **weights}
    return cfg


def test_a_hand_made_customers_score_trend_and_what_moved_it(tmp_path) -> None:
    wh = _hand_db(tmp_path)
    r = hl.health(wh, Filters(start=date(2026, 1, 1), end=D), _cfg(), with_backtest=False)
    assert set(r.customers["customer_id"]) == {1, 2}  # the consumer is not an enterprise customer
    c = r.customers.set_index("customer_id").loc[1]
    # parts now: SLA 3/4; availability 1 − 10.92 / (91 days × 24 h) = 0.995 → (0.995 − 0.99)/(0.999 − 0.99);
    # complaints 2 of 4; CSAT 4/5; spend (240 / 300 − 1 = −20%) → 1 − 0.2 / 0.5; no churn model
    avail = 100 * ((1 - 10.92 / (91 * 24)) - 0.99) / 0.009
    parts = {"sla_compliance": 75.0, "availability": avail, "complaints": 50.0, "satisfaction": 80.0,
             "spend_trend": 60.0}
    for p, v in parts.items():
        assert c[p] == pytest.approx(v, abs=1e-6), p
    assert np.isnan(c["churn_risk"]) and c["missing"] == "churn_risk"
    score = sum(W[p] * v for p, v in parts.items()) / 0.85
    assert c["score"] == pytest.approx(score)
    assert c["score"] == pytest.approx(63.9216, abs=1e-3)  # 54.3333 / 0.85
    # last month (as of May 31): no SLA decided yet, availability 100, no complaints, CSAT 80, spend
    # Dec–Feb 300 against Mar–May 260 (−13.3%): compared on the parts known in both months
    prev = {"availability": 100.0, "complaints": 100.0, "satisfaction": 80.0,
            "spend_trend": 100 * (1 - (40 / 300) / 0.5)}
    common = ("availability", "complaints", "satisfaction", "spend_trend")
    wc = sum(W[p] for p in common)
    delta = {p: W[p] * (parts[p] - prev[p]) / wc for p in common}
    assert c["previous"] == pytest.approx(sum(W[p] * prev[p] for p in common) / wc, abs=0.01)
    assert c["change"] == pytest.approx(sum(delta.values()))
    assert c["trend"] == "down" and c["moved"] == "complaints" and c["moved_by"] == pytest.approx(delta["complaints"])
    assert r.notes == [("health.note.no_model", {})]
    h = r.history[r.history["customer_id"] == 1].set_index("day")
    assert h.loc[D, "score"] == pytest.approx(score, abs=0.01) and len(r.history.query("customer_id == 1")) == 12


def test_a_missing_part_is_reweighted_not_zero(tmp_path) -> None:
    wh = _hand_db(tmp_path)
    r = hl.health(wh, Filters(start=date(2026, 1, 1), end=D), _cfg(), with_backtest=False)
    c = r.customers.set_index("customer_id").loc[2]
    # no circuit, no survey, no churn model: three parts missing, their weight shared by the rest
    assert set(c["missing"].split(",")) == {"availability", "satisfaction", "churn_risk"}
    assert np.isnan(c["availability"]) and c["availability_weight"] == 0
    present = {"sla_compliance": 100.0, "complaints": 100.0, "spend_trend": 100.0}
    total = sum(W[p] for p in present)
    assert c["sla_compliance_weight"] == pytest.approx(W["sla_compliance"] / total)
    assert c["score"] == pytest.approx(100.0)  # had the missing parts counted 0 it would be 55
    weights = [c[f"{p}_weight"] for p in hl.PARTS]
    assert sum(weights) == pytest.approx(1.0)


def test_parts_and_combine_by_hand() -> None:
    raw = pd.DataFrame({"sla_decided": [4, 0], "sla_met": [1, 0], "service_hours": [1000.0, np.nan],
                        "outage_hours": [5.0, np.nan], "complaints": [1, 9], "csat_n": [0, 2], "csat_good": [0, 1],
                        "spend_prev3": [300.0, 300.0], "spend_last3": [330.0, 60.0], "months_prev": [3, 3],
                        "churn_probability_90d": [0.05, np.nan]})
    p = hl.part_scores(raw, hl.load_weights())
    assert p.loc[0, "sla_compliance"] == 25 and np.isnan(p.loc[1, "sla_compliance"])
    assert p.loc[0, "availability"] == pytest.approx(100 * (0.995 - 0.99) / 0.009)
    assert p.loc[0, "complaints"] == 75 and p.loc[1, "complaints"] == 0
    assert np.isnan(p.loc[0, "satisfaction"]) and p.loc[1, "satisfaction"] == 50
    assert p.loc[0, "spend_trend"] == 100 and p.loc[1, "spend_trend"] == 0  # +10%; −80% is past −50%
    assert p.loc[0, "churn_risk"] == pytest.approx(80.0) and np.isnan(p.loc[1, "churn_risk"])
    score, contrib = hl.combine(p, W)
    assert score[1] == pytest.approx((0.2 * 0 + 0.15 * 50 + 0.15 * 0) / 0.5)
    assert contrib.sum(axis=1).to_numpy() == pytest.approx(score.to_numpy())
    assert np.isnan(hl.combine(p.assign(**{k: np.nan for k in hl.PARTS}), W)[0]).all()  # no part: no score


def _pairs_auc(y: np.ndarray, r: np.ndarray) -> float:
    pos, neg = r[y], r[~y]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auc_equals_the_pair_count_and_delong_by_hand() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.2
    r = rng.integers(0, 8, 300) + y * rng.integers(0, 3, 300)  # many ties
    auc, lo, hi = hl.delong_auc(y, r.astype(float))
    assert auc == pytest.approx(_pairs_auc(y, r))
    # DeLong's structural components by explicit pairs
    pos, neg = r[y], r[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    se = sqrt(psi.mean(axis=1).var(ddof=1) / len(pos) + psi.mean(axis=0).var(ddof=1) / len(neg))
    assert lo == pytest.approx(auc - 1.959964 * se, abs=1e-5) and hi == pytest.approx(auc + 1.959964 * se, abs=1e-5)
    assert np.isnan(hl.delong_auc(np.array([True, False, False]), np.array([1.0, 0.0, 2.0]))[0])


def test_the_delong_interval_covers_a_known_auc() -> None:
    """Binormal scores (departures shifted by d): the true AUC is Φ(d/√2); 95% intervals cover it in
    about 95% of 400 simulated samples."""
    d = 0.8
    truth = 0.5 * (1 + erf(d / sqrt(2) / sqrt(2)))
    rng = np.random.default_rng(20261207)
    hits = 0
    for _ in range(400):
        y = np.r_[np.ones(60, bool), np.zeros(240, bool)]
        r = rng.normal(size=300) + d * y
        _, lo, hi = hl.delong_auc(y, r)
        hits += lo <= truth <= hi
    assert 0.91 <= hits / 400 <= 0.985


def _demo_filters(wh: Warehouse, **kw) -> Filters:
    start, end = preset_period("last_12_months", wh.as_of())
    return Filters(start=start, end=end, **kw)


def test_backtest_counts_the_departures_of_the_raw_frames(wh: Warehouse, demo_frames: dict) -> None:
    cfg = hl.load_weights()
    bt = hl.backtest(wh, _demo_filters(wh), cfg)
    day = hl.look_day(wh, _demo_filters(wh))
    stop = pd.Timestamp(day - timedelta(days=cfg["horizon_days"]) + timedelta(days=1))
    c = demo_frames["customers"]
    c = c[c["segment"].isin(cfg["segments"])]
    sd, ed = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    active = (sd < stop) & (ed.isna() | (ed >= stop))
    left = active & ed.notna() & (ed < stop + pd.Timedelta(days=cfg["horizon_days"]))
    assert bt["cutoff"] == (stop - pd.Timedelta(days=1)).date()
    assert bt["n"] + bt["unscored"] == int(active.sum()) and bt["departures"] <= int(left.sum())
    assert "churn_risk" not in bt["parts"]  # no stored scores before the cut-off
    if bt["reason"] is None:
        assert 0 <= bt["auc_lower"] <= bt["auc"] <= bt["auc_upper"] <= 1
    else:
        assert bt["reason"] == "too_few" and min(bt["departures"], bt["n"] - bt["departures"]) < hl.MIN_CLASS


def test_an_account_manager_sees_only_their_own_customers(wh: Warehouse) -> None:
    full = hl.health(wh, _demo_filters(wh), with_backtest=False).customers
    m = int(full["manager_id"].dropna().astype(int).value_counts().index[0])
    own = hl.health(wh, _demo_filters(wh, scope=Scope("am", manager_id=m)), with_backtest=False).customers
    assert len(own) and set(own["manager_id"].astype(int)) == {m}
    expect = full[full["manager_id"] == m].set_index("customer_id")["score"].sort_index()
    assert own.set_index("customer_id")["score"].sort_index().to_numpy() == pytest.approx(expect.to_numpy())
    other = next(x for x in full["manager_id"].dropna().astype(int) if x != m)
    with pytest.raises(ScopeError):
        hl.health(wh, _demo_filters(wh, scope=Scope("am", manager_id=m)), manager_id=other, with_backtest=False)


def test_a_viewer_gets_no_customer_list(wh: Warehouse) -> None:
    with pytest.raises(PermissionError):
        hl.health(wh, _demo_filters(wh, scope=Scope("v", aggregates_only=True)))


@pytest.mark.parametrize(("text", "key"), [
    ("[weights]\nsla = 1\n", "health.weights_error.unknown_part"),
    ("[weights]\nsla_compliance = -1\n", "health.weights_error.bad_weight"),
    ("weights = [", "health.weights_error.not_toml"),
    ("segments = ['enterprise']\n", "health.weights_error.no_weights"),
    ("spend_zero = 0.5\n[weights]\ncomplaints = 1\n", "health.weights_error.bad_scale"),
])
def test_a_bad_weights_file_is_refused(tmp_path, text: str, key: str) -> None:
    p = tmp_path / "w.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(hl.WeightsError) as e:
        hl.load_weights(p)
    assert e.value.key == key
    cfg = hl.load_weights(None)
    assert sum(cfg["weights"].values()) == pytest.approx(1.0) and cfg["segments"] == ("enterprise",)


def _reference(frames: dict, day: date, cfg: dict) -> pd.DataFrame:
    """The raw figures of the active enterprise customers as of ``day``, from the demo's raw frames,
    written from the definitions in docs/health.md."""
    stop = pd.Timestamp(day + timedelta(days=1))
    w = stop - pd.DateOffset(months=cfg["window_months"])
    sv_from = stop - pd.DateOffset(months=cfg["satisfaction_months"])
    m6 = stop if stop.day == 1 else stop.replace(day=1)
    m3, m0 = m6 - pd.DateOffset(months=3), m6 - pd.DateOffset(months=6)
    c = frames["customers"]
    sd, ed = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    c = c[c["segment"].isin(cfg["segments"]) & (sd < stop) & (ed.isna() | (ed >= stop))]
    out = pd.DataFrame(index=pd.Index(c["customer_id"].astype(int), name="customer_id"))
    t = frames["tickets"]
    opened, res, due = (pd.to_datetime(t[k]) for k in ("opened_at", "resolved_at", "resolution_due_at"))
    t = t.assign(opened=opened)[(opened >= w) & (opened < stop)]
    res, due = res[t.index], due[t.index]
    undated = (t["status"] == "resolved") & res.isna() if "status" in t else pd.Series(False, index=t.index)
    known = res.notna() & (res < stop)
    t = t.assign(complaint=t["kind"] == "complaint", decided=due.notna() & (known | ((due < stop) & ~undated)),
                 met=due.notna() & known & (res <= due))
    g = t.groupby("customer_id")
    out["complaints"], out["sla_decided"], out["sla_met"] = g["complaint"].sum(), g["decided"].sum(), g["met"].sum()
    s_ = frames["surveys"]
    at = pd.to_datetime(s_["answered_at"])
    s_ = s_[(at >= sv_from) & (at < stop) & s_["csat"].notna()]
    out["csat_n"] = s_.groupby("customer_id").size()
    out["csat_good"] = s_[s_["csat"] >= 4].groupby("customer_id").size()
    out["csat_good"] = out["csat_good"].fillna(0)  # answered, none of them 4-5
    b = frames["billing_monthly"]
    bm = pd.to_datetime(b["month"])
    first, last = b[(bm >= m0) & (bm < m3)], b[(bm >= m3) & (bm < m6)]
    out["spend_prev3"] = first.groupby("customer_id")["revenue"].sum()
    out["spend_last3"] = last.groupby("customer_id")["revenue"].sum()
    out["months_prev"] = first.groupby("customer_id").size()
    sv = frames["services"]
    s0, s1 = pd.to_datetime(sv["start_date"]), pd.to_datetime(sv["end_date"]).fillna(stop).clip(upper=stop)
    live = (s0 < stop) & (s1 > w)
    sv = sv[live].assign(hours=(s1[live] - s0[live].clip(lower=w)).dt.days * 24.0)
    out["service_hours"] = sv.groupby("customer_id")["hours"].sum()
    o = frames["outages"].merge(frames["services"][["service_id", "customer_id"]], on="service_id")
    o0, o1 = pd.to_datetime(o["started_at"]), pd.to_datetime(o["restored_at"]).fillna(stop)
    hit = (o0 < stop) & (o1 > w)
    o = o[hit].assign(hours=(o1[hit].clip(upper=stop) - o0[hit].clip(lower=w)).dt.total_seconds() / 3600)
    out["outage_hours"] = o.groupby("customer_id")["hours"].sum()
    return out


def test_parts_equal_a_pandas_reference(db_url: str, demo_frames: dict) -> None:
    wh = Warehouse.open(db_url)
    f = _demo_filters(wh)
    cfg = hl.load_weights()
    r = hl.health(wh, f, cfg, with_backtest=False)
    ref = _reference(demo_frames, r.day, cfg)
    got = r.customers.set_index("customer_id").sort_index()
    assert list(got.index) == sorted(ref.index) and len(got) > 50
    want = hl.part_scores(ref.sort_index(), cfg)
    for p in hl.PARTS:
        assert got[p].isna().tolist() == want[p].isna().tolist(), p
        assert got[p].fillna(-1).to_numpy() == pytest.approx(want[p].fillna(-1).to_numpy(), abs=1e-6), p
    assert got["score"].to_numpy() == pytest.approx(hl.combine(want, cfg["weights"])[0].to_numpy())


def test_history_points_mid_month_and_month_end() -> None:
    cfg = hl.load_weights()
    mid = hl.history_points(date(2026, 6, 15), cfg)
    days = [p.stop - timedelta(days=1) for p in mid]
    assert len(days) == 12 and days[-1] == date(2026, 6, 15) and days[-2] == date(2026, 5, 31)
    assert days[0] == date(2025, 7, 31)
    last = mid[-1]  # windows counted back from the day; spend: the six complete months before June
    assert (last.window, last.satisfaction) == (date(2026, 3, 16), date(2025, 12, 16))
    assert (last.m0, last.m3, last.m6) == (date(2025, 12, 1), date(2026, 3, 1), date(2026, 6, 1))
    end = hl.history_points(date(2026, 6, 30), cfg)
    assert [p.stop for p in end][-2:] == [date(2026, 6, 1), date(2026, 7, 1)] and len(end) == 12
    assert (end[-1].window, end[-1].m0, end[-1].m6) == (date(2026, 4, 1), date(2026, 1, 1), date(2026, 7, 1))
    late = hl.history_points(date(2026, 7, 29), cfg)[-1]  # windows start on the same day, not the 28th
    assert (late.stop, late.window) == (date(2026, 7, 30), date(2026, 4, 30))
    assert hl.history_points(date(2026, 5, 30), cfg)[-1].window == date(2026, 2, 28)  # February's last day
