"""STARTTLS and sign-in: a local SMTP server that offers STARTTLS with a certificate made here for
127.0.0.1 (trusted through ``SSL_CERT_FILE``), requires TLS before AUTH and checks the password. The
digest goes through when the password is right; a wrong one is refused in one line that names the
user and the server, never the password."""

from __future__ import annotations

import subprocess
import threading

import pytest

from deliver.deliver_helpers import Mailbox, free_port

pytestmark = pytest.mark.filterwarnings("ignore:The kopts argument is ignored")
PASSWORD = "Tr0ub4dor&3"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box, port, seen = Mailbox(), free_port(), {"tls": []}
    lock = threading.Lock()

    def authenticator(server, session, envelope, mechanism, auth_data):
        with lock:
            seen["tls"].append(session.ssl is not None)
        ok = auth_data.login == b"mailer" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_require_tls=True, authenticator=authenticator, auth_required=True)
    controller.start()
    yield box, port, cert, seen
    controller.stop()


def test_starttls_and_sign_in(env, sw, tls_server, monkeypatch) -> None:
    box, port, cert, seen = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # ssl.create_default_context trusts the test's certificate
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--region", "4", "--now", "2026-10-01T00:00")[0] == 0
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://mailer:wrong-{PASSWORD}@127.0.0.1:{port}?from=sw@example.com")
    code, out, err = sw("subscription", "send", "--due", "--now", "2026-11-02T10:00")
    assert code == 1
    assert err.strip() == (f"servicewatch: error: subscription 1 → dj: mail server 127.0.0.1:{port} refused the "
                           "sign-in of mailer (535)")
    assert PASSWORD not in out + err and box.messages == []
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://mailer:{PASSWORD.replace('&', '%26')}@127.0.0.1:{port}"
                                            "?from=sw@example.com")
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--region", "4", "--now", "2026-10-01T00:00")[0] == 0  # the first one failed for good
    code, out, err = sw("subscription", "send", "--due", "--now", "2026-11-02T10:00")
    assert code == 0, err
    [(rcpts, msg)] = box.messages
    assert rcpts == ["dj@example.com"] and "东江市" in msg["Subject"]
    assert len(seen["tls"]) >= 2 and all(seen["tls"])  # every sign-in (smtplib tries PLAIN, then LOGIN) after STARTTLS
