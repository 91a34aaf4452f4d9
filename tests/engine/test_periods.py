"""Periods that fit the data (issue 14, item 9): the opening window comes from the data's own span,
dates of a link or a command outside the data are clamped to it with a notice (never a crash), and
every figure of the CLI says the window it used and names the regions beside their ids.

Two extracts are cut from the demo data: 5 weeks (shorter than a quarter, ending mid-quarter) and
30 months."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from page_helpers import plain
from streamlit.testing.v1 import AppTest

from metrics.model.filters import Filters, clamp_period, default_period, fit_to_span, preset_period
from metrics.model.links import date_range, parse_query
from metrics.query.warehouse import Warehouse

APP = Path(__file__).resolve().parents[2] / "app.py"


# -- the rules, on their own -------------------------------------------------------------------
def test_default_period_is_the_preset_when_it_lies_within_the_data() -> None:
    assert default_period("last_quarter", date(2024, 5, 1), date(2026, 10, 31)) == \
        ("last_quarter", date(2026, 7, 1), date(2026, 9, 30))
    assert default_period("last_12_months", date(2024, 5, 1), date(2026, 10, 31)) == \
        ("last_12_months", date(2025, 11, 1), date(2026, 10, 31))
    # the data begin on the quarter's first day: the quarter lies within the data
    assert default_period("last_quarter", date(2026, 7, 1), date(2026, 10, 14))[0] == "last_quarter"


def test_default_period_falls_back_to_the_span_when_the_preset_begins_before_the_data() -> None:
    # 5 weeks, mid-quarter: the last complete quarter (Q3) begins before the data
    assert default_period("last_quarter", date(2026, 9, 1), date(2026, 10, 31)) == \
        ("custom", date(2026, 9, 1), date(2026, 10, 31))
    # the last complete quarter ends before the data begin (no day of it holds data)
    assert default_period("last_quarter", date(2026, 10, 1), date(2026, 10, 20)) == \
        ("custom", date(2026, 10, 1), date(2026, 10, 20))
    assert default_period("last_12_months", date(2026, 2, 1), date(2026, 10, 31)) == \
        ("custom", date(2026, 2, 1), date(2026, 10, 31))


def test_clamp_and_fit_to_span() -> None:
    first, last = date(2025, 1, 1), date(2026, 10, 31)
    assert clamp_period(date(2024, 1, 1), date(2027, 1, 1), first, last) == (first, last)
    assert clamp_period(date(2025, 3, 1), date(2025, 3, 31), first, last) == (date(2025, 3, 1), date(2025, 3, 31))
    assert clamp_period(date(2020, 1, 1), date(2020, 3, 31), first, last) is None
    default = (date(2026, 7, 1), date(2026, 9, 30))
    f = fit_to_span(Filters(start=date(2020, 1, 1), end=date(2020, 3, 31), as_of=date(2027, 1, 1),
                            tiers=("gold",)), first, last, default)
    assert (f.start, f.end, f.as_of, f.tiers) == (*default, None, ("gold",))
    assert fit_to_span(Filters(start=first, end=last, as_of=date(2024, 6, 1)), first, last, default).as_of == first


def test_parse_query_clamps_dates_to_the_span() -> None:
    span = (date(2026, 9, 1), date(2026, 10, 31))
    default = Filters(start=span[0], end=span[1])
    limits = date_range(date(2026, 11, 1))
    p = parse_query({"from": "2026-09-15", "to": "2026-12-31"}, default, limits=limits, span=span)
    assert (p.filters.start, p.filters.end) == (date(2026, 9, 15), date(2026, 10, 31))
    assert p.clamped == ("to=2026-12-31",) and p.ignored == ()
    p = parse_query({"from": "2025-01-01", "to": "2026-10-01"}, default, limits=limits, span=span)
    assert (p.filters.start, p.filters.end) == (date(2026, 9, 1), date(2026, 10, 1))
    assert p.clamped == ("from=2025-01-01",)
    p = parse_query({"from": "2020-01-01", "to": "2020-03-31"}, default, limits=limits, span=span)
    assert (p.filters.start, p.filters.end) == span and set(p.clamped) == {"from=2020-01-01", "to=2020-03-31"}
    p = parse_query({"from": "2026-09-02", "to": "2026-09-30"}, default, limits=limits, span=span)
    assert p.clamped == () and (p.filters.start, p.filters.end) == (date(2026, 9, 2), date(2026, 9, 30))


def test_parse_query_names_only_the_date_it_moved() -> None:
    """The trial's case: a link from 2026-06-01 to 2026-10-31 on data ending 2026-10-15 moves ``to`` only."""
    span = (date(2025, 1, 1), date(2026, 10, 15))
    p = parse_query({"from": "2026-06-01", "to": "2026-10-31"}, Filters(start=span[0], end=span[1]),
                    limits=date_range(date(2026, 11, 1)), span=span)
    assert p.clamped == ("to=2026-10-31",)
    assert (p.filters.start, p.filters.end) == (date(2026, 6, 1), date(2026, 10, 15))


def test_cli_note_names_only_the_date_it_moved(short_url: str, sw) -> None:
    """The CLI's equivalent: --from inside the data, --to after it; the note names --to alone."""
    first, last = Warehouse.open(short_url).data_span()
    start, end = first + timedelta(days=2), last + timedelta(days=16)
    code, _, err = sw("metric", "tickets", "--db", short_url, "--from", str(start), "--to", str(end))
    assert code == 0
    note = err.splitlines()[0]
    assert f"--to {end}" in note and "--from" not in note and "--as-of" not in note
    assert note.endswith(f"clamped to {start} – {last}")
    code, _, err = sw("metric", "tickets", "--db", short_url, "--from", str(start), "--to", str(last),
                      "--as-of", str(last + timedelta(days=3)))
    assert code == 0 and err.splitlines()[0].count("--") == 1 and f"--as-of {last + timedelta(days=3)}" in err


# -- extracts of the demo data -----------------------------------------------------------------
def extract(frames: dict[str, pd.DataFrame], first: date, last: date) -> dict[str, pd.DataFrame]:
    """The demo data as an extract of ``first``–``last``: customers that had not left by ``first``
    (starting no earlier than it), their tickets, surveys, services, outages and bills in the window."""
    lo, hi = pd.Timestamp(first), pd.Timestamp(last + timedelta(days=1))
    c = frames["customers"]
    c = c[c["end_date"].isna() | (c["end_date"] >= lo)].copy()
    c["start_date"] = c["start_date"].clip(lower=lo)
    keep = set(c["customer_id"])
    t = frames["tickets"]
    t = t[(t["opened_at"] >= lo) & (t["opened_at"] < hi) & t["customer_id"].isin(keep)]
    s = frames["surveys"]
    s = s[(s["answered_at"] >= lo) & (s["answered_at"] < hi) & s["customer_id"].isin(keep)].copy()
    s.loc[~s["ticket_id"].isin(set(t["ticket_id"])), "ticket_id"] = pd.NA
    sv = frames["services"]
    sv = sv[sv["customer_id"].isin(keep) & (sv["end_date"].isna() | (sv["end_date"] >= lo))].copy()
    sv["start_date"] = sv["start_date"].clip(lower=lo)
    o = frames["outages"]
    o = o[o["service_id"].isin(set(sv["service_id"])) & (o["started_at"] >= lo) & (o["started_at"] < hi)]
    b = frames["billing_monthly"]
    b = b[b["customer_id"].isin(keep) & (pd.to_datetime(b["month"]) >= lo.replace(day=1))]
    return {**frames, "customers": c, "tickets": t, "surveys": s, "services": sv, "outages": o,
            "billing_monthly": b}


@pytest.fixture(scope="module")
def frames() -> dict[str, Any]:
    from metrics.demo.generator import generate

    return generate(customers=600, seed=23)


@pytest.fixture(scope="module")
def last_day(frames: dict[str, Any]) -> date:
    return frames["tickets"]["opened_at"].max().date()


def _db(tmp_path_factory: pytest.TempPathFactory, frames: dict[str, Any], first: date, last: date, name: str) -> str:
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path_factory.mktemp(name) / 'sw.duckdb'}"
    replace_all(url, extract(frames, first, last))
    return url


@pytest.fixture(scope="module")
def short_url(tmp_path_factory: pytest.TempPathFactory, frames: dict[str, Any], last_day: date) -> str:
    """5 weeks of data, ending on the demo's last day (mid-quarter or at a quarter's start)."""
    return _db(tmp_path_factory, frames, last_day - timedelta(weeks=5) + timedelta(days=1), last_day, "short")


@pytest.fixture(scope="module")
def long_url(tmp_path_factory: pytest.TempPathFactory, frames: dict[str, Any], last_day: date) -> str:
    """30 months of data."""
    first = (pd.Timestamp(last_day).to_period("M") - 29).to_timestamp().date()
    return _db(tmp_path_factory, frames, first, last_day, "long")


def test_data_span(short_url: str, long_url: str, last_day: date) -> None:
    first, last = Warehouse.open(short_url).data_span()
    assert last == last_day
    assert first == (last_day - timedelta(weeks=5) + timedelta(days=1)).replace(day=1)  # its first month
    first, last = Warehouse.open(long_url).data_span()
    assert last == last_day and (last.year - first.year) * 12 + last.month - first.month == 29


# -- the command line --------------------------------------------------------------------------
def test_cli_default_on_a_short_extract_is_all_the_data(short_url: str, sw) -> None:
    first, last = Warehouse.open(short_url).data_span()
    code, out, err = sw("metric", "csat", "--db", short_url, "--format", "json")
    assert code == 0
    record = json.loads(out)[0]
    assert (record["period_start"], record["period_end"], record["as_of"]) == \
        (first.isoformat(), last.isoformat(), last.isoformat())
    assert record["n"] > 0  # the window holds the extract's ratings
    assert err.strip() == (f"period {first} – {last} (default: all the data, as the last 12 complete months "
                           f"begin before it); data as of {last}")


def test_cli_default_on_a_long_extract_is_the_last_12_complete_months(long_url: str,
                                                                      sw) -> None:
    last = Warehouse.open(long_url).as_of()
    start, end = preset_period("last_12_months", last)
    code, out, err = sw("metric", "csat", "--db", long_url, "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "value,n,lower,upper"
    assert err.strip() == f"period {start} – {end} (default: the last 12 complete months); data as of {last}"


def test_cli_prints_the_window_with_its_comparison(long_url: str, sw) -> None:
    last = Warehouse.open(long_url).as_of()
    start, end = preset_period("last_quarter", last)
    cf = Filters(start=start, end=end).comparison_filters()
    code, out, err = sw("metric", "nps", "--db", long_url, "--period", "last_quarter",
                        "--with-comparison", "--format", "json")
    assert code == 0
    assert err.strip() == (f"period {start} – {end} (Last quarter), compared with {cf.start} – {cf.end}; "
                           f"data as of {last}")
    record = json.loads(out)[0]
    assert (record["comparison_start"], record["comparison_end"]) == (cf.start.isoformat(), cf.end.isoformat())
    code, _, err = sw("metric", "nps", "--db", long_url, "--period", "last_quarter", "--lang", "zh")
    assert err.strip() == f"统计周期 {start} 至 {end}（上季度）；数据截至 {last}"


@pytest.mark.parametrize("dates", [("2001-01-01", None), (None, "+60"), ("2001-01-01", "+60")])
def test_cli_clamps_dates_outside_the_data(short_url: str, sw, dates) -> None:
    wh = Warehouse.open(short_url)
    first, last = wh.data_span()
    start = dates[0] or (first + timedelta(days=3)).isoformat()
    end = (last + timedelta(days=60)).isoformat() if dates[1] else (last - timedelta(days=2)).isoformat()
    code, out, err = sw("metric", "csat", "--db", short_url, "--from", start, "--to", end,
                        "--format", "json")
    assert code == 0
    shown = (max(date.fromisoformat(start), first), min(date.fromisoformat(end), last))
    note, window = err.strip().splitlines()
    assert note.startswith(f"servicewatch: note: outside the data ({first} – {last}): ")
    assert note.endswith(f"clamped to {shown[0]} – {shown[1]}")
    # only the options that were moved are named (a --from inside the data is not)
    assert (f"--from {start}" in note) == (dates[0] is not None)
    assert (f"--to {end}" in note) == (dates[1] is not None)
    assert window.startswith(f"period {shown[0]} – {shown[1]} (given dates, clamped to the data)")
    record = json.loads(out)[0]
    assert (record["period_start"], record["period_end"]) == (shown[0].isoformat(), shown[1].isoformat())
    f = Filters(start=shown[0], end=shown[1])
    assert record["value"] == pytest.approx(wh.metric("csat", f)["value"].iloc[0], rel=1e-9)


def test_cli_dates_wholly_outside_the_data_give_the_default(short_url: str, sw) -> None:
    first, last = Warehouse.open(short_url).data_span()
    code, out, err = sw("metric", "tickets", "--db", short_url, "--from", "2001-01-01",
                        "--to", "2001-03-31", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 2
    assert err.splitlines()[0].endswith(f"clamped to {first} – {last}")


def test_cli_dates_inside_the_data_say_nothing_more(long_url: str, sw) -> None:
    last = Warehouse.open(long_url).as_of()
    code, _, err = sw("metric", "csat", "--db", long_url, "--from", str(last.replace(day=1)),
                      "--to", str(last))
    assert code == 0 and err.strip() == f"period {last.replace(day=1)} – {last} (given dates); data as of {last}"


def test_grouped_output_names_regions_beside_ids(long_url: str, sw) -> None:
    regions = Warehouse.open(long_url).regions().set_index("region_id")
    for lang, col in (("en", "name_en"), ("zh", "name_zh")):
        code, out, _ = sw("metric", "csat", "--db", long_url, "--by", "city", "--by", "tier",
                          "--format", "json", "--lang", lang)
        assert code == 0
        records = json.loads(out)
        assert records and list(records[0])[:3] == ["region_id", "region_name", "tier"]
        assert all(r["region_name"] == regions.loc[r["region_id"], col] for r in records)
    code, out, _ = sw("metric", "tickets", "--db", long_url, "--by", "district", "--format", "csv")
    assert out.splitlines()[0] == "region_id,region_name,value,n,lower,upper"


# -- the dashboard -----------------------------------------------------------------------------
def _open(url: str, monkeypatch: pytest.MonkeyPatch, query: dict[str, str] | None = None) -> AppTest:
    monkeypatch.setenv("SERVICEWATCH_DB", url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _filters(at: AppTest) -> Filters:
    return at.session_state["sw_state"]["filters"]


def test_dashboard_opens_a_short_extract_on_all_its_data(short_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first, last = Warehouse.open(short_url).data_span()
    at = _open(short_url, monkeypatch, {"lang": "en"})
    assert (_filters(at).start, _filters(at).end) == (first, last)
    assert at.sidebar.selectbox(key="_w_preset").value == "custom"
    assert at.sidebar.date_input(key="_w_range").value == (first, last)
    assert any("Last quarter begins before the data does" in i.value for i in at.info)
    assert next(m.value for m in at.metric if m.label == "CSAT") not in ("—", "")  # the cards hold figures


def test_dashboard_opens_a_long_extract_on_the_last_quarter(long_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    last = Warehouse.open(long_url).as_of()
    at = _open(long_url, monkeypatch)
    assert (_filters(at).start, _filters(at).end) == preset_period("last_quarter", last)
    assert at.sidebar.selectbox(key="_w_preset").value == "last_quarter"
    assert not at.info and not at.warning


@pytest.mark.parametrize(("lang", "words"), [("en", "lie outside the data"), ("zh", "超出数据范围")])
def test_a_link_after_the_data_is_clamped(short_url: str, monkeypatch: pytest.MonkeyPatch, lang: str,
                                         words: str) -> None:
    first, last = Warehouse.open(short_url).data_span()
    start = first + timedelta(days=7)
    at = _open(short_url, monkeypatch, {"preset": "custom", "from": start.isoformat(),
                                         "to": (last + timedelta(days=40)).isoformat(), "lang": lang})
    assert (_filters(at).start, _filters(at).end) == (start, last)
    assert at.sidebar.date_input(key="_w_range").value == (start, last)
    notice = [plain(w.value) for w in at.warning if words in w.value]
    assert notice and f"to={last + timedelta(days=40)}" in notice[0]
    assert at.query_params.get("to") in (last.isoformat(), [last.isoformat()])  # the URL now says what is shown


def test_a_link_before_the_data_is_clamped(short_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first, last = Warehouse.open(short_url).data_span()
    at = _open(short_url, monkeypatch, {"from": "2019-01-01", "to": (last - timedelta(days=3)).isoformat(),
                                         "as_of": (last + timedelta(days=5)).isoformat(), "lang": "en"})
    assert (_filters(at).start, _filters(at).end, _filters(at).as_of) == (first, last - timedelta(days=3), None)
    assert at.sidebar.date_input(key="_w_range").value == (first, last - timedelta(days=3))
    assert any("from=2019-01-01" in plain(w.value) and "as_of=" in plain(w.value) for w in at.warning)
    at.sidebar.selectbox(key="_w_preset").set_value("last_month").run()  # the page goes on working
    assert not at.exception


def test_a_link_wholly_outside_the_data_opens_the_default(short_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first, last = Warehouse.open(short_url).data_span()
    at = _open(short_url, monkeypatch, {"preset": "custom", "from": "2019-01-01", "to": "2019-03-31"})
    assert (_filters(at).start, _filters(at).end) == (first, last)
    assert any("超出数据范围" in w.value for w in at.warning)


def test_dashboard_downloads_carry_region_names_and_ids() -> None:
    from servicewatch.tables import localise
    from servicewatch.ui import with_region_codes

    data = pd.DataFrame({"region_id": [2, 3], "value": [0.5, 0.25]})
    out = localise(with_region_codes(data), "en", {2: "Nanling", 3: "Zhuwan"})
    assert list(out.columns[:2]) == ["Region", "Region id"]
    assert out.iloc[:, 0].tolist() == ["Nanling", "Zhuwan"] and out.iloc[:, 1].tolist() == [2, 3]
    assert list(with_region_codes(data.drop(columns="region_id")).columns) == ["value"]


# -- a customer snapshot: every departure on the snapshot's date ------------------------------------
def test_default_period_of_data_ending_on_a_snapshot_ends_on_it() -> None:
    snap = date(2026, 11, 30)  # a month's end: whole months up to it
    assert default_period("last_quarter", date(2020, 1, 1), snap, snap) == ("custom", date(2026, 9, 1), snap)
    assert default_period("last_12_months", date(2020, 1, 1), snap, snap) == ("custom", date(2025, 12, 1), snap)
    mid = date(2026, 11, 15)  # mid-month: the same length back to the day after
    assert default_period("last_quarter", date(2020, 1, 1), mid, mid) == ("custom", date(2026, 8, 16), mid)
    assert default_period("last_quarter", date(2026, 10, 1), mid, mid) == ("custom", date(2026, 10, 1), mid)
    # newer data than the snapshot (tickets imported since): the usual complete quarter
    assert default_period("last_quarter", date(2020, 1, 1), date(2026, 12, 31), snap)[0] == "last_quarter"


@pytest.fixture(scope="module")
def snapshot_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The guide's CRM snapshot (docs/examples), imported as the guide does."""
    from metrics.ingest.importer import import_file

    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    url = f"duckdb:///{tmp_path_factory.mktemp('snapshot') / 'sw.duckdb'}"
    import_file(url, "regions", examples / "regions.csv", rejects=False)
    import_file(url, "customers", examples / "crm_snapshot.csv", mapping=examples / "crm_snapshot.yaml",
                snapshot_date=date(2026, 11, 30), rejects=False)
    return url


def test_a_snapshot_opens_on_its_departures(snapshot_url: str, sw,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    wh = Warehouse.open(snapshot_url)
    assert wh.snapshot_date() == date(2026, 11, 30) == wh.data_span()[1]
    raw = pd.read_csv(Path(__file__).resolve().parents[2] / "docs" / "examples" / "crm_snapshot.csv")
    left = int((raw["Churn"] == "Yes").sum())
    code, out, err = sw("metric", "churn_rate", "--db", snapshot_url, "--format", "json")
    assert code == 0 and json.loads(out)[0]["events"] <= left and json.loads(out)[0]["events"] > 0
    assert "customer snapshot's date" in err and "2025-12-01 – 2026-11-30" in err
    at = _open(snapshot_url, monkeypatch, {"lang": "en"})
    assert (_filters(at).start, _filters(at).end) == (date(2026, 9, 1), date(2026, 11, 30))
    assert any("customer snapshot's date" in i.value for i in at.info)
    assert not at.error, [e.value for e in at.error]  # the Overview draws every part (one region: one value)
