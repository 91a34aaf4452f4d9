"""``servicewatch alerts check --notify``: the demo's planted deterioration (Dongjiang's complaints) told to
its rule's recipients through a real SMTP server on 127.0.0.1 and a local webhook receiver — once, in
each recipient's language, only within their scope — and a failed send retried, never sent twice."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd

from deliver.deliver_helpers import add_complaints_rule
from metrics.access import audit
from metrics.access import users as access
from metrics.deliver import alert_notify
from metrics.deliver.lease import now_utc
from metrics.query.warehouse import Warehouse


def _notices(env: dict) -> pd.DataFrame:
    return alert_notify.table(Warehouse.open(env["SERVICEWATCH_DB"]))


def _alert_audit(env: dict) -> list[dict]:
    log = audit.read(env["SERVICEWATCH_DB"])
    return [d for d in map(json.loads, log.loc[log["action"] == "deliver", "detail"]) if "alert" in d]


def test_planted_alert_told_once_in_chinese_within_scope(rules_env, sw, mailbox, webhook_receiver) -> None:
    rec, port = webhook_receiver
    rec.posts.clear()
    code, _, err = add_complaints_rule(sw, "dj.complaints", "4", "dj", "prov",
                                       webhook=f"json=http://127.0.0.1:{port}/alerts?token=T0K")
    assert code == 0, err
    assert add_complaints_rule(sw, "nl.complaints", "2", "nl")[0] == 0  # stable
    # another city's manager cannot be made a recipient of Dongjiang's rule: one line, nothing written
    code, out, err = add_complaints_rule(sw, "dj.nl", "4", "nl")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "已拒绝：规则的切片超出 nl 的数据权限" in err  # alerts add speaks Chinese by default
    assert "dj.nl" not in sw("alerts", "rules", "--format", "json")[1]

    code, out, err = sw("alerts", "check", "--notify")
    assert code == 0, err
    assert "dj.complaints" in out and "nl.complaints" not in out
    assert "预警通知：已发送 3 条，待重试 0 条，失败 0 条（新排队 3 条）。" in out

    [dj] = mailbox.to("dj@example.com")
    text = dj.get_body(("plain",)).get_content()
    assert dj["Subject"].startswith("【预警】投诉率｜区域：东江市｜")
    assert "预警规则 dj.complaints 触发" in text and "范围：区域：东江市" in text
    assert "控制限" in text and "n = " in text and "中心线" in text and "期间：2026年" in text
    assert "http://localhost:8501/Alerts?region=4&metric=complaint_rate" in text
    assert "系统管理员" not in text and "运维人员" in text  # the operator who added the rule, in words
    assert not [c for c in ("南岭市", "珠湾市") if c in text]
    assert dj["Message-ID"].startswith("<alert-")
    assert len(mailbox.to("prov@example.com")) == 1  # the province manager: Dongjiang is in their scope
    assert mailbox.to("nl@example.com") == []  # another city's manager: nothing
    [(path, post)] = rec.posts
    assert path == "/alerts?token=T0K" and "东江市" in post["text"] and "投诉率" in post["title"]
    assert "Alerts?region=4&metric=complaint_rate" in post["text"]  # the link unescaped
    assert "T0K" not in sw("alerts", "rules", "--format", "json")[1]  # the robot's token never listed

    # a second run sends nothing new
    code, out, err = sw("alerts", "check", "--notify", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["rule_id"] == "dj.complaints"
    assert "已发送 0 条" in err and "新排队 0 条" in err
    assert len(mailbox.messages) == 2 and len(rec.posts) == 1
    assert set(_notices(rules_env)["state"]) == {"sent"}
    assert sorted(d["recipient"] for d in _alert_audit(rules_env)) == ["dj", "prov", "webhook:0"]


def test_english_recipient_and_a_scope_that_changed(rules_env, sw, mailbox) -> None:
    access.remove_user("nl")  # nl reads English; for now nl manages the province
    access.add_user(access.User("nl", "manager", ("1",), email="nl@example.com", lang="en"), None)
    assert add_complaints_rule(sw, "dj.complaints", "4", "nl", "zw", as_user="prov")[0] == 1  # zw (Zhuwan) refused
    assert add_complaints_rule(sw, "dj.complaints", "4", "nl", "dj", as_user="prov")[0] == 0
    access.remove_user("dj")  # dj moves to Nanling after the rule was written: told nothing of Dongjiang
    access.add_user(access.User("dj", "manager", ("2",), email="dj@example.com"), None)
    code, out, err = sw("alerts", "check", "--notify", "--lang", "en")
    assert code == 1
    assert "alert rule dj.complaints is outside the data scope of dj; not sent" in err and "Traceback" not in err
    assert "Alert notices: 1 sent, 0 to retry, 1 failed (2 newly queued)." in out
    assert mailbox.to("dj@example.com") == []
    [nl] = mailbox.to("nl@example.com")
    assert nl["Subject"].startswith("[Alert] Complaint rate") and "Region: Dongjiang" in nl["Subject"]
    body = nl.get_body(("plain",)).get_content()
    assert "control limits" in body and "n = " in body and "the rule's owner is prov" in body


def test_failed_send_is_retried_and_sent_once(rules_env, sw, mailbox, smtp_server, monkeypatch) -> None:
    _box, port = smtp_server
    assert add_complaints_rule(sw, "dj.complaints", "4", "dj")[0] == 0
    closed = port + 1 if port < 65000 else port - 1
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://mailer:s3cr3t@127.0.0.1:{closed}?from=sw@example.com")
    code, out, err = sw("alerts", "check", "--notify")
    assert code == 1 and f"无法连接邮件服务器 127.0.0.1:{closed}（连接被拒绝）" in err and "（将重试）" in err
    assert "s3cr3t" not in err
    assert "待重试 1 条" in out
    [row] = _notices(rules_env).itertuples(index=False)
    assert (row.state, row.attempts) == ("queued", 1)
    monkeypatch.setenv("SERVICEWATCH_SMTP", f"smtp://127.0.0.1:{port}?from=sw@example.com")
    code, out, _ = sw("alerts", "check", "--notify")  # within the back-off: not yet
    assert code == 0 and "已发送 0 条" in out and mailbox.messages == []
    wh = Warehouse.open(rules_env["SERVICEWATCH_DB"])
    later = now_utc() + timedelta(minutes=2)
    out = alert_notify.send_queued(wh, rules_env["SERVICEWATCH_DB"], now=later)  # the worker's next pass
    assert (out.sent, out.lines) == (1, [])
    assert len(mailbox.to("dj@example.com")) == 1
    assert alert_notify.send_queued(wh, rules_env["SERVICEWATCH_DB"], now=later + timedelta(hours=2)).sent == 0
    code, out, _ = sw("alerts", "check", "--notify")
    assert "已发送 0 条" in out and len(mailbox.messages) == 1  # never twice
    states = [d["state"] for d in _alert_audit(rules_env)]
    assert sorted(states) == ["queued", "sent"]


def test_two_workers_tell_an_alert_once(rules_env, sw, mailbox, webhook_receiver) -> None:
    """``servicewatch worker`` runs the rules with notify on its schedule: two real worker processes,
    each checking every 2 s for several rounds, tell Dongjiang's alert to dj and the webhook once."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from deliver.deliver_helpers import stop_worker, wait_for

    rec, port = webhook_receiver
    rec.posts.clear()
    webhook = f"wecom=http://127.0.0.1:{port}/cgi-bin/webhook/send?key=W"
    assert add_complaints_rule(sw, "dj.complaints", "4", "dj", webhook=webhook)[0] == 0
    exe = str(Path(sys.executable).with_name("servicewatch"))
    workers = [
        subprocess.Popen(
            [exe, "worker", "--interval", "1", "--alerts-every", "2", "--lease", "30"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: len(mailbox.messages) >= 1 and len(rec.posts) >= 1, 180, workers)
        time.sleep(8)  # more rounds of both workers: a repeat would arrive now
    finally:
        for w in workers:
            stop_worker(w)
    assert [rcpts for rcpts, _m in mailbox.messages] == [["dj@example.com"]]
    [(path, post)] = rec.posts
    assert path == "/cgi-bin/webhook/send?key=W" and post["msgtype"] == "markdown"
    assert "东江市" in post["markdown"]["content"]
    assert set(_notices(rules_env)["state"]) == {"sent"}
