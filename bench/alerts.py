"""Alerts and delivery benchmarks (issue 16 item 5), at L (1M customers):

* ``alerts check`` with 100 control rules, target 30 s;
* the monthly PDF pack sent to 20 recipients of different scopes (the seven cities and thirteen districts,
  each a manager of their own region), target 10 minutes: one province subscription, ``send_due`` builds
  one pack per distinct scope and mails each through a real SMTP server the bench starts on 127.0.0.1
  (aiosmtpd), which reads every message back (recipient, attachment, the scope header).

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.alerts [--db URL] [--rules 100] [--recipients 20] [--only alerts|delivery]`. Rules,
users, subscriptions and deliveries go to stores of their own in a temporary directory; the data file is
only read. Writes bench/alerts_results.json and the alerts section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import socket
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.demo.alert_rules import HEADLINE
from metrics.query.warehouse import Warehouse

from .common import default_db
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0
DELIVERY_TARGET_S = 600.0
LOAD_BEFORE: float | None = None


def run(url: str, n_rules: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[rule_store.ALERTS_ENV] = f"sqlite:///{Path(tmp) / 'alerts.sqlite'}"
        wh = Warehouse.open(url, read_only=True, keep_open=True)
        keys = {v: k for k, v in rule_store.region_keys(wh).items()}
        regions = [int(r) for r in wh.regions()["region_id"] if int(r) != 1]
        per_metric = -(-n_rules // len(HEADLINE))
        rules = [{"rule_id": f"bench.{m}.{r}", "metric": m, "filters": {"region": keys[r]}, "owner": "bench",
                  "kind": "control"} for m in HEADLINE for r in regions[:per_metric]][:n_rules]
        rule_store.save_rules(wh, rules)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            found = alerts.evaluate(wh)
            times.append(time.perf_counter() - t0)
        wh.engine.dispose()
        os.environ.pop(rule_store.ALERTS_ENV, None)
    return {"rules": len(rules), "first_s": round(times[0], 2), "median_s": round(sorted(times)[1], 2),
            "alerts": len(found), "target_s": TARGET_S, "db": Warehouse.open(url).location,
            "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count()}


class _Mailbox:
    """What the bench's SMTP server accepted: (recipients, scope header, attachment type, bytes)."""

    def __init__(self) -> None:
        self.got: list[tuple[list[str], str, str, int]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = list(msg.iter_attachments())
        self.got.append((list(envelope.rcpt_tos), str(msg.get("X-ServiceWatch-Scope", "")),
                         parts[0].get_content_type() if parts else "", len(envelope.content)))
        return "250 OK"


def run_delivery(url: str, n_recipients: int = 20, fmt: str = "pdf") -> dict:
    """The monthly pack to ``n_recipients`` managers of different regions (cities, then districts)."""
    from aiosmtpd.controller import Controller

    from metrics.access import users as access
    from metrics.deliver import run as deliver_run
    from metrics.deliver import store
    from metrics.deliver.schedule import Schedule
    from metrics.deliver.subscribe import subscribe
    from metrics.model.filters import Filters

    saved = {k: os.environ.get(k) for k in ("SERVICEWATCH_USERS", "SERVICEWATCH_AUDIT_DB", "SERVICEWATCH_SMTP",
                                            rule_store.ALERTS_ENV)}
    box = _Mailbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, data_size_limit=256 * 2**20)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ.update({"SERVICEWATCH_USERS": str(Path(tmp) / "users.json"),
                               "SERVICEWATCH_AUDIT_DB": f"sqlite:///{Path(tmp) / 'audit.sqlite'}",
                               rule_store.ALERTS_ENV: f"sqlite:///{Path(tmp) / 'alerts.sqlite'}",
                               "SERVICEWATCH_SMTP": f"smtp://127.0.0.1:{port}?from=bench@servicewatch.example"})
            wh = Warehouse.open(url)
            regions = wh.regions()
            picked = [int(r) for lvl in ("city", "district")
                      for r in regions.loc[regions["level"] == lvl, "region_id"]][:n_recipients]
            keys = {v: k for k, v in rule_store.region_keys(wh).items()}
            users = {}
            for i, r in enumerate(picked):
                u = access.User(f"m{i:02d}", "manager", (keys[r],), email=f"m{i:02d}@bench.example",
                                lang="zh" if i % 4 else "en")
                access.add_user(u, None)
                users[u.name] = u
            engine = store.engine_for(store.store_url(url))
            as_of = wh.as_of()
            created = datetime(as_of.year, as_of.month, 1) - timedelta(days=3)  # the 1st 08:00 CST is due next
            subscribe(wh, engine, Filters(start=as_of, end=as_of), owner=None, owner_name="bench",
                      recipients=list(users), schedule=Schedule.parse("monthly:1", "08:00"), fmt=fmt,
                      users=users, now=created)
            wh.engine.dispose()
            t0 = time.perf_counter()
            out = deliver_run.send_due(url, now=datetime(as_of.year, as_of.month, 1, 6, 0))
            seconds = time.perf_counter() - t0
    finally:
        controller.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    scopes = {scope for _r, scope, _t, _n in box.got}
    return {"recipients": len(picked), "sent": out.sent, "failed": out.failed, "errors": out.lines[:3],
            "packs": out.packs, "distinct_scopes": len(scopes), "messages": len(box.got),
            "attachments": sorted({t for _r, _s, t, _n in box.got}),
            "mean_message_mb": round(sum(n for *_x, n in box.got) / max(1, len(box.got)) / 2**20, 2),
            "seconds": round(seconds, 1), "per_pack_s": round(seconds / max(1, out.packs), 1),
            "target_s": DELIVERY_TARGET_S, "format": fmt, "db": Warehouse.open(url).location,
            "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
            "load_before": LOAD_BEFORE}


def main() -> None:
    global LOAD_BEFORE
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=default_db())
    p.add_argument("--rules", type=int, default=100)
    p.add_argument("--recipients", type=int, default=20)
    p.add_argument("--only", choices=["alerts", "delivery"])
    args = p.parse_args()
    path = ROOT / "bench" / "alerts_results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results = results if "check" in results else {"check": results} if results else {}
    if args.only != "delivery":
        results["check"] = run(args.db, args.rules)
    if args.only != "alerts":
        LOAD_BEFORE = round(os.getloadavg()[0], 2)
        results["delivery"] = run_delivery(args.db, args.recipients)
    path.write_text(json.dumps(results, indent=1) + "\n")
    body = []
    res = results.get("check")
    if res:
        ok = "yes" if res["median_s"] <= TARGET_S else "**no**"
        body.append(f"""### Alerts: `servicewatch alerts check` (bench/alerts.py)

{res['rules']} control rules (five headline metrics × {res['rules'] // len(HEADLINE)} regions, 24 months each),
{res['db']}, {res['cpus']} CPUs, {res['measured']}: first run {res['first_s']} s, median of three
{res['median_s']} s ({res['alerts']} alerts); target {TARGET_S:.0f} s at L: {ok}. Each rule is one
monthly query (over the rollups) and a control chart.""")
    res = results.get("delivery")
    if res:
        ok = "yes" if res["seconds"] <= DELIVERY_TARGET_S and not res["failed"] else "**no**"
        body.append(f"""### Delivery: the monthly pack to {res['recipients']} recipients (bench/alerts.py)

One province subscription ({res['format']}) sent by `send_due` to {res['recipients']} managers of different
regions (cities and districts), {res['db']}, {res['cpus']} CPUs (load average {res['load_before']} when it
started), {res['measured']}: {res['sent']} sent, {res['failed']} failed, {res['packs']} packs built (one per
distinct scope), {res['messages']} messages read back by the bench's SMTP server with {res['distinct_scopes']}
different scope headers, {res['mean_message_mb']} MB each; {res['seconds']} s in all, {res['per_pack_s']} s per
pack; target {DELIVERY_TARGET_S / 60:.0f} min at L: {ok}.""")
    write_section("alerts", "\n\n".join(body))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
