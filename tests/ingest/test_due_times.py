"""SLA due times from the commitments (issue 14, item 6; metrics.ingest.due_times).

A tickets extract without due-time columns, plus ``sla_policies``: the derived step of the load gives
every enterprise ticket opened_at + its policy's hours; the SLA compliance figures equal an
independent pandas computation (tickets → customers → policies) on DuckDB, PostgreSQL and MariaDB.
Due times given by the file are kept; a changed policy changes only derived due times. Each backend
gets its own fresh database (the shared session databases are not touched).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import MARKED_BACKENDS, fresh_database

from metrics.analysis import coverage, sla
from metrics.backends.connect import make_engine
from metrics.ingest import due_times
from metrics.ingest.load import refresh_derived, replace_all
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

DUE = ["response_due_at", "resolution_due_at"]


def extract(frames: dict) -> dict[str, pd.DataFrame]:
    """The demo data as a tickets file without due times would load it, except every 7th ticket,
    whose file gives its due times (shifted by 90 minutes, so they differ from any policy's)."""
    tk = frames["tickets"].drop(columns=["due_source"], errors="ignore").copy()
    given = (tk["ticket_id"] % 7 == 0).to_numpy()
    for col in DUE:
        tk[col] = tk[col].astype("datetime64[ns]").where(given, pd.NaT) + pd.Timedelta(minutes=90)
    return {**frames, "tickets": tk}


def reference_due(frames: dict) -> pd.DataFrame:
    """Due times by hand: the file's where it gave them; else opened_at + the hours of the policy of
    the customer's sla_level and the ticket's priority (none for consumers)."""
    tk = frames["tickets"][["ticket_id", "customer_id", "priority", "opened_at", "first_response_at",
                            "resolved_at", *DUE]].copy()
    cust = frames["customers"][["customer_id", "sla_level"]]
    pol = frames["sla_policies"][["sla_level", "priority", "response_hours", "resolution_hours"]]
    d = tk.merge(cust, on="customer_id", how="left").merge(pol, on=["sla_level", "priority"], how="left")
    given = d[DUE].notna().any(axis=1)
    for col, hours in (("response_due_at", "response_hours"), ("resolution_due_at", "resolution_hours")):
        derived = pd.to_datetime(d["opened_at"]) + pd.to_timedelta((d[hours] * 3600).round(), unit="s")
        d[col] = d[col].astype("datetime64[ns]").where(given, derived)
    d["due_source"] = np.where(given, "file", np.where(d[DUE].notna().any(axis=1), "policy", None))
    return d.sort_values("ticket_id").reset_index(drop=True)


def reference_compliance(d: pd.DataFrame, done: str, due: str, as_of) -> tuple[float, int]:
    """met ÷ (met + breached) (docs/metrics.md): decided = a due time and either done by the as-of
    or past due; met = done by then and not after the due time."""
    end = pd.Timestamp(as_of + timedelta(days=1))
    known = d[done].notna() & (d[done] < end)
    decided = d[due].notna() & (known | (d[due] < end))
    met = d[due].notna() & known & (d[done] <= d[due])
    return met.sum() / decided.sum(), int(decided.sum())


@pytest.fixture(scope="module")
def frames(demo_frames: dict) -> dict[str, pd.DataFrame]:
    return extract(demo_frames)


@pytest.fixture(scope="module", params=MARKED_BACKENDS)
def url(request: pytest.FixtureRequest, frames: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database(request.param, frames, tmp_path_factory.mktemp("due"))


def _tickets(url: str) -> pd.DataFrame:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            t_ = schema.tickets
            rows = conn.execute(sa.select(t_.c.ticket_id, *[t_.c[c] for c in DUE], t_.c.due_source)
                                .order_by(t_.c.ticket_id)).all()
    finally:
        engine.dispose()
    df = pd.DataFrame(rows, columns=["ticket_id", *DUE, "due_source"])
    for col in DUE:
        df[col] = pd.to_datetime(df[col])
    return df


def _assert_due(url: str, frames: dict) -> pd.DataFrame:
    ref = reference_due(frames)
    got = _tickets(url)
    assert got["ticket_id"].tolist() == ref["ticket_id"].tolist()
    for col in DUE:
        pd.testing.assert_series_equal(got[col], ref[col].astype(got[col].dtype), check_names=False)
    assert got["due_source"].fillna("-").tolist() == pd.Series(ref["due_source"]).fillna("-").tolist()
    return ref


def test_due_times_from_policies_and_file(url: str, frames: dict) -> None:
    ref = _assert_due(url, frames)
    sources = ref["due_source"].value_counts(dropna=False).to_dict()
    assert sources.get("file", 0) > 1000 and sources.get("policy", 0) > 1000, sources  # both ways present
    assert ref["due_source"].isna().sum() > 1000  # consumer tickets without file due times: none
    wh = Warehouse.open(url)
    supply = sla.due_times(wh)
    assert (supply.given, supply.derived, supply.tickets) == (sources["file"], sources["policy"], len(ref))
    assert not supply.none


def test_compliance_equals_pandas(url: str, frames: dict) -> None:
    ref = reference_due(frames)
    first, last = ref["opened_at"].min().date(), ref["opened_at"].max().date()
    f = Filters(start=first, end=last, as_of=last)
    wh = Warehouse.open(url)
    for metric_id, done, due in (("sla_resolution_compliance", "resolved_at", "resolution_due_at"),
                                 ("sla_response_compliance", "first_response_at", "response_due_at")):
        value, n = reference_compliance(ref, done, due, last)
        got = wh.metric(metric_id, f).iloc[0]
        assert int(got["n"]) == n, metric_id
        assert got["value"] == pytest.approx(value, abs=1e-12), metric_id


def test_coverage_shows_sla_supported(url: str) -> None:
    cov = coverage.coverage(make_engine(url)).set_index("metric")
    assert bool(cov.loc["sla_resolution_compliance", "supported"])
    assert bool(cov.loc["sla_response_compliance", "supported"])


def test_changed_policy_changes_only_derived_due_times(url: str, frames: dict) -> None:
    p = schema.sla_policies
    changed = frames["sla_policies"].copy()
    hit = (changed["sla_level"] == "silver") & (changed["priority"] == "P2")
    changed.loc[hit, "resolution_hours"] = 30.5
    before = _tickets(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(p.update().where(p.c.sla_level == "silver", p.c.priority == "P2")
                         .values(resolution_hours=30.5))
        refresh_derived(engine)
        _assert_due(url, {**frames, "sla_policies": changed})
        after = _tickets(url)
        b, a = before["resolution_due_at"], after["resolution_due_at"]
        moved = ~(b.eq(a) | (b.isna() & a.isna()))
        assert moved.any()
        assert set(after.loc[moved, "due_source"]) == {"policy"}  # the file's due times never move
        assert after["response_due_at"].equals(before["response_due_at"])
    finally:
        with engine.begin() as conn:  # as it was, for the module's other tests
            conn.execute(p.update().where(p.c.sla_level == "silver", p.c.priority == "P2")
                         .values(resolution_hours=float(frames["sla_policies"].loc[hit, "resolution_hours"].iloc[0])))
        refresh_derived(engine)
        engine.dispose()
    _assert_due(url, frames)


def test_fill_frame_is_the_same_rule(frames: dict) -> None:
    """Spark's file tables: the same rule on frames."""
    ref = reference_due(frames)
    got = due_times.fill_frame(frames["tickets"], frames["customers"], frames["sla_policies"])
    got = got.sort_values("ticket_id").reset_index(drop=True)
    for col in DUE:
        pd.testing.assert_series_equal(got[col].astype("datetime64[ns]"), ref[col].astype("datetime64[ns]"),
                                       check_names=False)
    assert got["due_source"].fillna("-").tolist() == pd.Series(ref["due_source"]).fillna("-").tolist()


@pytest.mark.parametrize("with_policies", [False, True])
def test_sla_page_says_there_are_no_due_times(with_policies: bool, frames: dict,
                                              tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from page_helpers import open_page

    tk = frames["tickets"].copy()
    tk[DUE] = pd.NaT
    customers = frames["customers"].assign(sla_level=None)  # no level: no policy applies
    data = {**frames, "tickets": tk, "customers": customers,
            "sla_policies": frames["sla_policies"] if with_policies else frames["sla_policies"].iloc[0:0]}
    url = f"duckdb:///{tmp_path / 'none.duckdb'}"
    replace_all(url, data)
    assert sla.due_times(Warehouse.open(url)).none
    monkeypatch.setenv("SERVICEWATCH_DB", url)
    at = open_page("pages/3_SLA.py")
    key = "page.sla.no_due_times_policies" if with_policies else "page.sla.no_due_times"
    assert [i.value for i in at.info] == [t(key, "zh")]


def test_reimport_without_due_times_keeps_the_derived_ones(duck: str, demo_frames: dict, tmp_path) -> None:
    """A tickets file without due columns: the derived due times survive a second import of the same
    file, which changes nothing (0 new, 0 updated); a later file that gives due times makes them the
    file's."""
    from metrics.ingest.importer import import_file

    c = demo_frames["customers"]
    enterprise = set(c.loc[c["sla_level"].notna(), "customer_id"])
    t = demo_frames["tickets"]
    t = t[t["customer_id"].isin(enterprise)].head(30).copy()
    t["ticket_id"] = range(20_000_001, 20_000_001 + len(t))
    path = tmp_path / "tickets.csv"
    t.drop(columns=["response_due_at", "resolution_due_at", "due_source"], errors="ignore").to_csv(path, index=False)
    first = import_file(duck, "tickets", path)
    assert (first.inserted, first.rows_rejected) == (len(t), 0), first.summary()
    engine = sa.create_engine(duck)
    q = sa.select(schema.tickets.c.due_source, schema.tickets.c.resolution_due_at).where(
        schema.tickets.c.ticket_id >= 20_000_001)
    with engine.connect() as conn:
        derived = conn.execute(q).all()
    engine.dispose()
    assert {d for d, _ in derived} == {"policy"} and all(due is not None for _, due in derived)
    again = import_file(duck, "tickets", path)
    assert (again.inserted, again.updated) == (0, 0), again.summary()
    t.to_csv(path, index=False)  # now with the file's own due times
    given = import_file(duck, "tickets", path)
    assert given.updated == len(t)
    engine = sa.create_engine(duck)
    with engine.connect() as conn:
        assert {d for d, _ in conn.execute(q).all()} == {"file"}
    engine.dispose()
