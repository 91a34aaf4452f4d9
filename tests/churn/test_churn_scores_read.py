"""The at-risk list read from stored scores: a prefix of the stored risk ranks gives exactly the list
a pandas reference computes (filters and user scopes applied), with open tickets from the refreshed
table equal to counting the tickets; on DuckDB, PostgreSQL and MariaDB; and scores stored before
risk_rank existed are still read, and replaced by the next save."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from db_snapshot import copy_duckdb

from metrics.access.users import Scope
from metrics.churn import store as churn_store
from metrics.churn.model import ChurnFit
from metrics.ingest import open_tickets
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


def _tables(wh: Warehouse) -> tuple[pd.DataFrame, ...]:
    """customers, stored scores (without rank), tickets' customer and resolution, region closure."""
    return (wh.read(sa.select(s.customers)),
            wh.read(sa.select(*[col for col in churn_store.churn_scores.c if col.name != "risk_rank"])),
            wh.read(sa.select(s.tickets.c.customer_id, s.tickets.c.resolved_at)),
            wh.read(sa.select(s.region_closure)))


def _reference(tables: tuple[pd.DataFrame, ...], f: Filters, top: int | None) -> pd.DataFrame:
    """The list in pandas from the raw tables: customers in the filters/scope, most revenue at risk
    first (ties: lower id), with their open tickets counted from the tickets."""
    c, sc, tk, closure = tables
    keep = pd.Series(True, index=c.index)
    for regions in [f.regions] + ([f.scope.regions] if f.scope is not None and f.scope.regions else []):
        if regions:
            keep &= c["region_id"].isin(closure.loc[closure["ancestor_id"].isin(regions), "descendant_id"])
    for col, values in (("tier", f.tiers), ("segment", f.segments), ("sla_level", f.sla_levels),
                        ("acquisition_channel", f.channels)):
        if values:
            keep &= c[col].isin(values)
    if f.scope is not None and f.scope.manager_id is not None:
        keep &= c["account_manager_id"] == f.scope.manager_id
    opened = tk[tk["resolved_at"].isna()].groupby("customer_id").size().rename("open_tickets")
    df = (sc.merge(c[keep][["customer_id"]], on="customer_id")
          .sort_values(["revenue_at_risk", "customer_id"], ascending=[False, True]))
    df = df.head(top) if top else df
    df["open_tickets"] = df["customer_id"].map(opened).fillna(0).astype(int)
    return df.reset_index(drop=True)


def _filters(wh: Warehouse) -> list[Filters]:
    as_of = wh.as_of()
    base = Filters(start=as_of, end=as_of)
    r = wh.regions()
    city = int(r.loc[r["level"] == "city", "region_id"].iloc[0])
    district = int(r.loc[r["level"] == "district", "region_id"].iloc[-1])
    managers = wh.read(sa.select(s.customers.c.account_manager_id).where(
        s.customers.c.account_manager_id.isnot(None)).distinct())
    return [base, base.with_(regions=(city,)), base.with_(regions=(district,)), base.with_(tiers=("gold",)),
            base.with_(segments=("enterprise",), channels=("account_manager",)),
            base.with_(scope=Scope(user="m", regions=(city,))),
            base.with_(scope=Scope(user="am", manager_id=int(managers.iloc[0, 0])))]


def _check(wh: Warehouse) -> None:
    tables = _tables(wh)
    for f in _filters(wh):
        for top in (5, 100, None):
            got = churn_store.scores(wh, f, top, "en")
            want = _reference(tables, f, top)
            assert len(want) > 0
            assert got["customer_id"].tolist() == want["customer_id"].tolist(), (f, top)
            assert got["open_tickets"].tolist() == want["open_tickets"].tolist()
            pd.testing.assert_series_equal(got["revenue_at_risk"].astype(float), want["revenue_at_risk"],
                                           check_names=False)


def test_ranked_list_equals_reference(fitted_duckdb_url: str) -> None:
    wh = Warehouse.open(fitted_duckdb_url)
    ranks = wh.read(sa.select(churn_store.churn_scores.c.risk_rank, churn_store.churn_scores.c.revenue_at_risk)
                    .order_by(churn_store.churn_scores.c.risk_rank))
    assert ranks["risk_rank"].tolist() == list(range(1, len(ranks) + 1))
    assert ranks["revenue_at_risk"].is_monotonic_decreasing
    assert len(ranks) > 5 * max(churn_store.WINDOWS)  # so the prefix windows are really used (top 5)
    _check(wh)


def test_open_tickets_table_equals_tickets(fitted_duckdb_url: str) -> None:
    wh = Warehouse.open(fitted_duckdb_url)
    built = wh.read(sa.select(open_tickets.counts(True))).sort_values("customer_id").reset_index(drop=True)
    live = wh.read(sa.select(open_tickets.counts(False))).sort_values("customer_id").reset_index(drop=True)
    assert len(live) > 0
    pd.testing.assert_frame_equal(built.astype("int64"), live.astype("int64"))


def _stored_fit(url: str) -> ChurnFit:
    """The stored model of ``url`` as a ChurnFit (to store it elsewhere without fitting again)."""
    wh = Warehouse.open(url)
    model = churn_store.latest_model(wh)
    terms = churn_store.model_terms(wh, int(model["model_id"]))
    scores = wh.read(sa.select(churn_store.churn_scores))
    return ChurnFit(summary=model, terms=terms, scores=scores.drop(columns=["risk_rank", "model_id"]))


def _check_on_server(url: str, fitted_duckdb_url: str) -> None:
    """The same list on a server, from the same scores stored there (then removed again)."""
    wh = Warehouse.open(url)
    try:
        churn_store.save(wh.engine, _stored_fit(fitted_duckdb_url))
        _check(wh)
    finally:
        churn_store.metadata.drop_all(wh.engine)
        wh.engine.dispose()


def test_ranked_list_on_postgres(postgres_url: str, fitted_duckdb_url: str) -> None:
    _check_on_server(postgres_url, fitted_duckdb_url)


def test_ranked_list_on_mariadb(mariadb_url: str, fitted_duckdb_url: str) -> None:
    _check_on_server(mariadb_url, fitted_duckdb_url)


def test_scores_stored_before_ranks(fitted_duckdb_url: str, tmp_path: Path) -> None:
    """An older database whose churn_scores has no risk_rank: read as before; the next save adds it."""
    url = copy_duckdb(fitted_duckdb_url, tmp_path / "old.duckdb")
    writer = Warehouse.open(url, read_only=False)
    with writer.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE churn_scores DROP COLUMN risk_rank")
    f = _filters(writer)[1]
    want = _reference(_tables(writer), f, 100)
    assert churn_store.scores(writer, f, 100, "en")["customer_id"].tolist() == want["customer_id"].tolist()
    churn_store.save(writer.engine, _stored_fit(fitted_duckdb_url))
    assert writer.read(sa.select(sa.func.max(churn_store.churn_scores.c.risk_rank))).iloc[0, 0] > 0
    assert churn_store.scores(writer, f, 100, "en")["customer_id"].tolist() == want["customer_id"].tolist()
    writer.engine.dispose()
