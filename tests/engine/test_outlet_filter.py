"""The outlet as a dimension of the filter model (issue 19): figures filtered and grouped by outlet equal a
pandas reference on DuckDB, PostgreSQL and MariaDB; facts at no outlet are outside any outlet filter;
figures about customers (active customers, churn) are not cut by it, as they read the channel filter as
the acquisition channel; the complaint rate's events are cut, its customer-months not (as for channel);
a filtered query leaves the cubes (they hold no outlet) for the raw rows; a hall manager's scope
(``Scope.outlet_ids``) keeps their outlets' tickets, surveys, queues and audits and nothing of the
customers. The small simulated halls of tests/outlet_frames.py, with tickets and surveys at no outlet."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from outlet_frames import frames

from metrics.access.users import Scope
from metrics.analysis import outlets as ol
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.model.registry import get
from metrics.query.compiler import Window
from metrics.query.rollup_compiler import eligible
from metrics.query.warehouse import Warehouse

F = Filters(start=date(2026, 1, 1), end=date(2026, 6, 30), comparison="none")
HALLS = (1, 2)  # East hall and East partner


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    out = frames()
    rng = np.random.default_rng(19)
    n = 600
    outlet = rng.choice([1, 2, 3, 4, 0], size=n)  # 0: raised on the hotline, at no outlet
    out["tickets"] = pd.DataFrame(dict(
        ticket_id=np.arange(1, n + 1), customer_id=rng.integers(1, 401, size=n),
        channel=np.where(outlet == 0, "hotline", "store"),
        kind=rng.choice(["complaint", "inquiry", "fault"], size=n), category="billing", priority="p3",
        opened_at=[datetime(2026, 1 + int(m), 1 + int(d), 10) for m, d in zip(rng.integers(0, 6, size=n),
                                                                             rng.integers(0, 28, size=n),
                                                                             strict=True)],
        status="open", outlet_id=pd.array([None if o == 0 else int(o) for o in outlet], dtype="Int64")))
    sv = out["surveys"]
    sv["outlet_id"] = pd.array([None if i % 5 == 0 else int(o) for i, o in enumerate(sv["outlet_id"])],
                               dtype="Int64")
    for col in schema.tickets.c.keys():
        if col not in out["tickets"].columns:
            out["tickets"][col] = None
    return out


@pytest.fixture(scope="module")
def wh(raw_any_url: str) -> Warehouse:
    return Warehouse.open(raw_any_url)


def _at(df: pd.DataFrame, outlets: tuple[int, ...]) -> pd.DataFrame:
    return df[df["outlet_id"].isin(outlets)]


def test_ticket_counts_by_and_within_outlets(wh: Warehouse, raw: dict) -> None:
    t = raw["tickets"]
    got = wh.metric("tickets", F.with_(outlets=HALLS))
    assert int(got["value"].iloc[0]) == len(_at(t, HALLS))
    per = wh.metric("tickets", F, by=("outlet",)).dropna(subset=["outlet_id"])
    ref = t.dropna(subset=["outlet_id"]).groupby("outlet_id").size()
    assert dict(zip(per["outlet_id"].astype(int), per["value"].astype(int), strict=True)) == {
        int(k): int(v) for k, v in ref.items()}
    kinds = wh.metric("tickets", F.with_(outlets=(3,), kinds=("complaint",)), by=("tier",))
    tiers = raw["customers"].set_index("customer_id")["tier"]
    sub = t[(t["outlet_id"] == 3) & (t["kind"] == "complaint")]
    ref = sub["customer_id"].map(tiers).value_counts()
    assert dict(zip(kinds["tier"], kinds["value"].astype(int), strict=True)) == {k: int(v) for k, v in ref.items()}


def test_csat_within_an_outlet(wh: Warehouse, raw: dict) -> None:
    sv = _at(raw["surveys"], (1,))
    got = wh.metric("csat", F.with_(outlets=(1,)))
    assert got["n"].iloc[0] == sv["csat"].notna().sum()
    assert got["value"].iloc[0] == pytest.approx((sv["csat"] >= 4).sum() / sv["csat"].notna().sum())


def test_customer_figures_are_not_cut_by_outlet(wh: Warehouse) -> None:
    """As the channel filter is the acquisition channel for customer-level figures, an outlet is no
    attribute of a customer: active customers and churn are the same with or without it."""
    for metric in ("active_customers", "churn_rate"):
        a, b = wh.metric(metric, F), wh.metric(metric, F.with_(outlets=HALLS))
        assert b["value"].iloc[0] == pytest.approx(a["value"].iloc[0], nan_ok=True), metric


def test_complaint_rate_counts_the_outlets_complaints_over_every_customer_month(wh: Warehouse, raw: dict) -> None:
    t = raw["tickets"]
    got = wh.metric("complaint_rate", F.with_(outlets=HALLS))
    every = wh.metric("complaint_rate", F)
    assert got["n"].iloc[0] == ((t["kind"] == "complaint") & t["outlet_id"].isin(HALLS)).sum()
    ratio = got["value"].iloc[0] / every["value"].iloc[0]  # the same customer-months below both
    assert ratio == pytest.approx(got["n"].iloc[0] / every["n"].iloc[0])


def test_a_filtered_query_leaves_the_cubes(wh: Warehouse) -> None:
    """The cubes hold no outlet: a ticket or survey figure filtered by outlet reads the raw rows (no
    outlet column added to the cubes); a customer figure keeps its cube."""
    window = Window.of(F, wh.resolve_as_of(F))
    sources = wh.rollup_sources()
    as_of = wh.rollup_as_of()
    assert eligible(get("tickets"), F, (), window, "city", as_of, sources)
    assert not eligible(get("tickets"), F.with_(outlets=(1,)), (), window, "city", as_of, sources)
    assert not eligible(get("complaint_rate"), F.with_(outlets=(1,)), (), window, "city", as_of, sources)
    assert eligible(get("active_customers"), F.with_(outlets=(1,)), ("month",), window, "city", as_of, sources) == \
        eligible(get("active_customers"), F, ("month",), window, "city", as_of, sources)


def test_a_hall_managers_scope(wh: Warehouse, raw: dict) -> None:
    """Their outlets' tickets and surveys, queues and audits; no customer figure (fail closed)."""
    scope = Scope("hall1", outlet_ids=(1,))
    f = F.with_(scope=scope)
    t = raw["tickets"]
    assert int(wh.metric("tickets", f)["value"].iloc[0]) == (t["outlet_id"] == 1).sum()
    other = wh.metric("tickets", f.with_(outlets=(2,)))  # another hall: nothing
    assert other.empty or int(other["value"].fillna(0).sum()) == 0
    active = wh.metric("active_customers", f)
    assert active.empty or not (active["value"].fillna(0) > 0).any()
    league = ol.outlet_league(wh, f)
    assert list(league["outlet_id"]) == [1]
    q = raw["queue_records"]
    stop = pd.Timestamp(wh.resolve_as_of(F)) + pd.Timedelta(days=1)
    assert int(league["visits"].iloc[0]) == ((q["outlet_id"] == 1) & (pd.to_datetime(q["arrived_at"]) < stop)).sum()
    every = ol.outlet_league(wh, F.with_(outlets=(1,)))  # the outlet filter: the same hall, the same figures
    assert list(every["outlet_id"]) == [1]
    assert every["visits"].iloc[0] == league["visits"].iloc[0]
    assert every["csat"].iloc[0] == pytest.approx(league["csat"].iloc[0], nan_ok=True)
