"""``servicewatch subscription add|list|remove`` in the user's language (subscription_cli.toml, the
schedule's, webhook's and subscribe's refusals): each refusal is one line on stderr, exit 1, nothing on
stdout, no traceback, once with ``--lang zh`` and once with ``--lang en`` through ``main`` in this
process (one case through the real ``servicewatch`` process). The English line is the message as it
always was and has no Chinese; the Chinese line has Chinese characters and none of its English words.
A subscription added, listed and removed says each step in the language asked. The data is a private
copy of the demo database; the subscription store (beside the audit log) is each test's own."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from db_snapshot import copy_duckdb

CJK = re.compile(r"[\u4e00-\u9fff]")
ADD = ["subscription", "add", "--format", "digest"]
DAILY = ["--every", "daily", "--at", "08:00"]
ADDED_AT = "2026-10-01T00:00"  # Asia/Shanghai: daily 08:00 is first due the same morning

# (argv, the English line, its English words the Chinese line must not hold)
CASES = {
    "bad_every": ([*ADD, "--to", "dj", "--every", "fortnightly", "--at", "08:00"],
                  "invalid schedule 'fortnightly': use daily, weekly:MON … weekly:SUN or monthly:1 … monthly:31",
                  ["invalid", "schedule", "use", "or"]),
    "bad_at": ([*ADD, "--to", "dj", "--every", "daily", "--at", "7am"],
               "invalid time '7am': use HH:MM (00:00 – 23:59)", ["invalid", "time", "use", "HH", "MM"]),
    "bad_tz": ([*ADD, "--to", "dj", *DAILY, "--tz", "Mars/Olympus"],
               "unknown time zone 'Mars/Olympus' (an IANA name such as Asia/Shanghai)",
               ["unknown", "time", "zone", "an", "name", "such", "as"]),
    "bad_webhook": ([*ADD, *DAILY, "--webhook", "slack=http://x/y?token=T0K"],
                    "invalid --webhook 'slack=http://x/y': use wecom=URL, dingtalk=URL or json=URL",
                    ["invalid", "use", "or", "URL"]),
    "from_given": ([*ADD, "--to", "dj", *DAILY, "--from", "2026-01-01"],
                   "a subscription has no fixed dates: each delivery covers --period up to the data's as-of",
                   ["subscription", "has", "no", "fixed", "dates", "each", "delivery", "covers", "up", "data's"]),
    "no_target": ([*ADD, *DAILY], "give at least one --to USER or --webhook KIND=URL",
                  ["give", "at", "least", "one", "USER", "or", "KIND", "URL"]),
    "unknown_user": ([*ADD, "--to", "ghost", *DAILY], "unknown user 'ghost'; see servicewatch user list",
                     ["unknown", "see"]),
    "outside_scope": ([*ADD, "--to", "dj", *DAILY, "--region", "2"],
                      "refused: the view is outside the data scope of dj; nothing was added",
                      ["refused", "view", "outside", "data", "scope", "of", "nothing", "was", "added"]),
    "bad_now": ([*ADD, "--to", "dj", *DAILY, "--now", "yesterday"],
                "--now: 'yesterday' is not a date-time (YYYY-MM-DDTHH:MM)", ["is", "not", "a", "date-time"]),
    "remove_unknown": (["subscription", "remove", "7"], "no subscription 7; see servicewatch subscription list",
                       ["no", "see"]),
}


@pytest.fixture(scope="module")
def private_db(tmp_path_factory: pytest.TempPathFactory, duckdb_url: str) -> str:
    """A copy of the demo DuckDB of this module's own (a subscription never touches the shared one)."""
    return copy_duckdb(duckdb_url, tmp_path_factory.mktemp("subscription_lang") / "sw.duckdb")


@pytest.fixture()
def cli_env(private_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sw) -> dict[str, str]:
    """The environment (set in this process too): the private demo copy, an audit (and subscription)
    store of this test's own, a users file with city manager ``dj`` (region 4, with an e-mail address)."""
    env = {"SERVICEWATCH_DB": private_db, "SERVICEWATCH_USERS": str(tmp_path / "users.json"),
           "SERVICEWATCH_AUDIT_DB": f"sqlite:///{tmp_path / 'audit.sqlite'}",
           "SERVICEWATCH_ALERTS_DB": f"sqlite:///{tmp_path / 'alerts.sqlite'}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _out, err = sw("user", "add", "dj", "--role", "manager", "--regions", "4", "--email", "dj@example.com",
                         "--no-password")
    assert code == 0, err
    return {**os.environ, **env}


def _in_language(line: str, lang: str, english: str, words: list[str]) -> None:
    """``line`` is ``english`` (en, no Chinese), or Chinese without ``english``'s words (zh)."""
    if lang == "en":
        assert line == english and not CJK.search(line), line
        return
    assert CJK.search(line), line
    left = [w for w in words if re.search(rf"(?<![-\w]){re.escape(w)}(?![-\w])", line, re.IGNORECASE)]
    assert not left, (line, left)


def _refused(code: int, out: str, err: str) -> str:
    """The one line of a refusal (exit 1, nothing on stdout, no traceback, no robot token)."""
    assert code == 1 and out == "", (out, err)
    assert err.count("\n") == 1 and err.startswith("servicewatch: error: "), err
    assert "Traceback" not in err and "T0K" not in err
    return err.removeprefix("servicewatch: error: ").rstrip("\n")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("case", list(CASES))
def test_refusal_in_the_users_language(cli_env: dict[str, str], sw, case: str, lang: str) -> None:
    argv, english, words = CASES[case]
    line = _refused(*sw(*argv, "--db", cli_env["SERVICEWATCH_DB"], "--lang", lang))
    _in_language(line, lang, english, words)
    code, out, _err = sw("subscription", "list", "--db", cli_env["SERVICEWATCH_DB"], "--format", "json")
    assert code == 0 and json.loads(out) == []  # a refused add wrote nothing


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_real_process_refuses_in_the_users_language(cli_env: dict[str, str], lang: str) -> None:
    argv, english, words = CASES["unknown_user"]
    p = subprocess.run([sys.executable, "-m", "metrics.cli", *argv, "--lang", lang], capture_output=True,
                       text=True, timeout=300, env=cli_env)
    _in_language(_refused(p.returncode, p.stdout, p.stderr), lang, english, words)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_add_list_remove_say_each_step_in_the_users_language(cli_env: dict[str, str], sw, lang: str) -> None:
    db = ["--db", cli_env["SERVICEWATCH_DB"]]
    code, out, err = sw(*ADD, "--to", "dj", *DAILY, "--region", "4", "--now", ADDED_AT, *db, "--lang", lang)
    assert code == 0 and err == "" and out.count("\n") == 1, (out, err)
    _in_language(out.strip(), lang, "subscription 1 added: digest daily at 08:00 Asia/Shanghai to 1 user(s) and "
                 "0 webhook(s); first due 2026-10-01 08:00 CST", ["subscription", "added", "to", "user", "and",
                                                                 "first", "due"])
    assert "2026-10-01 08:00" in out
    code, out, err = sw("subscription", "list", *db, "--format", "json", "--lang", lang)
    assert code == 0 and [(s["id"], s["recipients"], s["next_due"]) for s in json.loads(out)] == [
        (1, "dj", "2026-10-01 08:00")]
    code, out, err = sw("subscription", "remove", "1", *db, "--lang", lang)
    assert code == 0 and err == "" and out.count("\n") == 1, (out, err)
    _in_language(out.strip(), lang, "subscription 1 removed", ["subscription", "removed"])
    code, out, err = sw("subscription", "list", *db, "--lang", lang)
    assert code == 0 and err == "" and out.count("\n") == 1, (out, err)
    _in_language(out.strip(), lang, "(no rows)", ["no", "rows"])
    code, out, err = sw("subscription", "deliveries", *db, "--lang", lang)
    assert code == 0 and err == "" and out.count("\n") == 1, (out, err)
    _in_language(out.strip(), lang, "(no rows)", ["no", "rows"])
    _in_language(_refused(*sw("subscription", "remove", "1", *db, "--lang", lang)), lang,
                 "no subscription 1; see servicewatch subscription list", ["no", "see"])
