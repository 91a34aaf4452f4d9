"""Where fitted churn models live: three tables in the data's own database, so the dashboard only reads.

``churn_models`` (one row per fit: date, sample, validation numbers), ``churn_model_terms`` (hazard
and odds ratios per term of the ``risk`` and ``drivers`` models) and ``churn_scores`` (per customer
of the newest fit: probability of leaving in 90 days, revenue at risk, up to three drivers as
catalogue keys with their values). They have their own ``MetaData``, created by the first fit, so a
data load (which replaces the data tables) leaves them alone; scores are read joined to customers
with the compiler's filter conditions.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import require_rows
from metrics.backends.connect import DatabaseError
from metrics.churn.features import read_frame
from metrics.ingest import open_tickets
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.i18n import catalogue, label, t
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions

if TYPE_CHECKING:  # the model (and its statistics) only for the type: reading scores needs neither
    from metrics.churn.model import ChurnFit

metadata = sa.MetaData()
STALE_KEY = s.CHURN_STALE_KEY  # sw_meta key written by an import of the model's input tables
_D, _I, _S = sa.Double, sa.Integer, sa.String

churn_models = sa.Table(
    "churn_models", metadata,
    sa.Column("model_id", _I, primary_key=True, autoincrement=False),
    sa.Column("fitted_at", sa.DateTime, nullable=False), sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("method", _S(24), nullable=False), sa.Column("horizon_days", _I, nullable=False),
    sa.Column("history_start", sa.Date), sa.Column("n_landmarks", _I), sa.Column("first_landmark", sa.Date),
    sa.Column("holdout_landmark", sa.Date), sa.Column("n_train_customers", _I), sa.Column("n_train_rows", _I),
    sa.Column("n_train_events", _I), sa.Column("n_test_rows", _I), sa.Column("n_test_events", _I),
    sa.Column("sampled", sa.Boolean), sa.Column("sample_fractions", _S(200)),
    *[sa.Column(n, _D) for n in ("concordance_cox", "concordance_logit", "auc_cox", "auc_cox_lower",
                                  "auc_cox_upper", "auc_logit", "auc_logit_lower", "auc_logit_upper",
                                  "auc_diff_lower", "auc_diff_upper")],
    sa.Column("better", _S(16)), sa.Column("ph_global_min_p", _D), sa.Column("ph_violations", _S(400)),
    sa.Column("missing", _S(200)), sa.Column("baseline_hazard_90d", _D), sa.Column("n_scored", _I),
    sa.Column("features_seconds", _D), sa.Column("cox_seconds", _D), sa.Column("fit_seconds", _D),
    *[sa.Column(n, _D) for n in ("concordance_cox_lower", "concordance_cox_upper", "calibration_slope",
                                  "observed_expected")],
    sa.Column("holdout", _S(200)), sa.Column("reference_levels", _S(400)), sa.Column("pooled", _S(400)),
    sa.Column("dropped", _S(2000)),
)
ADDED = ("concordance_cox_lower", "concordance_cox_upper", "calibration_slope", "observed_expected", "holdout",
         "reference_levels", "pooled", "dropped")  # columns later than the first fits: added to an older table
churn_model_terms = sa.Table(
    "churn_model_terms", metadata,
    sa.Column("model_id", _I, primary_key=True, autoincrement=False),
    sa.Column("model", _S(16), primary_key=True), sa.Column("term", _S(100), primary_key=True),
    *[sa.Column(n, _D) for n in ("coef", "se", "hr", "hr_lower", "hr_upper", "p", "ph_p", "odds_ratio",
                                  "or_lower", "or_upper", "or_p", "mean")],
)
churn_scores = sa.Table(
    "churn_scores", metadata,
    sa.Column("customer_id", _I, primary_key=True, autoincrement=False),
    sa.Column("model_id", _I, nullable=False),
    sa.Column("churn_probability_90d", _D, nullable=False), sa.Column("monthly_revenue", _D, nullable=False),
    sa.Column("revenue_at_risk", _D, nullable=False),
    *[c for k in (1, 2, 3) for c in (sa.Column(f"driver_{k}", _S(100)), sa.Column(f"driver_{k}_value", _D))],
    # 1 = most revenue at risk (ties: lower customer_id); rows are written in this order, so a top-N
    # list reads a prefix (DuckDB's zone maps; an index elsewhere)
    sa.Column("risk_rank", _I),
)
sa.Index("ix_churn_scores_risk_rank", churn_scores.c.risk_rank).ddl_if(dialect=("postgresql", "mysql", "mariadb"))
TABLES = (churn_models, churn_model_terms, churn_scores)
WINDOWS = (8, 64)  # top-N lists read ranks up to N × these before reading every score


def save(engine: sa.Engine, result: ChurnFit) -> int:
    """Store a fit: a new model row, its terms, and the scores (replacing the previous scores).
    On Spark, whose tables cannot delete rows, the three tables and ``sw_meta`` are rewritten whole
    (:mod:`metrics.backends.spark.rewrite`)."""
    from metrics.backends import bulk

    if engine.dialect.name == "spark":
        return _save_spark(engine, result)
    if not _has_rank(engine):  # scores stored before risk_rank existed: they are replaced anyway
        churn_scores.drop(engine, checkfirst=True)
    metadata.create_all(engine, checkfirst=True)
    _add_columns(engine)
    with engine.begin() as conn:
        last = conn.execute(sa.select(sa.func.max(churn_models.c.model_id))).scalar()
        model_id = int(last or 0) + 1
        conn.execute(churn_models.insert(), [_model_row(result, model_id)])
        conn.execute(churn_model_terms.insert(), _term_rows(result, model_id))
        conn.execute(churn_scores.delete())
        current = dict(conn.execute(sa.select(s.meta.c.key, s.meta.c.value)
                                    .where(s.meta.c.key.in_((s.DATA_VERSION_KEY, STALE_KEY)))).fetchall())
        values, drop = _stale_changes(current, result.summary.get("data_version"))
        conn.execute(s.meta.delete().where(s.meta.c.key.in_([*values, *drop])))
        if values:
            conn.execute(s.meta.insert(), [{"key": k, "value": v} for k, v in values.items()])
        s.bump_data_version(conn)  # the dashboard's caches read anew
        bulk.write_rows(conn, churn_scores, _score_rows(result, model_id))
    return model_id


def _save_spark(engine: sa.Engine, result: ChurnFit) -> int:
    """:func:`save` on Spark: each table read, changed in Python and written again as a new Parquet
    version; all four are swapped in only once written (a failure before leaves the old ones)."""
    from metrics.backends.spark import rewrite

    models = rewrite.read_table(engine, churn_models)
    terms = rewrite.read_table(engine, churn_model_terms)
    meta = rewrite.read_meta(engine)
    model_id = int(models["model_id"].max()) + 1 if models is not None and len(models) else 1
    new_model = pd.DataFrame([_model_row(result, model_id)]).reindex(columns=[c.name for c in churn_models.c])
    new_terms = pd.DataFrame(_term_rows(result, model_id), columns=[c.name for c in churn_model_terms.c])
    values, drop = _stale_changes(meta, result.summary.get("data_version"))
    values[s.DATA_VERSION_KEY] = s.new_data_version()  # what schema.bump_data_version writes elsewhere
    rewrite.replace_tables(engine, {
        churn_model_terms: _appended(terms, new_terms), churn_scores: _score_rows(result, model_id),
        churn_models: _appended(models, new_model), s.meta: rewrite.meta_frame(meta, values, drop)})
    return model_id


def _appended(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """The stored rows ``old`` (None: no table yet) followed by ``new``."""
    if old is None or old.empty:
        return new
    return pd.concat([old.astype(object), new.astype(object)], ignore_index=True)


def _model_row(result: ChurnFit, model_id: int) -> dict:
    """The ``churn_models`` row of a fit."""
    row = {k: _plain(v) for k, v in result.summary.items() if k in churn_models.c}
    return {**row, "model_id": model_id}


def _term_rows(result: ChurnFit, model_id: int) -> list[dict]:
    """The ``churn_model_terms`` rows of a fit (plain Python values, None for NaN)."""
    terms = result.terms.assign(model_id=model_id)
    return [{k: _plain(r[k]) for k in (c.name for c in churn_model_terms.c)} for _, r in terms.iterrows()]


def _score_rows(result: ChurnFit, model_id: int) -> pd.DataFrame:
    """The ``churn_scores`` rows of a fit, most revenue at risk first (ties: lower customer_id), ranked."""
    scores = (result.scores.sort_values(["revenue_at_risk", "customer_id"], ascending=[False, True])
              .assign(model_id=model_id, risk_rank=lambda d: range(1, len(d) + 1)))
    return scores[[c.name for c in churn_scores.c]]


def _stale_changes(current: dict[str, str], fitted_on: str | None) -> tuple[dict[str, str], list[str]]:
    """The ``sw_meta`` keys a fit sets and removes besides a new ``data_version``, given the keys
    ``current`` holds: ``churn_scores_stale`` cleared only when the data is still the version the fit
    read — when an import (or anything else) committed in between, the scores describe older data: it
    stays stale (set now if it was not)."""
    from datetime import UTC, datetime

    if current.get(s.DATA_VERSION_KEY) == fitted_on:
        return {}, [STALE_KEY]  # the scores are current again
    if current.get(STALE_KEY) is None:
        return {STALE_KEY: datetime.now(UTC).isoformat(timespec="seconds")}, []
    return {}, []


def _add_columns(engine: sa.Engine) -> None:
    """Add to a ``churn_models`` table created by an older version the columns it lacks."""
    for name in ADDED:
        col = churn_models.c[name]
        try:
            with engine.connect() as conn:
                conn.execute(sa.select(col).limit(1))
            continue
        except sa.exc.SQLAlchemyError:
            pass
        with engine.begin() as conn:
            spec = sa.schema.CreateColumn(col).compile(dialect=conn.dialect)
            table = conn.dialect.identifier_preparer.format_table(churn_models)
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {spec}"))


def _has_rank(engine: sa.Engine) -> bool:
    """Whether churn_scores exists with its risk_rank column."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(churn_scores.c.risk_rank).limit(1))
        return True
    except sa.exc.SQLAlchemyError:
        return False


def is_stale(wh: Warehouse) -> bool:
    """True when an import changed customers, tickets, surveys or billing after the stored scores were
    computed (``sw_meta.churn_scores_stale``, set by :mod:`metrics.ingest.importer.run`, cleared by :func:`save`)."""
    try:
        df = wh.read(sa.select(s.meta.c.value).where(s.meta.c.key == STALE_KEY))
    except Exception:  # noqa: BLE001 - no sw_meta table: nothing imported
        return False
    return not df.empty


def _plain(v: object) -> object:
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _exists(wh: Warehouse) -> bool:
    try:
        wh.read(sa.select(churn_models.c.model_id).limit(1))
        return True
    except Exception:  # noqa: BLE001 - no table yet, on any dialect
        return False


def latest_model(wh: Warehouse) -> dict | None:
    """The newest fit's summary row, or None when no model is stored."""
    if not _exists(wh):
        return None
    df = wh.read(sa.select(churn_models).order_by(churn_models.c.model_id.desc()).limit(1))
    return None if df.empty else df.iloc[0].to_dict()


def model_terms(wh: Warehouse, model_id: int) -> pd.DataFrame:
    """Terms of a stored model: model (risk / drivers), term, hr, hr_lower, hr_upper, p, ph_p, odds ratios."""
    ct = churn_model_terms
    return wh.read(sa.select(ct).where(ct.c.model_id == model_id).order_by(ct.c.model, ct.c.term))


def driver_text(key: str | None, value: float | None, lang: str = "zh") -> str | None:
    """A driver in plain words: catalogue ``churn.driver.<key>`` (or ``…_<n>`` for a special count,
    e.g. ``sla_breaches_90d_2`` = "SLA breached twice"), with ``{n}`` the value."""
    if key is None or (isinstance(key, float) and math.isnan(key)):
        return None
    n = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    shown = "" if n is None else (f"{n:.0f}" if key != "tenure_years" else f"{n:.1f}")
    if key.startswith("tier_"):
        return t("churn.driver.tier", lang, tier=label("tier", key[5:], lang))
    if key.startswith("channel_"):
        return t("churn.driver.channel", lang, channel=label("channel", key[8:], lang))
    if key.startswith("segment_"):
        return t("churn.driver.segment", lang, segment=label("segment", key[8:], lang))
    if key.startswith("sla_level_"):
        return t("churn.driver.sla_level", lang, sla_level=label("sla_level", key[10:], lang))
    special = f"churn.driver.{key}_{shown}"
    return t(special if special in catalogue() else f"churn.driver.{key}", lang, n=shown)


def scores(wh: Warehouse, f: Filters, top: int | None = 100, lang: str = "zh") -> pd.DataFrame:
    """The at-risk list for the filters (region, tier, segment, SLA level, acquisition channel),
    most revenue at risk first: customer_id, name, tier, segment, region_id, account_manager,
    open_tickets, churn_probability_90d, monthly_revenue, revenue_at_risk, drivers (plain words,
    "; "-joined), model_id. Empty when no model is stored."""
    require_rows(f.scope, "at_risk_customer_lists")  # viewers: aggregates only
    wh.resolve_as_of(f)  # refuses a region outside the scope
    conds = slice_conditions(f, s.customers, s.customers.c.acquisition_channel)  # filters and scope
    try:
        ranks = wh.read(sa.select(sa.func.max(churn_scores.c.risk_rank))).iloc[0, 0]
    except DatabaseError:  # no model stored, or scores stored before risk_rank: read them unranked
        if not _exists(wh):
            return pd.DataFrame()
        ranks = None
    m = s.meta
    built = len(wh.read(sa.select(m.c.value).where(m.c.key == open_tickets.BUILT_KEY))) > 0
    ranked = ranks is not None and not pd.isna(ranks)
    if top and ranked:
        # a prefix of the ranks, widened until it holds `top` customers in the filters (a manager's
        # portfolio is small: all ranks at once); then the customer details of those `top` only
        portfolio = f.scope is not None and f.scope.manager_id is not None
        windows = [] if portfolio else [top * w for w in WINDOWS if top * w < int(ranks)]
        for k in [*windows, None]:
            head = read_frame(wh, _head_query(conds, top, k))
            if len(head) >= top:
                break
        details = read_frame(wh, _details_query(head["customer_id"].tolist(), built))
        df = head.merge(details, on="customer_id", how="inner", sort=False)[list(LIST_COLUMNS)]
    else:
        df = read_frame(wh, _list_query(conds, built, ranked, top, None))
    words = [[driver_text(r[f"driver_{k}"], r[f"driver_{k}_value"], lang) for k in (1, 2, 3)]
             for r in df.to_dict("records")]
    df["drivers"] = ["; ".join(w for w in ws if w) for ws in words]
    df = df.drop(columns=[f"driver_{k}{x}" for k in (1, 2, 3) for x in ("", "_value")])
    df["open_tickets"] = pd.to_numeric(df["open_tickets"]).astype(int)
    return df


_SCORE_COLUMNS = ("churn_probability_90d", "monthly_revenue", "revenue_at_risk",
                  *[f"driver_{k}{x}" for k in (1, 2, 3) for x in ("", "_value")], "model_id")
LIST_COLUMNS = ("customer_id", "name", "tier", "segment", "region_id", "account_manager", "open_tickets",
                *_SCORE_COLUMNS)


def _head_query(conds: list, top: int, max_rank: int | None) -> sa.Select:
    """The ``top`` best-ranked scores (of rank ≤ ``max_rank`` if given) whose customers are in
    ``conds``, in rank order: customer_id and the score columns. It reads no customer column but
    those the conditions need (DuckDB then skips names and the like for a million customers)."""
    c, sc = s.customers, churn_scores
    if max_rank is not None:
        sc = sa.select(churn_scores).where(churn_scores.c.risk_rank <= max_rank).subquery("sc")
    return (sa.select(sc.c.customer_id, *[sc.c[n] for n in _SCORE_COLUMNS])
            .select_from(sc.join(c, c.c.customer_id == sc.c.customer_id)).where(*conds)
            .order_by(sc.c.risk_rank).limit(top))


def _details_query(ids: list[int], built: bool) -> sa.Select:
    """Name, tier, segment, region, account manager and open tickets of the customers ``ids``."""
    c, am = s.customers, s.account_managers
    open_t = open_tickets.counts(built)
    return (sa.select(c.c.customer_id, c.c.name, c.c.tier, c.c.segment, c.c.region_id,
                      am.c.name.label("account_manager"),
                      sa.func.coalesce(open_t.c.open_tickets, 0).label("open_tickets"))
            .select_from(c.outerjoin(am, am.c.manager_id == c.c.account_manager_id)
                         .outerjoin(open_t, open_t.c.customer_id == c.c.customer_id))
            .where(c.c.customer_id.in_(ids)))


def _list_query(conds: list, built: bool, ranked: bool, top: int | None, max_rank: int | None) -> sa.Select:
    """The at-risk list in one query: scores (of rank ≤ ``max_rank`` if given) joined to their
    customers in ``conds``, with account manager and open tickets, most revenue at risk first."""
    c, am = s.customers, s.account_managers
    sc = churn_scores
    if max_rank is not None:
        sc = sa.select(churn_scores).where(churn_scores.c.risk_rank <= max_rank).subquery("sc")
    open_t = open_tickets.counts(built)
    stmt = (sa.select(c.c.customer_id, c.c.name, c.c.tier, c.c.segment, c.c.region_id,
                      am.c.name.label("account_manager"),
                      sa.func.coalesce(open_t.c.open_tickets, 0).label("open_tickets"),
                      sc.c.churn_probability_90d, sc.c.monthly_revenue, sc.c.revenue_at_risk,
                      *[sc.c[f"driver_{k}{x}"] for k in (1, 2, 3) for x in ("", "_value")], sc.c.model_id)
            .select_from(sc.join(c, c.c.customer_id == sc.c.customer_id)
                         .outerjoin(am, am.c.manager_id == c.c.account_manager_id)
                         .outerjoin(open_t, open_t.c.customer_id == c.c.customer_id))
            .where(*conds)
            .order_by(*((sc.c.risk_rank,) if ranked else (sc.c.revenue_at_risk.desc(), c.c.customer_id))))
    return stmt.limit(top) if top else stmt


def risk_totals(wh: Warehouse, f: Filters) -> dict | None:
    """Aggregates of the stored scores in the filters and scope, for aggregate-only users (viewers):
    ``customers`` (distinct customers scored), ``revenue_at_risk`` (CNY a year, summed) and
    ``mean_probability`` (of leaving in 90 days). None when no model is stored. For a viewer, fewer
    than ``scope.min_group_size`` customers blank the figures (``suppressed`` True)."""
    if not _exists(wh):
        return None
    c, sc = s.customers, churn_scores
    wh.resolve_as_of(f)  # refuses a region outside the scope
    stmt = (sa.select(sa.func.count(sa.distinct(c.c.customer_id)).label("customers"),
                      sa.func.sum(sc.c.revenue_at_risk).label("revenue_at_risk"),
                      sa.func.avg(sc.c.churn_probability_90d).label("mean_probability"))
            .select_from(sc.join(c, c.c.customer_id == sc.c.customer_id))
            .where(*slice_conditions(f, c, c.c.acquisition_channel)))
    row = read_frame(wh, stmt).iloc[0]
    n = int(row["customers"] or 0)
    out = {"customers": n, "revenue_at_risk": float(row["revenue_at_risk"] or 0.0),
           "mean_probability": float(row["mean_probability"]) if n else math.nan, "suppressed": False}
    if f.scope is not None and f.scope.aggregates_only and n < f.scope.min_group_size:
        out.update(customers=None, revenue_at_risk=None, mean_probability=None, suppressed=True)
    return out


def model_date(model: dict) -> date:
    return pd.Timestamp(model["as_of"]).date()
