"""``servicewatch alerts``: ``check`` runs every enabled alert rule and prints each alert (metric, slice,
rule, value, limits, n); ``ack`` acknowledges a rule's open alerts with a note; ``rules`` and
``history`` list the rules and when each last ran (:mod:`metrics.alerts`). Same error conventions as
:mod:`metrics.cli.main` (one line on stderr, non-zero exit).

Run after every ``import`` (not a dry run) and ``demo`` too (:func:`after_change`): 100 rules take about
2 s at L (1M customers, bench/alerts.py). The Data page's import does not run it (yet)."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from metrics.access import users as access
from metrics.cli.common import UserError, add_db_argument, audit_export, date_arg, emit, open_warehouse
from metrics.model.i18n import t
from metrics.model.registry import get
from metrics.present.formatting import fmt_value


def _scope(wh, as_user: str | None) -> access.Scope | None:
    if not as_user:
        return None
    try:
        return access.scope_for(access.get_user(as_user), key_ids=wh.key_ids)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def signal_text(signal: str, lang: str) -> str:
    """The rules an alert fired, in words (``beyond_3sigma,six_trend`` -> "超出3σ控制限；连续6点上升或下降")."""
    sep = "；" if lang == "zh" else "; "
    return sep.join(t(f"alerts.rule.{s}", lang) for s in str(signal).split(",") if s)


def shown(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Alerts as a person reads them: values in the metric's unit, kinds and rules in words, headers
    from the catalogue."""
    out = df.copy()
    units = [get(m).unit for m in out["metric"]]
    for col in ("value", "centre", "lower", "upper"):
        out[col] = [fmt_value(v, u, lang) for v, u in zip(out[col], units, strict=True)]
    out["metric"] = out["metric_label"]
    out["kind"] = [t(f"alerts.kind.{k}", lang) for k in out["kind"]]
    out["signal"] = [signal_text(s, lang) for s in out["signal"]]
    out["n"] = out["n"].map(lambda v: f"{v:,.0f}")
    out["period"] = pd.to_datetime(out["period"]).dt.strftime("%Y-%m")
    cols = ["rule_id", "metric", "slice", "kind", "period", "value", "centre", "lower", "upper", "n", "signal",
            "owner"]
    return out[cols].rename(columns={c: t(f"alerts.col.{c}", lang) for c in cols})


def cmd_check(args: argparse.Namespace) -> None:
    from metrics import alerts

    wh = open_warehouse(args.db)
    scope = _scope(wh, args.as_user)
    df = alerts.evaluate(wh, as_of=args.as_of, scope=scope, lang=args.lang, record=not args.dry_run)
    if args.format == "table":
        if not len(df):
            print(t("alerts.none", args.lang))
            return
        emit(shown(df, args.lang), "table")
    else:
        emit(df.drop(columns=["metric_label"]).assign(period=pd.to_datetime(df["period"]).dt.strftime("%Y-%m-%d"),
                                                      fired_at=df["fired_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
             args.format)


def cmd_ack(args: argparse.Namespace) -> None:
    from metrics import alerts

    wh = open_warehouse(args.db)
    scope = _scope(wh, args.as_user)
    try:
        n = alerts.acknowledge(wh, args.rule_id, args.as_user, args.note, scope=scope, period=args.period)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    audit_export(args, "alert_ack", {"rule_id": args.rule_id, "acknowledged": n, "note": args.note})
    print(t("alerts.acked", args.lang, rule=args.rule_id, n=n))


def cmd_rules(args: argparse.Namespace) -> None:
    from metrics import alerts

    wh = open_warehouse(args.db)
    df = alerts.rules(wh, _scope(wh, args.as_user))
    df["filters"] = [alerts.json.dumps(f, ensure_ascii=False) for f in df["filters"]]
    df["recipients"] = [",".join(r) for r in df["recipients"]]
    emit(df, args.format)


def cmd_history(args: argparse.Namespace) -> None:
    from metrics import alerts

    wh = open_warehouse(args.db)
    emit(alerts.history(wh, _scope(wh, args.as_user)), args.format)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``alerts check|ack|rules|history`` on the main parser's subcommands."""
    p = sub.add_parser("alerts", help="control-chart, target and change alerts: check, acknowledge, list")
    asub = p.add_subparsers(dest="alerts_command", required=True)
    c = asub.add_parser("check", help="run every enabled alert rule for the as-of's month and print the alerts",
                        description="Runs every enabled rule (control-chart signal, target missed, significant "
                                    "change) for the month of the as-of date, records the alerts (once per rule "
                                    "and month) and prints them: metric, slice, rule, value, limits, n.")
    c.add_argument("--as-of", dest="as_of", type=date_arg, help="judge the month of this day (default: the data's)")
    c.add_argument("--as-user", dest="as_user", metavar="NAME", help="only the rules within this user's scope")
    c.add_argument("--dry-run", dest="dry_run", action="store_true", help="print, record nothing")
    c.set_defaults(func=cmd_check)
    a = asub.add_parser("ack", help="acknowledge a rule's open alerts with a note")
    a.add_argument("rule_id")
    a.add_argument("--note", required=True)
    a.add_argument("--as-user", dest="as_user", required=True, metavar="NAME", help="who acknowledges (audited)")
    a.add_argument("--period", type=lambda s: date_arg(s if len(s) > 7 else f"{s}-01"), metavar="YYYY-MM",
                   help="only that month's alert")
    a.set_defaults(func=cmd_ack)
    r = asub.add_parser("rules", help="list the alert rules")
    r.add_argument("--as-user", dest="as_user", metavar="NAME")
    r.set_defaults(func=cmd_rules)
    h = asub.add_parser("history", help="per rule: when it last ran, whether it fired, alerts open")
    h.add_argument("--as-user", dest="as_user", metavar="NAME")
    h.set_defaults(func=cmd_history)
    for q in (c, a, r, h):
        add_db_argument(q)
        q.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the printed text")
        if q is not a:
            q.add_argument("--format", choices=["json", "csv", "table"], default="table")


def after_change(url: str, lang: str = "en") -> None:
    """Run the alert rules after data changed (``import``, ``demo``), when there are any: one line
    with the number of alerts; a failure is a warning, the change stands. About 2 s for 100 rules at
    L (bench/alerts.py)."""
    from metrics import alerts
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(url)
    try:
        if not alerts.rules(wh)["enabled"].any():
            return
        found = alerts.evaluate(wh, lang=lang)
        print(t("alerts.after_change", lang, n=len(found)))
    except Exception as exc:  # noqa: BLE001 - the data is in; the check is a courtesy
        print(f"servicewatch: warning: alert rules not checked ({type(exc).__name__}: {str(exc)[:160]})",
              file=sys.stderr)
    finally:
        wh.engine.dispose()
