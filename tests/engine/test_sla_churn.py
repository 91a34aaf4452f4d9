"""metrics.analysis.sla and metrics.churn.rates against pandas references on the demo data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.analysis import sla
from metrics.churn import rates as churn
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

F = Filters(start=date(2026, 4, 1), end=date(2026, 9, 30))


def test_availability_targets_are_the_policy_targets(wh: Warehouse, demo_frames: dict) -> None:
    ref = demo_frames["sla_policies"].groupby("sla_level")["availability_target"].max()
    got = sla.availability_targets(wh).set_index("sla_level")["target"]
    pd.testing.assert_series_equal(got.sort_index(), ref.sort_index(), check_names=False)


def test_availability_vs_target(wh: Warehouse) -> None:
    got = sla.availability_vs_target(wh, F)
    assert list(got["sla_level"]) == [lv for lv in sla.ladder("sla_level") if lv in set(got["sla_level"])]
    metric = wh.metric("availability", F, ("sla_level",)).set_index("sla_level")["value"]
    for row in got.itertuples():
        assert row.value == pytest.approx(metric[row.sla_level])
        assert row.met == (row.value >= row.target)
        assert row.gap == pytest.approx(row.value - row.target)


def test_service_by_tier_equals_metrics(wh: Warehouse) -> None:
    got = sla.service_by(wh, F, "tier")
    assert list(got["tier"]) == [x for x in sla.ladder("tier") if x in set(got["tier"])]
    # the consumer ladder (tier_gap's rungs): tiers of customers without an SLA level, from the data
    consumer = wh.read(sa.select(schema.customers.c.tier).where(schema.customers.c.sla_level.is_(None)).distinct())
    assert got.attrs["ladder"] == [x for x in sla.ladder("tier") if x in set(consumer["tier"])]
    for col, metric_id in sla.SERVICE_METRICS.items():
        ref = wh.metric(metric_id, F, ("tier",)).set_index("tier")["value"]
        np.testing.assert_allclose(got.set_index("tier")[col].loc[ref.index], ref.values)


def test_service_by_empty_filter(wh: Warehouse) -> None:
    assert sla.service_by(wh, F.with_(tiers=("no_such_tier",))).empty


def _frame(rows):
    """A service_by frame: its consumer ladder (attrs) as service_by reads it from the demo's data, and
    the compliance's 95% Wilson intervals as service_by gives them (computed here by statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint

    df = pd.DataFrame(rows, columns=["tier", "median_hours", "p90_hours", "compliance", "n_decided"])
    lo, hi = proportion_confint((df["compliance"] * df["n_decided"]).round(), df["n_decided"], method="wilson")
    df["compliance_lower"], df["compliance_upper"] = lo, hi
    df.attrs["ladder"] = ["diamond", "gold", "silver", "standard"]
    return df


def test_tier_gap_verdicts() -> None:
    yes = _frame([("standard", 9.8, 50, 0.84, 1000), ("diamond", 3.1, 10, 0.97, 1000), ("enterprise", 1, 2, 1, 9)])
    gap = sla.tier_gap(yes)
    assert (gap.top, gap.bottom, gap.verdict, gap.significant) == ("diamond", "standard", "yes", True)
    assert (gap.top_median, gap.bottom_median) == (3.1, 9.8)
    no = _frame([("gold", 12.0, 60, 0.80, 50), ("silver", 10.0, 50, 0.82, 50)])
    gap = sla.tier_gap(no)
    assert (gap.verdict, gap.significant) == ("no", False)
    mixed = _frame([("gold", 2.0, 60, 0.80, 500), ("silver", 10.0, 50, 0.90, 500)])
    assert sla.tier_gap(mixed).verdict == "mixed"
    assert sla.tier_gap(_frame([("gold", 2.0, 6, 0.8, 5), ("enterprise", 1.0, 2, 0.9, 5)])) is None


def test_churn_reasons_add_up_to_churn_events(wh: Warehouse, demo_frames: dict) -> None:
    for f in (F, F.with_(tiers=("standard",)), F.with_(segments=("enterprise",))):
        reasons = churn.churn_reasons(wh, f)
        events = wh.metric("churn_rate", f)["n"].iloc[0]
        assert reasons["n"].sum() == events
        assert reasons["share"].sum() == pytest.approx(1.0)
    c = demo_frames["customers"]
    end = pd.to_datetime(c["end_date"])
    left = c[(end >= pd.Timestamp(F.start)) & (end <= pd.Timestamp(F.end))]
    ref = left["churn_reason"].value_counts(dropna=False)
    got = churn.churn_reasons(wh, F).set_index("churn_reason")["n"]
    assert got.sort_index().to_dict() == ref.sort_index().to_dict()


def test_churn_by_annualises(wh: Warehouse) -> None:
    got = churn.churn_by(wh, F, ("tier",))
    np.testing.assert_allclose(got["annual"], 1 - (1 - got["value"]) ** 12)
    assert (got["annual_lower"] <= got["annual"]).all() and (got["annual"] <= got["annual_upper"]).all()
    assert churn.churn_reasons(wh, F.with_(tiers=("no_such_tier",))).empty
