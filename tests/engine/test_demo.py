"""The demo generator: shape, determinism, coverage at small scale and the planted patterns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.demo.generator import DETERIORATING_CITY, generate
from metrics.demo.model import CHANNELS
from metrics.demo.tickets import CATEGORIES, KINDS
from metrics.model import schema

END = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def big() -> dict[str, pd.DataFrame]:
    return generate(20_000, seed=5)


def test_tables_and_columns_follow_the_schema() -> None:
    frames = generate(300, seed=1)
    assert list(frames) == [t.name for t in schema.DATA_TABLES]
    for table in schema.DATA_TABLES:
        df = frames[table.name]
        assert list(df.columns) == [c.name for c in table.columns], table.name
        assert len(df) > 0, table.name
        for col in table.columns:
            s = df[col.name]
            if isinstance(col.type, sa.DateTime | sa.Date):
                assert s.dtype == "datetime64[ns]", (table.name, col.name)
            if not col.nullable:
                assert s.notna().all(), (table.name, col.name)
            if isinstance(col.type, sa.String) and col.type.length is not None and s.notna().any():  # Text: no limit
                assert s.dropna().str.len().max() <= col.type.length, (table.name, col.name)
        pk = [c.name for c in table.primary_key.columns]
        assert not df.duplicated(pk).any(), table.name


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = generate(500, seed=3), generate(500, seed=3), generate(500, seed=4)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["tickets"].equals(c["tickets"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_scale_has_every_category(seed: int) -> None:
    f = generate(300, seed=seed)
    cust, tk, sv = f["customers"], f["tickets"], f["surveys"]
    assert set(cust["tier"]) == {"diamond", "gold", "silver", "standard", "enterprise"}
    assert set(cust["sla_level"].dropna()) == {"gold", "silver", "bronze"}
    assert set(cust["acquisition_channel"]) == set(CHANNELS)
    assert set(tk["channel"]) == set(CHANNELS)
    assert set(tk["kind"]) == set(KINDS)
    assert set(tk["category"]) == set(CATEGORIES)
    assert set(tk["priority"]) == {"P1", "P2", "P3"}
    assert set(sv["kind"]) == set(schema.SURVEY_KINDS)
    assert cust["end_date"].notna().sum() >= 3
    assert tk["resolved_at"].isna().sum() >= 1
    assert f["outages"]["restored_at"].isna().sum() >= 1


def test_consistency(big: dict[str, pd.DataFrame]) -> None:
    cust, tk, sv = big["customers"], big["tickets"], big["surveys"]
    end = pd.Timestamp(END) + pd.Timedelta(days=1)
    assert (tk["opened_at"] < end).all() and (sv["answered_at"] < end).all()
    assert (tk["resolved_at"].dropna() >= tk.loc[tk["resolved_at"].notna(), "opened_at"]).all()
    t = tk.merge(cust[["customer_id", "start_date", "end_date", "segment"]], on="customer_id")
    assert (t["opened_at"] >= t["start_date"]).all()
    churned = t["end_date"].notna()
    assert (t.loc[churned, "opened_at"] < t.loc[churned, "end_date"] + pd.Timedelta(days=1)).all()
    assert (t.loc[t["segment"] == "consumer", "compensation"] == 0).all()
    # enterprise <=> tier 'enterprise' <=> sla_level set
    ent = cust["segment"] == "enterprise"
    assert ((cust["tier"] == "enterprise") == ent).all() and (cust["sla_level"].notna() == ent).all()
    assert (cust["churn_reason"].notna() == cust["end_date"].notna()).all()
    post = sv[sv["kind"] == "post_interaction"]
    assert post["ticket_id"].notna().all() and sv.loc[sv["kind"] != "post_interaction", "ticket_id"].isna().all()
    linked = post.merge(tk[["ticket_id", "channel", "resolved_at"]], on="ticket_id", suffixes=("", "_t"))
    assert (linked["channel"] == linked["channel_t"]).all()
    assert (linked["answered_at"] >= linked["resolved_at"]).all()
    assert set(sv.loc[sv["kind"] == "mystery_shopper", "channel"]) <= {"service_hall", "partner_hall"}


def test_realistic_rates(big: dict[str, pd.DataFrame]) -> None:
    cust, tk, sv = big["customers"], big["tickets"], big["surveys"]
    n = len(cust)
    assert 8 < len(tk) / n < 12 and 2.2 < len(sv) / n < 3.8
    assert 0.05 < (tk["kind"] == "complaint").mean() < 0.15
    assert 0.6 < tk["first_contact_resolved"].mean() < 0.8
    done = tk[tk["resolved_at"].notna()]
    assert 0.85 < (done["resolved_at"] <= done["resolution_due_at"]).mean() < 0.97
    csat = sv["csat"].dropna()
    assert 0.8 < (csat >= 4).mean() < 0.92
    nps = sv["nps"].dropna()
    assert 20 < 100 * ((nps >= 9).mean() - (nps <= 6).mean()) < 40


def _compliance(big: dict[str, pd.DataFrame]) -> pd.DataFrame:
    tk = big["tickets"].merge(big["customers"][["customer_id", "tier", "sla_level"]], on="customer_id")
    tk = tk[tk["resolved_at"].notna()].assign(
        ok=lambda d: d["resolved_at"] <= d["resolution_due_at"],
        hours=lambda d: (d["resolved_at"] - d["opened_at"]).dt.total_seconds() / 3600)
    tk["cls"] = tk["sla_level"].fillna(tk["tier"]).where(tk["tier"] != "enterprise", "ent_" + tk["sla_level"])
    return tk.groupby("cls").agg(ok=("ok", "mean"), hours=("hours", "mean"))


def test_pattern_a_higher_tiers_better_served(big: dict[str, pd.DataFrame]) -> None:
    g = _compliance(big)
    for order in (["diamond", "gold", "silver", "standard"], ["ent_gold", "ent_silver", "ent_bronze"]):
        assert g.loc[order, "ok"].is_monotonic_decreasing, g
        assert g.loc[order, "hours"].is_monotonic_increasing, g


def test_pattern_b_city_deteriorates_last_quarter(big: dict[str, pd.DataFrame]) -> None:
    cust = big["customers"].assign(city=lambda d: d["region_id"] // 100)
    tk = big["tickets"].merge(cust[["customer_id", "city"]], on="customer_id")
    complaints = tk[tk["kind"] == "complaint"]
    last_q = complaints["opened_at"] >= pd.Timestamp(2026, 8, 1)
    share = complaints[last_q].groupby("city").size() / complaints[~last_q].groupby("city").size()
    others = share.drop(DETERIORATING_CITY)
    assert share[DETERIORATING_CITY] > 2 * others.max()
    sv = big["surveys"].merge(cust[["customer_id", "city"]], on="customer_id")
    sv = sv[sv["csat"].notna() & (sv["answered_at"] >= pd.Timestamp(2026, 8, 1))]
    sat = (sv["csat"] >= 4).groupby(sv["city"]).mean()
    assert sat[DETERIORATING_CITY] < sat.drop(DETERIORATING_CITY).min() - 0.1


def test_pattern_c_hotline_below_account_manager(big: dict[str, pd.DataFrame]) -> None:
    sv = big["surveys"].dropna(subset=["csat"])
    sat = (sv["csat"] >= 4).groupby(sv["channel"]).mean()
    assert sat["hotline"] < sat["account_manager"] - 0.07


def test_pattern_d_bad_complaints_raise_churn(big: dict[str, pd.DataFrame]) -> None:
    tk = big["tickets"]
    bad = (tk["kind"] == "complaint") & ((tk["resolved_at"].isna() | (tk["resolved_at"] > tk["resolution_due_at"]))
                                         | (tk["revisit_satisfied"] == False))  # noqa: E712
    n_bad = tk[bad].groupby("customer_id").size()
    cust = big["customers"]
    had = cust["customer_id"].isin(n_bad.index)
    churn = cust["end_date"].notna()
    assert churn[had].mean() > churn[~had].mean() + 0.08


def test_pattern_e_spend_falls_before_churn(big: dict[str, pd.DataFrame]) -> None:
    cust = big["customers"]
    churned = cust[cust["end_date"].notna()][["customer_id", "end_date", "monthly_revenue"]]
    b = big["billing_monthly"].merge(churned, on="customer_id")
    months_before = (b["end_date"].dt.year * 12 + b["end_date"].dt.month) - (b["month"].dt.year * 12
                                                                             + b["month"].dt.month)
    ratio = (b["revenue"] / b["monthly_revenue"]).groupby(months_before).mean()
    assert ratio[0] < 0.6 and ratio[0] < ratio[3] < ratio[6] and ratio[8] > 0.95


def test_pattern_f_seasonality(big: dict[str, pd.DataFrame]) -> None:
    opened = big["tickets"]["opened_at"]
    per_day = opened.dt.normalize().value_counts()
    month = per_day.groupby(per_day.index.month).mean()
    assert month[[7, 8]].mean() > 1.1 * month[[4, 5, 11]].mean()
    by_hour = opened.dt.hour.value_counts()
    assert by_hour[10] > 5 * by_hour[3]
    by_wd = opened.dt.dayofweek.value_counts()
    assert by_wd[0] > by_wd[6]


def test_billing_covers_active_months(big: dict[str, pd.DataFrame]) -> None:
    b = big["billing_monthly"]
    assert (b["month"].dt.day == 1).all()
    assert b["month"].max() == pd.Timestamp(2026, 10, 1)
    assert np.isclose(b.groupby("customer_id").size().max(), 30)


def test_handlers_drawn_last_change_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    """tickets.handler (issue 20): complaints only, from a pool of PER_CITY names per city, about UNNAMED_P
    without one; every other demo column as it is without the handlers' draw."""
    from metrics.demo import generator, handlers

    frames = generate(1500, seed=9)
    tk = frames["tickets"]
    assert tk.loc[tk["kind"] != "complaint", "handler"].isna().all()
    comp = tk[tk["kind"] == "complaint"]
    assert abs(comp["handler"].isna().mean() - handlers.UNNAMED_P) < 0.04
    regions = frames["regions"].set_index("region_id")
    city = comp["customer_id"].map(frames["customers"].set_index("customer_id")["region_id"]).map(regions["parent_id"])
    assert (regions.loc[city.dropna().unique(), "level"] == "city").all()
    per_city = comp.dropna(subset=["handler"]).groupby(city)["handler"].nunique()
    assert per_city.max() <= handlers.PER_CITY and per_city.min() >= 2
    monkeypatch.setattr(generator, "draw_handlers", lambda seed, fr: {"tickets": fr["tickets"].assign(handler=None)})
    without = generate(1500, seed=9)
    for name in frames:
        pd.testing.assert_frame_equal(frames[name].drop(columns=["handler"], errors="ignore"),
                                      without[name].drop(columns=["handler"], errors="ignore"))
