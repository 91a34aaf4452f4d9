"""The Outlets page (issue 19, pages/11_Outlets.py) in AppTest on the demo DuckDB: the league is the
engine's and its visits are the queue records' (pandas), in Chinese and English without leftover keys;
the issue's "done when" — a Dongjiang hall manager sees their hall's p90 wait double in the month's
last week (checked against pandas on the raw records), the VIP lane's saving with its interval and
the audit item failed three times; their city manager sees who loses a star and why —; a city
manager sees only their city's outlets, a viewer no customer, and hostile outlet names are text."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import changed_copy
from page_helpers import filters, open_page, other_sections, plain, show_section, write_users
from section_run import run_section

from metrics.access.users import User
from metrics.analysis import outlet_rules
from metrics.analysis import outlet_stars as os_
from metrics.analysis import outlets as oa
from metrics.model import schema as s
from metrics.model.i18n import label, t
from metrics.present.formatting import fmt_count, number
from metrics.present.markup import md
from metrics.present.masking import mask
from metrics.query.warehouse import Warehouse
from metrics.report.outlets_section import outlets_section, quarter_filters, wider_filters
from servicewatch.outlets_panel import month_end_window

PAGE = "pages/11_Outlets.py"
DONGJIANG, NANLING = 4, 2  # demo cities 东江市 (the planted hall) and 南岭市
DEMO_CUSTOMERS = 20_000
HOSTILE = "**hall** <b>x</b> [click](http://evil.example) :red[x]"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory, demo_frames_20k: dict) -> str:
    """The demo at the size ``make demo`` builds (the session's ``demo_frames_20k``: 20,000 customers,
    seed 7): the session's small demo has too few visits per hall for a month's p90 or a VIP comparison."""
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path_factory.mktemp('outlets') / 'demo.duckdb'}"
    replace_all(url, demo_frames_20k)
    return url


@pytest.fixture()
def url(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SERVICEWATCH_DB", demo_url)
    return demo_url


@pytest.fixture(scope="module")
def outlets(demo_url: str) -> pd.DataFrame:
    """The outlets table as stored (read here, not through the engine)."""
    wh = Warehouse.open(demo_url)
    return wh.read(sa.select(s.outlets))


@pytest.fixture(scope="module")
def hall(outlets: pd.DataFrame) -> pd.Series:
    """The demo's planted hall: the first own hall of Dongjiang (month-end waits, the failed audit item)."""
    own = outlets[(outlets["region_id"] == DONGJIANG) & (outlets["kind"] == "own_hall")]
    return own.sort_values("outlet_id").iloc[0]


def _signed_in(user: User, tmp_path, monkeypatch) -> dict:
    write_users(tmp_path / "users.json", monkeypatch, [user])
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    return {"sw_user": user, "_sw_seen": time.time()}


def _table(at, header: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if header in d.value.columns]
    assert found, f"no table with {header!r}"
    return found[0]


def _texts(at) -> str:
    return "\n".join(plain(str(e.value)) for kind in ("markdown", "caption", "info", "warning", "success", "subheader")
                     for e in getattr(at, kind))


def _no_leftovers(at) -> None:
    """No catalogue key or format field left in what the page shows (an untranslated text)."""
    shown = _texts(at) + "\n".join(" ".join(map(str, d.value.columns)) for d in at.dataframe)
    shown += "\n".join(json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart"))
    assert not re.search(r"page\.outlets\.|outlets_pack\.|\{[a-z_]+\}", shown), shown[:2000]


def _queue(wh: Warehouse) -> pd.DataFrame:
    q = s.queue_records
    df = wh.read(sa.select(q.c.outlet_id, q.c.customer_id, q.c.arrived_at, q.c.called_at, q.c.abandoned))
    df["wait"] = (pd.to_datetime(df["called_at"]) - pd.to_datetime(df["arrived_at"])).dt.total_seconds() / 60
    return df


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_league_is_the_engines_and_counts_the_records(url: str, lang: str, outlets: pd.DataFrame) -> None:
    at = open_page(PAGE, {"lang": lang})
    assert at.title[0].value == t("page.outlets.title", lang)
    wh = Warehouse.open(url)
    f = filters(at)
    df = oa.outlet_league(wh, f, os_.load_rules().target_minutes)
    col = lambda k: t(f"page.outlets.col.{k}", lang)  # noqa: E731
    table = _table(at, col("outlet"))
    assert len(table) == len(df) > 3
    assert list(table[col("outlet")]) == list(df["name"].astype(str))
    assert list(table[col("p90")]) == [number(float(v), 1) if pd.notna(v) else "—" for v in df["p90_wait_min"]]
    assert list(table[col("kind")]) == [label("outlet_kind", k, lang) for k in df["kind"]]
    # independent: the visits of each outlet are its queue records that arrived in the period
    q = _queue(wh)
    day = pd.to_datetime(q["arrived_at"]).dt.date
    inside = q[(day >= f.start) & (day <= f.end)]
    counts = inside.groupby("outlet_id").size()
    for name, shown in zip(table[col("outlet")], table[col("visits")], strict=True):
        oid = int(outlets.loc[outlets["name"] == name, "outlet_id"].iloc[0])
        assert shown == fmt_count(counts.get(oid, 0)), name
    # by kind of outlet: the engine's groups, their visits adding up to the period's records
    kinds = _table(at, col("outlets"))
    groups = oa.outlet_groups(wh, f, "kind", os_.load_rules().target_minutes)
    assert list(kinds[col("kind")]) == [label("outlet_kind", k, lang) for k in groups["kind"]]
    assert list(kinds[col("visits")]) == [fmt_count(v) for v in groups["visits"]]
    assert int(groups["visits"].sum()) == len(inside)
    unranked = df["rank"].isna().to_numpy()
    assert unranked.any() and not unranked.all()  # small outlets are listed, not ranked
    notes = [t(f"page.outlets.rank_note.{n}", lang) for n in df.loc[unranked, "rank_note"]]
    assert list(table[col("rank")][unranked]) == notes
    assert (pd.to_numeric(df.loc[unranked, "waited"]) < oa.MIN_RANK_N).all()
    assert at.get("plotly_chart"), "no league chart"
    _no_leftovers(at)
    for section in other_sections(at):
        show_section(at, section)
        _no_leftovers(at)


def test_a_hall_manager_sees_the_month_end_the_vip_lane_and_the_failed_item(url: str, hall: pd.Series,
                                                                          tmp_path, monkeypatch) -> None:
    """The issue's "done when", in Chinese, signed in as Dongjiang's manager, the hall picked by link."""
    session = _signed_in(User("dj_hall", "manager", (DONGJIANG,)), tmp_path, monkeypatch)
    oid = int(hall["outlet_id"])
    at = open_page(PAGE, {"lang": "zh", "section": "outlet", "hall": str(oid), "preset": "last_month"}, session)
    assert at.selectbox(key="_w_choice_hall").value == oid
    wh = Warehouse.open(url)
    f = filters(at)
    first, last = month_end_window(f)
    # pandas on the raw records: the p90 of the last 7 days of the month against the days before
    q = _queue(wh)
    q = q[(q["outlet_id"] == oid) & q["called_at"].notna()]
    q = q.assign(wait=np.floor(q["wait"].round(6)))  # the engine's whole minutes (floored)
    day = pd.to_datetime(q["arrived_at"]).dt.date
    cut = last - pd.Timedelta(days=6)
    end_ = q.loc[(day >= cut) & (day <= last), "wait"]
    rest = q.loc[(day >= first) & (day < cut), "wait"]
    ratio = np.quantile(end_, 0.9, method="inverted_cdf") / np.quantile(rest, 0.9, method="inverted_cdf")
    assert ratio > 1.7, ratio  # the planted doubling
    shown = re.search(r"为此前的 ([0-9.]+) 倍", "\n".join(str(w.value) for w in at.warning).replace("\\", ""))
    assert shown, [w.value for w in at.warning]
    assert shown.group(1) == number(ratio, 1)  # the same whole-minute p90s
    # the audit item failed in three audits in a row, named
    assert "连续 3 次失分" in _texts(at) and label("audit_item", "waiting", "zh") in _texts(at)
    assert len(at.get("plotly_chart")) >= 2  # the heat map and the audit items
    # the complaints behind it: by category as pandas on the raw tickets; the latest, their descriptions masked
    tk = s.tickets
    raw_t = wh.read(sa.select(tk.c.ticket_id, tk.c.category, tk.c.opened_at, tk.c.description)
                    .where(tk.c.outlet_id == oid, tk.c.kind == "complaint"))
    day = pd.to_datetime(raw_t["opened_at"]).dt.date
    raw_t = raw_t[(day >= f.start) & (day <= f.end)]
    per = raw_t.groupby("category").size()
    col = lambda k: t(f"page.outlets.behind.col.{k}", "zh")  # noqa: E731
    cats = _table(at, col("share"))
    assert len(per) and dict(zip(cats[col("category")], cats[col("complaints")], strict=True)) == {
        label("category", c, "zh"): fmt_count(n) for c, n in per.items()}
    listed = _table(at, col("description"))
    newest = raw_t.sort_values(["opened_at", "ticket_id"], ascending=False).head(len(listed))
    assert list(listed[col("description")]) == [mask(d) if isinstance(d, str) else "" for d in newest["description"]]
    # the VIP lane: last month alone holds enough VIP waits (at least 20 a side) to tell, with its interval
    show_section(at, "vip")
    vip = oa.vip_lane(wh, f)
    row = vip[vip["outlet_id"].astype(int) == oid].iloc[0]
    assert row["verdict"] == "works" and 7 < row["saving_min"] < 15 and row["saving_lower"] > 0, row
    assert min(row["n_vip"], row["n_other"]) >= oa.MIN_LANE_N
    # independent: the means of the hall's identified VIP-tier and other waits (pandas)
    raw = _queue(wh).merge(wh.read(sa.select(s.customers.c.customer_id, s.customers.c.tier)), on="customer_id")
    day = pd.to_datetime(raw["arrived_at"]).dt.date
    raw = raw[(raw["outlet_id"] == oid) & (day >= f.start) & (day <= f.end) & raw["called_at"].notna()]
    vip_wait = raw["tier"].isin(["diamond", "gold"])
    saving = raw.loc[~vip_wait, "wait"].mean() - raw.loc[vip_wait, "wait"].mean()
    assert abs(saving - row["saving_min"]) < 0.05 and int(vip_wait.sum()) == row["n_vip"]
    sentence = t("page.outlets.vip_sentence", "zh", name=str(hall["name"]), tiers="钻石卡、金卡",
                 saved=minutes_zh(row["saving_min"]), low=minutes_zh(row["saving_lower"]),
                 high=minutes_zh(row["saving_upper"]), n_high=fmt_count(row["n_vip"]), n_std=fmt_count(row["n_other"]))
    assert sentence in _texts(at)
    # a quiet hall (too few VIP waits in the month) is told over the 3 months to its end, said as theirs
    fw = wider_filters(f)
    assert fw is not None and fw.end == f.end
    assert fw.start == (pd.Timestamp(f.end.replace(day=1)) - pd.DateOffset(months=2)).date()
    wide = oa.vip_lane(wh, fw).set_index("outlet_id")
    for quiet in vip.loc[vip["verdict"] == "too_small", "outlet_id"].astype(int):
        if wide.loc[quiet, "verdict"] != "too_small":
            assert str(wide.loc[quiet, "name"]) in _texts(at) and f"{fw.start.isoformat()}" in _texts(at)
    assert set(vip["outlet_id"].astype(int)) <= set(_city_outlets(wh, DONGJIANG))
    # the meeting pack of the same view tells the same
    pages, _drawn = run_section(outlets_section, wh, f, "zh")
    assert sentence in pages[0].sentences


def minutes_zh(v: float) -> str:
    return t("page.outlets.minutes", "zh", value=number(float(v), 1))


def _city_outlets(wh: Warehouse, city: int) -> list[int]:
    o = s.outlets
    return [int(i) for i in wh.read(sa.select(o.c.outlet_id).where(o.c.region_id == city))["outlet_id"]]


def test_the_city_manager_sees_who_loses_a_star_and_why(url: str, hall: pd.Series, tmp_path, monkeypatch) -> None:
    session = _signed_in(User("dj_city", "manager", (DONGJIANG,)), tmp_path, monkeypatch)
    at = open_page(PAGE, {"lang": "zh", "section": "stars"}, session)
    wh = Warehouse.open(url)
    fq = quarter_filters(filters(at))
    df = os_.star_ratings(wh, fq, os_.load_rules())
    assert set(df["outlet_id"].astype(int)) <= set(_city_outlets(wh, DONGJIANG))
    table = _table(at, t("page.outlets.col.computed", "zh"))
    assert list(table[t("page.outlets.col.outlet", "zh")]) == list(df["name"].astype(str))
    losers = df[df["change"] == "lose"]
    assert int(hall["outlet_id"]) in set(losers["outlet_id"].astype(int))  # the hall holds a star it no longer earns
    warnings = "\n".join(plain(str(w.value)) for w in at.warning)
    for _, r in losers.iterrows():
        assert str(r["name"]) in warnings and t(f"page.outlets.component.{r['driver']}", "zh") in warnings


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_city_manager_sees_only_their_city(url: str, lang: str, tmp_path, monkeypatch) -> None:
    session = _signed_in(User("nanling", "manager", (NANLING,)), tmp_path, monkeypatch)
    at = open_page(PAGE, {"lang": lang, "region": str(DONGJIANG)}, session)  # a link to another city: refused
    wh = Warehouse.open(url)
    own = wh.read(sa.select(s.outlets.c.name).where(s.outlets.c.region_id == NANLING))["name"].astype(str)
    others = wh.read(sa.select(s.outlets.c.name).where(s.outlets.c.region_id != NANLING))["name"].astype(str)
    table = _table(at, t("page.outlets.col.outlet", lang))
    assert len(table) and set(table[t("page.outlets.col.outlet", lang)]) <= set(own)
    show_section(at, "outlet")
    box = at.selectbox(key="_w_choice_hall")
    assert len(box.options) == len(table)
    for section in ("vip", "stars"):
        show_section(at, section)
        shown = _texts(at) + "\n".join(d.value.to_csv() for d in at.dataframe)
        assert not [n for n in set(others) - set(own) if n in shown], section


def test_a_viewer_sees_no_customer(url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_MIN_GROUP_SIZE", "150")  # a month's agents hold fewer visits than that
    session = _signed_in(User("viewer1", "viewer", (DONGJIANG,)), tmp_path, monkeypatch)
    wh = Warehouse.open(url)
    c = s.customers
    names = set(wh.read(sa.select(c.c.name).where(c.c.region_id.isnot(None)))["name"].astype(str))
    at = open_page(PAGE, {"lang": "zh", "preset": "last_month"}, session)
    for section in ("outlets", "outlet", "vip", "stars"):
        show_section(at, section)
        shown = _texts(at) + "\n".join(d.value.to_csv() for d in at.dataframe)
        assert not [n for n in names if len(n) > 1 and n in shown], section
    # an outlet whose figures the league withholds (fewer visits than the viewer's minimum group): its
    # queue is withheld too, not drawn
    league = oa.outlet_league(wh, filters(at), os_.load_rules().target_minutes)
    hidden = league[league["suppressed"].fillna(False).astype(bool)] if "suppressed" in league else league.head(0)
    assert len(hidden), "the month holds outlets with fewer than 150 visits"
    show_section(at, "outlet")
    at.selectbox(key="_w_choice_hall").set_value(int(hidden["outlet_id"].iloc[0])).run()
    scope = filters(at).scope
    assert t("page.outlets.withheld", "zh", min=scope.min_group_size) in [c.value for c in at.caption]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert not [x for x in titles if t("page.outlets.heat_title", "zh") in x]


def test_hostile_outlet_names_are_text(duck: str, monkeypatch) -> None:
    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        conn.execute(sa.update(s.outlets).values(name=HOSTILE))
    eng.dispose()
    monkeypatch.setenv("SERVICEWATCH_DB", duck)
    at = open_page(PAGE, {"lang": "en", "preset": "last_12_months"})
    for section in ("outlets", "outlet", "vip", "stars"):
        show_section(at, section)
        bodies = [str(e.value) for kind in ("markdown", "caption", "info", "warning", "success", "subheader")
                  for e in getattr(at, kind)]
        for raw in ("**hall**", "<b>", "](", ":red["):
            assert not [b for b in bodies if raw in b], (section, raw)
        if section != "outlet":  # the league, the VIP halls and the stars name outlets in sentences
            assert any(md(HOSTILE) in b for b in bodies), section
        for chart in at.get("plotly_chart"):
            assert "<b>" not in chart.proto.spec and "&lt;b&gt;" in chart.proto.spec or HOSTILE not in chart.proto.spec
        for d in at.dataframe:  # tables show the name as it is
            if t("page.outlets.col.outlet", "en") in d.value.columns:
                assert set(d.value[t("page.outlets.col.outlet", "en")]) == {HOSTILE}


def test_every_download_has_chinese_headers(url: str, hall: pd.Series, downloads) -> None:
    """Every CSV of every section (charts' data and lists) names its columns in Chinese: no engine column
    name (``outlet``, ``saving_min`` …) leaves."""
    import io

    at = open_page(PAGE, {"lang": "zh", "preset": "last_quarter", "hall": str(int(hall["outlet_id"]))})
    for section in other_sections(at):
        show_section(at, section)
    assert len(downloads) >= 6, [name for name, _ in downloads]
    for name, data in downloads:
        frame = pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode()))
        raw = [c for c in frame.columns if not re.search(r"[\u4e00-\u9fff]", str(c))]
        assert not raw, (name, raw)


@pytest.mark.parametrize("text", ["[weights\nwaiting = 1", None], ids=["not_toml", "missing"])
def test_a_broken_rules_file_is_one_line_per_section(duck: str, tmp_path, monkeypatch, text: str | None) -> None:
    """Star rules that are not TOML, or missing (they hold the waiting target and the VIP tiers): every
    section shows one error line in the user's language, no exception, no path."""
    path = tmp_path / "outlet_stars.toml"
    if text is not None:
        path.write_text(text, "utf-8")
    monkeypatch.setattr(outlet_rules, "RULES_PATH", path)
    monkeypatch.setenv("SERVICEWATCH_DB", duck)
    at = open_page(PAGE, {"lang": "zh", "preset": "last_12_months"})
    head = t("page.outlets.rules_error", "zh", reason="").rstrip("：: ")
    for section in ("outlets", "outlet", "vip", "stars"):
        show_section(at, section)
        errors = [plain(str(e.value)) for e in at.error]
        assert len(errors) == 1 and errors[0].startswith(head), (section, errors)
        assert "outlet_stars.toml" in errors[0] and str(tmp_path) not in errors[0]


def test_a_database_made_before_outlets_says_so(duckdb_url: str, tmp_path, monkeypatch) -> None:
    """A database from before issue 19 (no outlet tables): every section says so in a line, no error."""
    def drop_outlet_tables(conn: sa.Connection) -> None:
        for table in (s.audit_items, s.audits, s.queue_records, s.outlets):
            conn.execute(sa.text(f"DROP TABLE {table.name}"))

    monkeypatch.setenv("SERVICEWATCH_DB", changed_copy(duckdb_url, tmp_path / "old.duckdb", drop_outlet_tables))
    at = open_page(PAGE, {"lang": "zh"})
    for section in ("outlets", "outlet", "vip", "stars"):
        show_section(at, section)
        assert [i.value for i in at.info] == [t("page.outlets.no_outlets", "zh")] and not at.error, section
