"""``servicewatch worker`` as a real process: killed with SIGKILL in the middle of a run and restarted,
every recipient gets their digest exactly once; two workers at once never send one delivery twice
(the lease: ``UPDATE … WHERE`` queued or expired)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from deliver.deliver_helpers import stop_worker, subscribe_daily, wait_for
from metrics.deliver import store

SERVICEWATCH = str(Path(sys.executable).with_name("servicewatch"))
RECIPIENTS = ("dj", "nl", "zw", "prov")  # four scopes: four packs, ~5 s each


def _worker(lease: int) -> subprocess.Popen:
    return subprocess.Popen([SERVICEWATCH, "worker", "--interval", "1", "--lease", str(lease)], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _sent(env) -> int:
    table = store.table(store.engine_for(store.store_url(env["SERVICEWATCH_DB"])))
    return int((table["state"] == "sent").sum())


def _received(mailbox) -> Counter:
    return Counter(rcpt for rcpts, _m in list(mailbox.messages) for rcpt in rcpts)


def _ids(mailbox) -> list[str]:
    return [m["Message-ID"] for _r, m in list(mailbox.messages)]


def test_killed_mid_run_and_restarted_sends_each_once(env, sw, mailbox) -> None:
    subscribe_daily(sw, *RECIPIENTS, at="00:00")
    first = _worker(lease=8)
    try:
        # the first delivery accepted by the server *and* recorded as sent: killing between the two is the
        # one window SMTP leaves (the stable Message-ID lets a mail client drop that repeat), not this test's
        wait_for(lambda: len(mailbox.messages) >= 1 and _sent(env) >= 1, 120, [first])
        os.killpg(first.pid, signal.SIGKILL)  # in the middle: building the next recipient's pack
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    sent_before = len(mailbox.messages)
    assert sent_before < len(RECIPIENTS)  # really killed mid-run
    states = store.table(store.engine_for(store.store_url(env["SERVICEWATCH_DB"])))
    assert "sending" in set(states["state"]) or "queued" in set(states["state"])
    second = _worker(lease=8)
    try:  # the killed worker's lease runs out (8 s) and the restarted one takes the delivery up
        wait_for(lambda: len(mailbox.messages) >= len(RECIPIENTS), 180, [second])
        time.sleep(3)  # a repeat would arrive now
    finally:
        stop_worker(second)
    assert _received(mailbox) == Counter({f"{r}@example.com": 1 for r in RECIPIENTS})
    assert len(set(_ids(mailbox))) == len(RECIPIENTS)
    table = store.table(store.engine_for(store.store_url(env["SERVICEWATCH_DB"])))
    assert list(table["state"]) == ["sent"] * len(RECIPIENTS)
    assert table["attempts"].max() <= 2  # the interrupted one tried twice, the others once


def test_two_workers_never_send_one_delivery_twice(env, sw, mailbox) -> None:
    subscribe_daily(sw, *RECIPIENTS, at="00:00")
    workers = [_worker(lease=60), _worker(lease=60)]
    try:
        wait_for(lambda: len(mailbox.messages) >= len(RECIPIENTS), 180, workers)
        time.sleep(4)  # both keep polling every second: any double send would arrive now
    finally:
        for w in workers:
            stop_worker(w)
    assert _received(mailbox) == Counter({f"{r}@example.com": 1 for r in RECIPIENTS})
    engine = store.engine_for(store.store_url(env["SERVICEWATCH_DB"]))
    table = store.table(engine)
    assert list(table["state"]) == ["sent"] * len(RECIPIENTS) and set(table["attempts"]) == {1}
    with engine.connect() as conn:
        owners = {r[0] for r in conn.exec_driver_sql("select lease_owner from deliveries")}
    print(f"deliveries sent by {len(owners)} worker(s): {sorted(owners)}")
