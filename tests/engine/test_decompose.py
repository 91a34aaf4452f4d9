"""What drove the change (metrics.analysis.decompose): the shift-share split adds up exactly to the
change ``Warehouse.compare`` reports, matches a hand computation, refuses what cannot be split, and on
the demo names Dongjiang (the planted deterioration) first for the complaint rate."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from metrics.analysis import decompose as dc
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

METRICS = ("complaint_rate", "csat", "nps", "csat_mean", "churn_rate", "fcr_rate", "sla_resolution_compliance")
TIERS = ("diamond", "gold", "silver", "standard", "enterprise")
CHANNELS = ("service_hall", "hotline", "web_app")
FIRST, LAST = date(2024, 6, 1), date(2026, 9, 30)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def wh(duckdb_url: str) -> Warehouse:
    return Warehouse.open(duckdb_url)


def last_quarter(wh: Warehouse, **changes) -> Filters:
    start, end = preset_period("last_quarter", wh.as_of())
    return Filters(start=start, end=end).with_(**changes)


# -- the arithmetic, by hand ----------------------------------------------------------------------------
def test_shift_share_by_hand() -> None:
    # two groups; before: volume 50/50 at 10% and 20% (V0 = 15%); after: 25/75 at 10% and 30% (V1 = 25%)
    w0, w1 = np.array([.5, .5]), np.array([.25, .75])
    r0, r1 = np.array([.1, .2]), np.array([.1, .3])
    v = np.zeros(2)
    out = dc.shift_share(w0, w1, r0, r1, v, v, centre=0.2)  # V̄ = (0.15 + 0.25)/2
    # rate: group 2 rose 0.1 at a mean weight of 0.625; mix: group 1 lost 0.25 of the volume at 0.1
    # (0.1 below V̄), group 2 gained it at 0.25 (0.05 above)
    assert out["rate_effect"] == pytest.approx([0.0, 0.0625])
    assert out["mix_effect"] == pytest.approx([0.025, 0.0125])
    assert out["contribution"].sum() == pytest.approx(0.10)
    # the textbook, uncentred split gives the same total
    plain = dc.shift_share(w0, w1, r0, r1, v, v)
    assert plain["mix_effect"] == pytest.approx([-0.025, 0.0625])
    assert plain["contribution"].sum() == pytest.approx(0.10)


def test_a_group_present_in_one_period_is_all_mix() -> None:
    w0, w1 = np.array([1.0, 0.0]), np.array([0.8, 0.2])
    r0, r1 = np.array([.5, np.nan]), np.array([.5, .9])
    out = dc.shift_share(w0, w1, r0, r1, np.array([.001, 0]), np.array([.001, .004]))
    assert out["rate_effect"][1] == 0.0 and out["mix_effect"][1] == pytest.approx(0.2 * 0.9)
    assert out["contribution"].sum() == pytest.approx(0.8 * 0.5 + 0.2 * 0.9 - 0.5)
    assert out["upper"][1] - out["lower"][1] == pytest.approx(2 * 1.959964 * 0.2 * np.sqrt(.004), rel=1e-5)


def test_csat_by_tier_matches_a_pandas_reference(wh: Warehouse, demo_frames: dict) -> None:
    f = last_quarter(wh)
    cf = f.comparison_filters()
    sv = demo_frames["surveys"].merge(demo_frames["customers"][["customer_id", "tier"]], on="customer_id")
    sv = sv[sv["csat"].notna()]
    day = pd.to_datetime(sv["answered_at"]).dt.date

    def by_tier(p: Filters) -> pd.DataFrame:
        rows = sv[(day >= p.start) & (day <= p.end)]
        g = rows.groupby("tier").agg(num=("csat", lambda s: int((s >= 4).sum())), den=("csat", "size"))
        return g.assign(w=g["den"] / g["den"].sum(), r=g["num"] / g["den"])

    now, before = by_tier(f), by_tier(cf)
    v1, v0 = (now.w * now.r).sum(), (before.w * before.r).sum()
    d = dc.decompose(wh, "csat", f, "tier")
    assert d.delta == pytest.approx(v1 - v0, abs=1e-12)
    got = d.groups.set_index("key")
    for tier in now.index:
        rate = (now.r[tier] - before.r[tier]) * (now.w[tier] + before.w[tier]) / 2
        mix = (now.w[tier] - before.w[tier]) * ((now.r[tier] + before.r[tier]) / 2 - (v0 + v1) / 2)
        assert got.at[tier, "rate_effect"] == pytest.approx(rate, abs=1e-12)
        assert got.at[tier, "mix_effect"] == pytest.approx(mix, abs=1e-12)
        se = np.sqrt(sum(w**2 * (k + 1) / (n + 2) * (1 - (k + 1) / (n + 2)) / n
                         for w, k, n in ((now.w[tier], now.num[tier], now.den[tier]),
                                         (before.w[tier], before.num[tier], before.den[tier]))))
        assert got.at[tier, "upper"] - got.at[tier, "lower"] == pytest.approx(2 * 1.959964 * se, rel=1e-5)


# -- exact over random slices ------------------------------------------------------------------------
@st.composite
def filters(draw: st.DrawFn) -> Filters:
    a, b = draw(st.dates(FIRST, LAST)), draw(st.dates(FIRST, LAST))
    return Filters(min(a, b), max(a, b),
                   comparison=draw(st.sampled_from(("previous", "year_ago"))),
                   tiers=tuple(draw(st.lists(st.sampled_from(TIERS), max_size=2, unique=True))),
                   channels=tuple(draw(st.lists(st.sampled_from(CHANNELS), max_size=1, unique=True))),
                   regions=tuple(draw(st.lists(st.sampled_from((1, 2, 4, 201, 302, 401)), max_size=2, unique=True))))


@SETTINGS
@given(f=filters(), metric_id=st.sampled_from(METRICS), data=st.data())
def test_contributions_add_up_to_the_change(wh: Warehouse, f: Filters, metric_id: str, data) -> None:
    dim = data.draw(st.sampled_from(dc.dimensions_of(metric_id)))
    total = wh.compare(metric_id, f)
    try:
        d = dc.decompose(wh, metric_id, f, dim)
    except dc.NotDecomposable as exc:
        assert exc.reason == "lowest_level" and dim == "region"
        return
    if total.empty or total["no_cmp"].iloc[0] is not None or pd.isna(total["delta"].iloc[0]):
        assert d.reason is not None and np.isnan(d.delta) and d.groups.empty  # a reason, never a 0
        event("no change to split")
        return
    event("split")
    assert d.reason is None
    assert d.delta == pytest.approx(float(total["delta"].iloc[0]), abs=1e-12)
    assert abs(d.groups["contribution"].sum() - d.delta) < 1e-9
    split = d.groups.dropna(subset=["rate_effect"])
    assert np.allclose(split["rate_effect"] + split["mix_effect"], split["contribution"], atol=1e-12)
    noise = d.groups["noise"].to_numpy(bool)
    assert not (noise[:-1] & ~noise[1:]).any()  # never a noise contribution before a real one


# -- honest refusals -------------------------------------------------------------------------------------
def test_refusals(wh: Warehouse) -> None:
    with pytest.raises(dc.NotDecomposable) as exc:
        dc.decompose(wh, "tickets", last_quarter(wh), "tier")
    assert exc.value.reason == "kind"
    for metric_id in ("resolution_hours_median", "revenue", "active_customers", "availability"):
        with pytest.raises(dc.NotDecomposable):
            dc.check(metric_id)
    with pytest.raises(dc.NotDecomposable) as exc:
        dc.decompose(wh, "csat", last_quarter(wh), "category")  # surveys have no category
    assert exc.value.reason == "dimension"
    with pytest.raises(dc.NotDecomposable) as exc:
        dc.decompose(wh, "csat", last_quarter(wh, regions=(201,)), "region")
    assert exc.value.reason == "lowest_level"
    d = dc.decompose(wh, "csat", last_quarter(wh, comparison="none"), "tier")
    assert d.reason == "no_comparison" and np.isnan(d.delta) and d.groups.empty
    first = wh.data_span()[0]
    d = dc.decompose(wh, "complaint_rate", Filters(first, first.replace(day=28)), "tier")  # before the data
    assert d.reason in ("before_data", "no_data") and np.isnan(d.delta)


# -- the demo's planted deterioration --------------------------------------------------------------------
def test_dongjiang_drives_the_complaint_rate(wh: Warehouse) -> None:
    ranked = dc.explain(wh, "complaint_rate", last_quarter(wh))
    best = ranked[0]
    assert best.dim == "region" and best.level == "city"
    top = best.groups.iloc[0]
    assert int(top["key"]) == DETERIORATING_CITY and top["name_zh"] == "东江市"
    assert not top["noise"] and top["main"] == "rate" and top["lower"] > 0
    assert top["contribution"] > 0.5 * best.delta  # most of the province's rise
    assert [d.score for d in ranked] == sorted((d.score for d in ranked), reverse=True)


@pytest.mark.parametrize("metric_id", METRICS)
def test_small_groups_never_rank_first_on_noise(wh: Warehouse, metric_id: str) -> None:
    for d in dc.explain(wh, metric_id, last_quarter(wh, regions=(DETERIORATING_CITY,))):
        g = d.groups
        if len(g) and g["noise"].iloc[0]:
            assert g["noise"].all()
        assert 0.0 <= d.score <= 1.0
        if g["noise"].all():
            assert d.score == 0.0


# -- the same on every database -----------------------------------------------------------------------
@pytest.mark.parametrize(("metric_id", "dim"), [("complaint_rate", "region"), ("complaint_rate", "channel"),
                                                ("csat", "tier"), ("nps", "region"), ("fcr_rate", "category")])
def test_every_database_splits_the_same(db_url: str, duckdb_url: str, metric_id: str, dim: str) -> None:
    here, ref = Warehouse.open(db_url), Warehouse.open(duckdb_url)
    f = last_quarter(ref)
    d, expected = dc.decompose(here, metric_id, f, dim), dc.decompose(ref, metric_id, f, dim)
    assert d.delta == pytest.approx(float(here.compare(metric_id, f)["delta"].iloc[0]), abs=1e-9)
    assert abs(d.groups["contribution"].sum() - d.delta) < 1e-9
    got = d.groups.set_index(d.groups["key"].astype(str))
    want = expected.groups.set_index(expected.groups["key"].astype(str))
    assert sorted(got.index) == sorted(want.index)
    for col in ("contribution", "rate_effect", "mix_effect", "lower", "upper"):
        np.testing.assert_allclose(got.loc[want.index, col].astype(float), want[col].astype(float), atol=1e-9)
    assert list(got["noise"].loc[want.index]) == list(want["noise"])


def test_a_viewer_never_sees_a_small_group_alone(wh: Warehouse) -> None:
    from metrics.access.users import Scope

    viewer = Scope(user="v", regions=(DETERIORATING_CITY,), aggregates_only=True, min_group_size=40)
    f = last_quarter(wh, scope=viewer)
    d = dc.decompose(wh, "csat", f, "tier")
    assert d.ok and abs(d.groups["contribution"].sum() - d.delta) < 1e-9
    full = dc.decompose(wh, "csat", last_quarter(wh, regions=(DETERIORATING_CITY,)), "tier")
    assert d.delta == pytest.approx(full.delta, abs=1e-12)
    pooled = d.groups[d.groups["key"] == dc.SUPPRESSED]
    assert len(pooled) == 1 and np.isnan(pooled["value"].iloc[0]) and np.isnan(pooled["w"].iloc[0])
    shown = set(d.groups["key"]) - {dc.SUPPRESSED}
    assert shown < set(full.groups["key"])  # some tiers pooled
