"""Who may see what (issue 7): scope applied inside the engine, the users file, sign-in, audit.

Every check compares what comes back with the scope itself (region ids against the allowed
descendants, customer ids against the account manager's portfolio), not with a hard-coded number.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from page_helpers import PASSWORD, write_users
from streamlit.testing.v1 import AppTest

from metrics.access import users as access
from metrics.access.users import AuthError, RateLimiter, Scope, ScopeError, User, UsersFileError
from metrics.analysis import drill
from metrics.cli import main as cli
from metrics.model.filters import Filters, preset_period
from metrics.model.links import parse_query
from metrics.query.warehouse import Warehouse

APP = Path(__file__).resolve().parents[2] / "app.py"
CITY, OTHER_CITY, PROVINCE = 2, 3, 1  # demo regions: 南岭市, 珠湾市 (cities of 岭南省)


@pytest.fixture(scope="module")
def base(wh: Warehouse) -> Filters:
    start, end = preset_period("last_12_months", wh.as_of())
    return Filters(start=start, end=end)


@pytest.fixture(scope="module")
def manager_id(wh: Warehouse) -> int:
    import sqlalchemy as sa

    from metrics.model import schema as s

    df = wh.read(sa.select(s.customers.c.account_manager_id, sa.func.count().label("n"))
                 .where(s.customers.c.account_manager_id.isnot(None))
                 .group_by(s.customers.c.account_manager_id).order_by(sa.desc("n")).limit(1))
    return int(df.iloc[0, 0])


@pytest.fixture(scope="module")
def customers(wh: Warehouse) -> pd.DataFrame:
    import sqlalchemy as sa

    from metrics.model import schema as s

    return wh.read(sa.select(s.customers.c.customer_id, s.customers.c.region_id, s.customers.c.account_manager_id))


def _scopes(manager_id: int) -> dict[str, Scope]:
    return {
        "city_manager": Scope("m", regions=(CITY,)),
        "province_manager": Scope("p", regions=(PROVINCE,)),
        "account_manager": Scope("a", manager_id=manager_id),
        "viewer_city": Scope("v", regions=(CITY,), aggregates_only=True, min_group_size=1),
    }


def _allowed(scope: Scope, wh: Warehouse, customers: pd.DataFrame) -> tuple[set[int] | None, set[int]]:
    regions = access.allowed_regions(scope, wh.regions())
    cust = customers
    if regions is not None:
        cust = cust[cust["region_id"].isin(regions)]
    if scope.manager_id is not None:
        cust = cust[cust["account_manager_id"] == scope.manager_id]
    return regions, set(cust["customer_id"].astype(int))


# -- engine entry points × roles --------------------------------------------------------------
@pytest.mark.parametrize("role", ["city_manager", "province_manager", "account_manager", "viewer_city"])
@pytest.mark.parametrize("metric_id", ["csat", "complaint_rate", "active_customers", "sla_resolution_compliance",
                                       "availability"])
def test_metric_by_district_stays_in_scope(wh, base, customers, manager_id, role, metric_id) -> None:
    scope = _scopes(manager_id)[role]
    f = base.with_(scope=scope)
    regions, _ = _allowed(scope, wh, customers)
    df = wh.metric(metric_id, f, ("region",), "district")
    if regions is not None:
        assert set(df["region_id"].astype(int)) <= regions
    # the scoped total equals the unscoped figure over exactly the allowed rows
    if scope.regions is not None:
        direct = wh.metric(metric_id, base.with_(regions=scope.regions))
        scoped = wh.metric(metric_id, f)
        assert scoped["value"].iloc[0] == pytest.approx(direct["value"].iloc[0], nan_ok=True)


def test_rollups_and_raw_agree_under_scope(wh, base, duckdb_url) -> None:
    raw = Warehouse.open(duckdb_url)
    raw.use_rollups = False
    f = base.with_(scope=Scope("m", regions=(CITY,)))
    a, b = wh.metric("csat", f, ("month",)), raw.metric("csat", f, ("month",))
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("role", ["city_manager", "province_manager", "account_manager"])
def test_drill_lists_stay_in_scope(wh, base, customers, manager_id, role) -> None:
    scope = _scopes(manager_id)[role]
    f = base.with_(scope=scope)
    regions, ids = _allowed(scope, wh, customers)
    t = drill.tickets(wh, f, limit=100_000)
    c = drill.customers(wh, f, limit=100_000)
    assert len(t) and len(c)
    assert set(t["customer_id"].astype(int)) <= ids and set(c["customer_id"].astype(int)) <= ids
    if regions is not None:
        assert set(c["region_id"].astype(int)) <= regions
    everyone = drill.customers(wh, base, limit=100_000)
    assert len(c) <= len(everyone) if role == "province_manager" else len(c) < len(everyone)


def test_out_of_scope_region_is_refused(wh, base) -> None:
    f = base.with_(scope=Scope("m", regions=(CITY,)), regions=(OTHER_CITY,))
    with pytest.raises(ScopeError, match="珠湾市 is outside your scope"):
        wh.metric("csat", f)
    with pytest.raises(ScopeError):
        drill.customers(wh, f)
    # a district of the own city is fine
    district = int(wh.regions().query("parent_id == @CITY")["region_id"].iloc[0])
    assert len(wh.metric("csat", base.with_(scope=Scope("m", regions=(CITY,)), regions=(district,))))


def test_empty_region_scope_sees_nothing(wh, base) -> None:
    df = wh.metric("active_customers", base.with_(scope=Scope("x", regions=())))
    assert df.empty


def test_viewer_gets_no_lists_and_small_groups_suppressed(wh, base) -> None:
    viewer = Scope("v", aggregates_only=True, min_group_size=100)
    f = base.with_(scope=viewer)
    with pytest.raises(ScopeError, match="aggregates only"):
        drill.tickets(wh, f)
    with pytest.raises(ScopeError):
        drill.customers(wh, f)
    # which groups are small (distinct customers, not rows): tests/access/test_access_scope.py
    df = wh.metric("csat", f, ("region",), "district")
    plain = wh.metric("csat", base, ("region",), "district")
    assert df["suppressed"].any() and (~df["suppressed"]).any()
    assert df.loc[df["suppressed"], ["value", "lower", "upper", "n"]].isna().all().all()
    assert (df.loc[~df["suppressed"], "value"].to_numpy() == plain.loc[~df["suppressed"], "value"].to_numpy()).all()


def test_scope_is_part_of_the_cache_key_not_the_url(base) -> None:
    a, b = base.with_(scope=Scope("m", regions=(CITY,))), base.with_(scope=Scope("m", regions=(OTHER_CITY,)))
    assert hash(a) != hash(b) and a != b and a != base
    assert "scope" not in a.to_query() and parse_query(a.to_query(), base).filters.scope is None


# -- users file and sign-in -------------------------------------------------------------------
@pytest.fixture()
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_users(tmp_path / "users.json", monkeypatch,
                       [User("admin1", "admin"), User("nanling", "manager", (CITY,)), User("viewer1", "viewer")])


def test_users_file_holds_hashes_only(users_file: Path) -> None:
    text = users_file.read_text()
    assert PASSWORD not in text and "$2b$" in text
    assert oct(users_file.stat().st_mode & 0o777) == "0o600"
    assert [u.name for u in access.list_users()] == ["admin1", "nanling", "viewer1"]


def test_verify_and_wrong_password(users_file: Path) -> None:
    lim = RateLimiter()
    assert access.verify("nanling", PASSWORD, limiter=lim).regions == (CITY,)
    with pytest.raises(AuthError, match="wrong user name or password"):
        access.verify("nanling", "wrong password", limiter=lim)
    with pytest.raises(AuthError, match="wrong user name or password"):
        access.verify("nobody", PASSWORD, limiter=lim)


def test_locked_after_n_failures_then_unlocked(users_file: Path) -> None:
    now = [0.0]
    lim = RateLimiter(max_failures=3, window_s=60, lockout_s=600, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(AuthError):
            access.verify("nanling", "bad password", limiter=lim)
    with pytest.raises(AuthError, match="locked"):
        access.verify("nanling", PASSWORD, limiter=lim)  # even the right password
    now[0] = 601
    assert access.verify("nanling", PASSWORD, limiter=lim).name == "nanling"


BAD_HASH = "$2b$" + "a" * 55
TAMPERED = ["{not json", json.dumps({"version": 1}), json.dumps({"users": {}}),
            json.dumps({"version": 1, "users": {"x": {"role": "root", "password_hash": BAD_HASH}}}),
            json.dumps({"version": 1, "users": {"x": {"role": "admin", "password_hash": "plain"}}})]


@pytest.mark.parametrize("content", TAMPERED)
def test_tampered_users_file_fails_closed(users_file: Path, content: str) -> None:
    users_file.write_text(content)
    with pytest.raises(UsersFileError):
        access.verify("admin1", PASSWORD, limiter=RateLimiter())


def test_missing_users_file_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(access.USERS_ENV, str(tmp_path / "none.json"))
    with pytest.raises(UsersFileError, match="does not exist"):
        access.verify("admin1", PASSWORD, limiter=RateLimiter())
    monkeypatch.delenv(access.USERS_ENV)
    with pytest.raises(UsersFileError, match="SERVICEWATCH_USERS"):
        access.load_users()


def test_roles_need_their_scope() -> None:
    with pytest.raises(ValueError, match="region"):
        User("m", "manager")
    with pytest.raises(ValueError, match="manager"):
        User("a", "account_manager")
    with pytest.raises(ValueError, match="role"):
        User("r", "root")


# -- CLI --------------------------------------------------------------------------------------
def test_cli_user_commands_and_as_user(users_file, duckdb_url, monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert cli.main(["user", "add", "zhuwan", "--role", "manager", "--regions", str(OTHER_CITY)]) == 0
    assert access.verify("zhuwan", "another password", limiter=RateLimiter()).regions == (OTHER_CITY,)
    capsys.readouterr()
    assert cli.main(["metric", "active_customers", "--db", duckdb_url, "--by", "city", "--as-user", "nanling",
                     "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["region_id"] for r in rows] == [CITY]
    assert cli.main(["metric", "csat", "--db", duckdb_url, "--region", str(OTHER_CITY), "--as-user", "nanling"]) == 1
    assert "outside your scope" in capsys.readouterr().err
    assert cli.main(["user", "remove", "zhuwan"]) == 0
    assert cli.main(["metric", "csat", "--db", duckdb_url, "--as-user", "zhuwan"]) == 1
    assert "no user zhuwan" in capsys.readouterr().err
    # without --as-user: the operator's tool, every city
    assert cli.main(["metric", "active_customers", "--db", duckdb_url, "--by", "city", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) > 1


# -- export hygiene ---------------------------------------------------------------------------
def test_csv_export_escapes_formulas() -> None:
    from metrics.present.export import safe_frame, to_csv

    df = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "ok"], "n": [1, 2, 3, 4, 5]})
    safe = safe_frame(df)
    assert all(not str(v).startswith(("=", "+", "-", "@")) for v in safe["name"])
    assert safe["name"].iloc[4] == "ok"
    assert b"\n=HYPERLINK" not in to_csv(df)


# -- the app ----------------------------------------------------------------------------------
@pytest.fixture()
def signed_app(users_file: Path, duckdb_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")

    def make(query: dict | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=90)
        if query:
            at.query_params.update(query)
        at.run()
        return at

    return make


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="_sw_login_name").input(name)
    at.text_input(key="_sw_login_password").input(password)
    at.button[0].click().run()
    return at


def test_app_shows_nothing_before_sign_in(signed_app) -> None:
    at = signed_app()
    assert not at.exception
    assert not at.metric and not at.sidebar.selectbox
    _sign_in(at, "nanling", "wrong password")
    assert not at.metric and any("错误" in e.value or "wrong" in e.value for e in at.error)


def test_app_city_manager_cannot_reach_other_city(signed_app, tmp_path: Path) -> None:
    at = _sign_in(signed_app({"region": str(OTHER_CITY)}), "nanling", PASSWORD)
    assert not at.exception, at.exception
    assert at.metric, "no KPI after sign-in"
    city = at.sidebar.selectbox(key="_w_city")
    assert set(city.options) == {"全部", "南岭市"}
    f = at.session_state["sw_state"]["filters"]
    assert f.scope == Scope("nanling", regions=(CITY,)) and OTHER_CITY not in f.regions
    rows = sqlite3.connect(tmp_path / "audit.sqlite").execute("select user, action from audit_log").fetchall()
    assert ("nanling", "sign_in") in rows


def test_app_crafted_url_region_ignored(signed_app) -> None:
    at = signed_app()
    _sign_in(at, "nanling", PASSWORD)
    at2 = signed_app({"region": str(OTHER_CITY)})
    assert not at2.metric  # a new session (a shared link) must sign in first
    assert at.session_state["sw_state"]["filters"].regions in ((), (CITY,))


def test_app_admin_page_refuses_non_admins(signed_app) -> None:
    at = _sign_in(signed_app(), "nanling", PASSWORD)
    at.switch_page("pages/7_Admin.py").run()
    assert not at.exception
    assert any("管理员" in e.value for e in at.error) and not at.dataframe


def test_app_admin_page_audit_log_in_chinese(signed_app) -> None:
    """The audit log by names (issue 15 item 6): headers, actions, detail keys and codes (role, reason)
    in Chinese; the time to the second; the signed-in line names the role."""
    _sign_in(signed_app(), "nanling", "wrong password")  # a failed sign-in, then a good one
    at = _sign_in(signed_app(), "admin1", PASSWORD)
    at.switch_page("pages/7_Admin.py").run()
    assert not at.exception, at.exception
    assert any(c.value == "已登录：admin1（管理员）" for c in at.sidebar.caption)
    log = at.dataframe[0].value
    assert list(log.columns) == ["时间（UTC）", "用户", "操作", "详情"]
    rows = dict(zip(log["用户"], zip(log["操作"], log["详情"], strict=True), strict=False))
    assert rows["admin1"] == ("登录", "角色：管理员")
    assert rows["nanling"] == ("登录失败", "原因：用户名或密码错误")
    assert log["时间（UTC）"].str.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}").all()
    assert not {"sign_in", "sign_in_failed"} & set(log["操作"])


def test_app_unconfigured_is_open_as_before(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(access.USERS_ENV, raising=False)
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception and at.metric


def test_app_demo_mode_announced(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(access.USERS_ENV, raising=False)
    monkeypatch.setenv("SERVICEWATCH_AUTH", "demo")
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception and at.metric
    assert any("演示" in w.value for w in at.warning)
