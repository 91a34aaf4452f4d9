"""The worker's lease under long work, with real worker processes (issue 16 item 4):

* a heartbeat renews the lease while a pack is built: two workers whose lease (2 s) is shorter than one
  digest's build still send each delivery once, each on its first attempt;
* a worker killed after the mail server accepted a message but before it heard so (the server holds its
  reply) leaves the delivery to be sent again: the repeat carries the same Message-ID, derived from the
  delivery id, so a mail system recognises it as the same message."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from deliver.deliver_helpers import Mailbox, free_port, stop_worker, subscribe_daily, wait_for
from metrics.deliver import store
from metrics.deliver.lease import PassOutcome, now_utc
from metrics.deliver.run import Heartbeat

SERVICEWATCH = str(Path(sys.executable).with_name("servicewatch"))


def _worker(lease: float) -> subprocess.Popen:
    return subprocess.Popen([SERVICEWATCH, "worker", "--interval", "0.5", "--lease", str(lease)],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)








def _rows(env) -> list[dict]:
    engine = store.engine_for(store.store_url(env["SERVICEWATCH_DB"]))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.exec_driver_sql(
            "select delivery_id, recipient, state, attempts, lease_owner from deliveries")]


def test_heartbeat_keeps_a_long_build_with_its_worker(env, sw, mailbox) -> None:
    names = ("dj", "nl", "zw")
    subscribe_daily(sw, *names)
    workers = [_worker(lease=2), _worker(lease=2)]  # a digest takes longer than 2 s to build
    try:
        wait_for(lambda: len(mailbox.messages) >= len(names), 240, workers)
        time.sleep(4)  # a second worker taking a delivery up would send it now
    finally:
        for w in workers:
            stop_worker(w)
    received = Counter(r for rcpts, _m in list(mailbox.messages) for r in rcpts)
    assert received == Counter({f"{n}@example.com": 1 for n in names})
    rows = _rows(env)
    assert {r["state"] for r in rows} == {"sent"} and {r["attempts"] for r in rows} == {1}


def test_heartbeat_renews_and_notices_a_lost_lease(env, sw) -> None:
    """In-process: the heartbeat moves lease_until on; when another worker holds the row, ``lost``."""
    subscribe_daily(sw, "dj")
    engine = store.engine_for(store.store_url(env["SERVICEWATCH_DB"]))
    now = now_utc()
    store.enqueue_due(engine, now)
    [d] = store.claim(engine, "w1", now, lease=timedelta(seconds=0.6))
    with Heartbeat(engine, d["delivery_id"], "w1", timedelta(seconds=0.6), now) as beat:
        time.sleep(1.0)
        assert beat.beats >= 2 and not beat.lost
        [row] = _rows(env)
        later = store.claim(engine, "w2", now_utc(), lease=timedelta(seconds=60))
        assert later == []  # still w1's: the heartbeat kept it
        with engine.begin() as conn:  # as if w1 had stalled past its lease and w2 took the row up
            conn.exec_driver_sql("update deliveries set lease_owner = 'w2'")
        time.sleep(0.6)
        assert beat.lost


def test_a_failed_try_after_the_lease_ran_out_writes_nothing(env, sw) -> None:
    """A worker whose lease ran out while it tried, and whose row another worker claimed, records
    nothing when its try fails (``lost``: not counted as a failure or a retry); the holder's own
    failure is recorded."""
    subscribe_daily(sw, "dj")
    engine = store.engine_for(store.store_url(env["SERVICEWATCH_DB"]))
    now = now_utc()
    store.enqueue_due(engine, now)
    [first] = store.claim(engine, "w1", now, lease=timedelta(seconds=60))
    later = now + timedelta(seconds=120)  # w1's lease has run out: w2 takes the row up
    [second] = store.claim(engine, "w2", later, lease=timedelta(seconds=60))
    assert store.mark_failed(engine, first, "w1", "smtp down", now=later) == "lost"
    [row] = _rows(env)
    assert (row["state"], row["lease_owner"], row["attempts"]) == ("sending", "w2", 2)
    out = PassOutcome()
    out.count_failure("lost", "subscription 1 → dj@example.com: smtp down")
    assert out.failed == out.retrying == 0 and "lease lost" in out.lines[0]
    assert store.mark_failed(engine, second, "w2", "smtp down", now=later) == "queued"
    assert _rows(env)[0]["state"] == "queued"


class SlowFirstReply(Mailbox):
    """Accepts every message, but holds the reply to the first one (the worker never hears the 250)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.first = True

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
            first, self.first = self.first, False
        if first:
            while not self.release.is_set():
                await asyncio.sleep(0.1)
        return "250 OK"


def test_a_resend_after_a_crash_carries_the_same_message_id(env, sw, monkeypatch) -> None:
    from aiosmtpd.controller import Controller

    box, port = SlowFirstReply(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://127.0.0.1:{port}?from=servicewatch@example.com")
    subscribe_daily(sw, "dj")
    first = _worker(lease=3)
    try:
        wait_for(lambda: len(box.messages) >= 1, 120, [first])  # the server has the message; the worker waits
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        box.release.set()
        [row] = _rows(env)
        assert row["state"] == "sending"  # never marked sent: the worker died before the server's 250
        second = _worker(lease=3)
        try:
            wait_for(lambda: len(box.messages) >= 2 and _rows(env)[0]["state"] == "sent", 120, [second])
        finally:
            stop_worker(second)
    finally:
        if first.poll() is None:
            first.kill()
        controller.stop()
    [row] = _rows(env)
    ids = [m["Message-ID"] for _r, m in box.messages]
    assert ids == [f"<{row['delivery_id']}@servicewatch>"] * 2  # the same message, recognisably
    assert row["attempts"] == 2
