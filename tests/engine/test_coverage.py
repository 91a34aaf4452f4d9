"""Which metrics the loaded data supports (metrics.analysis.coverage), ``servicewatch coverage``, the
Data page's section and the Overview card's "no data: … column" — against pandas counts of the same rows.

Data: the demo on the three databases (everything supported), and DuckDB files with gaps: a copy of
the demo where ``first_contact_resolved`` is unknown on every ticket (the Overview's FCR card), and
one with no surveys, no outages, no response due times and the flags of
:func:`test_unknown_flags.unknown_frames` unknown on part of the tickets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import rewrite
from page_helpers import open_page
from streamlit.testing.v1 import AppTest
from test_unknown_flags import unknown_frames

from metrics.analysis import coverage
from metrics.backends.connect import make_engine
from metrics.cli.main import main
from metrics.ingest.load import replace_all
from metrics.model import schema as s
from metrics.model.i18n import metric_label, t
from metrics.model.registry import METRICS
from metrics.query.warehouse import Warehouse

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_every_metric_declares_what_it_needs() -> None:
    assert coverage.validate() == []
    assert set(coverage.NEEDS) == {m.id for m in METRICS}


def _expected(frames: dict[str, pd.DataFrame]) -> dict[str, tuple[int, int]]:
    """(rows, rows with every needed column known) per metric, counted in pandas."""
    out = {}
    for m in METRICS:
        need = coverage.NEEDS[m.id][0]
        df = frames[need.table]
        if need.kind:
            df = df[df["kind"] == need.kind]
        known = df[list(need.all_columns)].notna().all(axis=1) if need.all_columns else pd.Series(True, df.index)
        out[m.id] = (len(df), int(known.sum()))
    return out


def test_demo_supports_every_metric(db_url: str, demo_frames: dict) -> None:
    wh = Warehouse.open(db_url)
    try:
        got = coverage.coverage(wh, "en")
    finally:
        wh.engine.dispose()
    assert list(got["metric"]) == [m.id for m in METRICS]
    assert got["supported"].all(), got[~got["supported"]]
    assert (got["missing"] == "").all()
    want = _expected(demo_frames)
    assert {r.metric: (r.rows, r.known) for r in got.itertuples()} == want


@pytest.fixture(scope="module")
def gaps(demo_frames: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    frames = unknown_frames(demo_frames)
    t_ = frames["tickets"].copy()
    t_["response_due_at"] = pd.NaT
    frames = {**frames, "tickets": t_, "surveys": frames["surveys"].iloc[:0], "outages": frames["outages"].iloc[:0]}
    url = f"duckdb:///{tmp_path_factory.mktemp('gaps') / 'gaps.duckdb'}"
    replace_all(url, frames)
    return url, frames


def _coverage(url: str, lang: str) -> pd.DataFrame:
    """``coverage.coverage`` of the database at ``url`` (opened read-only) in ``lang``, by metric."""
    engine = make_engine(url, read_only=True)
    try:
        return coverage.coverage(engine, lang).set_index("metric")
    finally:
        engine.dispose()


def test_gaps_are_named(gaps: tuple[str, dict]) -> None:
    url, frames = gaps
    got, zh = _coverage(url, "en"), _coverage(url, "zh")
    want = _expected(frames)
    assert {m: (int(r.rows), int(r.known)) for m, r in got.iterrows()} == want
    unsupported = set(got.index[~got["supported"]])
    assert unsupported == {"csat", "csat_mean", "nps", "ces_mean", "availability", "sla_response_compliance"}
    assert got.loc["csat", "missing"] == "surveys" and got.loc["csat", "note"] == "no surveys loaded"
    assert got.loc["availability", "missing"] == "outages"
    assert got.loc["sla_response_compliance", "missing"] == "tickets.response_due_at"
    assert got.loc["sla_response_compliance", "note"] == "the imported tickets have no response_due_at column"
    assert zh.loc["sla_response_compliance", "note"] == "导入的工单没有“承诺响应时限”列"
    # part of the flags known: supported, the note says how many rows
    n_known = int(frames["tickets"]["escalated"].notna().sum())
    assert got.loc["escalation_rate", "supported"]
    assert got.loc["escalation_rate", "note"] == f"escalated known on {n_known:,} of {len(frames['tickets']):,} rows"
    assert zh.loc["escalation_rate", "note"] == f"“升级”仅 {n_known:,} / {len(frames['tickets']):,} 行已知"
    assert list(coverage.status(got.reset_index()))[:2] == ["supported", "unsupported"]


def test_cli_coverage(gaps: tuple[str, dict], capsys: pytest.CaptureFixture) -> None:
    url, _ = gaps
    assert main(["coverage", "--db", url, "--format", "json"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {m.id for m in METRICS}
    assert rows["nps"]["supported"] is False and rows["nps"]["note"] == "no surveys loaded"
    assert main(["coverage", "--db", url, "--format", "csv", "--lang", "zh"]) == 0
    csv = capsys.readouterr().out
    assert csv.splitlines()[0] == ",".join(coverage.COLUMNS) and "没有导入满意度调查" in csv
    assert main(["coverage", "--db", url]) == 0
    assert "first_contact_resolved known on" in capsys.readouterr().out


def test_data_page_lists_coverage(gaps: tuple[str, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = gaps
    monkeypatch.setenv("SERVICEWATCH_DB", url)
    at = open_page("pages/6_Data.py")
    assert t("page.data.coverage.header", "zh") in [h.value for h in at.header]
    col = t("page.data.coverage.metric", "zh")
    table = next(d.value for d in at.dataframe if col in d.value.columns)
    shown = dict(zip(table[col], table[t("page.data.coverage.note", "zh")], strict=True))
    assert shown[metric_label("nps", "zh")] == "没有导入满意度调查"
    status = dict(zip(table[col], table[t("page.data.coverage.status", "zh")], strict=True))
    assert status[metric_label("availability", "zh")] == t("coverage.unsupported", "zh")
    assert status[metric_label("tickets", "zh")] == t("coverage.supported", "zh")
    assert t("page.data.coverage.summary", "zh", supported=len(METRICS) - 6, total=len(METRICS)) in [
        m.value for m in at.markdown]


@pytest.fixture()
def no_fcr(duck: str) -> str:
    """A private copy of the demo DuckDB whose tickets have no first_contact_resolved (NULL), rollups rebuilt."""
    return rewrite(duck, lambda conn: conn.execute(s.tickets.update().values(first_contact_resolved=None)))


def test_overview_card_says_which_column_is_missing(no_fcr: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", no_fcr)
    wh = Warehouse.open(no_fcr)
    try:
        with wh.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count(s.tickets.c.first_contact_resolved))).scalar() == 0
    finally:
        wh.engine.dispose()
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    card = next(m for m in at.metric if m.label == metric_label("fcr_rate", "zh"))
    assert card.value == "—"
    captions = [c.value for c in at.caption]
    assert "无数据：导入的工单没有“首问解决”列" in captions
    assert any(m.label == metric_label("csat", "zh") and m.value != "—" for m in at.metric)  # the others stay
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert "no data: the imported tickets have no first_contact_resolved column" in [c.value for c in at.caption]


@pytest.fixture()
def nothing_said(duck: str) -> str:
    """A private copy of the demo DuckDB with no complaint tickets (they became inquiries), no end
    date on any customer and no NPS answer (NULL), rollups rebuilt."""
    def say_nothing(conn: sa.Connection) -> None:
        conn.execute(s.tickets.update().where(s.tickets.c.kind == "complaint").values(kind="inquiry"))
        conn.execute(s.customers.update().values(end_date=None))
        conn.execute(s.surveys.update().values(nps=None))

    return rewrite(duck, say_nothing)


def test_overview_cards_say_what_the_data_lacks(nothing_said: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: complaint rate with no complaint tickets, churn with no end dates and NPS with no
    answers are "no data" with coverage's reason on the Overview, not 0.0, 0.00% or "widen the filters"."""
    monkeypatch.setenv("SERVICEWATCH_DB", nothing_said)
    got, en = _coverage(nothing_said, "zh"), _coverage(nothing_said, "en")
    assert not got.loc[["complaint_rate", "churn_rate", "nps"], "supported"].any()
    assert got.loc["active_customers", "supported"] and got.loc["csat", "supported"]
    assert en.loc["churn_rate", "missing"] == "customers.end_date"
    assert en.loc["churn_rate", "note"] == "the imported customers have no end_date column"
    assert en.loc["complaint_rate", "note"] == "no Complaint tickets"
    assert en.loc["nps", "note"] == "the imported surveys have no nps column"
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    for metric_id in ("complaint_rate", "churn_rate", "nps"):
        card = next(m for m in at.metric if m.label == metric_label(metric_id, "zh"))
        assert card.value == "—"
        assert t("coverage.no_data", "zh", reason=got.loc[metric_id, "note"]) in captions
    assert t("common.no_data", "zh") not in captions  # not "widen the filters": nothing to widen
    assert any(m.label == metric_label("csat", "zh") and m.value != "—" for m in at.metric)  # the others stay
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert "no data: the imported surveys have no nps column" in [c.value for c in at.caption]
