"""Send what is due: queue the occurrences that came due, lease deliveries, build one pack per
distinct scope, send each (e-mail or webhook), record the outcome in the deliveries table and the
audit log. Used by ``servicewatch subscription send --due`` and by ``servicewatch worker``."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from metrics import alerts
from metrics.access import audit
from metrics.access import users as access
from metrics.access.users import Scope, User
from metrics.deliver import content, store
from metrics.deliver.lease import LEASE, PassOutcome, now_utc
from metrics.deliver.scope import OutsideScope, for_recipient, pack_key, view_filters
from metrics.deliver.transport import SendError, post_webhook, send_mail, smtp_config
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class Outcome(PassOutcome):
    """A pass over the deliveries (:class:`~metrics.deliver.lease.PassOutcome`) and the packs it built."""

    packs: int = 0  # packs built (one per distinct scope, language and format)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def digest_alerts(wh: Warehouse, f: Filters, lang: str) -> pd.DataFrame:
    """The digest's alerts (:func:`metrics.alerts.evaluate`, not recorded again): those of the
    recipient's scope, and within the view's regions when it has some."""
    scope = f.scope
    if f.regions and (scope is None or scope.manager_id is None):  # a portfolio's scope sees no region's alerts
        scope = replace(scope or Scope("view"), regions=tuple(f.regions))
    return alerts.evaluate(wh, scope=scope, lang=lang, record=False)


class Heartbeat:
    """Renew a claimed delivery's lease every third of it while the block runs (a thread), so a long
    build or send keeps the delivery this worker's; ``lost`` once a renewal finds the row taken up by
    another worker (then nothing is sent). The lease runs from ``now`` (a simulated time for
    ``send --due --now``) plus the time elapsed."""

    def __init__(self, engine, delivery_id: str, worker: str, lease: timedelta, now: datetime | None = None) -> None:
        self.engine, self.delivery_id, self.worker, self.lease = engine, delivery_id, worker, lease
        self.base, self.started = now or now_utc(), time.monotonic()
        self.stop, self.lost, self.beats = threading.Event(), False, 0
        self.thread = threading.Thread(target=self._run, name=f"lease-{delivery_id[:8]}", daemon=True)

    def _run(self) -> None:
        every = max(0.2, self.lease.total_seconds() / 3)
        while not self.stop.wait(every):
            until = self.base + timedelta(seconds=time.monotonic() - self.started) + self.lease
            try:
                held = store.renew(self.engine, self.delivery_id, self.worker, until)
            except Exception as exc:  # noqa: BLE001 - a busy store: the next beat tries again
                log.warning("delivery %s: lease not renewed (%s)", self.delivery_id, type(exc).__name__)
                continue
            self.beats += 1
            if not held:
                self.lost = True
                return

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def send_due(data_url: str, now: datetime | None = None, worker: str | None = None,
             users_file: str | None = None, lease: timedelta = LEASE, lang: str = "en") -> Outcome:
    """One pass: queue what came due by ``now`` (naive UTC), then lease and send one delivery at a
    time until none is left (the lease covers one pack's build and send; packs built in the pass are
    kept for the next recipients of the same scope). ``lang``: the language of the failure lines (the
    CLI's ``--lang``; each pack is in its recipient's own)."""
    engine = store.engine_for(store.store_url(data_url))
    worker = worker or worker_name()
    out = Outcome(queued=store.enqueue_due(engine, now), lang=lang)
    wh, users, users_error = None, {}, None  # users_error: the UsersFileError, said to each recipient
    built: dict[tuple, content.Built] = {}
    while claimed := store.claim(engine, worker, now, lease=lease):
        d = claimed[0]
        if wh is None:
            wh = Warehouse.open(data_url)
            try:
                users = {n: u for n, (u, _h) in access.load_users(users_file).items()}
            except access.UsersFileError as exc:
                users_error = exc
        sub = store.get(engine, d["subscription_id"])
        try:
            if sub is None:
                raise SendError.said("deliver.failure.subscription_removed", retry=False)
            if users_error and not d["recipient"].startswith("webhook:"):
                raise SendError.of(users_error)
            with Heartbeat(engine, d["delivery_id"], worker, lease, now) as beat:
                detail = _send_one(wh, sub, d, users, built, out, beat)
        except LeaseLost as exc:  # the row is another worker's now: not marked, not audited as a failure
            log.warning("delivery %s: %s", d["delivery_id"], exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a defect or a database error: recorded, retried, not lost
            if not isinstance(exc, SendError):
                log.error("delivery %s failed unexpectedly", d["delivery_id"], exc_info=exc)
                exc = SendError.said("deliver.failure.unexpected", kind=type(exc).__name__)
            state = store.mark_failed(engine, d, worker, str(exc), retry=exc.retry, now=now)
            out.count_failure(state, t("deliver.failure.line_subscription", lang, id=d["subscription_id"],
                                       recipient=d["recipient"], error=exc.text(lang)))
            audit.record_safely(data_url, sub.owner if sub else "?", "deliver",
                                {"subscription": d["subscription_id"], "recipient": d["recipient"], "state": state,
                                 "attempt": d["attempts"], "error": str(exc)})
            if isinstance(exc.__cause__, OutsideScope) and sub is not None:
                _tell_owner(sub, d["recipient"], users)
            continue
        if store.mark_sent(engine, d["delivery_id"], worker, now=now):
            out.sent += 1
            audit.record_safely(data_url, sub.owner, "deliver", {**detail, "state": "sent", "attempt": d["attempts"]})
    return out


def _recipient_filters(wh: Warehouse, sub: store.Subscription, d: dict, users: dict[str, User]):
    """(filters, language, address, name) of a delivery; SendError when it cannot be sent."""
    try:
        view = view_filters(wh, sub.filters)
    except ValueError as exc:
        raise SendError.of(exc, retry=False) from None
    owner = users.get(sub.owner)
    if d["recipient"].startswith("webhook:"):  # a group chat: the view in its owner's scope
        try:
            f = for_recipient(wh, view, owner) if owner else view
        except OutsideScope as exc:
            raise SendError.of(exc, retry=False) from exc
        return f, owner.lang if owner else "zh", None, None
    user = users.get(d["recipient"])
    if user is None:
        raise SendError.said("deliver.failure.no_user", retry=False, name=d["recipient"])
    if not user.email:
        raise SendError.said("deliver.failure.no_email", retry=False, name=user.name)
    try:
        f = for_recipient(wh, view, user)
    except OutsideScope as exc:
        raise SendError.of(exc, retry=False) from exc
    return f, user.lang, user.email, user.name


class LeaseLost(SendError):
    """Another worker took the delivery up while this one built it: this one sends nothing."""


def _send_one(wh: Warehouse, sub: store.Subscription, d: dict, users: dict[str, User],
              built: dict[tuple, content.Built], out: Outcome, beat: Heartbeat | None = None) -> dict:
    f, lang, address, name = _recipient_filters(wh, sub, d, users)
    webhook = d["recipient"].startswith("webhook:")
    fmt = "digest" if webhook else sub.format
    key = (pack_key(f), lang, fmt, sub.section)
    if key not in built:
        try:
            built[key] = content.build(wh, f, lang, fmt, digest_alerts(wh, f, lang) if fmt == "digest" else None,
                                       view=sub.section)
        except RuntimeError as exc:  # Chromium or kaleido missing or failing
            raise SendError.said("deliver.failure.no_pack", reason=str(exc).splitlines()[0][:200]) from None
        out.packs += 1
    b = built[key]
    if beat is not None and beat.lost:  # taken up by another worker while this one built the pack
        raise LeaseLost("the lease ran out while the pack was built; another worker sends it")
    detail = {"subscription": sub.subscription_id, "recipient": d["recipient"], "format": fmt, "lang": lang,
              "pages": len(b.pack.pages), "filters": audit.filters_detail(f), "due_at": d["due_at"]}
    if webhook:
        hook = sub.webhooks[int(d["recipient"].split(":")[1])]
        title, text = content.markdown(b, lang)
        post_webhook(hook["kind"], hook["url"], title, text)
        return {**detail, "webhook": hook["kind"]}
    try:
        cfg = smtp_config()
    except ValueError as exc:
        raise SendError.of(exc) from None
    msg = content.email(b, lang, cfg.sender, address, name, f"<{d['delivery_id']}@servicewatch>")
    send_mail(cfg, [msg])
    return {**detail, "bytes": len(b.file or b"")}


def _tell_owner(sub: store.Subscription, recipient: str, users: dict[str, User]) -> None:
    """E-mail the owner that a recipient got nothing (their scope and the view do not meet)."""
    owner = users.get(sub.owner)
    if owner is None or not owner.email:
        log.warning("subscription %s: %s is outside the view; the owner has no address", sub.subscription_id,
                    recipient)
        return
    from email.message import EmailMessage

    try:
        cfg = smtp_config()
        msg = EmailMessage()
        msg["Subject"] = msg_text = t("deliver.outside_scope", owner.lang, id=sub.subscription_id, recipient=recipient)
        msg["From"], msg["To"] = cfg.sender, owner.email
        msg.set_content(msg_text)
        send_mail(cfg, [msg])
    except (ValueError, SendError) as exc:
        log.warning("subscription %s: cannot tell the owner: %s", sub.subscription_id, exc)
