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
which recipient was told of which alert (:mod:`metrics.deliver.alert_notify`). Where the tables
live: :func:`store` (an SQLite file beside a DuckDB data file, else the data database).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import Scope, ScopeError, allowed_regions
from metrics.analysis import control
from metrics.analysis.alert_checks import AGAINST, GRAINS, judge, period_start
from metrics.analysis.subtitles import region_parents, scope_text
from metrics.backends.connect import create_tables, duckdb_path, make_engine
from metrics.model import links
from metrics.model.filters import Filters
from metrics.model.i18n import metric_label, t
from metrics.model.registry import get
from metrics.model.schema import (
    ALERT_TABLES,
    alert_events,
    alert_metadata,
    alert_notices,
    alert_rules,
    alert_runs,
)

KINDS = ("control", "target", "change")
ALERTS_ENV = "SERVICEWATCH_ALERTS_DB"
COLUMNS = ("rule_id", "metric", "metric_label", "slice", "kind", "period", "value", "centre", "lower", "upper",
           "n", "signal", "fired_at", "owner", "recipients")
log = logging.getLogger(__name__)
_ENGINES: dict[str, sa.Engine] = {}


# -- where the rules and alerts live ----------------------------------------------------------
def alerts_url(data_url: str) -> str | None:
    """``$SERVICEWATCH_ALERTS_DB``; for a DuckDB data file an SQLite file beside it
    (``<name>-alerts.sqlite``); None: the data database itself."""
    if os.environ.get(ALERTS_ENV):
        return os.environ[ALERTS_ENV]
    path = duckdb_path(data_url)
    return None if path is None else f"sqlite:///{path.with_name(path.stem + '-alerts.sqlite')}"


def store(wh) -> sa.Engine:
    """The engine holding ``alert_rules``/``alert_events``/``alert_runs`` of ``wh``'s data, tables
    created on first use (a database made before them gets them)."""
    url = alerts_url(wh.url)
    key = url or f"data:{id(wh.engine)}"
    if key not in _ENGINES:
        engine = make_engine(url) if url else wh.engine
        create_tables(alert_metadata, engine, list(ALERT_TABLES))  # two workers may start together
        _add_columns(engine)
        _ENGINES[key] = engine
    return _ENGINES[key]


ADDED_COLUMNS = {"grain": "VARCHAR(8)", "webhooks": "TEXT", "baseline": "VARCHAR(24)",  # columns younger
                 "against": "VARCHAR(8)"}  # than the table


def store_for_url(data_url: str) -> sa.Engine:
    """:func:`store` from the data's URL alone (the worker's look for due notices before it opens the
    data): the SQLite file beside a DuckDB file, else the database itself."""
    url = alerts_url(data_url) or data_url
    if url not in _ENGINES:
        engine = make_engine(url)
        create_tables(alert_metadata, engine, list(ALERT_TABLES))  # two workers may start together
        _add_columns(engine)
        _ENGINES[url] = engine
    return _ENGINES[url]


def _add_columns(engine: sa.Engine) -> None:
    """A store made before weekly rules, rule webhooks, baselines or year-ago changes gets their columns
    (NULL: monthly, none, the default baseline, the period before)."""
    have = {c["name"] for c in sa.inspect(engine).get_columns("alert_rules")}
    for name, kind in ADDED_COLUMNS.items():
        if name not in have:
            with engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE alert_rules ADD COLUMN {name} {kind}"))


def _read(engine: sa.Engine, stmt: sa.Select) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


# -- rules ------------------------------------------------------------------------------------
SYSTEM_OWNERS = ("admin", "system")  # the demo's rules (metrics.demo.alert_rules.OWNER), older stores' "admin"


def owner_label(owner: str, lang: str) -> str:
    """A rule's owner as a person reads it: the system's own rules as 系统管理员 / Administrator, the
    operator of a command (``os:<login>``) as 运维人员（login）, a user by their name."""
    if owner in SYSTEM_OWNERS:
        return t("alerts.owner.system", lang)
    if owner.startswith("os:"):
        return t("alerts.owner.operator", lang, login=owner[3:])
    return owner


def save_rules(wh, rules: Iterable[Mapping[str, object]]) -> int:
    """Add or replace rules (dicts with the columns of ``alert_rules``; ``filters`` a dict or its JSON,
    ``recipients`` a list). Returns how many were written."""
    rows = []
    for r in rules:
        kind, metric = str(r["kind"]), str(r["metric"])
        if kind not in KINDS:
            raise ValueError(f"unknown alert kind {kind!r}; use one of {', '.join(KINDS)}")
        grain = str(r.get("grain") or "month")
        if grain not in GRAINS:
            raise ValueError(f"unknown alert period {grain!r}; use one of {', '.join(GRAINS)}")
        m = get(metric)  # an unknown metric is refused here, not at evaluation
        if grain not in m.dims:  # rates over customer-months: by month only
            raise ValueError(f"{metric} cannot be checked by {grain}: its figures are by month only")
        filters = r.get("filters") or {}
        rows.append({"rule_id": str(r["rule_id"]), "metric": metric, "kind": kind, "owner": str(r["owner"]),
                     "filters": filters if isinstance(filters, str) else json.dumps(filters, sort_keys=True),
                     "recipients": json.dumps(list(r.get("recipients") or [])),
                     "enabled": bool(r.get("enabled", True)), "run_rules": _run_rules(r.get("run_rules")),
                     "grain": None if grain == "month" else grain,
                     "webhooks": json.dumps(list(r.get("webhooks") or [])) if r.get("webhooks") else None,
                     "baseline": _baseline_text(r.get("baseline"), kind), "against": _against(r.get("against"), kind)})
    with store(wh).begin() as conn:
        ids = [r["rule_id"] for r in rows]
        if ids:
            conn.execute(alert_rules.delete().where(alert_rules.c.rule_id.in_(ids)))
            conn.execute(alert_rules.insert(), rows)
    return len(rows)


def _baseline_text(given: object, kind: str) -> str | None:
    """A control rule's baseline as stored, "FIRST:LAST" (ISO dates); None: the default."""
    if given is None or given == "" or (isinstance(given, float) and pd.isna(given)):
        return None
    if kind != "control":
        raise ValueError("a baseline applies to control rules only")
    first, last = parse_baseline(given) if isinstance(given, str) else (given[0], given[1])  # type: ignore[index]
    if first > last:
        raise ValueError(f"the baseline's first period {first} is after its last {last}")
    return f"{first:%Y-%m-%d}:{last:%Y-%m-%d}"


def parse_baseline(text: str) -> tuple[date, date]:
    """"2025-01:2025-12" (months: the first day of each) or "2025-01-06:2025-06-30" -> (first, last);
    ValueError with one line."""
    parts = str(text).split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        first, last = (date.fromisoformat(p if len(p) > 7 else f"{p}-01") for p in parts)
    except ValueError:
        raise ValueError(f"invalid baseline {text!r}: use FIRST:LAST, e.g. 2025-01:2025-12") from None
    return first, last


def _against(given: object, kind: str) -> str | None:
    if not given or given == "prev":
        return None
    if given not in AGAINST:
        raise ValueError(f"unknown comparison {given!r}; use prev or yoy")
    if kind != "change":
        raise ValueError("--against applies to change rules only")
    return str(given)


def set_baseline(wh, rule_id: str, baseline: tuple[date, date] | None, user: str | None = None,
                 admin: bool = True) -> None:
    """Store a control rule's baseline (None: back to the default); ValueError for an unknown rule or
    one of another kind. Only the rule's owner (``user``) or an admin (``admin``; the operator's own
    commands) may: ScopeError otherwise."""
    known = rules(wh).set_index("rule_id")
    if rule_id not in known.index:
        raise ValueError(f"no alert rule {rule_id!r}")
    if not admin and (user is None or str(known.loc[rule_id, "owner"]) != user):
        raise ScopeError(t("alert_scope.baseline_owner", "en", rule=rule_id))
    text = _baseline_text(baseline, str(known.loc[rule_id, "kind"]))
    with store(wh).begin() as conn:
        conn.execute(alert_rules.update().where(alert_rules.c.rule_id == rule_id).values(baseline=text))


def remove_rule(wh, rule_id: str) -> bool:
    """Delete a rule with its recorded alerts and runs; whether it existed."""
    with store(wh).begin() as conn:
        n = conn.execute(alert_rules.delete().where(alert_rules.c.rule_id == rule_id)).rowcount
        conn.execute(alert_events.delete().where(alert_events.c.rule_id == rule_id))
        conn.execute(alert_runs.delete().where(alert_runs.c.rule_id == rule_id))
        conn.execute(alert_notices.delete().where(alert_notices.c.rule_id == rule_id))
    return bool(n)


def _run_rules(given: object) -> str | None:
    if not given:
        return None
    names = given.split(",") if isinstance(given, str) else [str(g) for g in given]  # type: ignore[union-attr]
    unknown = sorted(set(names) - set(control.RULES))
    if unknown:
        raise ValueError(f"unknown run rules {', '.join(unknown)}; use {', '.join(control.RULES)}")
    return ",".join(r for r in control.RULES if r in names)


def rules(wh, scope: Scope | None = None) -> pd.DataFrame:
    """The rules (``filters`` as dicts, ``recipients`` as lists), only those within ``scope`` if given."""
    df = _read(store(wh), sa.select(alert_rules).order_by(alert_rules.c.rule_id))
    df["filters"] = [json.loads(v) for v in df["filters"]]
    df["recipients"] = [json.loads(v) for v in df["recipients"]]
    df["enabled"] = df["enabled"].astype(bool)
    df["grain"] = df["grain"].fillna("month").astype(str)
    df["webhooks"] = [json.loads(v) if isinstance(v, str) and v else [] for v in df["webhooks"]]
    df["baseline"] = pd.Series([parse_baseline(v) if isinstance(v, str) and v else None for v in df["baseline"]],
                               index=df.index, dtype=object)
    df["against"] = df["against"].fillna("prev").astype(str)
    if scope is not None and len(df):
        df = df[within(wh, df["filters"], scope, df["metric"])]
    return df.reset_index(drop=True)


def within(wh, queries: Iterable[Mapping[str, str]], scope: Scope | None, metrics: Iterable[str]) -> list[bool]:
    """Per rule slice and metric, whether it lies inside ``scope`` (:func:`visible`)."""
    regions, keys, today = wh.regions(), region_keys(wh), date.today()
    out = []
    for q, metric in zip(queries, metrics, strict=True):
        try:
            out.append(visible(rule_filters(wh, q, today, today, keys=keys), scope, regions, metric))
        except ValueError:
            out.append(scope is None)
    return out


def rule_filters(wh, query: Mapping[str, str], start: date, end: date, as_of: date | None = None,
                 scope: Scope | None = None, comparison: str = "none",
                 keys: Mapping[str, int] | None = None) -> Filters:
    """A rule's slice over a period; a value the data does not know raises ValueError. ``keys``:
    :func:`region_keys`, when the caller has read them."""
    keys = region_keys(wh) if keys is None else keys
    default = Filters(start=start, end=end, as_of=as_of, comparison=comparison, scope=scope)
    outlets = wh.outlet_keys() if "outlet" in query else {}  # a rule sliced by outlet names it by key
    parsed = links.parse_query({k: v for k, v in query.items() if k not in ("from", "to", "as_of", "cmp")},
                               default, region_keys=keys, regions=set(keys.values()),
                               outlets=set(outlets.values()), outlet_keys=outlets)
    if parsed.ignored:
        raise ValueError(f"alert rule slice not understood: {', '.join(parsed.ignored)}")
    return parsed.filters


def region_keys(wh) -> dict[str, int]:
    """Each region's key as the source wrote it -> its id."""
    ids = [int(r) for r in wh.regions()["region_id"]]
    texts = wh.key_texts("regions", ids)
    return {texts.get(r, str(r)): r for r in ids}


def outlet_figures(metric: str) -> bool:
    """Whether ``metric``'s figures come from outlet facts alone (tickets, surveys: cut by outlet, no
    customer exposure), the only ones a hall manager's scope gives figures of; a rate over
    customer-months (complaint_rate), churn, customers, availability, revenue: no (fail closed)."""
    m = get(metric)
    return "outlet" in m.dims and m.exposure is None


def visible(f: Filters, scope: Scope | None, regions: pd.DataFrame, metric: str) -> bool:
    """Whether a rule on ``metric`` with slice ``f`` lies inside ``scope``: every region of it among the
    scope's (a rule over all regions only for a scope without region limits); none for an account
    manager's portfolio, whose figures a rule's would not be; for a hall manager only rules sliced to
    their outlets on a metric of outlet facts (:func:`outlet_figures`): a customer-based figure is
    none of theirs, as on every page (an outlet's complaints over the organisation's customer-months
    would give those away)."""
    if scope is None:
        return True
    if scope.manager_id is not None:
        return False
    if scope.outlet_ids is not None:  # a hall manager: rules sliced to their outlets, on outlet facts only
        return (outlet_figures(metric) and bool(f.outlets)
                and all(int(o) in scope.outlet_ids for o in f.outlets))
    allowed = allowed_regions(scope, regions)
    return allowed is None or (bool(f.regions) and all(int(r) in allowed for r in f.regions))


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
    df = _read(store(wh), stmt.order_by(e.c.period.desc(), e.c.rule_id))
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
        raise ScopeError(f"alert rule {rule_id} is outside your scope")
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
    runs = _read(store(wh), sa.select(alert_runs))
    ev = _read(store(wh), sa.select(alert_events.c.rule_id, alert_events.c.acknowledged_at))
    counts = ev.groupby("rule_id").agg(alerts=("rule_id", "size"),
                                       open=("acknowledged_at", lambda s: int(s.isna().sum()))).reset_index()
    df = rs[["rule_id", "metric", "kind", "owner", "enabled"]].merge(runs, on="rule_id", how="left")
    df = df.merge(counts, on="rule_id", how="left")
    df[["alerts", "open"]] = df[["alerts", "open"]].astype(float).fillna(0).astype(int)
    return df
