"""``servicewatch subscription add|list|remove|send`` and ``servicewatch worker``: scheduled delivery of
the meeting pack or a digest to users (each in their own scope) and group-chat webhooks.

Same conventions as :mod:`metrics.cli.main`: one line on stderr and a non-zero exit for anything a
user can cause; a refused ``add`` writes nothing. See docs/deliver.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from metrics.access import audit
from metrics.access import users as access
from metrics.backends.connect import resolve_url
from metrics.cli.common import EXIT_FAILURE, UserError, emit, open_filtered, open_warehouse
from metrics.cli.options import (
    add_db_argument,
    add_filter_arguments,
    add_format_argument,
    add_lang_argument,
    add_listing_command,
)
from metrics.deliver import store
from metrics.deliver.lease import LEASE, now_utc
from metrics.deliver.schedule import DEFAULT_TIME_ZONE, Schedule, ScheduleError, next_due
from metrics.deliver.scope import PRESETS
from metrics.deliver.subscribe import Refused, addressable, subscribe, unsubscribe
from metrics.deliver.transport import Refusal, parse_webhook
from metrics.model.i18n import t


def _now(text: str | None, zone: str, lang: str) -> datetime:
    """``--now``: an ISO date-time (with an offset, or wall-clock in ``zone``) as naive UTC; one line
    in ``lang`` when it is not one."""
    if not text:
        return now_utc()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(t("subscription_cli.bad_now", lang, value=repr(text))) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC).replace(tzinfo=None)


def _engine(args: argparse.Namespace):
    return store.engine_for(store.store_url(resolve_url(args.db)))


def cmd_add(args: argparse.Namespace) -> None:
    """Add a subscription; every refusal is one line in ``--lang`` and writes nothing."""
    lang = args.lang
    try:
        when = Schedule.parse(args.every, args.at, args.tz)
        hooks = [parse_webhook(w) for w in args.webhook]
    except (ScheduleError, Refusal) as exc:
        raise UserError(exc.text(lang)) from None
    if args.start:
        raise UserError(t("subscription_cli.no_dates", lang))
    if not args.to and not hooks:
        raise UserError(t("subscription_cli.no_target", lang))
    known = {n: u for n, (u, _h) in access.load_users().items()}
    try:  # before the data is opened: a misspelt name is said at once
        addressable(args.to, known)
    except Refused as exc:
        raise UserError(exc.text(lang)) from None
    wh, f = open_filtered(args)  # values checked; an --as-user owner only within their own scope
    owner = access.get_user(args.as_user) if args.as_user else None
    now = _now(args.now, args.tz, lang)
    try:
        sid = subscribe(wh, _engine(args), f, owner=owner, owner_name=audit.cli_user(args.as_user),
                        recipients=args.to, webhooks=hooks, preset=args.period, section=args.section,
                        fmt=args.format, schedule=when, users=known, now=now)
    except Refused as exc:
        raise UserError(exc.text(lang)) from None
    first = next_due(when, now.replace(tzinfo=UTC)).astimezone(when.zone)
    print(t("subscription_cli.added", lang, id=sid, format=args.format, every=when.every, at=args.at,
            zone=when.zone.key, users=len(set(args.to)), webhooks=len(hooks), first=f"{first:%Y-%m-%d %H:%M %Z}"))


def _emit(df: pd.DataFrame, fmt: str, none: str, lang: str) -> None:
    """A listing as :func:`emit` prints it; an empty table is the catalogue's line ``none`` in ``lang``."""
    if fmt == "table" and not len(df):
        print(t(none, lang))
    else:
        emit(df, fmt)


def cmd_list(args: argparse.Namespace) -> None:
    """The subscriptions and when each is due next (stable column names; an empty table in ``--lang``)."""
    rows = []
    for s in store.all_subscriptions(_engine(args)):
        due = next_due(s.when, (s.last_due_at or s.created_at).replace(tzinfo=UTC)).astimezone(s.when.zone)
        rows.append({"id": s.subscription_id, "owner": s.owner, "recipients": " ".join(s.recipients),
                     "webhooks": " ".join(h["kind"] for h in s.webhooks), "format": s.format,
                     "schedule": s.schedule, "at": s.at_time, "time_zone": s.time_zone, "filters": s.filters,
                     "next_due": f"{due:%Y-%m-%d %H:%M}", "enabled": s.enabled})
    _emit(pd.DataFrame(rows, columns=["id", "owner", "recipients", "webhooks", "format", "schedule", "at",
                                      "time_zone", "filters", "next_due", "enabled"]),
          args.format, "subscription_cli.no_subscriptions", args.lang)


def cmd_remove(args: argparse.Namespace) -> None:
    """Remove a subscription (and its unsent deliveries); an unknown id is one line in ``--lang``."""
    if not unsubscribe(resolve_url(args.db), _engine(args), args.id, audit.cli_user(getattr(args, "as_user", None))):
        raise UserError(t("subscription_cli.no_subscription", args.lang, id=args.id))
    print(t("subscription_cli.removed", args.lang, id=args.id))


def cmd_send(args: argparse.Namespace) -> int:
    from metrics.deliver import run  # the meeting pack's builder: imported by the commands that send

    if not args.due:
        raise UserError(t("deliver.cli.give_due", args.lang))
    out = run.send_due(resolve_url(args.db), now=_now(args.now, DEFAULT_TIME_ZONE, args.lang), lang=args.lang)
    for line in out.lines:
        print(f"servicewatch: error: {line}", file=sys.stderr)
    print(t("deliver.cli.summary", args.lang, sent=out.sent, retrying=out.retrying, failed=out.failed,
            queued=out.queued, packs=out.packs))
    return EXIT_FAILURE if out.lines else 0


def cmd_deliveries(args: argparse.Namespace) -> None:
    """Deliveries and their state (stable column names; an empty table in ``--lang``)."""
    _emit(store.table(_engine(args), tuple(args.state) or None), args.format, "subscription_cli.no_deliveries",
          args.lang)


def cmd_worker(args: argparse.Namespace) -> int:
    """Send what is due every ``--interval`` seconds until stopped (SIGTERM or Ctrl-C)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from metrics.deliver import run

    url = resolve_url(args.db)
    _engine(args)  # the store reachable (and its tables created) before the first pass
    name = run.worker_name()

    def one_pass() -> None:
        try:
            out = run.send_due(url, worker=name, lease=timedelta(seconds=args.lease), lang=args.lang)
        except Exception as exc:  # noqa: BLE001 - a pass that failed: said in one line, the next pass runs
            print(f"servicewatch worker: {t('deliver.cli.pass_failed', args.lang, kind=type(exc).__name__)}",
                  file=sys.stderr, flush=True)
            return
        for line in out.lines:
            print(f"servicewatch worker: {line}", file=sys.stderr, flush=True)
        if out.queued or out.sent or out.lines:
            print("servicewatch worker: " + t("deliver.cli.worker_summary", args.lang, sent=out.sent,
                                              retrying=out.retrying, failed=out.failed), flush=True)
        if args.alerts_every > 0:  # alert notices whose back-off ran out: the next pass, not the next check
            _alerts_pass(url, name, args, check=False)

    scheduler = BlockingScheduler(timezone=DEFAULT_TIME_ZONE)
    scheduler.add_job(one_pass, "interval", seconds=args.interval, next_run_time=datetime.now(UTC),
                      max_instances=1, coalesce=True, id="send_due")
    if args.alerts_every > 0:
        scheduler.add_job(_alerts_pass, "interval", args=(url, name, args), seconds=args.alerts_every,
                          next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, id="alerts_check")
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    print(f"servicewatch worker {name}: sending what is due every {args.interval} s"
          + (f", checking alert rules every {args.alerts_every:g} s" if args.alerts_every > 0 else ""), flush=True)
    scheduler.start()
    return 0


def _alerts_pass(url: str, name: str, args: argparse.Namespace, check: bool = True) -> None:
    """The worker's ``alerts check --notify`` (``check``), or only the notices due again after a failed
    try; a failure is one line, the next pass runs."""
    from metrics.deliver import alert_notify

    try:
        if not check and not alert_notify.pending(url):
            return
        wh = open_warehouse(args.db)
        try:
            if check:
                _fired, out = alert_notify.check_and_notify(wh, url, worker=name, lang=args.lang,
                                                            lease=timedelta(seconds=args.lease))
            else:
                out = alert_notify.send_queued(wh, url, worker=name, lease=timedelta(seconds=args.lease),
                                               lang=args.lang)
        finally:
            wh.engine.dispose()
    except Exception as exc:  # noqa: BLE001 - said in one line, the next pass runs
        print(f"servicewatch worker: {t('deliver.cli.alerts_failed', args.lang, kind=type(exc).__name__)}",
              file=sys.stderr, flush=True)
        return
    for line in out.lines:
        print(f"servicewatch worker: {line}", file=sys.stderr, flush=True)
    if out.queued or out.sent or out.lines:
        print(f"servicewatch worker: {out.summary(args.lang)}", flush=True)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``subscription`` and ``worker`` on the main parser's subcommands."""
    s = sub.add_parser("subscription", help="scheduled delivery of the pack or a digest (e-mail, webhooks)")
    ssub = s.add_subparsers(dest="subscription_command", required=True, metavar="ACTION")
    a = ssub.add_parser("add", help="subscribe users (each gets their own scope) and webhooks to a view",
                        conflict_handler="resolve")  # --to names users here: the period is --period
    add_db_argument(a)
    add_filter_arguments(a)
    a.add_argument("--to", dest="to", action="append", default=[], metavar="USER", help="a user of "
                   "$SERVICEWATCH_USERS with an e-mail address (repeat for more)")
    a.add_argument("--from", dest="start", help=argparse.SUPPRESS)  # refused: a subscription has no fixed dates
    a.set_defaults(end=None)
    a.add_argument("--webhook", action="append", default=[], metavar="KIND=URL",
                   help="a group-chat robot: wecom=URL, dingtalk=URL or json=URL (the owner's scope)")
    a.add_argument("--every", required=True, metavar="SCHEDULE", help="daily, weekly:MON … weekly:SUN, monthly:1 … "
                   "monthly:31 (a short month: its last day)")
    a.add_argument("--at", required=True, metavar="HH:MM", help="time of day in --tz")
    a.add_argument("--tz", default=DEFAULT_TIME_ZONE, metavar="ZONE", help="IANA time zone (default Asia/Shanghai)")
    a.add_argument("--format", required=True, choices=["pdf", "pptx", "digest"])
    a.add_argument("--period", choices=PRESETS, default="last_month",
                   help="the period of each delivery, up to the data's as-of date (default last_month)")
    a.add_argument("--section", metavar="ID", help="the page or section subscribed from (kept with the view)")
    a.add_argument("--now", metavar="DATETIME", help=argparse.SUPPRESS)  # as if added at (tests, backfills)
    add_lang_argument(a, "language of the printed line and of a refusal")
    a.set_defaults(func=cmd_add)
    ls = add_listing_command(ssub, "list", "list the subscriptions and when each is due next", cmd_list)
    add_lang_argument(ls, "language of an empty list's line")
    rm = ssub.add_parser("remove", help="remove a subscription (and its unsent deliveries)")
    add_db_argument(rm)
    rm.add_argument("id", type=int)
    add_lang_argument(rm, "language of the printed line and of a refusal")
    rm.set_defaults(func=cmd_remove)
    sd = ssub.add_parser("send", help="send what is due now (for cron or Airflow)")
    add_db_argument(sd)
    sd.add_argument("--due", action="store_true", help="every delivery due by now (or --now)")
    sd.add_argument("--now", metavar="DATETIME", help="as if it were DATETIME (ISO; wall-clock in Asia/Shanghai "
                    "unless it has an offset)")
    sd.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the failure lines")
    sd.set_defaults(func=cmd_send)
    dl = ssub.add_parser("deliveries", help="list deliveries and their state (failed ones with their reason)")
    add_db_argument(dl)
    dl.add_argument("--state", action="append", default=[], choices=["queued", "sending", "sent", "failed"])
    add_format_argument(dl)
    add_lang_argument(dl, "language of an empty list's line")
    dl.set_defaults(func=cmd_deliveries)

    w = sub.add_parser("worker", help="a long-running scheduler that sends what is due (lease in the database)")
    add_db_argument(w)
    w.add_argument("--interval", type=float, default=60.0, metavar="SECONDS", help="how often to look (default 60)")
    w.add_argument("--lease", type=float, default=LEASE.total_seconds(), metavar="SECONDS",
                   help="how long a claimed delivery is this worker's before another may take it up (default 900; "
                        "longer than building and sending one pack)")
    w.add_argument("--alerts-every", dest="alerts_every", type=float, default=3600.0, metavar="SECONDS",
                   help="how often to run the alert rules and tell new alerts to their recipients, as alerts check "
                        "--notify does (default 3600; 0: never)")
    w.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the log's failure lines")
    w.set_defaults(func=cmd_worker)
