"""Who may see what, page by page (issue 7): every role × every page of the app (AppTest).

Each page is opened signed in as admin, city manager, account manager or viewer, with a link whose
query string asks for another city. What the page shows — texts, KPI cards, tables, chart JSON —
and what its CSV downloads hold are checked against the role's scope, computed from the customers
table: no customer id or name outside the scope, no region outside it, no customer name at all for a
viewer; a region outside the scope in the link is refused with the catalogue's message.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from page_helpers import open_page, other_sections, plain, show_section

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import User
from metrics.model import schema as s
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

CITY, OTHER_CITY = 2, 3  # demo regions 南岭市, 珠湾市
PAGES = ["app.py", *sorted(f"pages/{p.name}" for p in (Path(__file__).parents[2] / "pages").glob("*.py"))]
ADMIN_ONLY = ("pages/6_Data.py", "pages/7_Admin.py")
PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def wh(fitted_duckdb_url: str) -> Warehouse:
    return Warehouse.open(fitted_duckdb_url)


@pytest.fixture(scope="module")
def customers(wh: Warehouse) -> pd.DataFrame:
    c = s.customers
    return wh.read(sa.select(c.c.customer_id, c.c.name, c.c.region_id, c.c.account_manager_id))


@pytest.fixture(scope="module")
def roles(wh: Warehouse, customers: pd.DataFrame) -> dict[str, User]:
    c, tk = s.customers, s.tickets  # the account manager whose customers complained most: data on every page
    top = wh.read(sa.select(c.c.account_manager_id).select_from(tk.join(c, c.c.customer_id == tk.c.customer_id))
                  .where(c.c.account_manager_id.isnot(None), tk.c.kind == "complaint")
                  .group_by(c.c.account_manager_id).order_by(sa.func.count().desc(), c.c.account_manager_id)
                  .limit(1)).iloc[0, 0]
    return {"admin": User("root1", "admin"), "city_manager": User("nanling", "manager", (CITY,)),
            "account_manager": User("wang", "account_manager", manager_id=int(top)),
            "viewer": User("viewer1", "viewer", (CITY,))}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory, roles: dict[str, User]) -> Path:
    path = tmp_path_factory.mktemp("matrix") / "users.json"
    for user in roles.values():
        access.add_user(user, PASSWORD, path)
    return path


def _texts(at) -> str:
    """Everything a page shows as text, sidebar included: texts, cards, tables, chart JSON."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                 "success", "latex", "code"):
        parts += [plain(str(e.value)) for e in getattr(at, kind)]  # data in Markdown is escaped: as shown
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for df in [d.value for d in at.dataframe] + [tb.value for tb in at.table]:
        parts.append(df.to_csv(index=False))
    parts += [c.proto.spec for c in at.get("plotly_chart")]
    parts += [json.dumps(j.value, ensure_ascii=False, default=str) for j in at.json]
    parts += [" ".join(map(str, sb.options)) for sb in at.selectbox]
    return "\n".join(parts)


def _frames(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe] + [tb.value for tb in at.table]


def _downloaded(downloads) -> list[pd.DataFrame]:
    return [pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode())) for _, data in downloads]


def _every_section(at) -> tuple[str, list[pd.DataFrame]]:
    """Text and tables of every section of the page (``ui.sections``), each run in turn."""
    texts, frames = [_texts(at)], _frames(at)
    for section in other_sections(at):
        show_section(at, section)
        texts.append(_texts(at))
        frames += _frames(at)
    return "\n".join(texts), frames


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ["admin", "city_manager", "account_manager", "viewer"])
def test_page_shows_nothing_outside_the_scope(role, page, roles, users_file, wh, customers, fitted_duckdb_url,
                                             monkeypatch, downloads, tmp_path) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setenv(access.USERS_ENV, str(users_file))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    user = roles[role]
    # a link to another city; an account manager's portfolio spans cities, so their link has none
    query = {"lang": "zh"} if role == "account_manager" else {"region": str(OTHER_CITY), "lang": "zh"}
    at = open_page(page, query, {"sw_user": user, "_sw_seen": time.time()})
    assert not at.exception, [e.value for e in at.exception]
    scope = access_scope.scope_for(user)
    if user.role != "admin" and page in ADMIN_ONLY:  # refused with the catalogue's message, nothing else
        key = "page.admin.refused" if page.endswith("Admin.py") else "page.data.admins_only"
        assert [e.value for e in at.error] == [t(key, "zh")] and not at.dataframe and not at.metric
        return
    if scope is None:  # admin: the link's city is applied
        assert at.session_state["sw_state"]["filters"].regions == (OTHER_CITY,)
        return

    regions = wh.regions()
    allowed_regions = access.allowed_regions(scope, regions)
    inside = customers
    if allowed_regions is not None:
        inside = inside[inside["region_id"].isin(allowed_regions)]
    if scope.manager_id is not None:
        inside = inside[inside["account_manager_id"] == scope.manager_id]
    outside = customers[~customers["customer_id"].isin(inside["customer_id"])]

    f = at.session_state["sw_state"]["filters"]
    assert f.scope == scope
    if allowed_regions is not None:  # the link's other city is refused with the catalogue's message
        assert OTHER_CITY not in f.regions
        assert t("auth.out_of_scope", "zh") in [w.value for w in at.warning]
    text, frames = _every_section(at)
    if allowed_regions is not None:
        foreign = regions[~regions["region_id"].isin(allowed_regions) & (regions["level"] != "province")]
        shown = [n for n in foreign["name_zh"] if n in text]
        assert not shown, f"{role} sees regions outside the scope on {page}: {shown[:5]}"

    # customer names: none outside the scope; none at all for a viewer
    forbidden = customers if scope.aggregates_only else outside
    ok_names = set() if scope.aggregates_only else set(inside["name"])
    names = [n for n in forbidden["name"] if len(n) >= 3 and not any(n in m for m in ok_names)]
    leaked = [n for n in names if n in text]
    assert not leaked, f"{role} sees customers outside the scope on {page}: {leaked[:5]}"

    for df in frames + _downloaded(downloads):
        cols = {str(c).lower(): c for c in df.columns}
        if "customer_id" in cols or "客户编号" in cols:
            assert not scope.aggregates_only, f"a customer list for a viewer on {page}"
            ids = set(pd.to_numeric(df[cols.get("customer_id", cols.get("客户编号"))], errors="coerce").dropna())
            assert ids <= set(inside["customer_id"]), f"{role}: customer ids outside the scope on {page}"
        if "region_id" in cols and allowed_regions is not None:
            ids = set(pd.to_numeric(df[cols["region_id"]], errors="coerce").dropna().astype(int))
            assert ids <= allowed_regions, f"{role}: region ids outside the scope on {page}"
    for name, data in downloads:
        blob = data.decode("utf-8-sig", "replace") if isinstance(data, bytes) else str(data)
        leaked = [n for n in names if n in blob]
        assert not leaked, f"{role}: download {name} on {page} holds customers outside the scope: {leaked[:5]}"


def test_city_manager_overview_numbers_are_the_city(roles, users_file, wh, fitted_duckdb_url, monkeypatch,
                                                    downloads, tmp_path) -> None:
    """The numbers themselves: the active-customer card of a city manager is the city's figure."""
    from metrics.model.i18n import metric_label
    from metrics.present.formatting import fmt_value

    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setenv(access.USERS_ENV, str(users_file))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    at = open_page("app.py", {"lang": "zh"}, {"sw_user": roles["city_manager"], "_sw_seen": time.time()})
    f = at.session_state["sw_state"]["filters"]
    city = wh.metric("active_customers", f.with_(scope=None, regions=(CITY,)))["value"].iloc[0]
    everyone = wh.metric("active_customers", f.with_(scope=None))["value"].iloc[0]
    card = [m.value for m in at.metric if m.label == metric_label("active_customers", "zh")]
    assert card == [fmt_value(city, "customers", "zh")] and city < everyone


@pytest.mark.parametrize("region,refused", [(OTHER_CITY, True), (201, False)])  # 201: a district of 南岭市
def test_crafted_chart_selection_is_refused(region, refused, roles, users_file, wh, customers, fitted_duckdb_url,
                                           monkeypatch, downloads, tmp_path) -> None:
    """A chart selection comes from the browser: one naming another city's region is refused."""
    from streamlit.util import AttributeDictionary as Attrs

    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setenv(access.USERS_ENV, str(users_file))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    selection = Attrs({"selection": Attrs({"points": [{"customdata": [region]}], "point_indices": [0],
                                           "box": [], "lasso": []})})
    at = open_page("pages/2_Complaints.py", {"lang": "zh", "section": "funnel"},
                   {"sw_user": roles["city_manager"], "_sw_seen": time.time()})
    at.session_state["complaint_funnel"] = selection  # the browser's selection arrives with a later run
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    lists = [d.value for d in at.dataframe if t("page.complaints.col.ticket_id", "zh") in d.value.columns]
    assert (t("auth.refused_request", "zh") in [i.value for i in at.info]) == refused
    if refused:
        assert not lists
    else:
        inside = {str(c) for c in customers.loc[customers["region_id"] == region, "customer_id"]}
        shown = set(lists[0][t("page.complaints.col.customer_id", "zh")].astype(str))  # keys as the source wrote them
        assert lists and shown and shown <= inside
