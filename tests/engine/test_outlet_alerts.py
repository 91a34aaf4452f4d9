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
    alerts.save_rules(wh, [
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
    mine = alerts.rules(wh, Scope("east", outlet_ids=(1,)))
    assert list(mine["rule_id"]) == ["change.complaints.east_hall"]
    assert alerts.evaluate(wh, as_of=AS_OF, scope=Scope("west", outlet_ids=(3,)), record=False).empty


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
