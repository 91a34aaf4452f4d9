"""``servicewatch outlets``, ``queue`` and ``stars`` on the small simulated halls (tests/outlet_frames.py):
the engine's numbers as JSON/CSV/table, sentences in Chinese or English with the waits' resolution, keys
as the source wrote them, a city manager's scope (--as-user), one line and exit 1 for bad input."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from outlet_frames import END, START, frames, outlets_db

from metrics.access.users import User, add_user
from metrics.analysis import outlet_rules
from metrics.analysis import outlet_stars as st
from metrics.analysis import outlets as ol
from metrics.cli.main import main
from metrics.ingest.load import replace_all
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

PERIOD = ["--from", START.isoformat(), "--to", "2026-06-28"]  # the data's as-of: nothing clamped
F = Filters(start=START, end=END)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    return outlets_db(tmp_path_factory.mktemp("outlets_cli") / "o.duckdb")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    return err[-1]


def test_outlets_json_is_the_engines_league(db: str, capsys) -> None:
    assert main(["outlets", "--db", db, *PERIOD, "--format", "json"]) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    lg = ol.outlet_league(Warehouse.open(db), F)
    assert [r["outlet_id"] for r in records] == list(lg["outlet_id"])
    assert [r["median_wait_min"] for r in records] == list(lg["median_wait_min"])
    assert records[0]["within_target_lower"] == pytest.approx(lg["within_target_lower"].iloc[0])
    assert records[0]["rank"] == 1 and records[-1]["rank"] is None and records[-1]["rank_note"] == "small"
    assert records[0]["resolution_min"] == 1 and records[0]["target_minutes"] == 15
    assert "resolution 1 min" in out.err and "fewer than 30 waits: not ranked" in out.err


def test_outlets_table_in_chinese_and_by_kind_csv(db: str, capsys) -> None:
    assert main(["outlets", "--db", db, *PERIOD, "--lang", "zh", "--target-minutes", "10"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0].split()[:3] == ["rank", "outlet_id", "name"]
    assert "10 分钟内叫号占比" in out.err and "等候太少，不排名" in out.out
    assert main(["outlets", "--db", db, *PERIOD, "--by", "kind", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["kind"] for r in rows} == {"own_hall", "partner_hall", "agent"}
    assert sum(int(r["visits"]) for r in rows) == ol.outlet_league(Warehouse.open(db), F)["visits"].sum()


def test_vip_and_failures(db: str, capsys) -> None:
    assert main(["outlets", "--db", db, *PERIOD, "--show", "vip", "--format", "json"]) == 0
    lane = {r["outlet_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert lane[1]["verdict"] == "works" and lane[2]["saving_lower"] < 0 < lane[2]["saving_upper"]
    worth = st.load_rules().min_saving_min
    assert lane[2]["verdict"] == ("unclear" if lane[2]["saving_upper"] >= worth else "does_not")
    assert main(["outlets", "--db", db, *PERIOD, "--show", "failures", "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert [(r["outlet_id"], r["item"], r["repeats"]) for r in rec] == [(1, "waiting", 3)]


def test_vip_tiers_and_verdicts_in_the_users_language(db: str, capsys) -> None:
    """--lang zh names the VIP tiers by their Chinese labels and the verdicts in words, not codes."""
    from metrics.model.i18n import label, t

    assert main(["outlets", "--db", db, *PERIOD, "--show", "vip", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    names = [label("tier", c, "zh") for c in st.load_rules().vip_tiers]
    assert names and all(n in out.err for n in names) and names != list(st.load_rules().vip_tiers)
    assert "diamond" not in out.err and t("page.outlets.verdict.works", "zh") in out.out


def test_a_channel_filter_is_said_not_to_apply_to_the_league(db: str, capsys) -> None:
    assert main(["outlets", "--db", db, *PERIOD, "--channel", "store", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "not filtered by --channel" in out.err
    records = json.loads(out.out)
    lg = ol.outlet_league(Warehouse.open(db), F)
    assert [r["complaints"] for r in records] == list(lg["complaints"]) and sum(lg["complaints"]) > 0
    assert main(["outlets", "--db", db, *PERIOD, "--format", "json"]) == 0
    assert "--channel" not in capsys.readouterr().err


@pytest.mark.parametrize("text", ["[weights\nwaiting = 1", None])
def test_a_broken_rules_file_is_one_line(db: str, tmp_path, monkeypatch, capsys, text: str | None) -> None:
    """A rules file that is not TOML, or missing: one line, exit 1, no traceback (outlets, vip, queue)."""
    path = tmp_path / "outlet_stars.toml"
    if text is not None:
        path.write_text(text, "utf-8")
    monkeypatch.setattr(outlet_rules, "RULES_PATH", path)
    for args in (["outlets"], ["outlets", "--show", "vip"], ["outlets", "--show", "failures"], ["queue"]):
        assert main([*args, "--db", db, *PERIOD]) == 1
        line = _one_line_error(capsys)
        assert "outlet_stars.toml" in line and str(tmp_path) not in line
        assert ("not valid TOML" if text else "not found") in line


def test_queue_by_hour_and_weekday(db: str, capsys) -> None:
    assert main(["queue", "--db", db, *PERIOD, "--outlet", "1", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    ref = ol.queue_pattern(Warehouse.open(db), F, 1, "hour")
    assert [r["hour"] for r in records] == list(ref["hour"])
    assert [r["p90_wait_min"] for r in records] == list(ref["p90_wait_min"])
    assert sum(r["share"] for r in records) == pytest.approx(1.0)
    assert main(["queue", "--db", db, *PERIOD, "--by", "hour_weekday", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    assert "周一" in out.out and "权限范围内全部网点" in out.err


def test_unknown_outlet_and_bad_target_are_one_line(db: str, capsys) -> None:
    assert main(["queue", "--db", db, "--outlet", "H-NOPE"]) == 1
    assert _one_line_error(capsys) == "servicewatch: error: unknown outlet H-NOPE (outlets.outlet_id)"
    assert main(["queue", "--db", db, "--outlet", "H-NOPE", "--lang", "zh"]) == 1
    assert _one_line_error(capsys) == "servicewatch: error: 未知的网点 H-NOPE（outlets.outlet_id）。"
    assert main(["outlets", "--db", db, "--target-minutes", "0"]) == 1
    assert _one_line_error(capsys) == "servicewatch: error: --target-minutes must be a positive number"


def test_a_city_manager_sees_their_citys_outlets_only(db: str, tmp_path, monkeypatch, capsys) -> None:
    users = tmp_path / "users.json"
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    add_user(User("east", "manager", regions=(2,)), None, users)
    assert main(["outlets", "--db", db, *PERIOD, "--as-user", "east", "--format", "json"]) == 0
    assert sorted(r["outlet_id"] for r in json.loads(capsys.readouterr().out)) == [1, 2]
    assert main(["queue", "--db", db, *PERIOD, "--as-user", "east", "--outlet", "3", "--lang", "zh"]) == 1
    assert _one_line_error(capsys) == "servicewatch: error: 该网点不在您的权限范围内。"


def test_keys_as_the_source_wrote_them(tmp_path, capsys) -> None:
    """An outlet whose key is text (``GZ-HALL-01``): named so on the command line and in the output."""
    url = f"duckdb:///{tmp_path / 'k.duckdb'}"
    fr = frames()
    for table in ("outlets", "queue_records", "audits", "surveys", "tickets"):
        fr[table]["outlet_id"] = fr[table]["outlet_id"].replace({1: -7})
    fr["source_keys"] = pd.DataFrame([{"entity": "outlets", "id": -7, "key": "GZ-HALL-01"}])
    replace_all(url, fr)
    assert main(["queue", "--db", url, *PERIOD, "--outlet", "GZ-HALL-01", "--by", "tier", "--format", "json"]) == 0
    assert sum(r["visits"] for r in json.loads(capsys.readouterr().out)) > 600
    assert main(["outlets", "--db", url, *PERIOD, "--format", "json"]) == 0
    assert "GZ-HALL-01" in {r["outlet_id"] for r in json.loads(capsys.readouterr().out)}


def test_stars_json_and_rules(db: str, tmp_path, capsys) -> None:
    assert main(["stars", "--db", db, *PERIOD, "--format", "json"]) == 0
    out = capsys.readouterr()
    got = {r["outlet_id"]: r for r in json.loads(out.out)}
    ref = st.star_ratings(Warehouse.open(db), F).set_index("outlet_id")
    assert {k: v["change"] for k, v in got.items()} == ref["change"].to_dict()
    assert got[1]["score"] == pytest.approx(ref.loc[1, "score"]) and "outlet_stars.toml" in out.err
    rules = tmp_path / "mine.toml"
    rules.write_text("[weights]\nwaiting = 1\n[stars]\n1 = 0\n2 = 20\n3 = 40\n4 = 60\n5 = 80\n", "utf-8")
    assert main(["stars", "--db", db, *PERIOD, "--rules", str(rules), "--format", "json"]) == 0
    got = {r["outlet_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert got[3]["score"] == pytest.approx(got[3]["score_waiting"])  # waiting only
    rules.write_text("[weights]\nwaiting = 1\nspeed = 2\n[stars]\n1 = 0", "utf-8")
    assert main(["stars", "--db", db, "--rules", str(rules)]) == 1
    line = _one_line_error(capsys)
    assert line == "servicewatch: error: unknown component speed in the star rules; known: waiting, audits, " \
                   "satisfaction, complaints"
    assert main(["stars", "--db", db, "--rules", str(tmp_path / "nope.toml"), "--lang", "zh"]) == 1
    line = _one_line_error(capsys)
    assert line == "servicewatch: error: 找不到评星规则文件 nope.toml。" and str(tmp_path) not in line


def test_a_viewer_gets_small_groups_withheld(db: str, tmp_path, monkeypatch, capsys) -> None:
    """The CLI calls the engine, which withholds a viewer's small groups itself: the tiny outlet's queue
    and VIP lane, its repeated failures; groups of the heat map under the minimum."""
    users = tmp_path / "users.json"
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    monkeypatch.setenv("SERVICEWATCH_MIN_GROUP_SIZE", "10")
    add_user(User("v", "viewer", regions=(1,)), None, users)
    assert main(["queue", "--db", db, *PERIOD, "--as-user", "v", "--outlet", "5", "--format", "json"]) == 0
    out = capsys.readouterr()
    rec = json.loads(out.out)
    assert rec and all(r["visits"] is None and r["p90_wait_min"] is None and r["suppressed"] for r in rec)
    assert f"{len(rec)} groups with fewer than 10 visits (or waits on a side) are withheld for your role." in out.err
    assert main(["queue", "--db", db, *PERIOD, "--as-user", "v", "--outlet", "5", "--lang", "zh"]) == 0
    out = capsys.readouterr()
    assert "不予显示" in out.err and "NaN" not in out.out
    assert main(["queue", "--db", db, *PERIOD, "--as-user", "v", "--outlet", "1", "--by", "hour_weekday",
                 "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    full = ol.queue_pattern(Warehouse.open(db), F, 1, "hour_weekday")
    small = (full["visits"] < 10).tolist()
    assert any(small) and [r["visits"] is None for r in rec] == small
    assert main(["outlets", "--db", db, *PERIOD, "--as-user", "v", "--show", "vip", "--format", "json"]) == 0
    lane = {r["outlet_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert lane[1]["verdict"] == "works" and lane[1]["n_vip"] > 10
    assert main(["outlets", "--db", db, "--from", "2026-06-15", "--to", "2026-06-15", "--as-user", "v", "--show",
                 "failures", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # the hall's day: too few visits to name its audits
