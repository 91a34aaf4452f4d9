"""A small hand-made data set for the regulator figures (tests/engine/test_regulator.py, the CLI and page
tests): one province (1) with cities 2 (甲市, district 4 below it) and 3 (乙市), twelve customers,
regulator appeals in 2026Q3, 2026Q2 and 2025Q3 and across MIIT's category change (2021Q4 / 2022Q1),
ten complaints resolved in 2026Q3 with known days, and complaints still open at the as-of date
2026-09-30 of 20, 14 and 5 days.

Hand figures (2026Q3, MIIT, no user_base: customers active at the month's end):
* appeals: 4 — 甲市 3 (billing 7-05 miit, network_quality 8-10 ca, service_attitude 9-30 23:59 miit),
  乙市 1 (fault_repair 9-01 miit); a fault with source miit, an own complaint and a 10-01 appeal do not count.
* users at 9-30: 甲市 6 (customer 7 left on 9-15), 乙市 5 (11 and 12 joined in September) → 11;
  at 8-31: 甲市 7, 乙市 3 → 10 (TIO's count point).
* 2026Q2: 1 appeal (billing); 2025Q3: 2 (network_quality ca, billing miit).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from metrics.demo.appeals import regulator_category_frame
from metrics.model import schema

AS_OF = date(2026, 9, 30)
# resolution days of the complaints resolved in 2026Q3, in the order they are stored (shuffled)
RESOLVED_DAYS = [4.0, 0.5, 20.0, 2.0, 7.0, 1.0, 8.0, 3.0, 6.0, 5.0]
OPEN_AGES = {901: 20, 902: 14, 903: 5}  # open complaints: ticket id -> age in days at the end of AS_OF
HANDLERS = {902: "王晓燕"}  # who handles an open complaint (tickets.handler); 901 names none: its account manager


def frames() -> dict[str, pd.DataFrame]:
    """table name -> DataFrame (``metrics.ingest.load.replace_all``)."""
    regions = pd.DataFrame([
        dict(region_id=1, name_en="Province", name_zh="示例省", parent_id=None, level="province"),
        dict(region_id=2, name_en="Jia City", name_zh="甲市", parent_id=1, level="city"),
        dict(region_id=3, name_en="Yi City", name_zh="乙市", parent_id=1, level="city"),
        dict(region_id=4, name_en="Jia D1", name_zh="甲一区", parent_id=2, level="district")]).astype(
        {"parent_id": "Int64"})
    managers = pd.DataFrame([dict(manager_id=1, name="张经理", region_id=2),
                             dict(manager_id=2, name="李经理", region_id=3)])
    rows = []
    for i in range(1, 13):
        city = 4 if i <= 7 else 3  # 甲市's customers live in its district
        start = date(2020, 1, 1)
        end = None
        if i == 7:
            end = date(2026, 9, 15)
        if i == 11:
            start = date(2026, 9, 10)
        if i == 12:
            start = date(2026, 9, 20)
        rows.append(dict(customer_id=i, name=f"客户{i}", segment="consumer", tier="gold" if i % 2 else "silver",
                         region_id=city, acquisition_channel="store", account_manager_id=1 if city == 4 else 2,
                         sla_level=None, start_date=start, end_date=end, churn_reason=None, monthly_revenue=100.0))
    customers = pd.DataFrame(rows).astype({"account_manager_id": "Int64"})
    t = []

    def add(tid: int, cust: int, kind: str, source: str | None, category: str, opened: datetime,
            resolved: datetime | None = None) -> None:
        t.append(dict(ticket_id=tid, customer_id=cust, channel="hotline", kind=kind, source=source,
                      category=category, priority="P3", opened_at=opened,
                      resolved_at=resolved if resolved is not None else opened + timedelta(hours=5)))

    add(1, 1, "complaint", "miit", "billing", datetime(2026, 7, 5, 9))
    add(2, 2, "complaint", "ca", "network_quality", datetime(2026, 8, 10, 9))
    add(3, 8, "complaint", "miit", "fault_repair", datetime(2026, 9, 1, 9))
    add(4, 3, "complaint", "miit", "service_attitude", datetime(2026, 9, 30, 23, 59))
    add(5, 9, "complaint", "own", "billing", datetime(2026, 7, 20, 9))
    add(6, 4, "fault", "miit", "fault_repair", datetime(2026, 8, 1, 9))
    add(7, 1, "complaint", "miit", "billing", datetime(2026, 10, 1, 0, 0))
    add(8, 1, "complaint", "miit", "billing", datetime(2026, 5, 1, 9))
    add(9, 8, "complaint", "ca", "network_quality", datetime(2025, 8, 1, 9))
    add(10, 9, "complaint", "miit", "billing", datetime(2025, 7, 15, 9))
    add(11, 5, "complaint", "miit", "fault_repair", datetime(2021, 12, 31, 23))
    add(12, 6, "complaint", "miit", "fault_repair", datetime(2022, 1, 1, 1))
    add(13, 5, "complaint", "miit", "tariff", datetime(2021, 11, 2, 1))
    cats = ["billing", "billing", "network_quality", "tariff", "billing", "fault_repair", "network_quality",
            "billing", "value_added", "tariff"]
    for k, (days, cat) in enumerate(zip(RESOLVED_DAYS, cats, strict=True)):
        opened = datetime(2026, 8, 1 + k, 10)
        add(100 + k, 1 + k % 10, "complaint", None, cat, opened, opened + timedelta(days=days))
    end = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time())
    for tid, age in OPEN_AGES.items():
        t.append(dict(ticket_id=tid, customer_id=2 if tid != 903 else 9, channel="hotline", kind="complaint",
                      source="own", category="billing", priority="P2", opened_at=end - timedelta(days=age),
                      resolved_at=None, handler=HANDLERS.get(tid)))
    tickets = pd.DataFrame(t)
    out = {"regions": regions, "account_managers": managers, "customers": customers, "tickets": tickets,
           "regulator_categories": regulator_category_frame()}
    for name, df in out.items():  # the model's other columns, empty
        for col in getattr(schema, name).c.keys():
            if col not in df.columns:
                df[col] = None
    return out


def user_base_rows(users: int, month: date = date(2026, 9, 1), region_id: int = 1,
                   base: str = "mobile") -> pd.DataFrame:
    """One ``user_base`` row."""
    return pd.DataFrame([dict(month=month, region_id=region_id, base=base, users=users)])


def quarter_in_progress_base() -> pd.DataFrame:
    """``user_base`` rows for October (900,000 users) and November (1,100,000) 2026, not yet December: 2026Q4
    in progress (its mean over the months it has is 1,000,000)."""
    return pd.concat([user_base_rows(900_000, month=date(2026, 10, 1)),
                      user_base_rows(1_100_000, month=date(2026, 11, 1))], ignore_index=True)


def regulator_db(path: Path, user_base: pd.DataFrame | None = None, drop: tuple[str, ...] = ()) -> str:
    """The hand-made set in a DuckDB file at ``path`` (with ``user_base`` in place of its own when given),
    without the ``tickets`` columns in ``drop`` (a database made before them); its URL."""
    import sqlalchemy as sa

    from metrics.ingest.load import replace_all

    url = f"duckdb:///{path}"
    data = frames()
    if user_base is not None:
        data["user_base"] = user_base
    replace_all(url, data)
    if drop:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for column in drop:
                conn.execute(sa.text(f"ALTER TABLE tickets DROP COLUMN {column}"))
        engine.dispose()
    return url
