"""Helpers of the delivery tests: a free local port and the SMTP test server's mailbox."""

from __future__ import annotations

import email
import email.policy
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the SMTP server accepted: (envelope recipients, parsed message); ``refuse``: answer 550 to
    every RCPT (a refusing server)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse = False
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]


def subscribe_daily(sw, *names: str, at: str = "00:00") -> None:
    """Subscribe ``names`` through the CLI (``sw``) to a daily digest of region 1 at ``at``, created two
    days ago: due now (today at ``at``, or yesterday's)."""
    two_days_ago = (datetime.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    argv = [x for r in names for x in ("--to", r)]
    code, _, err = sw("subscription", "add", *argv, "--every", "daily", "--at", at, "--format", "digest",
                      "--region", "1", "--now", two_days_ago)
    assert code == 0, err


COMPLAINTS_CONTROL_RULE = (
    "--metric", "complaint_rate", "--type", "control", "--run-rules", "beyond_3sigma,two_of_three_2sigma",
)


def add_complaints_rule(sw, rule_id: str, region: str, *recipients: str, webhook: str | None = None,
                        as_user: str | None = None) -> tuple[int, str, str]:
    """``servicewatch alerts add`` through the CLI (``sw``): a complaint-rate control rule ``rule_id`` on
    ``region`` told to ``recipients`` (user names) and ``webhook`` (``kind=url``), added by ``as_user``
    (the operator when None); returns (exit code, stdout, stderr)."""
    argv = [x for r in recipients for x in ("--recipient", r)]
    argv += ["--webhook", webhook] if webhook else []
    argv += ["--as-user", as_user] if as_user else []
    return sw("alerts", "add", rule_id, *COMPLAINTS_CONTROL_RULE, "--region", region, *argv)


def wait_for(predicate, seconds: float, procs: list[subprocess.Popen], step: float = 0.1) -> None:
    """Poll ``predicate`` until true; fail when ``seconds`` pass or one of the worker ``procs`` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"worker exited {p.returncode}: {p.stderr.read()[-2000:]}")
        time.sleep(step)
    pytest.fail("timed out")


def stop_worker(p: subprocess.Popen) -> None:
    """Stop a worker as a service manager does (SIGTERM, then kill after 20 s)."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
