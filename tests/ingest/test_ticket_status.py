"""A ticket resolved with no resolution time (issue 14, item 5): ``tickets.status``.

A helpdesk-like export with a ``Status`` column — English words in any case and Chinese ones
(Closed, SOLVED, Done, 已办结, 已关闭 … / Open, Pending, In progress, 处理中, 待处理 …), some closed
tickets without a time, some rows without a status, three rows "open" yet with a resolution time —
is imported with ``servicewatch``'s importer into a database created *before* the column (the
column dropped from a freshly loaded one) on DuckDB, PostgreSQL and MariaDB. Before the import that
database still answers as it did; after it, resolved and open counts, the median resolution time and
SLA resolution compliance (raw rows and rollups) equal an independent pandas computation on the raw
generated rows plus the tickets already there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import MARKED_BACKENDS, fresh_database, read

from metrics.analysis import coverage, sla
from metrics.backends.swap import writable
from metrics.ingest import open_tickets
from metrics.ingest.importer import import_file, spec
from metrics.ingest.importer.headers import header_map, normalise_header
from metrics.model import schema, ticket_status
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

FIRST_ID = 90_000_000
PERIOD = Filters(dt.date(2025, 6, 1), dt.date(2025, 8, 31))  # whole months: the rollups answer too
RESOLVED_WORDS = ["Closed", "closed", "Resolved", "SOLVED", "Done", "已办结", "已解决", "已关闭", "已完成"]
OPEN_WORDS = ["Open", "Pending", "In progress", "new", "处理中", "待处理", "未解决"]
N_CONTRADICTIONS = 3


def helpdesk(demo_frames: dict, n: int = 240, seed: int = 5) -> pd.DataFrame:
    """The export: Chinese headers but ``Status`` in English, times to the minute."""
    rng = np.random.default_rng(seed)
    cust = demo_frames["customers"]["customer_id"].to_numpy()
    opened = pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 90 * 24 * 60, n), unit="min")
    took = pd.to_timedelta(rng.integers(30, 120 * 60, n), unit="min")
    # closed with a time, closed without one, open, no status with a time, no status and open
    state = rng.choice(["closed", "closed_untimed", "open", "none_timed", "none_open"], n,
                       p=[0.45, 0.2, 0.2, 0.1, 0.05])
    timed = np.isin(state, ["closed", "none_timed"])
    status = np.where(np.isin(state, ["closed", "closed_untimed"]), rng.choice(RESOLVED_WORDS, n),
                      np.where(state == "open", rng.choice(OPEN_WORDS, n), ""))
    resolved = pd.Series(opened + took).where(timed)
    fmt = "%Y-%m-%d %H:%M:%S"
    df = pd.DataFrame({
        "工单号": np.arange(FIRST_ID, FIRST_ID + n),
        "客户编号": rng.choice(cust, n),
        "受理渠道": rng.choice(["hotline", "web_app", "service_hall"], n),
        "工单类型": rng.choice(["complaint", "fault"], n),
        "问题类别": rng.choice(["billing", "network_quality"], n),
        "优先级": rng.choice(["P1", "P2", "P3"], n),
        "受理时间": opened.strftime(fmt),
        "办结时间": resolved.dt.strftime(fmt).fillna("").to_numpy(),
        "承诺办结时间": (opened + pd.Timedelta(hours=48)).strftime(fmt),
        "Status": status,
    })
    # open, yet resolved at a time: a contradiction, rejected
    bad = np.flatnonzero(state == "open")[:N_CONTRADICTIONS]
    df.loc[bad, "办结时间"] = (opened[bad] + pd.Timedelta(hours=3)).strftime(fmt)
    return df


def expected_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """The rows that load, as the data model holds them (pandas, not the importer)."""
    words = {w.lower(): "resolved" for w in RESOLVED_WORDS} | {w.lower(): "open" for w in OPEN_WORDS}
    status = raw["Status"].str.lower().map(words)
    resolved_at = pd.to_datetime(raw["办结时间"].replace("", None))
    ok = ~((status == "open") & resolved_at.notna())
    return pd.DataFrame({
        "ticket_id": raw["工单号"], "customer_id": raw["客户编号"], "kind": raw["工单类型"],
        "opened_at": pd.to_datetime(raw["受理时间"]),
        "resolved_at": resolved_at, "resolution_due_at": pd.to_datetime(raw["承诺办结时间"]), "status": status,
    })[ok].reset_index(drop=True)


def reference(rows: pd.DataFrame, f: Filters, as_of: dt.date) -> dict[str, float]:
    """Independent figures: a ticket is resolved when resolved_at is known or its status says so;
    only timed ones have a duration; an undated one has no SLA outcome."""
    end = pd.Timestamp(as_of + dt.timedelta(days=1))
    opened = rows["opened_at"]
    r = rows[(opened >= pd.Timestamp(f.start)) & (opened < pd.Timestamp(f.end + dt.timedelta(days=1)))]
    timed = r["resolved_at"].notna() & (r["resolved_at"] < end)
    undated = (r["status"] == "resolved") & r["resolved_at"].isna()
    hours = (r["resolved_at"] - r["opened_at"])[timed].dt.total_seconds() / 3600
    due = r["resolution_due_at"]
    met = due.notna() & timed & (r["resolved_at"] <= due)
    decided = due.notna() & (timed | ((due < end) & ~undated))
    complaint = r["kind"] == "complaint"
    return {"tickets": len(r), "resolved_complaints": int(((timed | undated) & complaint).sum()),
            "undated": int(undated.sum()),
            "median": float(np.quantile(hours, 0.5, method="linear")), "n_timed": int(timed.sum()),
            "compliance": met.sum() / decided.sum(), "n_decided": int(decided.sum())}


def open_now(rows: pd.DataFrame) -> int:
    """Open tickets (no as-of): no resolution time and not resolved by the status."""
    return int((rows["resolved_at"].isna() & (rows["status"] != "resolved")).sum())


def stored(url: str) -> pd.DataFrame:
    t = schema.tickets
    df = read(url, sa.select(t.c.ticket_id, t.c.customer_id, t.c.opened_at, t.c.resolved_at,
                             t.c.resolution_due_at, t.c.status))
    for c in ("opened_at", "resolved_at", "resolution_due_at"):
        df[c] = pd.to_datetime(df[c])
    df["status"] = df["status"].astype(object).where(df["status"].notna(), None)
    return df


def base_frames(demo_frames: dict) -> dict:
    """Regions, managers, customers, policies and the demo's tickets of May–September 2025; no surveys."""
    keep = ("regions", "account_managers", "customers", "sla_policies")
    t = demo_frames["tickets"]
    t = t[(t["opened_at"] >= "2025-05-01") & (t["opened_at"] < "2025-10-01")].reset_index(drop=True)
    return {**{k: demo_frames[k] for k in keep}, "tickets": t}


def figures(wh: Warehouse, f: Filters) -> dict[str, float]:
    median = wh.metric("resolution_hours_median", f).iloc[0]
    comp = wh.metric("sla_resolution_compliance", f).iloc[0]
    revisit = wh.metric("revisit_rate", f).iloc[0]  # its denominator: complaints resolved (as of)
    return {"tickets": float(wh.metric("tickets", f).iloc[0]["value"]), "median": float(median["value"]),
            "resolved_complaints": int(revisit["n"]),
            "n_timed": int(median["n"]), "compliance": float(comp["value"]), "n_decided": int(comp["n"])}


def open_counts(wh: Warehouse) -> tuple[int, int]:
    """Open tickets from the refreshed table and from the same aggregate over the tickets."""
    out = []
    for built in (True, False):
        t = open_tickets.counts(built)
        out.append(int(wh.read(sa.select(sa.func.coalesce(sa.func.sum(t.c.open_tickets), 0))).iloc[0, 0]))
    return out[0], out[1]


def drop_status(url: str) -> None:
    with writable(url) as engine, engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE tickets DROP COLUMN status"))


@pytest.fixture(params=MARKED_BACKENDS)
def old_url(request: pytest.FixtureRequest, demo_frames: dict, tmp_path: Path) -> Iterator[str]:
    """A database as created before ``tickets.status``: loaded, then the column dropped."""
    for url in fresh_database(request.param, base_frames(demo_frames), tmp_path):
        drop_status(url)
        yield url


def test_old_database_then_import_with_status(old_url: str, demo_frames: dict, tmp_path: Path) -> None:
    before = base_frames(demo_frames)["tickets"].assign(status=None)
    with writable(old_url) as engine, engine.connect() as conn:
        assert not ticket_status.has_column(conn)
    # 1. without the column the database answers as before: every ticket by its resolved_at
    wh = Warehouse.open(old_url)
    ref = reference(before, PERIOD, wh.as_of())
    for rollups in (True, False):
        wh = Warehouse.open(old_url)
        wh.use_rollups = rollups
        got = figures(wh, PERIOD)
        assert got["median"] == pytest.approx(ref["median"], rel=1e-9)
        assert got["n_timed"] == ref["n_timed"] and got["n_decided"] == ref["n_decided"]
        assert got["compliance"] == pytest.approx(ref["compliance"], rel=1e-12)
        assert got["resolved_complaints"] == ref["resolved_complaints"]
    assert open_counts(wh) == (open_now(before),) * 2
    assert sla.due_times(wh).undated == 0
    assert coverage.undated_resolved(wh.engine) == 0
    assert not coverage.coverage(wh)["note"].str.contains("resolved by their status").any()

    # 2. the helpdesk export adds the column and loads, but for the contradictions
    raw = helpdesk(demo_frames)
    path = tmp_path / "helpdesk.csv"
    raw.to_csv(path, index=False)
    result = import_file(old_url, "tickets", path, rejects=False)
    assert result.rows_rejected == N_CONTRADICTIONS, result.problems
    assert result.reasons == {"open_but_resolved": N_CONTRADICTIONS}
    assert set(result.problems["column"]) == {"status"}
    rows = expected_rows(raw)
    assert result.rows_loaded == len(rows) == len(raw) - N_CONTRADICTIONS

    # what is stored is the file's, status as the two codes (NULL where the file had none)
    got = stored(old_url)
    mine = got[got["ticket_id"] >= FIRST_ID].sort_values("ticket_id").reset_index(drop=True)
    pd.testing.assert_series_equal(mine["status"], rows["status"].astype(object).where(rows["status"].notna(), None),
                                   check_names=False)
    assert mine["resolved_at"].isna().sum() == rows["resolved_at"].isna().sum()

    # 3. the figures against pandas on the raw rows plus the tickets already there
    all_rows = pd.concat([before[list(rows.columns)], rows], ignore_index=True)
    assert len(all_rows) == len(got)
    for rollups in (True, False):
        wh = Warehouse.open(old_url)
        wh.use_rollups = rollups
        ref = reference(all_rows, PERIOD, wh.as_of())
        assert ref["undated"] > 20  # the case under test is there
        fig = figures(wh, PERIOD)
        assert fig["tickets"] == ref["tickets"]
        assert fig["median"] == pytest.approx(ref["median"], rel=1e-9)
        assert fig["n_timed"] == ref["n_timed"]
        assert fig["compliance"] == pytest.approx(ref["compliance"], rel=1e-12)
        assert fig["n_decided"] == ref["n_decided"]
        assert fig["resolved_complaints"] == ref["resolved_complaints"]
    # resolved and open: the undated ones are resolved, never open (the at-risk list's counts too)
    assert open_counts(wh) == (open_now(all_rows),) * 2
    assert open_now(all_rows) + int((all_rows["resolved_at"].notna() | (all_rows["status"] == "resolved")).sum()) \
        == len(all_rows)
    undated = int(((all_rows["status"] == "resolved") & all_rows["resolved_at"].isna()).sum())
    assert sla.due_times(wh).undated == undated
    assert undated == int(((rows["status"] == "resolved") & rows["resolved_at"].isna()).sum())
    notes = coverage.coverage(wh).set_index("metric")["note"]
    for metric_id in coverage.TIMED_METRICS:
        assert f"{undated:,} tickets resolved by their status" in notes[metric_id]
    assert "resolved by their status" not in notes["tickets"]


def test_chinese_header_and_values_dry_run(duckdb_url: str, demo_frames: dict, tmp_path: Path) -> None:
    """``工单状态`` is recognised; a dry run finds the same contradictions, worded in both languages."""
    raw = helpdesk(demo_frames).rename(columns={"Status": "工单状态"})
    path = tmp_path / "helpdesk_zh.csv"
    raw.to_csv(path, index=False)
    result = import_file(duckdb_url, "tickets", path, dry_run=True, rejects=False)
    assert result.unused_headers == []
    assert result.rows_rejected == N_CONTRADICTIONS and result.rows_loaded == len(raw) - N_CONTRADICTIONS
    zh, en = result.problems_text("zh")["reason"], result.problems_text("en")["reason"]
    assert zh.str.contains("矛盾").all() and en.str.contains("status is open").all()
    assert result.reason_counts("zh")["reason"].tolist() == ["未结却有办结时间"]


def test_value_aliases() -> None:
    """Every word of the brief maps to one of the two codes, in any case; headers in both languages."""
    aliases = spec.value_aliases("ticket_status")
    for word in RESOLVED_WORDS + ["已办结", "已解决", "已关闭", "已完成"]:
        assert aliases.get(word, aliases.get(word.lower())) == "resolved", word
    for word in OPEN_WORDS:
        assert aliases.get(word, aliases.get(word.lower())) == "open", word
    assert set(aliases.values()) == set(ticket_status.STATUSES)
    headers = header_map("tickets")
    for h in ("状态", "工单状态", "status", "Status", "Ticket Status"):
        assert headers[normalise_header(h)] == "status", h
