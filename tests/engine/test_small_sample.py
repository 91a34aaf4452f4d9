"""A KPI card whose rate or mean rests on few observations says so (n and a warning badge)."""

from __future__ import annotations

import pandas as pd
import pytest
from page_helpers import default_filters, open_page

from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from servicewatch.kpis import SMALL_SAMPLE, sample_note


def test_only_rates_and_means_on_few_observations_are_flagged() -> None:
    row = pd.Series({"value": 0.8, "n": 12, "lower": 0.5, "upper": 0.95})
    assert t("common.small_sample", "en", n=12) in sample_note(row, "en")
    assert sample_note(pd.Series({**row.to_dict(), "n": SMALL_SAMPLE}), "en") is None
    assert sample_note(pd.Series({"value": 7.0, "n": 7, "lower": float("nan")}), "zh") is None  # a count
    assert sample_note(None, "zh") is None


def test_satisfaction_card_of_a_small_group_warns(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    wh = Warehouse.open(duckdb_url)
    districts = wh.regions().query("level == 'district'")["region_id"].astype(int)
    small = []
    for d in districts:
        df = wh.metric("csat", default_filters(wh, regions=(d,), tiers=("diamond",)))
        n = int(df["n"].iloc[0]) if len(df) and pd.notna(df["n"].iloc[0]) else 0
        if 0 < n < SMALL_SAMPLE:
            small.append((d, n))
    assert small, "the demo has no district with few diamond CSAT answers"
    district, n = small[0]
    at = open_page("pages/1_Satisfaction.py", {"region": str(district), "tier": "diamond", "lang": "zh"})
    assert t("common.small_sample", "zh", n=n) in " ".join(m.value for m in at.markdown)
    at = open_page("pages/1_Satisfaction.py", {"lang": "zh"})  # the whole province: no warning on CSAT
    assert t("common.small_sample", "zh", n=n) not in " ".join(m.value for m in at.markdown)
