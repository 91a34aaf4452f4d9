"""Sending: e-mail through SMTP (``$SERVICEWATCH_SMTP``) and JSON webhooks (WeCom, DingTalk, generic).

``SERVICEWATCH_SMTP=smtp://user:password@host:587?from=sw@example.com`` (STARTTLS whenever the server
offers it) or ``smtps://…:465`` (TLS from the start); user and password are optional. The password
is never part of an error, a log line or a message: errors are :class:`SendError` with one line that
names the server by host and port only; a webhook's URL (whose query holds its robot token) is named
by its host only.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from metrics.model import i18n

SMTP_ENV = "SERVICEWATCH_SMTP"
TIMEOUT = 30  # seconds, per connection
WEBHOOK_KINDS = ("wecom", "dingtalk", "json")


class Refusal(i18n.Worded, ValueError):
    """A refusal (a ValueError) made by :meth:`said` with the catalogue's ``key`` and ``params``:
    ``str()`` is the English line (logs, the audit), :meth:`text` the line in a user's language."""


class SendError(i18n.Worded, RuntimeError):
    """A failed send, one line without secrets; ``retry``: whether a later try may succeed. One made by
    :meth:`said` is a catalogue line: its message is the English text (the queue's ``last_error``, the
    audit), :meth:`text` the line in a user's language."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry

    @classmethod
    def said(cls, key: str, retry: bool = True, **params: object) -> SendError:
        """The failure worded by the catalogue's ``key`` with ``params``."""
        return super().said(key, retry, **params)

    @classmethod
    def of(cls, exc: Exception, retry: bool = True) -> SendError:
        """``exc`` as a failed send: worded by its catalogue ``key`` and ``params`` when it has them
        (:class:`metrics.model.i18n.Worded`), its message otherwise."""
        key = getattr(exc, "key", None)
        return cls.said(key, retry, **getattr(exc, "params", {})) if key else cls(str(exc), retry)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool  # smtps: TLS from the start
    user: str | None
    password: str | None
    sender: str

    def __repr__(self) -> str:  # never the password, even in a traceback's locals
        return f"SmtpConfig({self.where()}, from={self.sender})"

    def where(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_config(url: str | None = None) -> SmtpConfig:
    """The SMTP server of ``url`` (default ``$SERVICEWATCH_SMTP``); :class:`Refusal` (a ValueError) with
    one line."""
    url = url if url is not None else os.environ.get(SMTP_ENV, "")
    if not url:
        raise Refusal.said("deliver.transport.no_smtp", env=SMTP_ENV)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refusal.said("deliver.transport.smtp_not_url", env=SMTP_ENV) from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise Refusal.said("deliver.transport.smtp_scheme", env=SMTP_ENV)
    sender = (parse_qs(parts.query).get("from") or [""])[0]
    if "@" not in sender:
        raise Refusal.said("deliver.transport.smtp_from", env=SMTP_ENV)
    tls = parts.scheme == "smtps"
    return SmtpConfig(parts.hostname, port or (465 if tls else 587), tls,
                      unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, sender)


def send_mail(cfg: SmtpConfig, messages: list[EmailMessage]) -> None:
    """Send ``messages`` over one connection; SendError (one line, no password) on any failure."""
    where = cfg.where()
    try:
        context = ssl.create_default_context()
        if cfg.tls:
            server = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=TIMEOUT, context=context)
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT)
        with server:
            server.ehlo()
            if not cfg.tls and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if cfg.user:
                if not server.has_extn("auth"):
                    raise SendError.said("deliver.transport.no_auth", retry=False, where=where)
                server.login(cfg.user, cfg.password or "")
            for msg in messages:
                server.send_message(msg)
    except SendError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError.said("deliver.transport.auth_refused", retry=False, where=where, user=cfg.user,
                             code=exc.smtp_code) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = ", ".join(f"{a} {c}" for a, (c, _m) in exc.recipients.items())
        raise SendError.said("deliver.transport.recipient_refused", retry=False, where=where, codes=codes) from None
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600
        raise SendError.said("deliver.transport.message_refused", retry=not permanent, where=where,
                             code=exc.smtp_code) from None
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        raise SendError.said("deliver.transport.mail_protocol", where=where, kind=type(exc).__name__) from None
    except TimeoutError:
        raise SendError.said("deliver.transport.mail_timeout", where=where, seconds=TIMEOUT) from None
    except OSError as exc:
        if isinstance(exc, ConnectionRefusedError):
            raise SendError.said("deliver.transport.mail_conn_refused", where=where) from None
        raise SendError.said("deliver.transport.mail_unreachable", where=where,
                             why=exc.strerror or type(exc).__name__) from None


def webhook_payload(kind: str, title: str, markdown: str) -> dict:
    """The robot's JSON: WeCom group robot, DingTalk robot, or a generic {"title", "text"}."""
    if kind == "wecom":  # content at most 4096 bytes
        content = markdown.encode("utf-8")[:4000].decode("utf-8", "ignore")
        return {"msgtype": "markdown", "markdown": {"content": content}}
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
    return {"title": title, "text": markdown}


def post_webhook(kind: str, url: str, title: str, markdown: str) -> None:
    """POST the payload; SendError naming the host only. WeCom and DingTalk answer HTTP 200 with
    ``errcode`` != 0 on refusal: that is a failure too."""
    host = urlsplit(url).hostname or "?"
    body = json.dumps(webhook_payload(kind, title, markdown), ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - the subscription's URL
            answer = resp.read(65536)
    except urllib.error.HTTPError as exc:
        raise SendError.said("deliver.transport.webhook_http", retry=exc.code >= 500 or exc.code == 429, host=host,
                             code=exc.code) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        why = getattr(reason, "strerror", None) or type(reason).__name__
        if isinstance(reason, ConnectionRefusedError):
            raise SendError.said("deliver.transport.webhook_conn_refused", host=host) from None
        raise SendError.said("deliver.transport.webhook_unreachable", host=host, why=why) from None
    if kind in ("wecom", "dingtalk"):
        try:
            code = json.loads(answer or b"{}").get("errcode", 0)
        except (ValueError, AttributeError):
            code = 0
        if code:
            raise SendError.said("deliver.transport.webhook_errcode", retry=False, host=host, code=code)


def hook_shown(hook: Mapping[str, str]) -> str:
    """A webhook as listed and recorded: its kind and host (the URL's query holds the robot's token)."""
    return f"{hook['kind']}@{urlsplit(hook['url']).hostname}"


def parse_webhook(text: str) -> dict:
    """``KIND=URL`` (wecom, dingtalk or json; http or https) as {"kind", "url"}; :class:`Refusal` (a
    ValueError) otherwise, naming the text without its query (a robot's token)."""
    kind, _, url = text.partition("=")
    if kind not in WEBHOOK_KINDS or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise Refusal.said("deliver.transport.bad_webhook", hook=repr(text.split("?")[0]))
    return {"kind": kind, "url": url}
