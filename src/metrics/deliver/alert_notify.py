"""Alerts told to their rules' recipients: ``servicewatch alerts check --notify`` and the worker.

Each alert event (a row of ``alert_events``: one rule, one month or week) is told once to each of its
rule's recipients, users by e-mail in their own language and the rule's group-chat webhooks (WeCom,
DingTalk, generic JSON) in its owner's. :func:`queue` writes one ``alert_notices`` row per (rule,
period, recipient) — the table's key is the dedup, so a second check queues nothing — for the alerts
just evaluated that nobody has acknowledged yet; :func:`send_queued` leases, sends and records them
like subscription deliveries (:mod:`metrics.deliver.lease`: a lease per row, back-off 1, 5, 15, 60
min, ``failed`` after :data:`~metrics.deliver.lease.MAX_ATTEMPTS` tries or at once when no retry can
help, a stable Message-ID, an audit row ``deliver`` for each outcome). At least once, as deliveries:
the one window of a repeat is between the mail server's acceptance and the row's update.

A user is told only of alerts within their scope (:func:`metrics.alert_rules.visible`, checked when sent:
a scope may have changed since the rule was written); ``alerts add --recipient`` refuses such a
recipient up front. A viewer or a hall manager is told the figures as the Alerts page computes them for
them (:func:`metrics.alerts.judge_for`, under their scope: a viewer's small groups withheld), and nothing
when the alert does not fire for them. The message: the metric, the slice by filter name in the recipient's language,
the rule and its signal with the value, limits or interval and n, and a link to the Alerts page's
control chart of that metric and slice (``$SERVICEWATCH_APP_URL``, default http://localhost:8501).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import urlencode

import pandas as pd
import sqlalchemy as sa

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access import audit
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import User
from metrics.analysis.subtitles import region_parents, scope_text
from metrics.deliver import lease as lease_rows
from metrics.deliver.lease import LEASE, PassOutcome
from metrics.deliver.transport import SendError, post_webhook, send_mail, smtp_config
from metrics.model import dimensions
from metrics.model.filters import Filters
from metrics.model.i18n import catalogue, label, metric_label, t
from metrics.model.registry import get
from metrics.model.schema import alert_events, alert_notices
from metrics.present.formatting import fmt_value

APP_URL_ENV = "SERVICEWATCH_APP_URL"
DEFAULT_APP_URL = "http://localhost:8501"
ALERTS_PATH = "Alerts"  # pages/9_Alerts.py as Streamlit serves it
log = logging.getLogger(__name__)


@dataclass
class Outcome(PassOutcome):
    """A pass over the alert notices (:class:`~metrics.deliver.lease.PassOutcome`)."""

    def summary(self, lang: str) -> str:
        return t(
            "alert_notify.summary", lang, sent=self.sent, retrying=self.retrying, failed=self.failed, queued=self.queued
        )


def targets(rule) -> list[str]:
    """Who a rule's alerts go to: its users, then ``webhook:<n>`` per webhook."""
    return [*dict.fromkeys(rule.recipients), *(f"webhook:{i}" for i in range(len(rule.webhooks)))]


# -- queueing ---------------------------------------------------------------------------------
def queue(wh, fired: pd.DataFrame, now: datetime | None = None) -> int:
    """Queue a notice per recipient of each alert in ``fired`` (:func:`metrics.alerts.evaluate`'s rows,
    recorded) not queued before and not acknowledged; how many were queued. A row another process
    queued first is left to it (the key)."""
    if fired is None or not len(fired):
        return 0
    now = now or lease_rows.now_utc()
    engine, n, e = rule_store.store(wh), alert_notices, alert_events
    by_id = {r.rule_id: r for r in rule_store.rules(wh).itertuples(index=False)}
    ids = sorted(set(fired["rule_id"]))
    with engine.connect() as conn:
        have = {
            (r, pd.Timestamp(p).date(), who)
            for r, p, who in conn.execute(sa.select(n.c.rule_id, n.c.period, n.c.recipient).where(n.c.rule_id.in_(ids)))
        }
        acked = {
            (r, pd.Timestamp(p).date())
            for r, p in conn.execute(
                sa.select(e.c.rule_id, e.c.period).where(e.c.rule_id.in_(ids) & e.c.acknowledged_at.is_not(None))
            )
        }
    queued = 0
    for row in fired.itertuples(index=False):
        rule, period = by_id.get(row.rule_id), pd.Timestamp(row.period).date()
        if rule is None or (row.rule_id, period) in acked:
            continue
        for who in targets(rule):
            if (row.rule_id, period, who) in have:
                continue
            try:
                with engine.begin() as conn:
                    conn.execute(
                        n.insert().values(
                            rule_id=row.rule_id,
                            period=period,
                            recipient=who,
                            state="queued",
                            attempts=0,
                            queued_at=now,
                            next_try_at=now,
                        )
                    )
                queued += 1
            except sa.exc.IntegrityError:  # queued by a rival check meanwhile: theirs
                continue
    return queued


# -- leasing (metrics.deliver.lease, as for deliveries) -------------------------------------------
KEY = ("rule_id", "period", "recipient")  # a notice's key columns


def claim(engine: sa.Engine, owner: str, now: datetime | None = None, lease: timedelta = LEASE) -> dict | None:
    """Lease the next due notice to ``owner`` (one ``UPDATE … WHERE`` it is still free); None when none."""
    n = alert_notices
    won = lease_rows.claim(engine, n, KEY, (n.c.queued_at, n.c.rule_id, n.c.recipient), owner, now, lease,
                           limit=1, candidates=5)
    return won[0] if won else None


def table(wh) -> pd.DataFrame:
    """The notices, newest first: rule_id, period, recipient, state, attempts, last_error, sent_at."""
    n = alert_notices
    cols = [
        n.c[c] for c in ("rule_id", "period", "recipient", "state", "attempts", "next_try_at", "last_error", "sent_at")
    ]
    with rule_store.store(wh).connect() as conn:
        result = conn.execute(sa.select(*cols).order_by(n.c.queued_at.desc(), n.c.rule_id, n.c.recipient))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


# -- the message ------------------------------------------------------------------------------
def app_url() -> str:
    return (os.environ.get(APP_URL_ENV) or DEFAULT_APP_URL).rstrip("/")


def view_link(rule) -> str:
    """The Alerts page with the rule's slice and its metric's control chart."""
    return f"{app_url()}/{ALERTS_PATH}?{urlencode({**rule.filters, 'metric': rule.metric})}"


def slice_words(wh, f: Filters, lang: str) -> str:
    """The slice by filter name: "区域：东江市；客户等级：金卡" (the whole province when none)."""
    regions = wh.regions()
    names = dict(zip(regions["region_id"].astype(int), regions["name_zh" if lang == "zh" else "name_en"], strict=True))
    sep, colon = ("；", "：") if lang == "zh" else ("; ", ": ")
    parts = []
    if f.regions:
        where = scope_text(Filters(start=f.start, end=f.end, regions=f.regions), lang, names, region_parents(regions))
        parts.append(f"{t('filter.region', lang)}{colon}{where}")
    if f.outlets:
        wh.vocabulary()  # registers the outlets' names as the outlet filter's labels
    for dim in dimensions.LABELLED_FILTERS:  # every filter but the region, outlets by name
        values = getattr(f, dim.field)
        if values:
            name = t(f"filter.{dim.name}", lang) if f"filter.{dim.name}" in catalogue() else dim.name
            parts.append(f"{name}{colon}{', '.join(label(dim.name, v, lang) for v in values)}")
    return sep.join(parts) if parts else t("filter.scope_all", lang)


def owner_words(owner: str, lang: str) -> str:
    return rule_store.owner_label(owner, lang)


def message(wh, rule, event: dict, lang: str, keys: dict[str, int] | None = None) -> tuple[str, list[str]]:
    """(subject, lines) of one alert in ``lang`` (``keys``: :func:`metrics.alert_rules.region_keys`, read once)."""
    period = pd.Timestamp(event["period"]).date()
    f = rule_store.rule_filters(wh, rule.filters, period, period, keys=keys)
    metric, unit, where = metric_label(rule.metric, lang), get(rule.metric).unit, slice_words(wh, f, lang)
    limits = json.loads(event["limits"]) if isinstance(event["limits"], str) else dict(event["limits"])

    def v(x: object) -> str:
        return "—" if x is None or pd.isna(x) else fmt_value(float(x), unit, lang)

    signal = alerts.signal_text(event["signal"], lang)
    if rule.grain == "week":
        shown_period = f"{period:%Y-%m-%d}"
    else:
        shown_period = f"{period.year}年{period.month}月" if lang == "zh" else f"{period:%Y-%m}"
    n = "—" if event["n"] is None or pd.isna(event["n"]) else f"{float(event['n']):,.0f}"
    lines = [
        t("alert_notify.intro", lang, rule=rule.rule_id),
        t("alert_notify.metric", lang, metric=metric),
        t("alert_notify.slice", lang, slice=where),
        t(f"alert_notify.period_{'week' if rule.grain == 'week' else 'month'}", lang, period=shown_period),
        t("alert_notify.rule", lang, kind=t(f"alerts.kind.{rule.kind}", lang), signal=signal),
        t(
            f"alert_notify.{rule.kind}",
            lang,
            value=v(event["value"]),
            n=n,
            centre=v(limits.get("centre")),
            lower=v(limits.get("lower")),
            upper=v(limits.get("upper")),
        ),
        t("alert_notify.link", lang, url=view_link(rule)),
        "",
        t("alert_notify.signature", lang, owner=owner_words(rule.owner, lang)),
    ]
    return t("alert_notify.subject", lang, metric=metric, slice=where, period=shown_period), lines


def _md(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_[]()#>!|<~" else c for c in str(text))


def message_id(d: dict) -> str:
    """Stable per (rule, period, recipient): a repeat after a crash can be folded by the mail system."""
    key = f"{d['rule_id']}|{pd.Timestamp(d['period']).date()}|{d['recipient']}"
    return f"<alert-{hashlib.sha1(key.encode()).hexdigest()[:24]}@servicewatch>"  # noqa: S324 - an id, not a secret


# -- sending ----------------------------------------------------------------------------------
def _send_one(wh, rule, event: dict, d: dict, users: dict[str, User], keys: dict[str, int]) -> dict:
    who = d["recipient"]
    if who.startswith("webhook:"):
        i = int(who.split(":")[1])
        if i >= len(rule.webhooks):
            raise SendError.said("deliver.failure.no_webhook", retry=False, rule=rule.rule_id, i=i)
        owner = users.get(rule.owner)
        lang = owner.lang if owner else "zh"
        subject, lines = message(wh, rule, event, lang, keys)
        hook = rule.webhooks[i]
        url = view_link(rule)  # the link as it is: a robot's markdown makes it clickable
        text = "\n".join([f"### {_md(subject)}", *(f"> {_md(x).replace(_md(url), url)}" if x else "" for x in lines)])
        post_webhook(hook["kind"], hook["url"], subject, text)
        return {"webhook": hook["kind"], "lang": lang}
    user = users.get(who)
    if user is None:
        raise SendError.said("deliver.failure.no_user", retry=False, name=who)
    if not user.email:
        raise SendError.said("deliver.failure.no_email", retry=False, name=who)
    scope = access_scope.scope_for(user, key_ids=wh.key_ids)
    f = rule_store.rule_filters(wh, rule.filters, date.today(), date.today(), keys=keys)
    if not rule_store.visible(f, scope, wh.regions(), rule.metric):
        raise SendError.said("alert_notify.outside", retry=False, rule=rule.rule_id, name=who)
    if alerts.keeps_scope(scope):  # a viewer, a hall manager: the figures as the Alerts page gives them
        hit = alerts.judge_for(wh, rule, pd.Timestamp(event["period"]).date(), scope)
        if hit is None:
            raise SendError.said("alert_scope.withheld", retry=False, rule=rule.rule_id, name=who,
                                 min=scope.min_group_size)
        event = {**event, "value": hit["value"], "n": hit["n"], "signal": hit["signal"],
                 "limits": {k: hit[k] for k in ("centre", "lower", "upper")}}
    try:
        cfg = smtp_config()
    except ValueError as exc:
        raise SendError.of(exc) from None
    subject, lines = message(wh, rule, event, user.lang, keys)
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, cfg.sender, formataddr((user.name, user.email))
    msg["Message-ID"] = message_id(d)
    msg.set_content("\n".join(lines))
    send_mail(cfg, [msg])
    return {"lang": user.lang}


def send_queued(
    wh,
    data_url: str,
    now: datetime | None = None,
    worker: str | None = None,
    users_file: str | None = None,
    lease: timedelta = LEASE,
    lang: str = "en",
) -> Outcome:
    """Lease and send every due notice, one at a time; each outcome recorded and audited. ``lang``: the
    language of the failure lines and the summary's caller (each notice is in its recipient's own)."""
    engine, worker = rule_store.store(wh), worker or f"{socket.gethostname()}:{os.getpid()}"
    out = Outcome(lang=lang)
    keys: dict[str, int] | None = None
    users, users_error = {}, None
    try:
        users = {n: u for n, (u, _h) in access.load_users(users_file).items()}
    except access.UsersFileError as exc:
        users_error = exc
    rules = {r.rule_id: r for r in rule_store.rules(wh).itertuples(index=False)}
    events = alert_events
    while (d := claim(engine, worker, now, lease)) is not None:
        rule, period = rules.get(d["rule_id"]), pd.Timestamp(d["period"]).date()
        detail = {"alert": d["rule_id"], "period": str(period), "recipient": d["recipient"], "attempt": d["attempts"]}
        try:
            with engine.connect() as conn:
                event = conn.execute(
                    sa.select(events).where((events.c.rule_id == d["rule_id"]) & (events.c.period == d["period"]))
                ).first()
            if rule is None or event is None:
                raise SendError.said("deliver.failure.alert_removed", retry=False)
            if users_error and not d["recipient"].startswith("webhook:"):
                raise SendError.of(users_error)
            if keys is None:  # read once, when there is something to send
                keys = rule_store.region_keys(wh)
            detail |= _send_one(wh, rule, dict(event._mapping), d, users, keys)
        except Exception as exc:  # noqa: BLE001 - recorded, retried, not lost
            if not isinstance(exc, SendError):
                log.error("alert notice %s → %s failed unexpectedly", d["rule_id"], d["recipient"], exc_info=exc)
                exc = SendError.said("deliver.failure.unexpected", kind=type(exc).__name__)
            state = lease_rows.mark_failed(engine, alert_notices, KEY, d, worker, str(exc), exc.retry, now)
            out.count_failure(state, t("deliver.failure.line_alert", lang, rule=d["rule_id"], period=period,
                                       recipient=d["recipient"], error=exc.text(lang)))
            audit.record_safely(
                data_url,
                rule.owner if rule is not None else "?",
                "deliver",
                {**detail, "state": state, "error": str(exc)},
            )
            continue
        if lease_rows.mark_sent(engine, alert_notices, KEY, d, worker, now):
            out.sent += 1
            audit.record_safely(data_url, rule.owner, "deliver", {**detail, "state": "sent"})
    return out


def check_and_notify(
    wh,
    data_url: str,
    as_of: date | None = None,
    scope=None,
    lang: str = "zh",
    now: datetime | None = None,
    worker: str | None = None,
    lease: timedelta = LEASE,
) -> tuple[pd.DataFrame, Outcome]:
    """Evaluate every enabled rule (recorded), queue the new alerts' notices, send what is due;
    ``lang``: the alerts' labels and the failure lines."""
    fired = alerts.evaluate(wh, as_of=as_of, scope=scope, lang=lang)
    queued = queue(wh, fired, now)
    out = send_queued(wh, data_url, now=now, worker=worker, lease=lease, lang=lang)
    out.queued = queued
    return fired, out


def pending(data_url: str, now: datetime | None = None) -> bool:
    """Whether a notice is due (the worker's cheap look before it opens the data)."""
    n, now = alert_notices, now or lease_rows.now_utc()
    with rule_store.store_for_url(data_url).connect() as conn:
        return conn.execute(sa.select(n.c.rule_id).where(lease_rows.due(n, now)).limit(1)).first() is not None
