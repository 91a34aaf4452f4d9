"""Where an id reaches a user it is the source's key, and where a user names one the key is accepted
(issue 14, item 1): drill-down lists and their CSV export, the customer history, data-quality
examples, the at-risk list (page, export, CLI), a link ``?region=0755``, the CLI's ``--region``
and printed keys, a user scoped to ``GD-SZ``. The database is the text-keyed one of
tests/text_key_extracts.py (plus one district of Guangzhou), imported with ``servicewatch import``
once per module; the engine-level parts run on DuckDB, PostgreSQL and MariaDB. No mocks: figures
are compared with pandas on the raw frames.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from db_snapshot import server_database
from page_helpers import open_page, plain
from text_key_extracts import BIG, extracts, load

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.analysis import customer_history, drill
from metrics.analysis import data_quality as quality
from metrics.churn import store as churn_store
from metrics.cli.main import main
from metrics.ingest.load import replace_all
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.model.links import parse_query
from metrics.present.export import to_csv
from metrics.query.warehouse import Warehouse

START, END = date(2025, 3, 1), date(2026, 3, 1)
F = Filters(start=START, end=END)
SPECIAL = ("ABC", "abc", "0042", "42", BIG, "li.na@example.cn")  # case, leading zeros, 64-bit


def _frames() -> dict[str, pd.DataFrame]:
    """The shared extracts, plus a Guangzhou district holding the first ten (random-keyed) customers,
    so that a scope of Shenzhen (GD-SZ) leaves someone out."""
    frames = extracts()
    regions = pd.concat([frames["regions"], pd.DataFrame({
        "region_id": ["GZ-TH"], "name_zh": ["天河"], "name_en": ["Tianhe"], "parent_id": ["GD-GZ"],
        "level": ["district"]})], ignore_index=True)
    customers = frames["customers"].copy()
    customers.loc[:9, "region_id"] = "GZ-TH"
    return {**frames, "regions": regions, "customers": customers}


FRAMES = _frames()


def _load(url: str, tmp: Path) -> str:
    runs = load(url, tmp, FRAMES)
    for table, run in runs.items():
        assert run.returncode == 0, (table, run.stdout[-2000:], run.stderr[-2000:])
    return url


@pytest.fixture(scope="module")
def duck_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("keys_shown")
    url = f"duckdb:///{tmp / 'keys.duckdb'}"
    replace_all(url, {})
    _load(url, tmp)
    _store_scores(url)
    return url


@pytest.fixture(scope="module", params=["duckdb", "postgres", "mariadb"])
def any_url(request: pytest.FixtureRequest, duck_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "duckdb":
        yield duck_url
        return
    for url in server_database(request.param, {}):
        yield _load(url, tmp_path_factory.mktemp(f"keys_{request.param}"))


def _store_scores(url: str) -> None:
    """A stored churn model scoring the special customers (a real fit needs departures: these
    extracts have none); the list reads them like any fit's."""
    wh = Warehouse.open(url, read_only=False)
    try:
        ids = wh.key_ids("customers", list(SPECIAL))
        assert set(ids) == set(SPECIAL)
        scores = pd.DataFrame({"customer_id": [ids[k] for k in SPECIAL],
                               "churn_probability_90d": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
                               "monthly_revenue": 100.0})
        scores["revenue_at_risk"] = scores["churn_probability_90d"] * scores["monthly_revenue"] * 12
        for k in (1, 2, 3):
            scores[f"driver_{k}"], scores[f"driver_{k}_value"] = None, None
        numbers = {k: 10 for k in ("n_train_customers", "n_train_rows", "n_train_events", "n_test_rows",
                                   "n_test_events", "n_landmarks", "n_scored", "horizon_days")}
        quality_ = {k: 0.7 for k in ("concordance_cox", "concordance_logit", "auc_cox", "auc_cox_lower",
                                     "auc_cox_upper", "auc_logit", "auc_diff_lower", "auc_diff_upper")}
        summary = {"fitted_at": datetime(2026, 3, 2), "as_of": wh.as_of(), "method": "landmark_cox",
                   "better": "cox", **numbers, **quality_}
        terms = pd.DataFrame([{c.name: 1.0 for c in churn_store.churn_model_terms.c if c.name != "model_id"}
                              | {"model": "risk", "term": "tenure_years"}])
        churn_store.save(wh.engine, SimpleNamespace(summary=summary, terms=terms, scores=scores))
    finally:
        wh.engine.dispose()


def _raw_tickets() -> pd.DataFrame:
    tk = FRAMES["tickets"]
    opened = pd.to_datetime(tk["opened_at"])
    return tk[(opened >= pd.Timestamp(START)) & (opened < pd.Timestamp(END) + pd.Timedelta(days=1))]


# -- engine level, three databases ------------------------------------------------------------------
def test_drill_lists_and_export_show_keys(any_url: str) -> None:
    wh = Warehouse.open(any_url)
    try:
        rows = drill.tickets(wh, F, 100_000)
        raw = _raw_tickets()
        assert len(rows) == len(raw)
        # every ticket with its customer exactly as the files wrote them (T-1 and t-1 apart)
        assert dict(zip(rows["ticket_id"], rows["customer_id"], strict=True)) == dict(
            zip(raw["ticket_id"], raw["customer_id"], strict=True))
        assert {"T-1", "t-1"} <= set(rows["ticket_id"])
        back = pd.read_csv(io.BytesIO(to_csv(rows)), dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert dict(zip(back["ticket_id"], back["customer_id"], strict=True)) == dict(
            zip(raw["ticket_id"], raw["customer_id"], strict=True))
        shown_customers = set(rows["customer_id"])
        assert {k for k in SPECIAL if k in set(raw["customer_id"])} <= shown_customers
        assert any(k.count("-") == 1 and k[:4].isdigit() for k in shown_customers)  # 7590-VHVEG-like

        customers = drill.customers(wh, F, 100_000)
        assert set(customers["customer_id"]) == set(FRAMES["customers"]["customer_id"])
        back = pd.read_csv(io.BytesIO(to_csv(customers)), dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert set(SPECIAL) <= set(back["customer_id"])  # ABC and abc, 0042 and 42, the 64-bit one

        # one customer's history, named by its key: its tickets and surveys with their keys
        for key in ("0042", "42", "ABC", "abc", BIG):
            mine = FRAMES["tickets"][FRAMES["tickets"]["customer_id"] == key]
            got = customer_history.tickets(wh, F, key)
            assert sorted(got["ticket_id"]) == sorted(mine["ticket_id"]), key
            sv = FRAMES["surveys"][FRAMES["surveys"]["customer_id"] == key]
            assert sorted(customer_history.surveys(wh, F, key)["survey_id"]) == sorted(sv["survey_id"]), key
            assert customer_history.profile(wh, F, key)["customer_key"] == key
        with pytest.raises(access.ScopeError):
            customer_history.profile(wh, F, "NO-SUCH-CUSTOMER")

        # data-quality examples never show an internal (negative) id
        for check in quality.BY_ID:
            found = quality.finding_rows(wh, check)
            for col in set(found.columns) & {"ticket_id", "customer_id", "survey_id", "region_id"}:
                assert not any(str(v).startswith("-") for v in found[col].dropna()), (check, col)
    finally:
        wh.engine.dispose()


def test_user_scoped_to_a_city_key_sees_only_its_districts(any_url: str, tmp_path: Path) -> None:
    wh = Warehouse.open(any_url)
    try:
        access.add_user(access.User("sz", "manager", ("GD-SZ",)), None, tmp_path / "users.json")
        user = access.get_user("sz", tmp_path / "users.json")
        assert user.regions == ("GD-SZ",)
        scope = access_scope.scope_for(user, key_ids=wh.key_ids)
        assert scope.regions == (wh.key_ids("regions", ["GD-SZ"])["GD-SZ"],)
        assert access_scope.scope_for(user).regions == ()  # without the data's keys: nothing (fail closed)
        f = F.with_(scope=scope)
        got = wh.show_keys(wh.metric("csat", f, ("region",), "district"), {"region_id": "regions"})
        c = FRAMES["customers"]
        inside = c[c["region_id"].isin(["0755", "755", "gd-sz-ft"])]
        raw = FRAMES["surveys"].merge(inside[["customer_id", "region_id"]], on="customer_id")
        expected = raw.groupby("region_id")["csat"].apply(lambda x: (x >= 4).mean())
        assert dict(zip(got["region_id"], got["value"], strict=True)) == pytest.approx(expected.to_dict())
        assert set(drill.customers(wh, f, 100_000)["customer_id"]) == set(inside["customer_id"])
    finally:
        wh.engine.dispose()


# -- DuckDB: links, the CLI, the pages ------------------------------------------------------------------
def _csat(region_key: str, f: Filters = F) -> float:
    """CSAT (share of 4 and 5) of the surveys answered in ``f``'s period by the region's customers."""
    c, s = FRAMES["customers"], FRAMES["surveys"]
    answered = pd.to_datetime(s["answered_at"])
    s = s[(answered >= pd.Timestamp(f.start)) & (answered < pd.Timestamp(f.end) + pd.Timedelta(days=1))]
    mine = s[s["customer_id"].isin(c.loc[c["region_id"] == region_key, "customer_id"])]
    return float((mine["csat"] >= 4).mean())


def test_link_names_regions_by_key(duck_url: str) -> None:
    wh = Warehouse.open(duck_url)
    ids = wh.key_ids("regions", ["0755", "755", "GD-SZ"])
    keys = {v: k for k, v in ids.items()}
    all_ids = [int(i) for i in wh.regions()["region_id"]]
    by_key = {**{str(i): i for i in all_ids if i >= 0}, **{k: i for i, k in wh.key_texts("regions", all_ids).items()}}
    known = set(wh.regions()["region_id"].astype(int))
    for key in ("0755", "755"):
        parsed = parse_query({"region": key}, F, regions=known, region_keys=by_key)
        assert parsed.filters.regions == (ids[key],) and not parsed.ignored
        one = wh.metric("csat", parsed.filters)
        assert one["value"].iloc[0] == pytest.approx(_csat(key), abs=1e-12), key
        assert parsed.filters.to_query(keys)["region"] == key  # the link written back names the key
    assert ids["755"] == 755  # a plain number is its own id: an older link keeps working
    parsed = parse_query({"region": "GD-XX,0755"}, F, regions=known, region_keys=by_key)
    assert parsed.filters.regions == (ids["0755"],) and parsed.ignored == ("region='GD-XX'",)


def test_page_link_region_key(duck_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duck_url)
    at = open_page("pages/1_Satisfaction.py", {"region": "0755", "from": "2025-03-01", "to": "2026-03-01"})
    wh = Warehouse.open(duck_url)
    f = at.session_state["sw_state"]["filters"]
    assert f.regions == (wh.key_ids("regions", ["0755"])["0755"],)
    assert wh.metric("csat", f)["value"].iloc[0] == pytest.approx(_csat("0755", f), abs=1e-12)
    assert at.query_params["region"] in ("0755", ["0755"])
    at = open_page("pages/1_Satisfaction.py", {"region": "GD-XX"})
    assert any("GD-XX" in plain(w.value) for w in at.warning)  # the link notice names what it dropped
    assert at.session_state["sw_state"]["filters"].regions == ()


def test_cli_accepts_and_prints_keys(duck_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", duck_url, "--from", "2025-03-01", "--to", "2026-03-01", "--format", "json"]
    assert main(["metric", "csat", "--by", "district", *base]) == 0
    rows = json.loads(capsys.readouterr().out)
    got = {r["region_id"]: r["value"] for r in rows}
    assert set(got) == {"0755", 755, "gd-sz-ft", "GZ-TH"}  # a plain number stays a number
    for key, value in got.items():
        assert value == pytest.approx(_csat(str(key)), abs=1e-9), key
    assert main(["metric", "csat", "--region", "0755", *base]) == 0
    assert json.loads(capsys.readouterr().out)[0]["value"] == pytest.approx(_csat("0755"), abs=1e-9)
    assert main(["metric", "csat", "--region", "GD-XX", *base]) != 0
    assert "GD-XX" in capsys.readouterr().err
    assert main(["regions", "--db", duck_url, "--format", "json"]) == 0
    regions = {r["region_id"]: r["parent_id"] for r in json.loads(capsys.readouterr().out)}
    assert regions["0755"] == "GD-SZ" and regions["GD-SZ"] == "GD" and regions[755] == "GD-SZ"
    assert main(["churn", "scores", "--db", duck_url, "--format", "csv"]) == 0
    listed = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str)
    assert list(listed["customer_id"]) == list(SPECIAL)  # ranked by revenue at risk, keys as written


def test_at_risk_page_and_export_show_customer_keys(duck_url: str, monkeypatch: pytest.MonkeyPatch,
                                                    downloads: list) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duck_url)
    at = open_page("pages/8_At_risk.py")
    table = at.dataframe[0].value
    assert list(table[t("churn.col.customer_id", "zh")]) == list(SPECIAL)
    csv = dict(downloads)["at_risk_customers.csv"] if "at_risk_customers.csv" in dict(downloads) else \
        next(data for name, data in downloads if name.startswith(t("page.at_risk.file", "zh")))
    back = pd.read_csv(io.BytesIO(csv), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(back[t("churn.col.customer_id", "zh")]) == list(SPECIAL)
    assert any(f"（{SPECIAL[0]}）" in plain(m.value) for m in at.markdown)  # the history names the customer by key
    mine = FRAMES["tickets"][FRAMES["tickets"]["customer_id"] == SPECIAL[0]]
    assert len(mine)  # the extracts give ABC tickets
    assert sorted(at.dataframe[1].value.iloc[:, 0]) == sorted(mine["ticket_id"])
