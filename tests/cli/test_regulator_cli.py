"""``servicewatch regulator --quarter`` and ``servicewatch appeal-risk`` on the small hand-made set of
tests/engine/regulator_frames.py: JSON equal to the engine and to the hand figures, the definition, base
and count point on stderr in Chinese and English, CSV and table, the user's scope (--as-user), and one
line with a non-zero exit for a malformed quarter."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from metrics.access.users import User, add_user
from metrics.cli.main import main
from metrics.model.i18n import t

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from regulator_frames import quarter_in_progress_base, regulator_db  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> str:
    return regulator_db(tmp_path_factory.mktemp("regcli") / "r.duckdb")


def test_miit_json_is_the_hand_figures(small: str, capsys) -> None:
    assert main(["regulator", "--db", small, "--quarter", "2026Q3", "--format", "json"]) == 0
    out = capsys.readouterr()
    rec = {r["regulator_category"]: r for r in json.loads(out.out)}
    assert rec["all"]["appeals"] == 4 and rec["all"]["users"] == 11
    assert rec["all"]["rate"] == pytest.approx(4 / 11 * 1e6)
    assert rec["service_dispute"]["appeals"] == 2 and rec["all"]["rate_prev"] == pytest.approx(1e5)
    assert rec["all"]["base"] == "customers" and rec["all"]["point"] == "quarter_end"
    assert rec["all"]["months"] == "2026-09-30" and rec["all"]["per"] == 1_000_000
    assert rec["all"]["period_start"] == "2026-07-01"
    assert t("regulator.definition.miit", "en") in out.err and "2026-09-30" in out.err


def test_chinese_table_and_city_csv(small: str, capsys) -> None:
    assert main(["regulator", "--db", small, "--quarter", "2026q3", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    assert "营销、收费、资费争议" in out.out and "合计" in out.out
    assert t("regulator.definition.miit", "zh") in out.err and t("user_base_kind.customers", "zh") in out.err
    assert "件/百万用户" in out.err
    assert main(["regulator", "--db", small, "--quarter", "2026Q3", "--by", "city", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    total = {r["region_name"]: r for r in rows if r["regulator_category"] == "all"}
    assert total["Jia City"]["appeals"] == "3" and float(total["Yi City"]["users"]) == 5


def test_tio_and_acma(small: str, capsys) -> None:
    assert main(["regulator", "--db", small, "--quarter", "2026Q3", "--authority", "tio", "--format", "json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["users"] == 10 and rec["rate"] == pytest.approx(4e3) and rec["months"] == "2026-08-31"
    assert main(["regulator", "--db", small, "--quarter", "2026Q3", "--authority", "acma", "--format", "json",
                 "--lang", "zh"]) == 0
    out = capsys.readouterr()
    (rec,) = json.loads(out.out)
    assert rec["days_80"] == pytest.approx(7.0) and rec["resolved"] == 14
    assert "80% 的投诉在 7.0 天内办结" in out.err and "投诉最多的三类" in out.err


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_malformed_quarter_is_one_line(small: str, capsys, lang: str) -> None:
    assert main(["regulator", "--db", small, "--quarter", "2026Q5", "--lang", lang]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "2026Q5" in err and "Traceback" not in err
    assert t("regulator.bad_quarter", lang, quarter="2026Q5") in err


def test_appeal_risk_lists_owners_and_respects_scope(small: str, tmp_path, monkeypatch, capsys) -> None:
    assert main(["appeal-risk", "--db", small, "--as-of", "2026-09-30", "--format", "json"]) == 0
    out = capsys.readouterr()
    recs = json.loads(out.out)
    assert [(r["ticket_id"], r["state"], r["manager"]) for r in recs] == [("901", "past", "张经理"),
                                                                        ("902", "soon", "张经理")]
    # the owner: 902's handler from the ticket, 901's account manager (no handler named), and which
    assert [(r["owner"], r["owner_kind"]) for r in recs] == [("张经理", "account_manager"), ("王晓燕", "handler")]
    assert "1 complaints have been open for more than 15 days" in out.err
    users = tmp_path / "users.toml"
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    add_user(User("yi", "manager", regions=(3,)), "pw-123456789", users)
    add_user(User("v", "viewer"), "pw-123456789", users)
    assert main(["appeal-risk", "--db", small, "--as-of", "2026-09-30", "--as-user", "yi", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["appeal-risk", "--db", small, "--as-of", "2026-09-30", "--as-user", "v", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    assert "客户" not in out.out.split("\n")[0] or out.out.strip() == "(no rows)"
    assert t("regulator.risk.viewer", "zh") in out.err
    assert main(["regulator", "--db", small, "--quarter", "2026Q3", "--as-user", "yi", "--format", "json"]) == 0
    total = [r for r in json.loads(capsys.readouterr().out) if r["regulator_category"] == "all"][0]
    assert (total["appeals"], total["users"]) == (1, 5)


def test_an_older_database_says_why_and_an_import_adds_the_column(tmp_path, capsys) -> None:
    url = regulator_db(tmp_path / "old.duckdb", drop=("source",))
    assert main(["regulator", "--db", url, "--quarter", "2026Q3", "--lang", "zh"]) == 0
    assert t("regulator.reason.no_source", "zh") in capsys.readouterr().err
    rows = tmp_path / "t.csv"
    rows.write_text("工单号,客户编号,受理渠道,工单类型,来源,问题类别,优先级,受理时间\n"
                    "5001,1,hotline,complaint,miit,billing,P3,2026-07-09 10:00:00\n", encoding="utf-8")
    assert main(["import", "tickets", str(rows), "--db", url]) == 0
    capsys.readouterr()
    assert main(["regulator", "--db", url, "--quarter", "2026Q3", "--format", "json"]) == 0
    total = [r for r in json.loads(capsys.readouterr().out) if r["regulator_category"] == "all"][0]
    assert total["appeals"] == 1  # the old rows have no source; the imported appeal counts


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_appeal_risk_before_handlers_and_an_import_that_names_them(tmp_path, capsys, lang: str) -> None:
    """A database created before tickets.handler lists the account managers; an import with a 处理人 column
    adds the column and the handler becomes the owner (table format says which in ``--lang``)."""
    url = regulator_db(tmp_path / "old.duckdb", drop=("handler",))
    assert main(["appeal-risk", "--db", url, "--as-of", "2026-09-30", "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [(r["owner"], r["owner_kind"], r["handler"]) for r in recs] == [("张经理", "account_manager", None)] * 2
    rows = tmp_path / "t.csv"
    rows.write_text("工单号,客户编号,受理渠道,工单类型,来源,问题类别,优先级,受理时间,处理人\n"
                    "5002,2,hotline,complaint,own,billing,P2,2026-09-12 10:00:00,赵海峰\n", encoding="utf-8")
    assert main(["import", "tickets", str(rows), "--db", url]) == 0
    capsys.readouterr()
    assert main(["appeal-risk", "--db", url, "--as-of", "2026-09-30", "--format", "table", "--lang", lang]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.lstrip().startswith("5002"))
    assert "赵海峰" in line and t("appeal_owner.handler", lang) in line
    assert t("appeal_owner.account_manager", lang) in out  # the older rows: their account manager


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_from_or_to_with_a_quarter_is_refused_in_one_line(small: str, capsys, lang: str) -> None:
    for flag in ("--from", "--to"):
        assert main(["regulator", "--db", small, "--quarter", "2026Q3", flag, "2026-01-01", "--lang", lang]) == 1
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and t("regulator.bad_window", lang) in err and "Traceback" not in err


def test_a_category_not_in_use_then_is_not_compared(small: str, capsys) -> None:
    assert main(["regulator", "--db", small, "--quarter", "2022Q1", "--format", "json", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    rec = {r["regulator_category"]: r for r in json.loads(out.out)}
    sd = rec["service_dispute"]
    assert sd["in_use_prev"] is False and sd["rate_prev"] is None and sd["change_prev"] is None
    assert sd["p_prev"] is None and rec["all"]["in_use_prev"] is True and rec["all"]["appeals_prev"] == 2
    assert t("regulator.not_in_use_line", "zh", quarter="2021Q4", when=t("regulator.when_prev", "zh"),
             categories="服务争议") in out.err


def test_a_quarter_in_progress_names_the_months_the_base_has(tmp_path, capsys) -> None:
    url = regulator_db(tmp_path / "ub.duckdb", user_base=quarter_in_progress_base())
    assert main(["regulator", "--db", url, "--quarter", "2026Q4", "--base", "mobile", "--point", "average",
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    total = [r for r in json.loads(out.out) if r["regulator_category"] == "all"][0]
    assert total["users"] == 1_000_000 and total["rate"] == pytest.approx(1.0)
    assert total["months"] == "2026-10-31,2026-11-30" and total["missing_months"] == "2026-12-31"
    assert t("regulator.denominator_missing", "en", missing="2026-12-31", months="2026-10-31, 2026-11-30") in out.err
