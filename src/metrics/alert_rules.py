"""Alert rules (table ``alert_rules``) and where they live: adding, listing, removing rules, a rule's
baseline, its slice as filters and whether it lies inside a user's scope. What the rules fire
(evaluation, recorded alerts, acknowledgements) is :mod:`metrics.alerts`.

Where the tables live: :func:`store` (an SQLite file beside a DuckDB data file, for Spark one in the state
folder, else the data database).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import date

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import Scope, ScopeError, allowed_regions
from metrics.analysis import control
from metrics.analysis.alert_checks import AGAINST, GRAINS
from metrics.backends.connect import create_tables, make_engine, side_store_url
from metrics.model import links
from metrics.model.filters import Filters
from metrics.model.i18n import t
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
_ENGINES: dict[str, sa.Engine] = {}


# -- where the rules and alerts live ----------------------------------------------------------
def alerts_url(data_url: str) -> str | None:
    """``$SERVICEWATCH_ALERTS_DB``; for a DuckDB data file an SQLite file beside it
    (``<name>-alerts.sqlite``), for Spark one in the state folder
    (:func:`metrics.backends.connect.side_store_url`); None: the data database itself."""
    if os.environ.get(ALERTS_ENV):
        return os.environ[ALERTS_ENV]
    return side_store_url(data_url, "alerts")


def store(wh) -> sa.Engine:
    """The engine holding ``alert_rules``/``alert_events``/``alert_runs`` of ``wh``'s data, tables
    created on first use (a database made before them gets them)."""
    url = alerts_url(wh.url)
    return _prepared(url or f"data:{id(wh.engine)}", lambda: make_engine(url) if url else wh.engine)


def store_for_url(data_url: str) -> sa.Engine:
    """:func:`store` from the data's URL alone (the worker's look for due notices before it opens the
    data): the SQLite file beside a DuckDB file, else the database itself."""
    url = alerts_url(data_url) or data_url
    return _prepared(url, lambda: make_engine(url))


ADDED_COLUMNS = {"grain": "VARCHAR(8)", "webhooks": "TEXT", "baseline": "VARCHAR(24)",  # columns younger
                 "against": "VARCHAR(8)"}  # than the table


def _prepared(key: str, open_engine: Callable[[], sa.Engine]) -> sa.Engine:
    """The store's engine kept under ``key`` (one per process): opened by ``open_engine`` on first use,
    its tables created and missing columns added."""
    if key not in _ENGINES:
        engine = open_engine()
        create_tables(alert_metadata, engine, list(ALERT_TABLES))  # two workers may start together
        _add_columns(engine)
        _ENGINES[key] = engine
    return _ENGINES[key]


def _add_columns(engine: sa.Engine) -> None:
    """A store made before weekly rules, rule webhooks, baselines or year-ago changes gets their columns
    (NULL: monthly, none, the default baseline, the period before)."""
    have = {c["name"] for c in sa.inspect(engine).get_columns("alert_rules")}
    for name, kind in ADDED_COLUMNS.items():
        if name not in have:
            with engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE alert_rules ADD COLUMN {name} {kind}"))


def read_frame(engine: sa.Engine, stmt: sa.Select) -> pd.DataFrame:
    """The rows of ``stmt`` as a frame with its column names."""
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
        raise ScopeError.said("alert_scope.baseline_owner", rule=rule_id)
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
    df = read_frame(store(wh), sa.select(alert_rules).order_by(alert_rules.c.rule_id))
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
