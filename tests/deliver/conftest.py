"""Shared fixtures of the delivery tests: a DuckDB demo copy with the default alert rules, a users file
(a province manager and city managers with addresses and languages), a real SMTP server on 127.0.0.1
(aiosmtpd) that keeps every message, and a local HTTP receiver for the webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deliver.deliver_helpers import Mailbox, free_port
from metrics.cli import main as cli


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture()
def mailbox(smtp_server: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    """An empty mailbox and ``$SERVICEWATCH_SMTP`` pointing at it (a user name given: no AUTH offered
    without TLS here, so the URL carries no user; the password tests use their own URL)."""
    box, port = smtp_server
    with box.lock:
        box.messages.clear()
    box.refuse = False
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://127.0.0.1:{port}?from=servicewatch@example.com")
    return box


class Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.status = 200
        self.answer = b'{"errcode": 0}'


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[tuple[Receiver, int]]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            rec.posts.append((self.path, json.loads(body.decode("utf-8"))))
            self.send_response(rec.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(rec.answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield rec, server.server_address[1]
    server.shutdown()


USERS = (  # name, role, regions, e-mail, language
    ("prov", "manager", ["1"], "prov@example.com", "zh"),
    ("dj", "manager", ["4"], "dj@example.com", "zh"),  # Dongjiang: the demo's planted deterioration
    ("nl", "manager", ["2"], "nl@example.com", "en"),  # Nanling, in English
    ("zw", "manager", ["3"], "zw@example.com", "zh"),  # Zhuwan
    ("noaddr", "manager", ["5"], None, "zh"),
    ("boss", "admin", [], "boss@example.com", "zh"),
)


@pytest.fixture(scope="session")
def deliver_db(tmp_path_factory: pytest.TempPathFactory, demo_frames: dict) -> tuple[str, Path]:
    """A DuckDB copy of the demo (its own alert store beside it) with the default alert rules."""
    from metrics.demo import alert_rules
    from metrics.ingest.load import replace_all
    from metrics.query.warehouse import Warehouse

    folder = tmp_path_factory.mktemp("deliver")
    url = f"duckdb:///{folder / 'sw.duckdb'}"
    replace_all(url, demo_frames)
    alert_rules.install(Warehouse.open(url))
    return url, folder


@pytest.fixture()
def env(deliver_db: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh users file and subscription/audit store per test, over the shared demo copy."""
    url, _folder = deliver_db
    users = tmp_path / "users.json"
    values = {"SERVICEWATCH_DB": url, "SERVICEWATCH_USERS": str(users),
              "SERVICEWATCH_AUDIT_DB": f"sqlite:///{tmp_path / 'audit.sqlite'}"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SERVICEWATCH_ALERTS_DB", raising=False)
    for name, role, regions, address, lang in USERS:
        argv = ["user", "add", name, "--role", role, "--no-password", "--lang", lang]
        argv += ["--regions", *regions] if regions else []
        argv += ["--email", address] if address else []
        assert cli.main(argv) == 0
    return values


@pytest.fixture()
def rules_env(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``env`` with an alert store of its own (the shared demo copy's rules stay as they are)."""
    monkeypatch.setenv("SERVICEWATCH_ALERTS_DB", f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    return env
