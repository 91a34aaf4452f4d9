"""The regulator's figures (metrics.analysis.regulator, appeal_risk) against hand computations on the
small set of tests/engine/regulator_frames.py, on DuckDB, PostgreSQL and MariaDB: MIIT's 申诉率 by its
categories and by city, the changes, the published-style check (5,940 appeals on 690.6 million users →
8.6 per million), the category mapping switching versions between 2021 and 2022, TIO's count point,
ACMA's 80% days against a hand-sorted list, the appeal-risk list and the user's scope; the demo's
appeals follow tickets left unresolved for 15+ days."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from regulator_frames import AS_OF, frames, quarter_in_progress_base, user_base_rows
from scipy import stats as sps

from metrics.access.users import Scope
from metrics.analysis import regulator as rg
from metrics.analysis import regulator_quarters as rq
from metrics.analysis import regulator_users as ru
from metrics.analysis.appeal_risk import appeal_risk
from metrics.analysis.regulator_acma import acma, days_to_resolve
from metrics.ingest.load import replace_all
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

F = Filters(start=date(2026, 7, 1), end=AS_OF)
Q3 = rq.parse_quarter("2026Q3")


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    return frames()


def garwood(k: int, users: float, per: float) -> tuple[float, float]:
    lo = 0.0 if k == 0 else sps.chi2.ppf(0.025, 2 * k) / 2
    return per * lo / users, per * sps.chi2.ppf(0.975, 2 * (k + 1)) / 2 / users


def row(df: pd.DataFrame, cat: str, region: int | None = None) -> pd.Series:
    sel = df["regulator_category"] == cat
    if region is not None:
        sel &= df["region_id"] == region
    assert sel.sum() == 1, (cat, region, df)
    return df[sel].iloc[0]


def test_miit_rate_by_category_and_change_by_hand(raw_any_url: str) -> None:
    fig = rg.rates(Warehouse.open(raw_any_url), F, Q3, "miit")
    assert fig.base_used == ru.CUSTOMERS_BASE and fig.point == "quarter_end" and fig.months == [date(2026, 9, 1)]
    total = row(fig.table, rg.ALL)
    # 4 appeals on 11 customers active on 2026-09-30
    assert total["appeals"] == 4 and total["users"] == 11
    assert total["rate"] == pytest.approx(4 / 11 * 1e6)
    assert (total["lower"], total["upper"]) == pytest.approx(garwood(4, 11, 1e6))
    # 2026Q2: 1 appeal on 10 users at 2026-06-30 (customers 11, 12 not yet, 7 still there); 2025Q3: 2 on 10
    assert total["appeals_prev"] == 1 and total["rate_prev"] == pytest.approx(1 / 10 * 1e6)
    assert total["change_prev"] == pytest.approx(4 / 11 * 1e6 - 1e5)
    assert total["appeals_year"] == 2 and total["change_year"] == pytest.approx(4 / 11 * 1e6 - 2e5)
    # the 2022 categories: billing → 营销、收费、资费争议, network_quality → 网络质量、信息安全,
    # fault_repair and service_attitude → 服务争议
    assert row(fig.table, "marketing_charging")["appeals"] == 1
    assert row(fig.table, "network_security")["appeals"] == 1
    assert row(fig.table, "service_dispute")["appeals"] == 2
    assert fig.table.loc[fig.table["regulator_category"] != rg.ALL, "appeals"].sum() == 4
    # a category without appeals in 2026Q2 stands at 0 on that quarter's 10 users, not "no data"
    assert row(fig.table, "service_dispute")["rate_prev"] == 0 and row(fig.table, "service_dispute")["users_prev"] == 10


def test_miit_by_city_by_hand(raw_any_url: str) -> None:
    fig = rg.rates(Warehouse.open(raw_any_url), F, Q3, "miit", level="city")
    jia, yi = row(fig.table, rg.ALL, 2), row(fig.table, rg.ALL, 3)
    assert (jia["appeals"], jia["users"]) == (3, 6) and (yi["appeals"], yi["users"]) == (1, 5)
    assert jia["rate"] == pytest.approx(3 / 6 * 1e6) and yi["rate"] == pytest.approx(1 / 5 * 1e6)
    prov = rg.rates(Warehouse.open(raw_any_url), F, Q3, "miit", level="province").table
    assert row(prov, rg.ALL, 1)["appeals"] == 4 and row(prov, rg.ALL, 1)["users"] == 11


def test_the_published_example_5940_on_690_6_million_is_8_6_per_million(raw, tmp_path) -> None:
    data = {k: v.copy() for k, v in raw.items()}
    extra = pd.DataFrame([dict(ticket_id=10_000 + i, customer_id=1, channel="web", kind="complaint", source="miit",
                               category="billing", priority="P3", resolved_at=pd.NaT,
                               opened_at=datetime(2022, 11, 1, 9) + timedelta(minutes=i)) for i in range(5940)])
    old = data["tickets"]
    extra = extra.reindex(columns=old.columns).astype({c: old[c].dtype for c in old.columns if old[c].notna().any()})
    data["tickets"] = pd.concat([old, extra], ignore_index=True)
    data["user_base"] = user_base_rows(690_600_000, month=date(2022, 12, 1))
    url = f"duckdb:///{tmp_path / 'pub.duckdb'}"
    replace_all(url, data)
    fig = rg.rates(Warehouse.open(url), Filters(start=date(2022, 10, 1), end=date(2022, 12, 31)),
                   rq.parse_quarter("2022Q4"), "miit", base="mobile")
    total = row(fig.table, rg.ALL)
    assert fig.base_used == "mobile" and total["users"] == 690_600_000 and total["appeals"] == 5940
    assert round(total["rate"], 1) == 8.6
    assert (total["lower"], total["upper"]) == pytest.approx(garwood(5940, 690.6e6, 1e6))
    # a slice the regulator's count cannot follow falls back to the customers, and says so
    tiered = rg.rates(Warehouse.open(url), Filters(start=date(2022, 10, 1), end=date(2022, 12, 31), tiers=("gold",)),
                      rq.parse_quarter("2022Q4"), "miit", base="mobile")
    assert tiered.base_used == ru.CUSTOMERS_BASE


def test_the_category_mapping_switches_versions_between_2021_and_2022(raw_any_url: str) -> None:
    wh = Warehouse.open(raw_any_url)
    old = rg.rates(wh, Filters(start=date(2021, 10, 1), end=date(2021, 12, 31)), rq.parse_quarter("2021Q4")).table
    new = rg.rates(wh, Filters(start=date(2022, 1, 1), end=date(2022, 3, 31)), rq.parse_quarter("2022Q1")).table
    # fault_repair on 2021-12-31 23:00 is 网络质量 (2012–2020 set); on 2022-01-01 服务争议; tariff 收费争议
    assert row(old, "network_quality")["appeals"] == 1 and row(old, "charging_dispute")["appeals"] == 1
    assert set(old["regulator_category"]) == {"network_quality", "charging_dispute", rg.ALL}
    assert set(new["regulator_category"]) == {"service_dispute", rg.ALL}
    # the same by the pure mapping on the days either side of the switch
    counts = pd.DataFrame({"category": ["fault_repair"] * 2, "day": [date(2021, 12, 31), date(2022, 1, 1)]})
    assert rg.map_categories(counts, rg.mapping(wh, "miit")).tolist() == ["network_quality", "service_dispute"]
    assert rg.map_categories(pd.DataFrame({"category": ["unknown_cat"], "day": [date(2023, 1, 1)]}),
                             rg.mapping(wh, "miit")).tolist() == [rg.UNMAPPED]


def test_tio_counts_services_at_the_end_of_the_quarters_second_month(raw_any_url: str) -> None:
    fig = rg.rates(Warehouse.open(raw_any_url), F, Q3, "tio")
    total = row(fig.table, rg.ALL)
    # 10 customers active on 2026-08-31 (7 still there, 11 and 12 not yet), per 10,000
    assert fig.point == "second_month_end" and fig.months == [date(2026, 8, 1)]
    assert total["users"] == 10 and total["rate"] == pytest.approx(4 / 10 * 1e4)
    ofcom = row(rg.rates(Warehouse.open(raw_any_url), F, Q3, "ofcom").table, rg.ALL)
    assert ofcom["users"] == 11 and ofcom["rate"] == pytest.approx(4 / 11 * 1e5)
    avg = row(rg.rates(Warehouse.open(raw_any_url), F, Q3, "miit", point="average").table, rg.ALL)
    # month ends 7-31: 10, 8-31: 10, 9-30: 11
    assert avg["users"] == pytest.approx(31 / 3)


def test_acma_days_against_a_hand_sorted_list(raw_any_url: str, raw) -> None:
    fig = acma(Warehouse.open(raw_any_url), F, Q3)
    # resolved in 2026Q3: the ten planted complaints and four appeals resolved after 5 hours (the one
    # opened 9-30 23:59 is resolved on 10-01); hand-sorted:
    days = [5 / 24] * 4 + [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 20]
    t = fig.table.iloc[0]
    assert t["resolved"] == 14
    assert t["mean_days"] == pytest.approx(sum(days) / 14)
    assert t["days_80"] == pytest.approx(7.0)  # ⌈0.8 × 14⌉ = 12th of the sorted list
    assert days_to_resolve(np.array([3.0, 1.0, 2.0, 5.0, 4.0])) == 4.0  # ⌈4⌉-th
    assert math.isnan(days_to_resolve(np.array([])))
    # top three received categories: pandas from the raw frame
    tk = raw["tickets"]
    q = tk[(tk["kind"] == "complaint") & (tk["opened_at"] >= datetime(2026, 7, 1))
           & (tk["opened_at"] < datetime(2026, 10, 1))]
    ref = (q.groupby("category").size().reset_index(name="n")
           .sort_values(["n", "category"], ascending=[False, True]).head(3))
    top = fig.extra["top_types"]
    assert top["category"].tolist() == ref["category"].tolist() and top["n"].tolist() == ref["n"].tolist()
    assert t["appeals"] == len(q) and t["users"] == 10


def test_appeal_risk_lists_past_and_soon_with_owners_in_scope(raw_any_url: str) -> None:
    wh = Warehouse.open(raw_any_url)
    risk = appeal_risk(wh, F, as_of=AS_OF)
    assert (risk.past, risk.soon) == (1, 1)
    got = risk.table.set_index("ticket_id")
    assert got.loc["901", "state"] == "past" and got.loc["902", "state"] == "soon"
    assert got.loc["901", "age_days"] == pytest.approx(20) and got.loc["902", "days_left"] == pytest.approx(1)
    assert got.loc["901", "manager"] == "张经理"
    # the owner: 902's handler named on the ticket; 901 names none, so its customer's account manager
    assert tuple(got.loc["902", ["owner", "owner_kind", "handler"]]) == ("王晓燕", "handler", "王晓燕")
    assert tuple(got.loc["901", ["owner", "owner_kind"]]) == ("张经理", "account_manager")
    # 乙市's manager sees none of 甲市's complaints; a viewer gets the counts only
    yi = appeal_risk(wh, F.with_(scope=Scope(user="yi", regions=(3,))), as_of=AS_OF)
    assert (yi.past, yi.soon, len(yi.table)) == (0, 0, 0)
    viewer = appeal_risk(wh, F.with_(scope=Scope(user="v", aggregates_only=True)), as_of=AS_OF)
    assert (viewer.past, viewer.soon, viewer.listed, len(viewer.table)) == (1, 1, False, 0)


def test_scope_restricts_the_appeals_and_the_base(raw_any_url: str) -> None:
    fig = rg.rates(Warehouse.open(raw_any_url), F.with_(scope=Scope(user="yi", regions=(3,))), Q3, "miit")
    total = row(fig.table, rg.ALL)
    assert (total["appeals"], total["users"]) == (1, 5)


def test_quarters() -> None:
    assert str(rq.parse_quarter("2026q3")) == "2026Q3"
    assert rq.parse_quarter("2026-Q1").shifted(-1) == rq.Quarter(2025, 4)
    assert rq.Quarter(2026, 4).stop == date(2027, 1, 1) and rq.Quarter(2026, 3).shifted(-4) == rq.Quarter(2025, 3)
    for bad in ("2026Q5", "Q3", "2026", ""):
        with pytest.raises(ValueError):
            rq.parse_quarter(bad)


def test_demo_appeals_follow_tickets_left_unresolved_for_15_days(demo_frames: dict) -> None:
    tk = demo_frames["tickets"]
    appeals = tk[tk["source"].isin(["miit", "ca"])]
    assert len(appeals) > 0 and (appeals["kind"] == "complaint").all()
    opened = pd.to_datetime(tk["opened_at"])
    late = tk[(pd.to_datetime(tk["resolved_at"]).fillna(pd.Timestamp.max) - opened) >= pd.Timedelta(days=15)]
    for a in appeals.itertuples():
        before = late[(late["customer_id"] == a.customer_id)]
        gap = pd.Timestamp(a.opened_at) - pd.to_datetime(before["opened_at"])
        assert ((gap >= pd.Timedelta(days=15)) & (gap <= pd.Timedelta(days=365))).any(), a.ticket_id
    assert set(tk["source"]) <= {"own", "miit", "ca", "12315", "media", "other"}
    assert set(tk.loc[tk["kind"] != "complaint", "source"]) == {"own"}
    rc = demo_frames["regulator_categories"]
    assert set(rc["category"]) == set(tk["category"]) and len(rc) == 2 * tk["category"].nunique()


def test_a_viewer_gets_no_rate_behind_too_few_users(raw_duckdb: str) -> None:
    fig = rg.rates(Warehouse.open(raw_duckdb), F.with_(scope=Scope(user="v", aggregates_only=True, min_group_size=6)),
                   Q3, "miit", level="city")
    jia, yi = row(fig.table, rg.ALL, 2), row(fig.table, rg.ALL, 3)
    assert not jia["suppressed"] and jia["appeals"] == 3
    assert yi["suppressed"] and pd.isna(yi["rate"]) and pd.isna(yi["appeals"])


def test_the_demos_user_base_is_its_own_denominator(duckdb_url: str, demo_frames: dict) -> None:
    wh = Warehouse.open(duckdb_url)
    q = rq.parse_quarter("2026Q3")
    f = Filters(start=q.start, end=date(2026, 9, 30))
    mobile = row(rg.rates(wh, f, q, "miit", base="mobile").table, rg.ALL)
    customers = row(rg.rates(wh, f, q, "miit").table, rg.ALL)
    ub = demo_frames["user_base"]
    assert mobile["users"] == ub.loc[ub["month"] == pd.Timestamp("2026-09-01"), "users"].sum()
    c = demo_frames["customers"]
    end = pd.Timestamp("2026-09-30")
    active = ((pd.to_datetime(c["start_date"]) <= end) & (pd.to_datetime(c["end_date"]).isna()
                                                           | (pd.to_datetime(c["end_date"]) > end))).sum()
    assert customers["users"] == active and mobile["users"] == pytest.approx(1.6 * active, rel=0.01)
    assert mobile["appeals"] == customers["appeals"]


def _with_user_base(raw: dict, ub: pd.DataFrame, path) -> str:  # noqa: ANN001 - a tmp path
    data = {k: v.copy() for k, v in raw.items()}
    data["user_base"] = ub
    url = f"duckdb:///{path / 'ub.duckdb'}"
    replace_all(url, data)
    return url


def test_a_quarter_in_progress_divides_by_the_months_the_base_has(raw, tmp_path) -> None:
    """user_base holds October (900,000) and November (1,100,000) 2026, not yet December: the mean is
    1,000,000 (not 2,000,000 / 3), and the quarter's end falls back to November's count — both said."""
    wh = Warehouse.open(_with_user_base(raw, quarter_in_progress_base(), tmp_path))
    f, q4 = Filters(start=date(2026, 10, 1), end=date(2026, 11, 30)), rq.parse_quarter("2026Q4")
    avg = rg.rates(wh, f, q4, "miit", base="mobile", point="average")
    total = row(avg.table, rg.ALL)
    assert avg.base_used == "mobile" and total["users"] == pytest.approx(1_000_000) and total["appeals"] == 1
    assert total["rate"] == pytest.approx(1.0)  # ticket 7, 2026-10-01, per million
    assert avg.months == [date(2026, 10, 1), date(2026, 11, 1)] and avg.missing == [date(2026, 12, 1)]
    end = rg.rates(wh, f, q4, "miit", base="mobile")
    assert end.reason is None and row(end.table, rg.ALL)["users"] == 1_100_000
    assert end.months == [date(2026, 11, 1)] and end.missing == [date(2026, 12, 1)]
    from metrics.model.i18n import t
    from metrics.present import regulator_text as rt

    for lang in ("zh", "en"):
        line = rt.denominator(end, lang)
        assert "2026-11-30" in line and t("regulator.denominator_missing", lang, missing="2026-12-31",
                                          months="2026-11-30") in line
    # a complete quarter says nothing is missing
    (tmp_path / "q3").mkdir()
    q3 = rg.rates(Warehouse.open(_with_user_base(raw, user_base_rows(5), tmp_path / "q3")), F, Q3, base="mobile")
    assert q3.missing == [] and q3.months == [date(2026, 9, 1)] and row(q3.table, rg.ALL)["users"] == 5


def test_a_category_not_in_use_in_the_comparison_quarter_is_not_compared(raw_any_url: str) -> None:
    """2022Q1 against 2021Q4 (and 2021Q1): 服务争议 did not exist then, so no rate, change or p — not a
    rise from 0; the total compares across the versions (1 appeal on 11 users against 2 on 11)."""
    fig = rg.rates(Warehouse.open(raw_any_url), Filters(start=date(2022, 1, 1), end=date(2022, 3, 31)),
                   rq.parse_quarter("2022Q1"))
    sd = row(fig.table, "service_dispute")
    for tag in ("prev", "year"):
        assert not sd[f"in_use_{tag}"]
        assert pd.isna(sd[f"rate_{tag}"]) and pd.isna(sd[f"change_{tag}"]) and pd.isna(sd[f"p_{tag}"])
    total = row(fig.table, rg.ALL)
    assert total["in_use_prev"] and (total["appeals"], total["appeals_prev"]) == (1, 2)
    assert total["change_prev"] == pytest.approx(1 / total["users"] * 1e6 - 2 / total["users_prev"] * 1e6)
    # in 2026Q3 every category was in use in 2026Q2: compared, 0 where there were none
    now = rg.rates(Warehouse.open(raw_any_url), F, Q3).table
    assert now["in_use_prev"].all() and now["in_use_year"].all()


def test_the_words_say_not_in_use_then(raw_duckdb: str) -> None:
    from metrics.model.i18n import t
    from metrics.present import regulator_text as rt

    fig = rt.ordered(rg.rates(Warehouse.open(raw_duckdb), Filters(start=date(2022, 1, 1), end=date(2022, 3, 31)),
                              rq.parse_quarter("2022Q1")))
    for lang in ("zh", "en"):
        shown = rt.shown_table(fig, lang)
        cell = shown[t("regulator.col.rate_prev", lang)].tolist()
        assert cell == [t("regulator.not_in_use", lang), rt.rate_text(row(fig.table, rg.ALL)["rate_prev"])]
        lines = rt.not_in_use_lines(fig, lang)
        assert len(lines) == 2 and "2021Q4" in lines[0] and "2021Q1" in lines[1]
        assert rt.category_name("service_dispute", lang) in lines[0]


def _exact_p(k1: int, t1: float, k2: int, t2: float) -> float:
    """The conditional binomial test by hand: P(X = x) summed over x no more likely than k1."""
    n, p = k1 + k2, t1 / (t1 + t2)
    pmf = [math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(n + 1)]
    return min(1.0, sum(v for v in pmf if v <= pmf[k1] * (1 + 1e-7)))


def test_the_change_p_value_is_the_exact_conditional_test(raw_any_url: str) -> None:
    total = row(rg.rates(Warehouse.open(raw_any_url), F, Q3).table, rg.ALL)
    # 4 appeals on 11 users against 1 on 10 (2026Q2) and 2 on 10 (2025Q3)
    assert total["p_prev"] == pytest.approx(_exact_p(4, 11, 1, 10))
    assert total["p_year"] == pytest.approx(_exact_p(4, 11, 2, 10))
    assert _exact_p(4, 11, 1, 10) == pytest.approx(0.3778, abs=1e-3)  # by hand; the normal approximation: 0.22
    assert rg.exact_rate_p([0], [5], [0], [5])[0] == 1 and np.isnan(rg.exact_rate_p([1], [0], [1], [5])[0])


def test_acma_for_a_viewer_blanks_groups_below_the_minimum(raw_duckdb: str, raw) -> None:
    wh = Warehouse.open(raw_duckdb)
    small = acma(wh, F.with_(scope=Scope(user="v", aggregates_only=True, min_group_size=11)), Q3)
    t = small.table.iloc[0]  # 10 services at 2026-08-31 < 11
    assert t["suppressed"] and pd.isna(t["rate"]) and pd.isna(t["appeals"]) and small.extra["top_types"].empty
    fig = acma(wh, F.with_(scope=Scope(user="v", aggregates_only=True, min_group_size=3)), Q3)
    t = fig.table.iloc[0]
    assert not t["suppressed"] and t["rate"] == pytest.approx(t["appeals"] / 10 * 1e4)
    assert t["days_80"] == pytest.approx(7.0)  # 14 resolved ≥ 3
    tk = raw["tickets"]
    q = tk[(tk["kind"] == "complaint") & (tk["opened_at"] >= datetime(2026, 7, 1))
           & (tk["opened_at"] < datetime(2026, 10, 1))]
    ref = q.groupby("category").size().reset_index(name="n").sort_values(["n", "category"], ascending=[False, True])
    ref = ref.head(3)
    ref = ref[ref["n"] >= 3]
    assert fig.extra["top_types"]["category"].tolist() == ref["category"].tolist() and len(ref) < 3
    few = acma(wh, F.with_(scope=Scope(user="v", aggregates_only=True, min_group_size=15)), Q3).table.iloc[0]
    assert pd.isna(few["mean_days"]) and pd.isna(few["days_80"])  # 14 resolved < 15


def test_a_viewers_appeal_risk_counts_in_sql_without_reading_names(raw_duckdb: str) -> None:
    import sqlalchemy as sa

    wh = Warehouse.open(raw_duckdb)
    seen: list[str] = []
    sa.event.listen(wh.engine, "before_cursor_execute", lambda conn, cur, stmt, *a: seen.append(stmt.lower()))
    viewer = appeal_risk(wh, F.with_(scope=Scope(user="v", aggregates_only=True)), as_of=AS_OF)
    assert (viewer.past, viewer.soon, viewer.listed) == (1, 1, False)
    assert any("count(" in s and "group by" in s for s in seen)
    assert not any("customers.name" in s or "account_managers" in s for s in seen)


def test_quarter_of_a_date() -> None:
    assert rq.Quarter.of(date(2026, 12, 31)) == rq.Quarter(2026, 4) and rq.Quarter.of(date(2026, 1, 1)).q == 1
    assert [rq.Quarter.of(date(2026, m, 15)).q for m in range(1, 13)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
