"""At-risk customers page in AppTest (on a copy of the demo DuckDB with a fitted churn model) and
the customer-history queries against pandas on the demo frames."""

from __future__ import annotations

import pandas as pd
import pytest
from page_helpers import filters, open_page

from metrics.access.users import Scope, ScopeError
from metrics.analysis import customer_history
from metrics.churn import store as churn_store
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/8_At_risk.py"


def _list(at) -> pd.DataFrame:
    return at.dataframe[0].value


def test_list_matches_stored_scores(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page(PAGE)
    assert at.title[0].value == t("page.at_risk.title", "zh")
    wh = Warehouse.open(fitted_duckdb_url)
    model = churn_store.latest_model(wh)
    quality = [m.value for m in at.markdown if f"{model['concordance_cox']:.3f}" in m.value]
    assert quality and str(model["as_of"])[:10] in quality[0] and f"{int(model['n_train_rows']):,}" in quality[0]
    top = churn_store.scores(wh, filters(at), 200, "zh")
    table = _list(at)
    assert len(table) == len(top)
    assert int(table[t("churn.col.customer_id", "zh")].iloc[0]) == int(top["customer_id"].iloc[0])
    assert float(table[t("churn.col.revenue_at_risk", "zh")].iloc[0]) == round(float(top["revenue_at_risk"].iloc[0]))
    assert list(table[t("churn.col.drivers", "zh")]) == list(top["drivers"])
    assert any(b.label == t("export.download_list", "zh") for b in at.get("download_button"))
    # the history of the top customer is shown by default
    cid = int(top["customer_id"].iloc[0])
    assert at.selectbox(key="_w_choice_customer").value == cid
    n = len(customer_history.tickets(wh, filters(at), cid))
    assert t("page.at_risk.tickets_header", "zh", n=n) in [h.value for h in at.subheader]


def test_filters_and_other_customer(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page(PAGE)
    at.sidebar.multiselect(key="_w_segment").set_value(["enterprise"]).run()
    assert not at.exception, [e.value for e in at.exception]
    wh = Warehouse.open(fitted_duckdb_url)
    top = churn_store.scores(wh, filters(at), 200, "zh")
    assert set(top["segment"]) == {"enterprise"}
    table = _list(at)
    assert int(table[t("churn.col.customer_id", "zh")].iloc[0]) == int(top["customer_id"].iloc[0])
    second = int(top["customer_id"].iloc[1])
    at.selectbox(key="_w_choice_customer").set_value(second).run()
    assert not at.exception, [e.value for e in at.exception]
    n = len(customer_history.surveys(wh, filters(at), second))
    assert t("page.at_risk.surveys_header", "zh", n=n) in [h.value for h in at.subheader]


def test_english(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page(PAGE)
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "At-risk customers"
    assert any("concordance" in m.value for m in at.markdown)
    assert "Customer history" in [h.value for h in at.header]
    assert t("churn.col.drivers", "en") in _list(at).columns


def test_without_model_says_how_to_fit(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page(PAGE)
    infos = [i.value for i in at.info]
    assert t("churn.no_model", "zh") in infos and "servicewatch churn fit" in t("churn.no_model", "zh")
    assert not at.dataframe


def test_customer_history_counts(duckdb_url: str, demo_frames: dict[str, pd.DataFrame]) -> None:
    wh = Warehouse.open(duckdb_url)
    f = Filters(start=wh.as_of().replace(day=1), end=wh.as_of())
    tk, sv, bill = demo_frames["tickets"], demo_frames["surveys"], demo_frames["billing_monthly"]
    busy = tk["customer_id"].value_counts().index[:3].tolist() + sv["customer_id"].value_counts().index[:2].tolist()
    for cid in busy:
        cid = int(cid)
        tickets = customer_history.tickets(wh, f, cid)
        assert len(tickets) == int((tk["customer_id"] == cid).sum())
        assert int(tickets["open"].sum()) == int(((tk["customer_id"] == cid) & tk["resolved_at"].isna()).sum())
        assert len(customer_history.surveys(wh, f, cid)) == int((sv["customer_id"] == cid).sum())
        spend = customer_history.spend(wh, f, cid)
        mine = bill[bill["customer_id"] == cid]
        assert len(spend) == len(mine)
        assert spend["revenue"].sum() == pytest.approx(mine["revenue"].sum())
        assert customer_history.profile(wh, f, cid)["customer_id"] == cid


def test_customer_history_refuses_outside_scope(duckdb_url: str, demo_frames: dict[str, pd.DataFrame]) -> None:
    wh = Warehouse.open(duckdb_url)
    cust = demo_frames["customers"]
    regions = wh.regions()
    city = int(regions.loc[regions["level"] == "city", "region_id"].iloc[0])
    closure = demo_frames["region_closure"] if "region_closure" in demo_frames else None
    inside = set(closure.loc[closure["ancestor_id"] == city, "descendant_id"].astype(int)) if closure is not None \
        else {city, *regions.loc[regions["parent_id"] == city, "region_id"].astype(int)}
    outsider = int(cust.loc[~cust["region_id"].isin(inside), "customer_id"].iloc[0])
    insider = int(cust.loc[cust["region_id"].isin(inside), "customer_id"].iloc[0])
    f = Filters(start=wh.as_of().replace(day=1), end=wh.as_of(), scope=Scope(user="local", regions=(city,)))
    assert customer_history.profile(wh, f, insider)["customer_id"] == insider
    with pytest.raises(ScopeError):
        customer_history.tickets(wh, f, outsider)
    viewer = f.with_(scope=Scope(user="viewer", aggregates_only=True))
    with pytest.raises(ScopeError):
        customer_history.profile(wh, viewer, insider)
