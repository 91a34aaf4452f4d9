"""Alert rules and the alerts they fire: ``evaluate`` runs every enabled rule, records what fired.

A rule (table ``alert_rules``) is a metric, a slice (the filter model as a link's query string, JSON:
``{"region": "4"}``), an owner, recipients (users, and group-chat webhooks) and a kind:

* ``control``: the newest month's point of the metric's control chart over the last
  :data:`WINDOW_MONTHS` months signals (:mod:`metrics.analysis.control`: one of the rule's
  ``run_rules`` fires — all four unless the rule names some — on a point of at least ``min_n``
  observations; the limits from the rule's own ``baseline`` when it has one);
* ``target``: the newest month's status against its target is red (:func:`metrics.analysis.drill.status`);
* ``change``: the newest month against the month before (or the same month a year before: the rule's
  ``against`` is ``yoy``) changed for the worse by more than chance:
  the 95% interval of the difference, ``Δ ± 1.96·sqrt(se² + se_cmp²)`` (each ``se`` from the period's
  own 95% interval), excludes zero.

"The newest month" is the calendar month of the as-of (so far as it has data). Fired alerts go to
``alert_events``, once per rule and month (evaluating again keeps the first ``fired_at`` and any
acknowledgement); ``alert_runs`` says when each rule last ran and whether it fired; ``alert_notices``
which recipient was told of which alert (:mod:`metrics.deliver.alert_notify`). The rules themselves
(adding, listing, their slice and scope) and where the tables live: :mod:`metrics.alert_rules` (read
them there). An alert's signal in words, for the CLI, the page and the notices alike:
:func:`signal_text`; alerts as a person reads them, the CLI's table and the page's: :func:`readable`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import Scope, ScopeError

# ALERTS_ENV and save_rules: still re-exported, read through this module by tests/conftest.py and
# metrics.demo.alert_rules (others' files); every other reader takes them from metrics.alert_rules
from metrics.alert_rules import (  # noqa: F401
    ALERTS_ENV,
    owner_label,
    read_frame,
    region_keys,
    rule_filters,
    rules,
    save_rules,
    store,
    visible,
    within,
)
from metrics.analysis import control
from metrics.analysis.alert_checks import judge, period_start
from metrics.analysis.subtitles import region_parents, scope_text
from metrics.model.filters import Filters
from metrics.model.i18n import metric_label, t
from metrics.model.registry import get
from metrics.model.schema import alert_events, alert_rules, alert_runs
from metrics.present.formatting import fmt_value

COLUMNS = ("rule_id", "metric", "metric_label", "slice", "kind", "period", "value", "centre", "lower", "upper",
           "n", "signal", "fired_at", "owner", "recipients")
log = logging.getLogger(__name__)


# -- evaluation -------------------------------------------------------------------------------
def evaluate(wh, as_of: date | None = None, scope: Scope | None = None, *, lang: str = "zh",
             record: bool = True, min_n: int = control.MIN_N) -> pd.DataFrame:
    """Run every enabled rule (within ``scope`` when given) for the month of ``as_of`` (default: the
    data's); record fired alerts in ``alert_events`` (idempotent per rule and month) and each run in
    ``alert_runs``. One row per alert: :data:`COLUMNS` — ``centre`` is the control chart's centre, the
    target or the comparison value; ``lower``/``upper`` the control limits, the value's 95% interval
    or the change's; ``signal`` the rules fired, ``red`` or ``change``; ``slice`` in words."""
    as_of = as_of or wh.as_of()
    regions = wh.regions()
    names = dict(zip(regions["region_id"].astype(int), regions["name_zh" if lang == "zh" else "name_en"],
                     strict=True))
    parents, keys = region_parents(regions), region_keys(wh)
    out, runs = [], []
    for rule in rules(wh).itertuples(index=False):
        if not rule.enabled:
            continue
        month = period_start(as_of, rule.grain)  # the month, or the week, of the as-of
        try:
            f = rule_filters(wh, rule.filters, month, as_of, as_of, scope, keys=keys)
        except ValueError as exc:
            log.warning("alert rule %s skipped: %s", rule.rule_id, exc)
            continue
        if not visible(f, scope, regions, rule.metric):
            continue
        try:
            hit = judge_rule(wh, rule, f, month, min_n=min_n)
        except ScopeError:
            continue
        runs.append({"rule_id": rule.rule_id, "ran_at": _now(), "period": month, "fired": hit is not None})
        if hit is not None:
            out.append({"rule_id": rule.rule_id, "metric": rule.metric, "metric_label": metric_label(rule.metric, lang),
                        "slice": scope_text(f.with_(scope=None), lang, names, parents), "kind": rule.kind,
                        "period": month, **hit, "owner": rule.owner, "recipients": list(rule.recipients)})
    df = pd.DataFrame(out, columns=[c for c in COLUMNS if c != "fired_at"])
    df["fired_at"] = pd.Series([_now()] * len(df), dtype="datetime64[us]")
    if record:
        df = _record(wh, df, runs)
    return df[list(COLUMNS)]


def signal_text(signal: str, lang: str) -> str:
    """The rules an alert fired, in words (``beyond_3sigma,six_trend`` -> "超出3σ控制限；连续6点上升或下降")."""
    sep = "；" if lang == "zh" else "; "
    return sep.join(t(f"alerts.rule.{s}", lang) for s in str(signal).split(",") if s)


def grains_of(frame: pd.DataFrame) -> list[str]:
    """Each alert's period kind, ``month`` or ``week`` (all months when ``frame`` has no ``grain``)."""
    return list(frame["grain"]) if "grain" in frame.columns else ["month"] * len(frame)


def readable(df: pd.DataFrame, lang: str, columns: Sequence[str]) -> pd.DataFrame:
    """Alerts (with ``metric_label`` and ``slice``) as a person reads them, the CLI's table and the Alerts
    page's: ``columns`` in that order, numbers in the metric's unit, kinds, rules and owners in words (the
    system's own rules as 系统管理员), a month as 2025-03 and a week by its Monday, headers from the
    catalogue."""
    out = df.copy()
    units = [get(m).unit for m in out["metric"]]
    for col in ("value", "centre", "lower", "upper"):
        if col in out.columns:
            out[col] = [fmt_value(v, u, lang) for v, u in zip(out[col], units, strict=True)]
    out["metric"] = out["metric_label"]
    if "kind" in out.columns:
        out["kind"] = [t(f"alerts.kind.{k}", lang) for k in out["kind"]]
    out["signal"] = [signal_text(s, lang) for s in out["signal"]]
    if "n" in out.columns:
        out["n"] = out["n"].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
    if "owner" in out.columns:
        out["owner"] = [owner_label(o, lang) for o in out["owner"]]
    out["period"] = [f"{pd.Timestamp(p):%Y-%m-%d}" if g == "week" else f"{pd.Timestamp(p):%Y-%m}"
                     for p, g in zip(out["period"], grains_of(out), strict=True)]
    for col in ("fired_at", "acknowledged_at"):
        if col in out.columns:
            out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d %H:%M")
    return out[list(columns)].rename(columns={c: t(f"alerts.col.{c}", lang) for c in columns})


def keeps_scope(scope: Scope | None) -> bool:
    """Whether a rule's figures for ``scope`` are computed under it: a viewer's (the small-group rule) and
    a hall manager's (fail closed on customer facts); else, the rule being inside the scope, its figures
    are everyone's (scope dropped, the same cache and rollups for all)."""
    return scope is not None and (scope.aggregates_only or scope.outlet_ids is not None)


def judge_rule(wh, rule, f: Filters, period: date, *, min_n: int = control.MIN_N) -> dict | None:
    """:func:`judge` of ``rule`` (a row of :func:`rules`) on its slice ``f`` (its scope the reader's) for
    ``period``: the scope kept where :func:`keeps_scope` says so. ScopeError: nothing for this scope."""
    if not keeps_scope(f.scope):
        f = f.with_(scope=None)
    return judge(wh, rule.kind, rule.metric, f, period, min_n=min_n, run_rules=rule.run_rules, grain=rule.grain,
                 baseline=rule.baseline, against=rule.against)


def judge_for(wh, rule, period: date, scope: Scope | None, *, min_n: int = control.MIN_N) -> dict | None:
    """The figures of ``rule``'s alert for ``period`` as ``scope`` sees them (what :func:`evaluate` for
    that scope gives): None when the rule does not fire for them, or its figures are withheld from them
    (a viewer's small group) or none of theirs."""
    end = min(wh.as_of(), (pd.Timestamp(period) + (pd.offsets.MonthEnd(0) if rule.grain == "month"
                                                    else pd.Timedelta(days=6))).date())
    try:
        f = rule_filters(wh, rule.filters, period, end, end, scope)
        return judge_rule(wh, rule, f, period, min_n=min_n)
    except (ScopeError, ValueError):
        return None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _record(wh, df: pd.DataFrame, runs: list[dict]) -> pd.DataFrame:
    """Insert the alerts not yet recorded for their rule and month; the frame gets the recorded
    ``fired_at`` of those already there."""
    engine, e = store(wh), alert_events
    with engine.begin() as conn:
        if runs:
            conn.execute(alert_runs.delete().where(alert_runs.c.rule_id.in_([r["rule_id"] for r in runs])))
            conn.execute(alert_runs.insert(), runs)
        if not len(df):
            return df
        have = {(r, pd.Timestamp(p).date()): t for r, p, t in conn.execute(
            sa.select(e.c.rule_id, e.c.period, e.c.fired_at).where(e.c.rule_id.in_(list(df["rule_id"]))))}
        new = []
        fired = []
        for row in df.itertuples(index=False):
            key = (row.rule_id, row.period)
            if key in have:
                fired.append(have[key])
                continue
            fired.append(row.fired_at)
            limits = {"centre": row.centre, "lower": row.lower, "upper": row.upper}
            new.append({"rule_id": row.rule_id, "period": row.period, "fired_at": row.fired_at, "value": row.value,
                        "limits": json.dumps(limits), "n": row.n, "signal": row.signal})
        if new:
            conn.execute(e.insert(), new)
    return df.assign(fired_at=pd.to_datetime(pd.Series(fired, index=df.index)))


def after_change(url: str, lang: str = "zh") -> pd.DataFrame | None:
    """Run the enabled rules on a database's new data (after an import, a load, a refresh): the alerts
    (:func:`evaluate`, recorded), or None when no rule is enabled. About 2 s for 100 rules at L."""
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(url)
    try:
        if not rules(wh)["enabled"].any():
            return None
        return evaluate(wh, lang=lang)
    finally:
        wh.engine.dispose()


# -- what fired, who acknowledged -------------------------------------------------------------
def events(wh, scope: Scope | None = None, open_only: bool = False, figures: bool = True) -> pd.DataFrame:
    """Recorded alerts, newest first, of the rules within ``scope``: rule_id, metric, kind, owner,
    filters, period, fired_at, value, centre, lower, upper, n, signal, acknowledged_by/_at, note.
    A viewer's (``scope.aggregates_only``) figures are judged again under their scope
    (:func:`judge_for`: the small-group rule), blank where withheld from them; ``figures=False``: not
    judged (a list without figures)."""
    e, r = alert_events, alert_rules
    stmt = sa.select(e.c.rule_id, r.c.metric, r.c.kind, r.c.grain, r.c.owner, r.c.filters, e.c.period, e.c.fired_at,
                     e.c.value, e.c.limits, e.c.n, e.c.signal, e.c.acknowledged_by, e.c.acknowledged_at,
                     e.c.note).join(r, r.c.rule_id == e.c.rule_id)
    if open_only:
        stmt = stmt.where(e.c.acknowledged_at.is_(None))
    df = read_frame(store(wh), stmt.order_by(e.c.period.desc(), e.c.rule_id))
    limits = [json.loads(v) for v in df["limits"]]
    for col in ("centre", "lower", "upper"):
        df[col] = [lim.get(col) for lim in limits]
    df["filters"] = [json.loads(v) for v in df["filters"]]
    df["grain"] = df["grain"].fillna("month").astype(str)
    df = df.drop(columns="limits")
    if scope is not None and len(df):
        df = df[within(wh, df["filters"], scope, df["metric"])]
    df = df.reset_index(drop=True)
    if figures and scope is not None and scope.aggregates_only and len(df):
        df = _as_seen(wh, df, scope)
    return df


def _as_seen(wh, df: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    """Recorded alerts with the figures ``scope`` gets (:func:`judge_for`), blank where it gets none."""
    known = {r.rule_id: r for r in rules(wh).itertuples(index=False)}
    cols = ["value", "centre", "lower", "upper", "n"]
    df = df.astype({c: float for c in cols})
    for i, row in df.iterrows():
        hit = judge_for(wh, known[row["rule_id"]], pd.Timestamp(row["period"]).date(), scope)
        df.loc[i, cols] = [float("nan")] * len(cols) if hit is None else [hit[c] for c in cols]
    return df


def acknowledge(wh, rule_id: str, user: str, note: str, scope: Scope | None = None,
                period: date | None = None) -> int:
    """Acknowledge the open alerts of a rule (one month's when ``period``) as ``user`` with ``note``.
    Refuses a rule outside ``scope`` or unknown (ScopeError / ValueError). Returns how many."""
    known = rules(wh)
    if rule_id not in set(known["rule_id"]):
        raise ValueError(f"no alert rule {rule_id!r}")
    if scope is not None and rules(wh, scope).query("rule_id == @rule_id").empty:
        raise ScopeError.said("scope_refusal.alert_rule", rule=rule_id)
    e = alert_events
    cond = [e.c.rule_id == rule_id, e.c.acknowledged_at.is_(None)]
    if period is not None:
        cond.append(e.c.period == period)
    with store(wh).begin() as conn:
        n = conn.execute(e.update().where(*cond).values(acknowledged_by=user[:80], acknowledged_at=_now(),
                                                        note=note)).rowcount
    return int(n or 0)


def history(wh, scope: Scope | None = None) -> pd.DataFrame:
    """Per rule within ``scope``: when it last ran, for which month, whether it fired, how many alerts
    it has recorded and how many are still open."""
    rs = rules(wh, scope)
    runs = read_frame(store(wh), sa.select(alert_runs))
    ev = read_frame(store(wh), sa.select(alert_events.c.rule_id, alert_events.c.acknowledged_at))
    counts = ev.groupby("rule_id").agg(alerts=("rule_id", "size"),
                                       open=("acknowledged_at", lambda s: int(s.isna().sum()))).reset_index()
    df = rs[["rule_id", "metric", "kind", "owner", "enabled"]].merge(runs, on="rule_id", how="left")
    df = df.merge(counts, on="rule_id", how="left")
    df[["alerts", "open"]] = df[["alerts", "open"]].astype(float).fillna(0).astype(int)
    return df
