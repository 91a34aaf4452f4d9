"""A small simulated set of service halls for tests/engine/test_outlets.py and tests/cli/test_outlets_cli.py: two
cities, five outlets, a few thousand queue records, audits, surveys and complaints at the outlets.

Planted: at outlet 1 (a VIP room) diamond and gold customers wait :data:`VIP_SAVING_MIN` minutes less
on average; outlet 2 has a VIP room that saves nothing; outlet 5 has :data:`TINY` visits only; outlet 1
fails the checklist item ``waiting`` (2 of 10) in its last three audits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.model import schema

VIP_SAVING_MIN = 11.0
TINY = 6
START, END = date(2026, 1, 1), date(2026, 6, 30)
TIERS = ("diamond", "gold", "silver", "standard")
ITEMS = ("greeting", "waiting", "knowledge", "etiquette", "environment")


def frames(seed: int = 7, per_outlet: int = 700) -> dict[str, pd.DataFrame]:
    """table name -> DataFrame (``metrics.ingest.load.replace_all``)."""
    rng = np.random.default_rng(seed)
    regions = pd.DataFrame([
        dict(region_id=1, name_en="Province", name_zh="省", parent_id=None, level="province"),
        dict(region_id=2, name_en="East", name_zh="东市", parent_id=1, level="city"),
        dict(region_id=3, name_en="West", name_zh="西市", parent_id=1, level="city"),
        dict(region_id=4, name_en="East D1", name_zh="东一区", parent_id=2, level="district"),
        dict(region_id=5, name_en="West D1", name_zh="西一区", parent_id=3, level="district"),
    ]).astype({"parent_id": "Int64"})
    n_cust = 400
    cust = pd.DataFrame(dict(
        customer_id=np.arange(1, n_cust + 1), name=[f"C{i}" for i in range(1, n_cust + 1)],
        segment=np.where(np.arange(n_cust) % 5 == 0, "enterprise", "consumer"),
        tier=[TIERS[i % 4] for i in range(n_cust)], region_id=np.where(np.arange(n_cust) % 2 == 0, 4, 5),
        acquisition_channel="store", account_manager_id=None, sla_level=None, start_date=date(2024, 1, 1),
        end_date=None, churn_reason=None, monthly_revenue=80.0))
    outlets = pd.DataFrame([
        dict(outlet_id=1, name="East hall", kind="own_hall", region_id=2, address=None, opened_on=None,
             vip_room=True, stars=4, stars_since=date(2025, 1, 1)),
        dict(outlet_id=2, name="East partner", kind="partner_hall", region_id=2, address=None, opened_on=None,
             vip_room=True, stars=3, stars_since=None),
        dict(outlet_id=3, name="West hall", kind="own_hall", region_id=3, address=None, opened_on=None,
             vip_room=False, stars=3, stars_since=None),
        dict(outlet_id=4, name="West agent", kind="agent", region_id=3, address=None, opened_on=None,
             vip_room=None, stars=None, stars_since=None),
        dict(outlet_id=5, name="Tiny agent", kind="agent", region_id=3, address=None, opened_on=None,
             vip_room=False, stars=2, stars_since=None)]).astype({"stars": "Int64"})
    rows = []
    days = (END - START).days + 1
    for oid, n, base in ((1, per_outlet, 20.0), (2, per_outlet, 14.0), (3, per_outlet, 9.0), (4, per_outlet // 2, 6.0),
                         (5, TINY, 5.0)):
        for k in range(n):
            cid = int(rng.integers(1, n_cust + 1)) if rng.random() > 0.1 else None
            tier = TIERS[(cid - 1) % 4] if cid else None
            mean = base - (VIP_SAVING_MIN if oid == 1 and tier in ("diamond", "gold") else 0.0)
            arrived = datetime.combine(START + timedelta(days=int(rng.integers(0, days))), datetime.min.time())
            arrived += timedelta(hours=int(rng.integers(8, 19)), minutes=int(rng.integers(0, 60)),
                                 seconds=int(rng.integers(0, 60)))
            wait = max(0.0, rng.normal(mean, 3.0))
            abandoned = bool(rng.random() < 0.08)
            called = None if abandoned and rng.random() < 0.8 else arrived + timedelta(seconds=round(wait * 60))
            started = called + timedelta(seconds=int(rng.integers(5, 60))) if called and not abandoned else None
            ended = started + timedelta(seconds=int(rng.integers(120, 1500))) if started else None
            rows.append(dict(queue_id=len(rows) + 1, outlet_id=oid, queue_no=f"A{k % 1000:03d}",
                             service_type=("payment", "sim_card", "broadband", "complaint")[int(rng.integers(0, 4))],
                             customer_id=cid, arrived_at=arrived, called_at=called, started_at=started, ended_at=ended,
                             abandoned=abandoned))
    queue = pd.DataFrame(rows).astype({"customer_id": "Int64"})
    audits, items = [], []
    for oid in (1, 2, 3, 4):
        for j, d in enumerate((date(2025, 10, 15), date(2026, 1, 15), date(2026, 4, 15), date(2026, 6, 15))):
            aid = oid * 10 + j
            audits.append(dict(audit_id=aid, outlet_id=oid, audited_on=d, auditor="MS Co."))
            for item in ITEMS:
                score = 2.0 if (oid == 1 and item == "waiting" and j >= 1) else float(6 + (aid + len(item)) % 5)
                items.append(dict(audit_id=aid, item=item, score=score, max_score=10.0))
    surveys = pd.DataFrame([dict(survey_id=i + 1, customer_id=int(rng.integers(1, n_cust + 1)), ticket_id=None,
                                 channel="store", kind="post_interaction",
                                 answered_at=datetime(2026, 1 + i % 6, 1 + i % 28, 12),
                                 csat=int(rng.integers(1, 6)), nps=None, ces=None, comment=None,
                                 outlet_id=1 + i % 4) for i in range(400)])
    tickets = pd.DataFrame([dict(ticket_id=i + 1, customer_id=1 + i, channel="store",
                                 kind="complaint" if i % 3 else "inquiry", category="billing", priority="p3",
                                 opened_at=datetime(2026, 2, 1 + i % 27, 10), status="open", outlet_id=1 + i % 3)
                            for i in range(90)])
    out = {"regions": regions, "customers": cust, "outlets": outlets, "queue_records": queue,
           "audits": pd.DataFrame(audits), "audit_items": pd.DataFrame(items), "surveys": surveys, "tickets": tickets}
    for name, df in out.items():  # the model's other columns, empty
        for col in getattr(schema, name).c.keys():
            if col not in df.columns:
                df[col] = None
    return out


def outlets_db(path: Path) -> str:
    """The hand-made outlet set (:func:`frames`, its defaults) in a DuckDB file at ``path``; its URL."""
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{path}"
    replace_all(url, frames())
    return url
