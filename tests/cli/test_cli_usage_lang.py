"""Usage and validation errors of the command line in the user's language (cli_usage.toml,
users_file.toml): the command line's ``main`` in this process (each case once with ``--lang zh`` and once
with ``--lang en``; a process start costs seconds and adds nothing here), and one case through the real
``servicewatch`` process. Each answer is one line on stderr and exit 1; the Chinese line has Chinese
characters and none of the English words of the old message, the English line still says that message."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

CJK = re.compile(r"[\u4e00-\u9fff]")

# (argv without --db/--lang, the old English message (still the en text), its English words the zh line
# must not hold)
CASES = {
    "both_dates": (["metric", "csat", "--from", "2026-05-01"], "give both --from and --to, or neither",
                   ["give", "both", "neither"]),
    "period_order": (["metric", "csat", "--from", "2026-05-01", "--to", "2026-04-01"],
                     "period ends (2026-04-01) before it starts (2026-05-01)", ["period", "ends", "before", "starts"]),
    "unknown_value": (["metric", "csat", "--tier", "platinum"], "unknown tier platinum; known: ",
                      ["unknown", "known"]),
    "metric_unknown": (["metric", "nope"], "unknown metric 'nope'; known: ", ["unknown", "metric", "known"]),
    "explain_unknown_metric": (["explain", "nope"], "unknown metric 'nope'; known: ", ["unknown", "metric", "known"]),
    "unknown_region": (["metric", "csat", "--region", "Atlantis"],
                       "unknown region 'Atlantis'; see `servicewatch regions`", ["unknown", "region", "see"]),
    "alerts_unknown_metric": (["alerts", "add", "r1", "--metric", "nope", "--type", "control"],
                              "unknown metric 'nope'; see servicewatch metrics", ["unknown", "metric", "see"]),
    "unknown_kind": (["alerts", "add", "r1", "--metric", "csat", "--type", "spike"],
                     "unknown alert kind 'spike'; use one of control, target, change",
                     ["unknown", "alert", "kind", "use", "one", "of"]),
    "against_change": (["alerts", "add", "r1", "--metric", "csat", "--type", "control", "--against", "yoy"],
                       "--against applies to change rules only", ["applies", "rules", "only"]),
    "bad_baseline": (["alerts", "add", "r1", "--metric", "csat", "--type", "control", "--baseline", "2025-13"],
                     "invalid baseline '2025-13': use FIRST:LAST, e.g. 2025-01:2025-12",
                     ["invalid", "baseline", "use", "FIRST", "LAST"]),
    "baseline_order": (["alerts", "add", "r1", "--metric", "csat", "--type", "control", "--baseline",
                        "2025-06:2025-01"], "the baseline's first period 2025-06-01 is after its last 2025-01-01",
                       ["baseline", "first", "period", "after", "last"]),
    "bad_webhook": (["alerts", "add", "r1", "--metric", "csat", "--type", "control", "--webhook",
                     "slack=http://x/y?token=T0K"],
                    "invalid --webhook 'slack=http://x/y': use wecom=URL, dingtalk=URL or json=URL",
                    ["invalid", "use", "or"]),
    "no_rule": (["alerts", "remove", "ghost"], "no alert rule 'ghost'; see servicewatch alerts rules",
                ["no", "alert", "rule", "see"]),
    "no_user": (["alerts", "add", "r1", "--metric", "csat", "--type", "change", "--recipient", "ghost"],
                "no user ghost in the users file", ["no", "user", "in", "the", "users", "file"]),
    "actions_no_user": (["actions", "close", "1", "--outcome", "done", "--as-user", "ghost"],
                        "no user ghost in the users file", ["no", "user", "in", "the", "users", "file"]),
    "import_no_user": (["import", "tickets", "tickets.csv", "--as-user", "ghost"],
                       "no user ghost in the users file", ["no", "user", "in", "the", "users", "file"]),
    "import_bad_snapshot_date": (["import", "customers", "customers.csv", "--snapshot-date", "2026-13-01"],
                                 "--snapshot-date: '2026-13-01' is not a date (YYYY-MM-DD)",
                                 ["is", "not", "a", "date"]),
    "users_file_missing": (["metric", "csat", "--as-user", "li.lei"],
                           "the users file (SERVICEWATCH_USERS) does not exist; create it with `servicewatch user add`",
                           ["the", "users", "file", "does", "not", "exist", "create", "it", "with"]),
}


@pytest.fixture()
def cli_env(duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment (set in this process too): the demo database, alert and audit stores of this
    test's own, a users file (one admin) — or, for ``users_file_missing``, a users file that does not exist."""
    users = tmp_path / "secret-folder" / "users.json"
    env = {"SERVICEWATCH_DB": duckdb_url, "SERVICEWATCH_USERS": str(users),
           "SERVICEWATCH_ALERTS_DB": f"sqlite:///{tmp_path / 'alerts.sqlite'}",
           "SERVICEWATCH_AUDIT_DB": f"sqlite:///{tmp_path / 'audit.sqlite'}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _users_file(sw) -> None:
    code, _out, err = sw("user", "add", "boss", "--role", "admin", "--no-password")
    assert code == 0, err


def _run(sw, env: dict[str, str], argv: list[str], lang: str) -> Ran:
    return Ran(*sw(*argv, "--db", env["SERVICEWATCH_DB"], "--lang", lang))


def _process(env: dict[str, str], argv: list[str], lang: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metrics.cli", *argv, "--db", env["SERVICEWATCH_DB"], "--lang", lang],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("case", list(CASES))
def test_usage_error_in_chinese_and_english(cli_env: dict[str, str], sw, case: str) -> None:
    argv, english, words = CASES[case]
    if case != "users_file_missing":
        _users_file(sw)
    zh, en = _run(sw, cli_env, argv, "zh"), _run(sw, cli_env, argv, "en")
    _one_line_each(zh, en, english, words)


def test_the_real_process_says_it_in_both_languages(cli_env: dict[str, str], sw) -> None:
    """The same through ``python -m metrics.cli``: its language and one line come from the process too."""
    argv, english, words = CASES["unknown_region"]
    _users_file(sw)
    _one_line_each(_process(cli_env, argv, "zh"), _process(cli_env, argv, "en"), english, words)


def _one_line_each(zh, en, english: str, words: list[str]) -> None:
    for p in (zh, en):
        assert p.returncode == 1 and p.stdout == "", (p.stdout, p.stderr)
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("servicewatch: error: ")
        assert "Traceback" not in p.stderr and "secret-folder" not in p.stderr and "T0K" not in p.stderr
    assert english in en.stderr
    line = zh.stderr.removeprefix("servicewatch: error: ")
    assert CJK.search(line), line
    left = [w for w in words if re.search(rf"(?<![-\w]){re.escape(w)}(?![-\w])", line, re.IGNORECASE)]
    assert not left, (line, left)


@pytest.mark.parametrize(("argv", "english", "words", "code"), [
    (["import", "tickets"], "give either FILE or --from-sql QUERY (with --source-db URL)",
     ["give", "either", "with"], 2),
    (["import", "tickets", "--from-sql", "SELECT 1"], "--from-sql needs --source-db URL", ["needs"], 2),
    (["template", "nope"], "unknown table 'nope'; known: ", ["unknown", "table", "known"], 1),
])
def test_import_and_template_usage_in_both_languages(cli_env: dict[str, str], sw, argv: list[str], english: str,
                                                     words: list[str], code: int) -> None:
    """``import`` and ``template`` (no --db for the template) say what is wrong in --lang, one line, with
    the prefix of the CLI's own error lines (``servicewatch: error:``)."""
    db = ["--db", cli_env["SERVICEWATCH_DB"]] if argv[0] == "import" else []
    zh, en = (Ran(*sw(*argv, *db, "--lang", lang)) for lang in ("zh", "en"))
    for p in (zh, en):
        assert p.returncode == code and p.stdout == "" and p.stderr.count("\n") == 1, p
        assert "Traceback" not in p.stderr and p.stderr.startswith("servicewatch: error: "), p
    assert english in en.stderr
    line = zh.stderr.removeprefix("servicewatch: error: ")
    assert CJK.search(line) and not any(re.search(rf"\b{w}\b", line) for w in words), line


def test_template_written_says_so_in_both_languages(sw, tmp_path: Path) -> None:
    for lang, said in (("zh", "的模板已写入"), ("en", "template for regions written to")):
        out = tmp_path / f"regions-{lang}.csv"
        code, _out, err = sw("template", "regions", "--out", str(out), "--lang", lang)
        assert code == 0 and said in err and out.is_file(), err
