"""Subscriptions end to end through the command line: packs and digests by e-mail to a real SMTP server
on 127.0.0.1 (messages read back), webhooks to a local HTTP receiver, each recipient's own scope, the
refusals, failures and retries (one line, no password, nothing half-written), the audit log and the
Admin page's list of failures."""

from __future__ import annotations

import json
import re
import subprocess

import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.access import audit
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.deliver import store
from metrics.model.filters import Filters, preset_period
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

pytestmark = pytest.mark.filterwarnings("ignore:The kopts argument is ignored")
CITIES_ZH = {"dj": "东江市", "nl": "南岭市", "zw": "珠湾市"}
ADDED_AT = "2026-10-01T00:00"  # subscriptions "added" then; monthly:1 08:00 is next due 2026-11-01 08:00 CST
SEND_AT = "2026-11-02T10:00"


def _deliveries(env: dict) -> pd.DataFrame:
    return store.table(store.engine_for(store.store_url(env["SERVICEWATCH_DB"])))


def _audit(env: dict) -> pd.DataFrame:
    log = audit.read(env["SERVICEWATCH_DB"])
    return log[log["action"] == "deliver"]


def _pdf_text(data: bytes, tmp_path, name: str) -> tuple[int, str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return pages, text


def test_province_pack_goes_to_each_city_manager_in_their_scope(env, sw, mailbox, tmp_path) -> None:
    code, out, err = sw("subscription", "add", "--to", "dj", "--to", "nl", "--to", "zw", "--every", "monthly:1",
                        "--at", "08:00", "--format", "pdf", "--region", "1", "--as-user", "prov", "--now", ADDED_AT)
    assert code == 0, err
    assert "first due 2026-10-01 08:00" in out
    code, out, err = sw("subscription", "send", "--due", "--now", SEND_AT)
    assert code == 0, err
    assert out.strip() == "3 sent, 0 to retry, 0 failed (3 queued, 3 packs built)"
    for name, city in CITIES_ZH.items():
        [msg] = mailbox.to(f"{name}@example.com")  # exactly one each
        assert msg["To"].addresses[0].addr_spec == f"{name}@example.com"
        [part] = [p for p in msg.iter_attachments()]
        assert part.get_content_type() == "application/pdf"
        data = part.get_content()
        assert data[:5] == b"%PDF-"
        pages, text = _pdf_text(data, tmp_path, name)
        assert pages >= 5
        if name == "nl":  # English
            assert msg["Subject"] == "Service quality review: Nanling"
            assert "Nanling" in text and "Dongjiang" not in text and "Zhuwan" not in text
        else:
            assert msg["Subject"] == f"服务质量月度通报：{city}"  # Chinese, decoded from the header
            assert city in text  # the scope stamped on the pack
            assert not [c for c in CITIES_ZH.values() if c != city and c in text]  # never another city
            assert "2026-10-01 – 2026-10-31" in text  # last month up to the data's as-of
        assert part.get_filename().endswith(".pdf")
    # sent once: a second pass at the same time, or later the same month, sends nothing
    code, out, _ = sw("subscription", "send", "--due", "--now", "2026-11-20T10:00")
    assert out.strip().startswith("0 sent") and len(mailbox.messages) == 3
    rows = _audit(env)
    assert len(rows) == 3
    details = [json.loads(d) for d in rows["detail"]]
    assert {d["recipient"] for d in details} == {"dj", "nl", "zw"} and {d["state"] for d in details} == {"sent"}
    assert {d["filters"]["scope_user"] for d in details} == {"dj", "nl", "zw"}
    assert set(_deliveries(env)["state"]) == {"sent"}


def test_digest_holds_own_figures_and_alerts_and_webhooks(env, sw, mailbox, webhook_receiver) -> None:
    rec, port = webhook_receiver
    rec.posts.clear()
    hooks = [f"wecom=http://127.0.0.1:{port}/cgi-bin/webhook/send?key=WECOMTOKEN",
             f"dingtalk=http://127.0.0.1:{port}/robot/send?access_token=DDTOKEN",
             f"json=http://127.0.0.1:{port}/generic"]
    code, _, err = sw("subscription", "add", "--to", "dj", "--to", "nl", "--every", "weekly:MON", "--at", "09:00",
                      "--format", "digest", "--region", "1", "--as-user", "boss", "--now", ADDED_AT,
                      *[x for h in hooks for x in ("--webhook", h)])
    assert code == 0, err
    code, out, err = sw("subscription", "send", "--due", "--now", SEND_AT)  # Monday 2026-11-02 09:00 was due
    assert code == 0, err
    assert out.strip() == "5 sent, 0 to retry, 0 failed (5 queued, 3 packs built)"  # dj, nl, the province view

    wh = Warehouse.open(env["SERVICEWATCH_DB"])
    start, end = preset_period("last_month", wh.as_of())

    def csat(user: str | None, regions: tuple[int, ...]) -> float:
        scope = access_scope.scope_for(access.get_user(user), key_ids=wh.key_ids) if user else None
        return float(wh.metric("csat", Filters(start=start, end=end, regions=regions, scope=scope))["value"].iloc[0])

    [dj] = mailbox.to("dj@example.com")
    text = dj.get_body(("plain",)).get_content()
    html = dj.get_body(("html",)).get_content()
    own, province = fmt_value(csat("dj", (4,)), "share", "zh"), fmt_value(csat(None, (1,)), "share", "zh")
    assert own != province  # the test can tell the two apart
    assert re.search(rf"满意度[^|\n]*\| {re.escape(own)} \|", text), text[:800]
    assert f"<td>{own}</td>" in html
    assert "东江市" in dj["Subject"] and "东江市" in text
    assert not [c for c in ("南岭市", "珠湾市", "西樵市", "梅岭市", "海陵市", "青溪市") if c in text + html]
    assert "预警" in text and "东江市：" in text and "投诉率" in text  # the planted deterioration as an alert
    pngs = [p for p in dj.walk() if p.get_content_type() == "image/png"]
    assert len(pngs) == 3 and all(p.get_content()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert all(f"cid:{p['Content-ID'][1:-1]}" in html for p in pngs)  # inline, referenced by the HTML

    [nl] = mailbox.to("nl@example.com")
    nl_text = nl.get_body(("plain",)).get_content()
    assert nl["Subject"] == "Service quality review digest: Nanling"
    assert "No alerts this period." in nl_text and "Dongjiang" not in nl_text  # stable region: none

    posts = dict(rec.posts)
    wecom = posts["/cgi-bin/webhook/send?key=WECOMTOKEN"]
    assert wecom["msgtype"] == "markdown" and "岭南省" in wecom["markdown"]["content"]
    assert len(wecom["markdown"]["content"].encode()) <= 4096
    ding = posts["/robot/send?access_token=DDTOKEN"]
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"] == "服务质量月度通报"
    assert "东江市" in ding["markdown"]["text"]  # the province view's alerts name the city
    generic = posts["/generic"]
    assert set(generic) == {"title", "text"} and "满意度" in generic["text"]
    assert len(_audit(env)) == 5


@pytest.mark.parametrize(("argv", "message"), [
    (["--to", "dj", "--every", "fortnightly"], "invalid schedule 'fortnightly'"),
    (["--to", "dj", "--every", "daily", "--at", "7am"], "invalid time '7am'"),
    (["--to", "ghost"], "unknown user 'ghost'"),
    (["--to", "noaddr"], "user noaddr has no e-mail address"),
    (["--to", "dj", "--region", "2"], "refused: the view is outside the data scope of dj"),
    (["--to", "dj", "--to", "nl", "--region", "4"], "outside the data scope of nl"),
    (["--to", "dj", "--region", "2", "--as-user", "dj"], "outside your scope"),  # the owner's own scope
    (["--webhook", "slack=http://x/y"], "invalid --webhook 'slack=http://x/y'"),
    (["--to", "dj", "--tier", "platinum-ish"], "unknown tier platinum-ish"),
])
def test_refused_add_says_one_line_and_writes_nothing(env, sw, argv, message) -> None:
    full = ["subscription", "add", "--every", "daily", "--at", "08:00", "--format", "digest"] + argv
    code, out, err = sw(*full)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert sw("subscription", "list")[1].strip() == "(no rows)"


def test_failures_retry_with_backoff_then_fail_without_secrets(env, sw, mailbox, smtp_server, monkeypatch) -> None:
    from servicewatch.deliveries import failed_deliveries

    _box, port = smtp_server
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--now", ADDED_AT)[0] == 0
    closed = port + 1 if port < 65000 else port - 1
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://mailer:s3cr3t-Pw@127.0.0.1:{closed}?from=sw@example.com")
    code, out, err = sw("subscription", "send", "--due", "--now", "2026-11-02T10:00")
    assert code == 1
    assert err.strip() == (f"servicewatch: error: subscription 1 → dj: cannot reach mail server 127.0.0.1:{closed} "
                           "(Connection refused) (will retry)")
    d = _deliveries(env).iloc[0]
    assert (d["state"], d["attempts"]) == ("queued", 1)
    assert sw("subscription", "send", "--due", "--now", "2026-11-02T10:00:30")[1].startswith("0 sent")  # back-off
    # the server refuses the recipient (550): final at once, no retry can change it
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://127.0.0.1:{port}?from=sw@example.com")
    mailbox.refuse = True
    code, out, err = sw("subscription", "send", "--due", "--now", "2026-11-02T10:02")
    assert code == 1 and "refused the recipient (dj@example.com 550)" in err and "will retry" not in err
    d = _deliveries(env).iloc[0]
    assert (d["state"], d["attempts"]) == ("failed", 2)
    failed = failed_deliveries("zh")
    assert list(failed.columns) == ["订阅编号", "接收人", "应发时间（UTC）", "尝试次数", "失败原因"]
    assert failed.iloc[0]["接收人"] == "dj" and "550" in failed.iloc[0]["失败原因"]
    everything = err + out + _deliveries(env).to_string() + audit.read(env["SERVICEWATCH_DB"]).to_string()
    assert "s3cr3t" not in everything
    assert [json.loads(x)["state"] for x in _audit(env)["detail"]] == ["failed", "queued"]  # newest first
    assert mailbox.messages == []


def test_failure_lines_in_the_users_language(env, sw, smtp_server, monkeypatch) -> None:
    """``subscription send --lang zh``: the failure line, its note and the summary from the catalogue in
    Chinese, the transport's reason too (deliver_reasons.toml); without --due, one zh line."""
    _box, port = smtp_server
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--now", ADDED_AT)[0] == 0
    closed = port + 1 if port < 65000 else port - 1
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://127.0.0.1:{closed}?from=sw@example.com")
    code, out, err = sw("subscription", "send", "--due", "--now", "2026-11-02T10:00", "--lang", "zh")
    assert code == 1
    assert err == f"servicewatch: error: 订阅 1 → dj：无法连接邮件服务器 127.0.0.1:{closed}（连接被拒绝）（将重试）\n"
    assert out.startswith("已发送 0 条，待重试 1 条，失败 0 条")
    code, _, err = sw("subscription", "send", "--lang", "zh")
    assert code == 1 and err == "servicewatch: error: 请加 --due：发送所有已到期的推送\n"


def test_recipient_outside_scope_gets_nothing_and_owner_is_told(env, sw, mailbox) -> None:
    assert sw("subscription", "add", "--to", "dj", "--every", "daily", "--at", "08:00", "--format", "digest",
              "--region", "4", "--as-user", "prov", "--now", ADDED_AT)[0] == 0
    access.remove_user("dj")  # dj moves to Nanling after subscribing
    access.add_user(access.User("dj", "manager", ("2",), email="dj@example.com"), None)
    code, _out, err = sw("subscription", "send", "--due", "--now", SEND_AT)
    assert code == 1 and "the view has no region in the scope of dj" in err
    assert mailbox.to("dj@example.com") == []
    [notice] = mailbox.to("prov@example.com")
    assert notice["Subject"] == "订阅 1：dj 的数据权限与订阅视图没有交集，未发送。"
    assert _deliveries(env).iloc[0]["state"] == "failed"


def test_remove_and_list(env, sw) -> None:
    assert sw("subscription", "add", "--to", "dj", "--every", "weekly:FRI", "--at", "17:30", "--format", "pptx",
              "--tz", "Europe/Berlin", "--period", "last_quarter", "--now", ADDED_AT)[0] == 0
    listed = json.loads(sw("subscription", "list", "--format", "json")[1])
    assert listed[0]["recipients"] == "dj" and listed[0]["time_zone"] == "Europe/Berlin"
    assert listed[0]["filters"] == "preset=last_quarter" and listed[0]["next_due"] == "2026-10-02 17:30"
    engine = store.engine_for(store.store_url(env["SERVICEWATCH_DB"]))
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from subscriptions")).scalar() == 1
    assert sw("subscription", "remove", "1")[1].strip() == "subscription 1 removed"
    code, _, err = sw("subscription", "remove", "1")
    assert code == 1 and err.strip() == "servicewatch: error: no subscription 1; see servicewatch subscription list"
    log = audit.read(env["SERVICEWATCH_DB"])  # added and removed, in the audit log (newest first)
    rows = [json.loads(d) for d in log.loc[log["action"] == "subscription", "detail"]]
    assert [(d["subscription"], d.get("added"), d.get("removed")) for d in rows] == [(1, None, True), (1, True, None)]
    assert rows[1]["recipients"] == ["dj"] and rows[1]["format"] == "pptx" and rows[1]["schedule"] == "weekly:FRI"
    assert set(log.loc[log["action"] == "subscription", "user"]) == {audit.cli_user(None)}


def test_pptx_pack_is_read_back_with_the_recipients_scope(env, sw, mailbox) -> None:
    import io

    from pptx import Presentation

    code, _, err = sw("subscription", "add", "--to", "dj", "--to", "nl", "--every", "monthly:1", "--at", "08:00",
                      "--format", "pptx", "--region", "1", "--as-user", "prov", "--now", ADDED_AT)
    assert code == 0, err
    code, out, err = sw("subscription", "send", "--due", "--now", SEND_AT)
    assert code == 0, err
    assert out.strip() == "2 sent, 0 to retry, 0 failed (2 queued, 2 packs built)"
    pages = {json.loads(d)["recipient"]: json.loads(d)["pages"] for d in _audit(env)["detail"]}
    for name, city, others in (("dj", "东江市", ("南岭市", "珠湾市")), ("nl", "Nanling", ("Dongjiang", "Zhuwan"))):
        [msg] = mailbox.to(f"{name}@example.com")
        [part] = list(msg.iter_attachments())
        assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        assert part.get_filename().endswith(".pptx")
        data = part.get_content()
        assert data[:2] == b"PK"  # a zip: the Office Open XML package
        deck = Presentation(io.BytesIO(data))
        assert len(deck.slides) == pages[name] >= 5  # a slide per page of the pack
        text = "\n".join(sh.text_frame.text for slide in deck.slides for sh in slide.shapes if sh.has_text_frame)
        assert city in text  # the recipient's scope stamped on it
        assert not [c for c in others if c in text]  # never another city
        assert ("2026-10-01 – 2026-10-31" in text) if name == "dj" else ("Nanling" in msg["Subject"])
