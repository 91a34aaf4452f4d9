"""``servicewatch alerts``: ``check`` runs every enabled alert rule and prints each alert (metric, slice,
rule, value, limits, n); ``ack`` acknowledges a rule's open alerts with a note; ``rules`` and
``history`` list the rules and when each last ran (:mod:`metrics.alerts`). Same error conventions as
:mod:`metrics.cli.main` (one line on stderr, non-zero exit).

Run after every ``import`` (not a dry run) and ``demo`` too (:func:`after_change`): 100 rules take about
2 s at L (1M customers, bench/alerts.py). The Data page's import runs it too (servicewatch.import_panel)."""

from __future__ import annotations

import argparse
import json
import sys
from urllib.parse import parse_qsl

import pandas as pd

from metrics.access import audit
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.alerts import readable
from metrics.analysis.alert_checks import GRAINS
from metrics.cli.common import EXIT_FAILURE, UserError, audit_export, build_filters, emit, open_warehouse, user_of
from metrics.cli.options import add_db_argument, add_filter_arguments, date_arg
from metrics.deliver.transport import Refusal, hook_shown, parse_webhook
from metrics.model import dimensions
from metrics.model.i18n import metric_label, t
from metrics.model.registry import get


def _scope(wh, as_user: str | None, lang: str) -> access.Scope | None:
    """The data scope of ``as_user`` (None: the operator's, everything); a one-line :class:`UserError` in
    ``lang`` when the name is not in the users file or the file cannot be used."""
    if not as_user:
        return None
    return access_scope.scope_for(user_of(as_user, lang), key_ids=wh.key_ids)


SHOWN = ("rule_id", "metric", "slice", "kind", "period", "value", "centre", "lower", "upper", "n", "signal", "owner")


def shown(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The alerts of a check as the table prints them (:func:`metrics.alerts.readable`)."""
    return readable(df, lang, SHOWN)


def cmd_check(args: argparse.Namespace) -> None:
    from metrics import alerts

    if args.notify and args.dry_run:
        raise UserError(t("deliver.cli.notify_dry_run", args.lang))
    wh = open_warehouse(args.db)
    scope = _scope(wh, args.as_user, args.lang)
    sent = None
    if args.notify:
        from metrics.backends.connect import resolve_url
        from metrics.deliver import alert_notify

        df, sent = alert_notify.check_and_notify(wh, resolve_url(args.db), as_of=args.as_of, scope=scope,
                                                 lang=args.lang)
    else:
        df = alerts.evaluate(wh, as_of=args.as_of, scope=scope, lang=args.lang, record=not args.dry_run)
    if args.format == "table":
        if not len(df):
            print(t("alerts.none", args.lang))
        else:
            emit(shown(df, args.lang), "table")
    else:
        emit(df.drop(columns=["metric_label"]).assign(period=pd.to_datetime(df["period"]).dt.strftime("%Y-%m-%d"),
                                                      fired_at=df["fired_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
             args.format)
    if sent is None:
        return 0
    for line in sent.lines:
        print(f"servicewatch: error: {line}", file=sys.stderr)
    # the summary beside a table; on stderr when stdout is JSON or CSV for a program
    print(sent.summary(args.lang), file=sys.stdout if args.format == "table" else sys.stderr)
    return EXIT_FAILURE if sent.lines else 0


def cmd_ack(args: argparse.Namespace) -> None:
    from metrics import alerts

    wh = open_warehouse(args.db)
    scope = _scope(wh, args.as_user, args.lang)
    try:
        n = alerts.acknowledge(wh, args.rule_id, args.as_user, args.note, scope=scope, period=args.period)
    except ValueError:  # the one ValueError of acknowledge: no such rule
        raise UserError(t("cli_usage.alerts.no_rule", args.lang, rule=repr(args.rule_id))) from None
    audit_export(args, "alert_ack", {"rule_id": args.rule_id, "acknowledged": n, "note": args.note})
    print(t("alerts.acked", args.lang, rule=args.rule_id, n=n))


def cmd_rules(args: argparse.Namespace) -> None:
    from metrics import alert_rules as rule_store

    wh = open_warehouse(args.db)
    df = rule_store.rules(wh, _scope(wh, args.as_user, args.lang))
    df["filters"] = [json.dumps(f, ensure_ascii=False) for f in df["filters"]]
    df["recipients"] = [",".join(r) for r in df["recipients"]]
    df["webhooks"] = [" ".join(hook_shown(h) for h in hooks) for hooks in df["webhooks"]]  # never the token
    df["baseline"] = [f"{b[0]:%Y-%m-%d}:{b[1]:%Y-%m-%d}" if b else "" for b in df["baseline"]]
    emit(df, args.format)


def cmd_history(args: argparse.Namespace) -> None:
    from metrics import alerts

    wh = open_warehouse(args.db)
    emit(alerts.history(wh, _scope(wh, args.as_user, args.lang)), args.format)


def cmd_add(args: argparse.Namespace) -> None:
    """``alerts add RULE_ID --metric M --type K [--every month|week] [--run-rules …] [slice] [--owner]``."""
    from metrics import alert_rules as rule_store
    from metrics.analysis import alert_checks, control
    from metrics.deliver.scope import to_query
    from metrics.model.registry import UnknownMetric

    lang = args.lang
    try:
        m = get(args.metric)
    except UnknownMetric:
        raise UserError(t("cli_usage.alerts.unknown_metric", lang, metric=repr(args.metric))) from None
    if args.rule_kind not in rule_store.KINDS:
        raise UserError(t("cli_usage.alerts.unknown_kind", lang, kind=repr(args.rule_kind),
                          kinds=", ".join(rule_store.KINDS)))
    if args.every not in GRAINS:
        raise UserError(t("cli_usage.alerts.unknown_every", lang, every=repr(args.every)))
    if args.every not in m.dims:
        raise UserError(t("cli_usage.alerts.by_month_only", lang, metric=args.metric, every=args.every))
    if args.run_rules and args.rule_kind != "control":
        raise UserError(t("cli_usage.alerts.run_rules_control", lang))
    if args.baseline and args.rule_kind != "control":
        raise UserError(t("cli_usage.alerts.baseline_control", lang))
    if args.against not in alert_checks.AGAINST:
        raise UserError(t("cli_usage.alerts.unknown_against", lang, against=repr(args.against)))
    if args.against != "prev" and args.rule_kind != "change":
        raise UserError(t("cli_usage.alerts.against_change", lang))
    baseline = None
    if args.baseline:
        try:
            baseline = rule_store.parse_baseline(args.baseline)
        except ValueError:  # the one ValueError of parse_baseline: not FIRST:LAST
            raise UserError(t("cli_usage.alerts.bad_baseline", lang, baseline=repr(args.baseline))) from None
        if baseline[0] > baseline[1]:
            raise UserError(t("cli_usage.alerts.baseline_order", lang, first=baseline[0], last=baseline[1]))
    wanted = [r for r in (args.run_rules or "").split(",") if r]
    unknown = sorted(set(wanted) - set(control.RULES))
    if unknown:
        raise UserError(t("cli_usage.alerts.unknown_run_rule", lang, rules=", ".join(unknown),
                          known=", ".join(control.RULES)))
    sliced = [d for d in dimensions.LABELLED_FILTERS if getattr(args, d.name, None)]  # outlet too
    cannot = [d.name for d in sliced if d.name not in m.dims]
    if cannot:
        raise UserError(t("cli_usage.alerts.cannot_cut", lang, metric=args.metric, dims=", ".join(cannot),
                          known=", ".join(m.dims)))
    wh = open_warehouse(args.db)
    if args.rule_kind == "target" and args.metric not in set(wh.targets().get("metric", [])):
        raise UserError(t("cli_usage.alerts.no_target", lang, metric=args.metric))
    exists = set(rule_store.rules(wh)["rule_id"])
    if args.rule_id in exists and not args.replace:
        raise UserError(t("cli_usage.alerts.rule_exists", lang, rule=repr(args.rule_id)))
    recipients = {name: user_of(name, lang) for name in args.recipient}
    try:
        hooks = [parse_webhook(w) for w in args.webhook]
    except Refusal as exc:
        raise UserError(exc.text(lang)) from None
    args.start = args.end = args.period = args.as_of = None
    f = build_filters(wh, args)  # values checked; an --as-user owner only within their scope
    if f.scope is not None and f.scope.regions and not f.regions:  # an owner's rule is within their regions
        f = f.narrowed("region", f.scope.regions)
    if f.scope is not None and f.scope.outlet_ids is not None and not f.outlets:  # a hall manager's: their outlets
        f = f.narrowed("outlet", f.scope.outlet_ids)
    query = dict(parse_qsl(to_query(wh, f.with_(scope=None)), keep_blank_values=True))
    query.pop("preset", None)
    query.pop("cmp", None)
    sliced_f = rule_store.rule_filters(wh, query, f.start, f.end)
    if f.scope is not None and not rule_store.visible(sliced_f, f.scope, wh.regions(), args.metric):
        raise UserError(t("alert_scope.owner_scope", args.lang, metric=args.metric))
    for name, user in recipients.items():  # a recipient is told only of alerts within their scope
        user_scope = access_scope.scope_for(user, key_ids=wh.key_ids)
        if not rule_store.visible(sliced_f, user_scope, wh.regions(), args.metric):
            raise UserError(t("cli_usage.alerts.recipient_outside", lang, name=name))
    owner = args.owner or audit.cli_user(args.as_user)
    audit_export(args, "alert_rule", {"rule_id": args.rule_id, "metric": args.metric, "kind": args.rule_kind,
                                      "grain": args.every, "filters": query, "against": args.against,
                                      "baseline": args.baseline,
                                      "recipients": list(dict.fromkeys(args.recipient)),
                                      "webhooks": [hook_shown(h) for h in hooks]})
    rule_store.save_rules(wh, [{"rule_id": args.rule_id, "metric": args.metric, "kind": args.rule_kind, "owner": owner,
                            "filters": query, "recipients": list(dict.fromkeys(args.recipient)), "webhooks": hooks,
                            "enabled": not args.disabled, "run_rules": wanted or None, "grain": args.every,
                            "baseline": baseline, "against": args.against}])
    print(t("alerts.added", args.lang, rule=args.rule_id, metric=metric_label(args.metric, args.lang),
            kind=t(f"alerts.kind.{args.rule_kind}", args.lang), every=t(f"alerts.every.{args.every}", args.lang)))


def cmd_remove(args: argparse.Namespace) -> None:
    from metrics import alert_rules as rule_store

    wh = open_warehouse(args.db)
    scope = _scope(wh, args.as_user, args.lang)
    if scope is not None and args.rule_id not in set(rule_store.rules(wh, scope)["rule_id"]):
        raise UserError(t("cli_usage.alerts.rule_outside", args.lang, rule=repr(args.rule_id)))
    if not rule_store.remove_rule(wh, args.rule_id):
        raise UserError(t("cli_usage.alerts.no_rule", args.lang, rule=repr(args.rule_id)))
    audit_export(args, "alert_rule", {"rule_id": args.rule_id, "removed": True})
    print(t("alerts.removed", args.lang, rule=args.rule_id))


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
    c.add_argument("--notify", action="store_true", help="tell each new alert to its rule's recipients (e-mail "
                   "in their language, the rule's webhooks) once; retries what failed before (docs/alerts.md)")
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
    ad = asub.add_parser("add", help="add an alert rule: a metric, a slice, a kind and its parameters",
                         conflict_handler="resolve")
    ad.add_argument("rule_id", metavar="RULE_ID", help="a name of your choosing (letters, digits, - _ .)")
    ad.add_argument("--metric", required=True, help="a metric id (servicewatch metrics)")
    ad.add_argument("--type", dest="rule_kind", required=True, metavar="KIND",
                    help="control (a control-chart signal), target (red against its target) or change (worse than "
                         "the period before, the interval excluding 0)")
    ad.add_argument("--every", default="month", metavar="PERIOD", help="month (default) or week: the period judged "
                    "(control charts by week: the 52 weeks to it)")
    ad.add_argument("--run-rules", dest="run_rules", metavar="RULES", help="control: the run rules that alert, "
                    "comma-separated (" + ", ".join(("beyond_3sigma", "two_of_three_2sigma", "eight_one_side",
                                                     "six_trend")) + "; default all four)")
    ad.add_argument("--owner", metavar="NAME", help="who owns the rule (default --as-user, else the operator)")
    ad.add_argument("--recipient", action="append", default=[], metavar="USER", help="a user told of its alerts "
                    "(check --notify, the worker); refused when the slice is outside their scope")
    ad.add_argument("--webhook", action="append", default=[], metavar="KIND=URL", help="a group-chat robot told of "
                    "its alerts: wecom=URL, dingtalk=URL or json=URL")
    ad.add_argument("--baseline", metavar="FIRST:LAST", help="control: the periods the limits come from, e.g. "
                    "2025-01:2025-12 (default: every point before the last six of the chart)")
    ad.add_argument("--against", default="prev", metavar="PERIOD", help="change: prev (the period before, default) "
                    "or yoy (the same month a year before; a weekly rule: 52 weeks before)")
    ad.add_argument("--disabled", action="store_true", help="stored but not checked")
    ad.add_argument("--replace", action="store_true", help="change an existing rule of that id")
    add_filter_arguments(ad)
    for hidden in ("--from", "--to", "--period", "--as-of"):  # a rule has no dates: each check judges the
        ad.add_argument(hidden, help=argparse.SUPPRESS, default=None)  # newest month or week
    ad.add_argument("--compare", help=argparse.SUPPRESS, default="none")
    ad.set_defaults(func=cmd_add)
    rm = asub.add_parser("remove", help="remove an alert rule (and its recorded alerts)")
    rm.add_argument("rule_id", metavar="RULE_ID")
    rm.add_argument("--as-user", dest="as_user", metavar="NAME", help="only a rule within this user's scope")
    rm.set_defaults(func=cmd_remove)
    for q in (c, a, r, h, ad, rm):
        add_db_argument(q)
        q.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the printed text")
        if q in (c, r, h):
            q.add_argument("--format", choices=["json", "csv", "table"], default="table")


def after_change(url: str, lang: str = "en") -> None:
    """Run the alert rules after data changed (``import``, ``demo``), when there are any: one line
    with the number of alerts; a failure is a warning, the change stands. About 2 s for 100 rules at
    L (bench/alerts.py)."""
    from metrics import alerts

    try:
        found = alerts.after_change(url, lang)
    except Exception as exc:  # noqa: BLE001 - the data is in; the check is a courtesy
        print(f"servicewatch: warning: alert rules not checked ({type(exc).__name__}: {str(exc)[:160]})",
              file=sys.stderr)
        return
    if found is not None:
        print(t("alerts.after_change", lang, n=len(found)))
