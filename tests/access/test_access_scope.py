"""Scope in the engine and the CLI beyond the basics of test_access.py (issue 7): the meeting pack
for viewers, ``report --per-region --as-user``, small groups counted in distinct customers.

Expected values come from the demo frames through the pandas reference (tests/reference.py) or from
the scope itself, never from the engine's own output.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import reference as ref
import sqlalchemy as sa
from PIL import Image

from metrics import report
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import Scope, User
from metrics.cli import main as cli
from metrics.model import schema as s
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse
from metrics.report import context as report_context

CITY, OTHER_CITY, PROVINCE = 2, 3, 1  # demo regions: 南岭市, 珠湾市, 岭南省
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def base(wh: Warehouse) -> Filters:
    start, end = preset_period("last_12_months", wh.as_of())
    return Filters(start=start, end=end)


def _fake_png(fig) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), "white").save(buf, "PNG")
    return buf.getvalue()


# -- small groups: distinct customers, not rows --------------------------------------------------
def _customers_behind(demo_frames, wh: Warehouse, f: Filters, metric_id: str, counts) -> pd.Series:
    """Distinct customers per district behind ``metric_id``'s rows (pandas, from the demo frames)."""
    rows = ref._events(demo_frames, metric_id, f, ref._Window(f, wh.as_of()), "district")
    rows = rows[counts(rows)]
    return rows.groupby("region")["customer_id"].nunique()


@pytest.mark.parametrize("metric_id,counts", [
    ("tickets", lambda r: pd.Series(True, index=r.index)),
    ("csat", lambda r: r["csat"].notna()),
])
def test_viewer_suppression_counts_distinct_customers(db_url, demo_frames, metric_id, counts) -> None:
    wh = Warehouse.open(db_url)
    start, end = preset_period("last_12_months", wh.as_of())
    base = Filters(start=start, end=end)
    behind = _customers_behind(demo_frames, wh, base, metric_id, counts)
    plain = wh.metric(metric_id, base, ("region",), "district").set_index("region_id")
    k = int(behind.median())  # some districts above, some below
    viewer = wh.metric(metric_id, base.with_(scope=Scope("v", aggregates_only=True, min_group_size=k)),
                       ("region",), "district").set_index("region_id")
    assert "customers" not in viewer.columns
    expected = {int(r): bool(behind.get(r, 0) < k) for r in viewer.index}
    assert viewer["suppressed"].to_dict() == expected
    assert any(expected.values()) and not all(expected.values())
    assert viewer.loc[viewer["suppressed"], ["value", "n", "lower", "upper"]].isna().all().all()
    kept = viewer.index[~viewer["suppressed"]]
    assert (viewer.loc[kept, "value"] == plain.loc[kept, "value"]).all()
    if metric_id == "tickets":  # several tickets per customer: counting rows would let these through
        assert ((plain.loc[viewer.index, "n"] >= k) & viewer["suppressed"]).any()


@pytest.mark.parametrize("metric_id", ["complaint_rate", "churn_rate", "active_customers", "availability",
                                       "resolution_hours_p90", "csat_mean", "nps"])
def test_viewer_suppression_every_kind_of_metric(db_url, metric_id) -> None:
    """Every source (customers, complaints, availability, quantiles) carries the distinct customers,
    on every database: k = 1 suppresses nothing that has data, a k above the whole customer base
    suppresses everything."""
    wh = Warehouse.open(db_url)
    start, end = preset_period("last_12_months", wh.as_of())
    base = Filters(start=start, end=end)
    n_customers = int(wh.read(sa.select(sa.func.count()).select_from(s.customers)).iloc[0, 0])
    for k, want in ((1, False), (n_customers + 1, True)):
        df = wh.metric(metric_id, base.with_(scope=Scope("v", aggregates_only=True, min_group_size=k)),
                       ("region",), "city")
        assert len(df) and (df["suppressed"] == want).all(), (metric_id, k)


def test_min_group_size_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    viewer = User("v", "viewer")
    monkeypatch.setenv(access_scope.MIN_GROUP_ENV, "12")
    assert access_scope.scope_for(viewer).min_group_size == 12
    monkeypatch.setenv(access_scope.MIN_GROUP_ENV, "many")
    assert access_scope.scope_for(viewer).min_group_size == access_scope.DEFAULT_MIN_GROUP_SIZE
    monkeypatch.delenv(access_scope.MIN_GROUP_ENV)
    assert access_scope.scope_for(viewer).min_group_size == access_scope.DEFAULT_MIN_GROUP_SIZE


# -- the meeting pack per role --------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(fitted_duckdb_url: str) -> Warehouse:
    return Warehouse.open(fitted_duckdb_url)


def _pack_text(pack: report.Pack) -> str:
    parts = []
    for p in pack.pages:
        parts += [p.title, p.subtitle, *p.lines, *p.sentences]
        if p.table is not None:
            parts += [c for row in p.table.rows for c in row]
    return "\n".join(str(x) for x in parts)


def test_viewer_pack_names_no_customer(scored: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    start, end = preset_period("last_quarter", scored.as_of())
    f = Filters(start=start, end=end, scope=Scope("v", aggregates_only=True, min_group_size=5))
    pack = report.build_pack(scored, f, "en", render=_fake_png)
    text = _pack_text(pack)
    names = scored.read(sa.select(s.customers.c.name))["name"]
    assert not [n for n in names if n in text]
    risk = [p for p in pack.pages if p.title == "Customers at risk"]
    assert risk and all(p.table is None for p in risk)
    totals = pd.DataFrame(scored.read(sa.text("select count(*) as n from churn_scores")))
    assert f"{int(totals['n'].iloc[0]):,}" in "\n".join(risk[0].sentences)  # all scored customers, aggregated


def test_viewer_pack_small_scope_withholds_totals(scored: Warehouse) -> None:
    from metrics.report.at_risk import at_risk
    from metrics.report.context import Ctx

    start, end = preset_period("last_quarter", scored.as_of())
    f = Filters(start=start, end=end, scope=Scope("v", aggregates_only=True, min_group_size=10**6))
    lines = at_risk(Ctx.open(scored, f, "zh", render=_fake_png))[0].sentences
    assert any("少于 1000000 户" in line for line in lines)


def test_manager_pack_lists_only_own_customers(scored: Warehouse) -> None:
    from metrics.report.at_risk import at_risk
    from metrics.report.context import Ctx

    start, end = preset_period("last_quarter", scored.as_of())
    f = Filters(start=start, end=end, scope=Scope("m", regions=(CITY,)))
    rows = [r for p in at_risk(Ctx.open(scored, f, "en", render=_fake_png)) for r in p.table.rows]
    allowed = access.allowed_regions(f.scope, scored.regions())
    c = scored.read(sa.select(s.customers.c.customer_id, s.customers.c.region_id))
    inside = set(c.loc[c["region_id"].isin(allowed), "customer_id"].astype(int))
    assert rows and {int(r[0]) for r in rows} <= inside


# -- CLI: report --per-region --as-user ----------------------------------------------------------
@pytest.fixture()
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.json"
    monkeypatch.setenv(access.USERS_ENV, str(path))
    access.add_user(User("nanling", "manager", (CITY,)), PASSWORD)
    access.add_user(User("lingnan", "manager", (PROVINCE,)), PASSWORD)
    access.add_user(User("district", "manager", (201,)), PASSWORD)
    return path


def test_report_per_region_as_user_only_own_cities(users, duckdb_url, wh, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(report_context, "render_png", _fake_png)
    out = tmp_path / "city"
    assert cli.main(["report", "--db", duckdb_url, "--period", "last_month", "--lang", "en", "--format", "pptx",
                     "--out", str(out), "--per-region", "--as-user", "nanling"]) == 0
    assert [p.name for p in out.iterdir()] == ["Nanling.pptx"]
    capsys.readouterr()
    # out of scope, explicitly: one line, nothing written
    refused = tmp_path / "refused"
    for region in (str(OTHER_CITY), str(PROVINCE)):
        assert cli.main(["report", "--db", duckdb_url, "--period", "last_month", "--format", "pdf",
                         "--out", str(refused), "--per-region", "--as-user", "nanling", "--region", region]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "超出您的数据权限" in err and "Traceback" not in err  # report: zh
    assert not refused.exists()
    # a scope below a city: no whole city, refused in one line
    assert cli.main(["report", "--db", duckdb_url, "--format", "pdf", "--out", str(refused), "--per-region",
                     "--as-user", "district"]) == 1
    assert "no whole city" in capsys.readouterr().err


def test_report_per_region_province_manager_gets_its_cities(users, duckdb_url, wh) -> None:
    from metrics.cli.report import cities_for

    regions = wh.regions()
    scope = access_scope.scope_for(access.get_user("lingnan"))
    cities = set(regions.loc[(regions["level"] == "city") & (regions["parent_id"] == PROVINCE), "region_id"])
    assert set(cities_for(regions, (), scope)) == cities
    assert cities_for(regions, (CITY,), access_scope.scope_for(access.get_user("nanling"))) == [CITY]
    with pytest.raises(access.ScopeError):
        cities_for(regions, (OTHER_CITY,), access_scope.scope_for(access.get_user("nanling")))


def test_cli_as_user_refuses_region_before_querying(users, duckdb_url, capsys) -> None:
    for argv in (["metric", "csat"], ["survival"]):
        assert cli.main([*argv, "--db", duckdb_url, "--as-user", "nanling", "--region", "珠湾市"]) == 1
        err = capsys.readouterr().err.strip()
        assert err == "servicewatch: error: region 珠湾市 is outside your scope"


def test_viewer_distribution_and_churn_reasons_withhold_small_groups(wh, base, demo_frames) -> None:
    from metrics.analysis import distributions
    from metrics.churn import rates as churn

    plain = distributions.score_distribution(wh, base, "csat", ("channel",))
    rows = ref._events(demo_frames, "csat", base, ref._Window(base, wh.as_of()), "city")
    behind = rows[rows["csat"].notna()].groupby("channel")["customer_id"].nunique()
    k = int(behind.median())
    viewer = base.with_(scope=Scope("v", aggregates_only=True, min_group_size=k))
    shown = distributions.score_distribution(wh, viewer, "csat", ("channel",))
    assert set(shown["channel"]) == {ch for ch, n in behind.items() if n >= k}
    assert 0 < shown["channel"].nunique() < plain["channel"].nunique()
    kept = plain[plain["channel"].isin(shown["channel"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), kept, check_dtype=False)
    leavers = int(churn.churn_reasons(wh, base)["n"].sum())
    for k, empty in ((leavers, False), (leavers + 1, True)):
        f = base.with_(scope=Scope("v", aggregates_only=True, min_group_size=k))
        assert churn.churn_reasons(wh, f).empty == empty
        assert distributions.score_distribution(wh, f.with_(scope=Scope("v", aggregates_only=True,
                                                                      min_group_size=10**6)), "csat").empty


def test_viewer_survival_withholds_small_groups(wh, base) -> None:
    from metrics.churn import survival

    plain = survival.life_table(wh, base, "tier", step_days=30)
    c = wh.read(sa.select(s.customers.c.tier, sa.func.count().label("n")).group_by(s.customers.c.tier))
    sizes = plain.groupby("group")["entered"].sum()
    assert sizes.sum() <= c["n"].sum()
    k = int(sizes.median())
    f = base.with_(scope=Scope("v", aggregates_only=True, min_group_size=k))
    shown = survival.life_table(wh, f, "tier", step_days=30)
    assert set(shown["group"]) == {g for g, n in sizes.items() if n >= k}
    assert 0 < shown["group"].nunique() < plain["group"].nunique()
    r = survival.retention(wh, f, "tier", step_days=30)
    assert set(r.curves["group"]) == set(shown["group"])


# -- CLI entry points × roles --------------------------------------------------------------------
@pytest.mark.parametrize("role", ["city_manager", "account_manager", "viewer"])
def test_cli_entry_points_stay_in_scope(role, fitted_duckdb_url, tmp_path, monkeypatch, capsys) -> None:
    import json

    wh = Warehouse.open(fitted_duckdb_url)
    c = wh.read(sa.select(s.customers.c.customer_id, s.customers.c.region_id, s.customers.c.account_manager_id))
    top = int(c["account_manager_id"].value_counts().index[0])
    user = {"city_manager": User("m1", "manager", (CITY,)), "account_manager": User("a1", "account_manager",
            manager_id=top), "viewer": User("v1", "viewer", (CITY,))}[role]
    monkeypatch.setenv(access.USERS_ENV, str(tmp_path / "users.json"))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    access.add_user(user, PASSWORD)
    scope = access_scope.scope_for(user)
    regions = access.allowed_regions(scope, wh.regions())
    inside = c if regions is None else c[c["region_id"].isin(regions)]
    if scope.manager_id is not None:
        inside = inside[inside["account_manager_id"] == scope.manager_id]

    def run(*argv: str) -> list[dict] | None:
        code = cli.main([*argv, "--db", fitted_duckdb_url, "--as-user", user.name, "--format", "json"])
        out = capsys.readouterr()
        return json.loads(out.out) if code == 0 else None

    by_district = run("metric", "active_customers", "--by", "district")
    assert by_district and sum(r["value"] or 0 for r in by_district) <= len(inside)
    if regions is not None:
        assert {r["region_id"] for r in by_district} <= regions
    survival = run("survival", "--by", "district", "--show", "summary")
    if regions is not None:
        assert {int(r["group"]) for r in survival} <= regions
    scores = run("churn", "scores", "--top", "500")
    if scope.aggregates_only:
        assert scores is None  # refused: aggregates only
    else:
        assert scores and {r["customer_id"] for r in scores} <= set(inside["customer_id"])
