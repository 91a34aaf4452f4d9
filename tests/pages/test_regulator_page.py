"""The Regulator page (issue 20, pages/12_Regulator.py) in AppTest on the small hand-made set of
tests/engine/regulator_frames.py: MIIT's table is the engine's and the hand figures (4 appeals on 11
users), in Chinese and English without leftover keys in any section; the appeal-risk list names the
owners and equals the engine's; the other authorities' definitions are written on the page; a viewer
sees the counts and no customer-level list."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
from page_helpers import filters, open_page, other_sections, plain, show_section, write_users

from metrics.access.users import User
from metrics.analysis import appeal_risk as ar
from metrics.analysis import regulator as rg
from metrics.analysis import regulator_quarters as rq
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.present import regulator_text as rt
from metrics.query.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from regulator_frames import quarter_in_progress_base, regulator_db  # noqa: E402

PAGE = "pages/12_Regulator.py"


@pytest.fixture(scope="module")
def small_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return regulator_db(tmp_path_factory.mktemp("regpage") / "r.duckdb")


@pytest.fixture()
def url(small_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SERVICEWATCH_DB", small_url)
    return small_url


def _texts(at) -> str:
    return "\n".join(plain(str(e.value)) for kind in ("markdown", "caption", "info", "warning", "success", "subheader")
                     for e in getattr(at, kind))


def _no_leftovers(at, lang: str) -> None:
    """No catalogue key or format field left in what the page shows; no Chinese on the English page."""
    shown = _texts(at) + "\n".join(" ".join(map(str, d.value.columns)) for d in at.dataframe)
    assert not re.search(r"page\.regulator\.|regulator\.[a-z_]+\.|\{[a-z_0-9]+\}", shown), shown[:2000]
    if lang == "en":  # no Chinese but the data's names and the quoted term 申诉率
        body = re.sub(r"申诉率|[张李]经理|客户[0-9]+|甲市|乙市|示例省|甲一区", "", shown)
        assert not re.search(r"[\u4e00-\u9fff]", body), re.findall(r".{20}[\u4e00-\u9fff].{20}", body)[:5]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_miit_table_is_the_hand_figures_in_both_languages(url: str, lang: str) -> None:
    at = open_page(PAGE, {"lang": lang, "quarter": "2026Q3"})
    table = [d.value for d in at.dataframe if t("regulator.col.rate", lang) in d.value.columns]
    assert table, "no MIIT table"
    df = table[0]
    total = df[df[t("regulator.col.regulator_category", lang)] == t("regulator.col.total", lang)].iloc[0]
    assert total[t("regulator.col.appeals", lang)] == "4" and total[t("regulator.col.rate", lang)] == "363,636.4"
    assert total[t("regulator.col.rate_prev", lang)] == "100,000.0"
    text = _texts(at)
    assert t("regulator.definition.miit", lang).split("（")[0].split(" (")[0] in text
    assert "2026-09-30" in text  # the count point, stated
    _no_leftovers(at, lang)
    for section in other_sections(at):
        show_section(at, section)
        _no_leftovers(at, lang)


def test_appeal_risk_names_the_owners(url: str) -> None:
    at = open_page(PAGE, {"lang": "zh", "section": "appeal_risk"})
    wh = Warehouse.open(url)
    day = wh.as_of()
    r = ar.appeal_risk(wh, Filters(start=day, end=day), as_of=day)
    (df,) = [d.value for d in at.dataframe if t("regulator.col.manager", "zh") in d.value.columns]
    assert df[t("regulator.col.ticket_id", "zh")].tolist() == r.table["ticket_id"].astype(str).tolist()
    assert set(df[t("regulator.col.manager", "zh")]) == {"张经理"} and r.past + r.soon == len(df) > 0
    # the owner: the ticket's handler when named (902: 王晓燕), else the account manager, and which
    assert df[t("regulator.col.owner", "zh")].tolist() == r.table["owner"].tolist()
    kinds = [t(f"appeal_owner.{k}", "zh") for k in r.table["owner_kind"]]
    assert df[t("regulator.col.owner_kind", "zh")].tolist() == kinds
    assert "王晓燕" in set(df[t("regulator.col.owner", "zh")])
    assert t("regulator.risk.counts", "zh", day=day.isoformat(), past=r.past, soon=r.soon, wait=15,
             soon_days=3) in _texts(at)


def test_other_authorities_write_their_definitions(url: str) -> None:
    for authority in ("ofcom", "tio", "acma"):
        at = open_page(PAGE, {"lang": "en", "section": "authorities", "quarter": "2026Q3", "authority": authority})
        text = _texts(at)
        assert t(f"regulator.definition.{authority}", "en") in text
        assert "Denominator:" in text
    assert "80% within 7.0 days" in text  # ACMA on the hand-made set


def test_a_viewer_sees_counts_and_no_list(url: str, tmp_path, monkeypatch) -> None:
    viewer = User("viewer1", "viewer")
    write_users(tmp_path / "users.json", monkeypatch, [viewer])
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(PAGE, {"lang": "zh", "section": "appeal_risk"}, {"sw_user": viewer, "_sw_seen": time.time()})
    assert t("regulator.risk.viewer", "zh") in _texts(at)
    assert not [d for d in at.dataframe if t("regulator.col.customer", "zh") in d.value.columns]


def test_by_city_the_chart_and_the_table_are_the_engines(url: str, downloads) -> None:
    at = open_page(PAGE, {"lang": "zh", "quarter": "2026Q3", "level": "city"})
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("2026Q3" in x for x in titles), titles
    (df,) = [d.value for d in at.dataframe if t("regulator.col.region", "zh") in d.value.columns]
    total = df[df[t("regulator.col.regulator_category", "zh")] == t("regulator.col.total", "zh")]
    assert dict(zip(total[t("regulator.col.region", "zh")], total[t("regulator.col.appeals", "zh")],
                    strict=True)) == {"甲市": "3", "乙市": "1"}
    _no_leftovers(at, "zh")


def test_the_base_and_point_settings_are_stated(demo_db: str) -> None:
    at = open_page(PAGE, {"lang": "en", "quarter": "2026Q3", "base": "mobile", "point": "second_month_end"})
    text = _texts(at)
    assert t("user_base_kind.mobile", "en") in text and "2026-08-31" in text
    assert t("regulator.point.second_month_end", "en") in text
    _no_leftovers(at, "en")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_category_not_in_use_then_says_so(url: str, lang: str) -> None:
    """2022Q1: 服务争议 did not exist in 2021Q4 (MIIT's 2021→2022 switch): no rise from 0."""
    at = open_page(PAGE, {"lang": lang, "quarter": "2022Q1"})
    (df,) = [d.value for d in at.dataframe if t("regulator.col.rate", lang) in d.value.columns]
    sd = df[df[t("regulator.col.regulator_category", lang)] == t("regulator_category.service_dispute", lang)].iloc[0]
    assert sd[t("regulator.col.rate_prev", lang)] == t("regulator.not_in_use", lang)
    assert sd[t("regulator.col.change_prev", lang)] == "—" and sd[t("regulator.col.change_year", lang)] == "—"
    wh = Warehouse.open(url)  # the line naming the categories the comparison quarters did not have
    fig = rt.ordered(rg.rates(wh, filters(at), rq.parse_quarter("2022Q1"), "miit"))
    lines = rt.not_in_use_lines(fig, lang)
    assert lines and all(plain(line) in [plain(c.value) for c in at.caption] for line in lines)
    _no_leftovers(at, lang)


def test_a_quarter_in_progress_states_the_month_ends_the_base_has(tmp_path, monkeypatch) -> None:
    db = regulator_db(tmp_path / "ub.duckdb", user_base=quarter_in_progress_base())
    monkeypatch.setenv("SERVICEWATCH_DB", db)
    at = open_page(PAGE, {"lang": "en", "quarter": "2026Q4", "base": "mobile", "point": "average"})
    assert t("regulator.denominator_missing", "en", missing="2026-12-31",
             months="2026-10-31, 2026-11-30") in _texts(at)
    (df,) = [d.value for d in at.dataframe if t("regulator.col.rate", "en") in d.value.columns]
    total = df[df[t("regulator.col.regulator_category", "en")] == t("regulator.col.total", "en")].iloc[0]
    assert total[t("regulator.col.users", "en")] == "1,000,000" and total[t("regulator.col.rate", "en")] == "1.0"
