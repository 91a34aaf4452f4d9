"""Data-quality checks find planted bad rows; the table summary matches the frames."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from metrics.analysis import data_quality as quality
from metrics.ingest.load import replace_all
from metrics.query.warehouse import Warehouse


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, demo_frames: dict) -> tuple[Warehouse, dict[str, int]]:
    """A copy of the demo data with one bad row per check; returns the warehouse and planted ids."""
    f = {k: v.copy() for k, v in demo_frames.items()}
    t, c, sv, o = f["tickets"], f["customers"], f["surveys"], f["outages"]
    ids = {}
    resolved = t.index[t["resolved_at"].notna()]
    i = resolved[0]
    t.loc[i, "resolved_at"] = t.loc[i, "opened_at"] - timedelta(hours=3)
    ids["tickets_resolved_before_opened"] = int(t.loc[i, "ticket_id"])
    j = resolved[1]
    t.loc[j, "first_response_at"] = t.loc[j, "opened_at"] - timedelta(minutes=5)
    ids["tickets_response_before_opened"] = int(t.loc[j, "ticket_id"])
    orphan = t.iloc[[5]].copy()
    orphan["ticket_id"] = int(t["ticket_id"].max()) + 1
    orphan["customer_id"] = int(c["customer_id"].max()) + 1000
    ids["tickets_unknown_customer"] = int(orphan["ticket_id"].iloc[0])
    dup = t.iloc[[10]].copy()
    dup["ticket_id"] = int(t["ticket_id"].max()) + 2
    ids["tickets_duplicate_looking"] = int(dup["ticket_id"].iloc[0])
    f["tickets"] = pd.concat([t, orphan, dup], ignore_index=True)
    k = sv.index[sv["csat"].notna()][0]
    sv.loc[k, "csat"] = 9
    ids["surveys_score_out_of_range"] = int(sv.loc[k, "survey_id"])
    m = c.index[c["end_date"].isna()][0]
    c.loc[m, "end_date"] = pd.Timestamp(c.loc[m, "start_date"]) - timedelta(days=30)
    c.loc[m, "churn_reason"] = "other"
    ids["customers_end_before_start"] = int(c.loc[m, "customer_id"])
    n = o.index[o["restored_at"].notna()][0]
    o.loc[n, "restored_at"] = o.loc[n, "started_at"] - timedelta(hours=1)
    ids["outages_restored_before_started"] = int(o.loc[n, "outage_id"])
    path = tmp_path_factory.mktemp("quality") / "bad.duckdb"
    replace_all(f"duckdb:///{path}", f)
    return Warehouse.open(f"duckdb:///{path}"), ids


def test_clean_demo_has_no_errors(duckdb_url: str) -> None:
    found = quality.findings(Warehouse.open(duckdb_url))
    assert set(found["check"]) == set(quality.BY_ID)
    assert found.loc[found["severity"] == "error", "n"].sum() == 0


def test_planted_rows_are_found(planted, duckdb_url: str) -> None:
    wh, ids = planted
    clean = quality.findings(Warehouse.open(duckdb_url)).set_index("check")["n"]
    bad = quality.findings(wh).set_index("check")["n"]
    for check, row_id in ids.items():
        assert bad[check] == clean[check] + 1, check
        rows = quality.finding_rows(wh, check)
        assert row_id in rows.iloc[:, 0].astype(int).tolist(), check


def test_open_over_90_days_counts_open_old_tickets(duckdb_url: str, demo_frames: dict) -> None:
    wh = Warehouse.open(duckdb_url)
    t = demo_frames["tickets"]
    end = pd.Timestamp(wh.as_of()) + pd.Timedelta(days=1)
    still_open = t["resolved_at"].isna() | (t["resolved_at"] >= end)
    expected = int((still_open & (t["opened_at"] < end - pd.Timedelta(days=90))).sum())
    assert quality.findings(wh).set_index("check").loc["tickets_open_over_90_days", "n"] == expected


def test_table_summary_matches_frames(duckdb_url: str, demo_frames: dict) -> None:
    summary = quality.table_summary(Warehouse.open(duckdb_url))
    rows = summary.drop_duplicates("table").set_index("table")["rows"]
    for name, frame in demo_frames.items():
        assert rows[name] == len(frame), name
    opened = summary[(summary["table"] == "tickets") & (summary["column"] == "opened_at")].iloc[0]
    assert opened["first"] == demo_frames["tickets"]["opened_at"].min().date()
    assert opened["last"] == demo_frames["tickets"]["opened_at"].max().date()


def test_meta_info(duckdb_url: str) -> None:
    meta = quality.meta_info(Warehouse.open(duckdb_url))
    assert "as_of" in meta and "refreshed_at" in meta
