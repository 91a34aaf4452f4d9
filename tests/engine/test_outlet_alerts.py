"""Outlets in alerts and explanations (issue 19): an alert rule sliced by outlet (its slice is the filter
model's ``?outlet=``) judges that outlet's figure, names the outlet in its slice and is visible to that
outlet's hall manager only; "what drove the change" splits a ticket or survey metric over the outlets,
each outlet's value equal to the figure filtered to it and to pandas. Planted on the small simulated
halls of tests/outlet_frames.py: East hall's complaints jump from May to June, West hall's stay flat,
East partner's CSAT falls in June."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from outlet_frames import frames

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access.users import Scope
from metrics.analysis import decompose as dc
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

AS_OF = date(2026, 6, 28)
JUNE = Filters(start=date(2026, 6, 1), end=AS_OF, as_of=AS_OF)
COMPLAINTS = {(5, 1): 10, (6, 1): 60, (5, 3): 30, (6, 3): 30, (5, None): 20, (6, None): 20}


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    out = frames()
    rows = []
    for (month, outlet), n in COMPLAINTS.items():
        for i in range(n):
            rows.append(dict(ticket_id=len(rows) + 1, customer_id=1 + len(rows) % 400,
                             channel="hotline" if outlet is None else "store", kind="complaint", category="billing",
                             priority="p3", opened_at=datetime(2026, month, 1 + i % 27, 10), status="open",
                             outlet_id=outlet))
    t = pd.DataFrame(rows).astype({"outlet_id": "Int64"})
    rng = np.random.default_rng(5)
    sv = []
    for month in (5, 6):
        for outlet in (1, 2, 3, 4):
            for i in range(60):
                low = month == 6 and outlet == 2
                sv.append(dict(survey_id=len(sv) + 1, customer_id=1 + len(sv) % 400, ticket_id=None, channel="store",
                               kind="post_interaction", answered_at=datetime(2026, month, 1 + i % 27, 12),
                               csat=int(rng.integers(1, 3) if low and i % 4 else rng.integers(4, 6)), nps=None,
                               ces=None, comment=None, outlet_id=outlet))
    out["tickets"], out["surveys"] = t, pd.DataFrame(sv)
    for name in ("tickets", "surveys"):
        for col in getattr(schema, name).c.keys():
            if col not in out[name].columns:
                out[name][col] = None
    return out


@pytest.fixture(scope="module")
def wh(raw_duckdb: str) -> Warehouse:
    return Warehouse.open(raw_duckdb)


def test_an_alert_rule_sliced_by_outlet(wh: Warehouse) -> None:
    rule_store.save_rules(wh, [
        {"rule_id": "change.complaints.east_hall", "metric": "complaint_rate", "filters": {"outlet": "1"},
         "owner": "admin", "recipients": [], "kind": "change"},
        {"rule_id": "change.complaints.west_hall", "metric": "complaint_rate", "filters": {"outlet": "3"},
         "owner": "admin", "recipients": [], "kind": "change"},
    ])
    got = alerts.evaluate(wh, as_of=AS_OF, lang="en", record=False).set_index("rule_id")
    assert "change.complaints.east_hall" in got.index and "change.complaints.west_hall" not in got.index
    row = got.loc["change.complaints.east_hall"]
    expected = wh.metric("complaint_rate", JUNE.with_(outlets=(1,))).iloc[0]
    assert row["value"] == pytest.approx(expected["value"]) and row["n"] == expected["n"] == 60
    assert "East hall" in row["slice"]
    # a rate over customer-months is no hall manager's figure (review H1): not even their own hall's rule
    assert rule_store.rules(wh, Scope("east", outlet_ids=(1,))).empty
    assert alerts.evaluate(wh, as_of=AS_OF, scope=Scope("west", outlet_ids=(3,)), record=False).empty


def test_a_hall_manager_gets_no_customer_figure_through_an_alert(wh: Warehouse) -> None:
    """Review H1: an outlet-sliced complaint_rate rule, evaluated, charted or judged for a hall manager,
    gives no figure (the Complaints page gives them none: customer-months fail closed), so the
    organisation's customer-months (n / value × 1000) cannot be read back; a rule on the hall's tickets
    gives them the same figures as everyone."""
    from metrics.analysis import control

    rule_store.save_rules(wh, [
        {"rule_id": "change.complaints.east_hall", "metric": "complaint_rate", "filters": {"outlet": "1"},
         "owner": "admin", "recipients": [], "kind": "change"},
        {"rule_id": "change.csat.east_partner", "metric": "csat", "filters": {"outlet": "2"},
         "owner": "admin", "recipients": [], "kind": "change"},
    ])
    east = Scope("east", outlet_ids=(1, 2))
    everyone = alerts.evaluate(wh, as_of=AS_OF, record=False).set_index("rule_id")
    assert {"change.complaints.east_hall", "change.csat.east_partner"} <= set(everyone.index)
    theirs = alerts.evaluate(wh, as_of=AS_OF, scope=east, record=False).set_index("rule_id")
    assert list(theirs.index) == ["change.csat.east_partner"]  # the hall's surveys: the same figures
    mine, all_ = theirs.loc["change.csat.east_partner"], everyone.loc["change.csat.east_partner"]
    for col in ("value", "centre", "n"):
        assert mine[col] == pytest.approx(all_[col])
    assert list(rule_store.rules(wh, east)["rule_id"]) == ["change.csat.east_partner"]
    assert list(alerts.events(wh, east)["rule_id"]) == []  # nothing recorded here; the filter is the same
    # what the Complaints page shows them: no complaint rate
    page = wh.metric("complaint_rate", JUNE.with_(outlets=(1,), scope=east))
    assert page.empty or page["value"].isna().all()
    # the rule's figures under their scope, as the notices and the page's chart compute them: none
    rule = rule_store.rules(wh).set_index("rule_id").loc["change.complaints.east_hall"]
    rule = rule.rename(None)
    rule["rule_id"] = "change.complaints.east_hall"
    assert alerts.judge_for(wh, rule, date(2026, 6, 1), None) is not None  # it fires for everyone
    assert alerts.judge_for(wh, rule, date(2026, 6, 1), east) is None
    f = rule_store.rule_filters(wh, {"outlet": "1"}, date(2025, 7, 1), AS_OF, AS_OF, east)
    assert f.scope == east
    try:
        chart = control.for_metric(wh, "complaint_rate", f)
    except Exception as exc:  # noqa: BLE001 - a refusal is no figure either
        assert "scope" in str(exc).lower() or isinstance(exc, PermissionError), exc
    else:
        pts = chart.points
        assert pts.empty or not (pd.to_numeric(pts["value"], errors="coerce").notna()
                                 & pd.to_numeric(pts["n"], errors="coerce").gt(0)).any()


def test_a_viewers_alert_figures_keep_the_small_group_rule(wh: Warehouse) -> None:
    """Review M1: judged for a viewer, an alert of fewer customers than their minimum group size gives
    nothing; with a small enough minimum, the figures everyone gets."""
    rule_store.save_rules(wh, [{"rule_id": "change.csat.east_partner", "metric": "csat", "filters": {"outlet": "2"},
                            "owner": "admin", "recipients": [], "kind": "change"}])
    rule = next(r for r in rule_store.rules(wh).itertuples(index=False) if r.rule_id == "change.csat.east_partner")
    june = date(2026, 6, 1)
    everyone = alerts.judge_for(wh, rule, june, None)
    assert everyone is not None and everyone["n"] == 60  # East partner's June surveys
    small = alerts.judge_for(wh, rule, june, Scope("v", aggregates_only=True, min_group_size=1))
    assert small is not None and small["value"] == pytest.approx(everyone["value"]) and small["n"] == everyone["n"]
    assert alerts.judge_for(wh, rule, june, Scope("v", aggregates_only=True, min_group_size=1000)) is None


def test_what_drove_the_complaints_is_east_hall(wh: Warehouse, raw: dict) -> None:
    d = dc.decompose(wh, "complaint_rate", JUNE, "outlet")
    assert d.ok
    top = d.significant.iloc[0]
    assert top["key"] == 1 and top["name_en"] == "East hall"
    assert top["value"] == pytest.approx(wh.metric("complaint_rate", JUNE.with_(outlets=(1,)))["value"].iloc[0])
    assert d.groups["contribution"].sum() == pytest.approx(d.delta)
    at_none = d.groups[d.groups["key"].isna()]  # the hotline's complaints: a group of their own, flat
    assert len(at_none) == 1 and bool(at_none["noise"].iloc[0])


def test_what_drove_csat_is_east_partner(wh: Warehouse, raw: dict) -> None:
    d = dc.decompose(wh, "csat", JUNE, "outlet")
    assert d.ok and d.significant.iloc[0]["name_en"] == "East partner"
    sv = raw["surveys"]
    june = sv[(pd.to_datetime(sv["answered_at"]) >= "2026-06-01") & (pd.to_datetime(sv["answered_at"]) < "2026-06-29")]
    by = june.groupby("outlet_id")["csat"].apply(lambda c: (c >= 4).mean())
    got = d.groups.dropna(subset=["value"]).set_index("key")["value"]
    assert {int(k): v for k, v in got.items()} == pytest.approx({int(k): v for k, v in by.items()})
    assert d.groups["contribution"].sum() == pytest.approx(d.delta)
    ranked = dc.explain(wh, "csat", JUNE, dims=("tier", "outlet"))
    assert ranked[0].dim == "outlet"


def test_a_viewers_recorded_alerts_keep_the_small_group_rule(wh: Warehouse) -> None:
    """Review M1, the Alerts page's table: alerts recorded with everyone's figures are shown to a viewer
    with the figures of their scope, blank below their minimum group size."""
    rule_store.save_rules(wh, [{"rule_id": "change.csat.east_partner", "metric": "csat", "filters": {"outlet": "2"},
                            "owner": "admin", "recipients": [], "kind": "change"}])
    alerts.evaluate(wh)  # as the worker, at the data's as-of: recorded unscoped
    cols = ["value", "centre", "lower", "upper", "n"]
    everyone = alerts.events(wh).set_index("rule_id").loc["change.csat.east_partner", cols]
    assert everyone["n"] == 60
    small = alerts.events(wh, Scope("v", aggregates_only=True, min_group_size=1)).set_index("rule_id")
    assert list(small.loc["change.csat.east_partner", cols]) == pytest.approx(list(everyone))
    big = alerts.events(wh, Scope("v", aggregates_only=True, min_group_size=1000)).set_index("rule_id")
    assert big.loc["change.csat.east_partner", cols].isna().all()
    listed = alerts.events(wh, Scope("v", aggregates_only=True, min_group_size=1000), figures=False)
    assert "change.csat.east_partner" in set(listed["rule_id"])
