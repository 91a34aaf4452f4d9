"""The reasons a delivery fails, in the run's language (users_file.toml, deliver_reasons.toml): the real
``servicewatch subscription send`` process with ``--lang zh`` and ``--lang en`` — a users file that cannot
be used, a recipient whose scope the view misses, and a mail server on a closed port of 127.0.0.1. The
failure line is one line per delivery, without the file's path or the server's password; the Chinese
line has Chinese characters and none of the English words of the old reason. The closed port goes
through the real process; the other two through the command line's ``main`` in this process (a process
start costs seconds and adds nothing there)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from typing import NamedTuple

import pytest

from metrics.access import users as access

pytestmark = pytest.mark.filterwarnings("ignore:The kopts argument is ignored")
CJK = re.compile(r"[\u4e00-\u9fff]")
ADDED_AT = "2026-10-01T00:00"
SEND_AT = "2026-11-02T10:00"


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _send(lang: str, sw=None) -> Ran | subprocess.CompletedProcess:
    """``subscription send`` due now: through ``sw`` (in this process) when given, else a real process."""
    argv = ["subscription", "send", "--due", "--now", SEND_AT, "--lang", lang]
    if sw is not None:
        return Ran(*sw(*argv))
    return subprocess.run([sys.executable, "-m", "metrics.cli", *argv], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ))


def _reason(p: Ran | subprocess.CompletedProcess, lang: str) -> str:
    """The failure line's reason (after the subscription and recipient), the process checked."""
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr
    head = "servicewatch: error: " + ("订阅 1 → dj：" if lang == "zh" else "subscription 1 → dj: ")
    assert p.stderr.startswith(head), p.stderr
    return p.stderr.removeprefix(head).strip()


def _no_words(line: str, words: list[str]) -> None:
    assert CJK.search(line), line
    left = [w for w in words if re.search(rf"(?<![-\w]){re.escape(w)}(?![-\w])", line, re.IGNORECASE)]
    assert not left, (line, left)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_users_file_that_cannot_be_used(env, sw, mailbox, lang) -> None:
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--now", ADDED_AT)[0] == 0
    users = env["SERVICEWATCH_USERS"]
    with open(users, "w", encoding="utf-8") as fh:
        fh.write('{"version": 9, "users": {}}')
    p = _send(lang, sw)
    reason = _reason(p, lang)
    assert users not in p.stderr and os.path.dirname(users) not in p.stderr
    if lang == "en":
        assert reason == ("the users file (SERVICEWATCH_USERS) is malformed (expected version 1 and a users table) "
                          "(will retry)")
    else:
        assert "SERVICEWATCH_USERS" in reason and reason.endswith("（将重试）")
        _no_words(reason, ["users", "file", "is", "malformed", "expected", "version", "and", "a", "table"])
    assert mailbox.messages == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_recipient_outside_the_view(env, sw, mailbox, lang) -> None:
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--region", "4", "--as-user", "prov", "--now", ADDED_AT)[0] == 0
    access.remove_user("dj")  # dj moves to Nanling after subscribing
    access.add_user(access.User("dj", "manager", ("2",), email="dj@example.com"), None)
    reason = _reason(_send(lang, sw), lang)
    if lang == "en":
        assert reason == "the view has no region in the scope of dj"
    else:
        assert "dj" in reason
        _no_words(reason, ["the", "view", "has", "no", "region", "in", "scope", "of"])
    assert mailbox.to("dj@example.com") == [] and len(mailbox.to("prov@example.com")) == 1  # the owner is told


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mail_server_on_a_closed_port(env, sw, monkeypatch, request, lang) -> None:
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--now", ADDED_AT)[0] == 0
    held = socket.socket()  # bound for the test and never listening: connections are refused, and no other
    held.bind(("127.0.0.1", 0))  # process can take the port meanwhile
    request.addfinalizer(held.close)
    closed = held.getsockname()[1]
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://mailer:s3cr3t-Pw@127.0.0.1:{closed}?from=sw@example.com")
    p = _send(lang)
    reason = _reason(p, lang)
    assert "s3cr3t" not in p.stderr + p.stdout and "mailer" not in p.stderr
    if lang == "en":
        assert reason == f"cannot reach mail server 127.0.0.1:{closed} (Connection refused) (will retry)"
    else:
        assert reason == f"无法连接邮件服务器 127.0.0.1:{closed}（连接被拒绝）（将重试）"
        _no_words(reason, ["cannot", "reach", "mail", "server", "connection", "refused", "will", "retry"])
