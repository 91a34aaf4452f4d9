"""Demo ticket sources and regulator appeals (issue 20), drawn last on their own generator.

Design — every existing demo column stays as it was. This module runs after the rest of the demo on
``np.random.default_rng(seed + SEED_OFFSET)``, reads the finished ``tickets`` frame and only adds its
``source`` column (and the ``regulator_categories`` and empty ``user_base`` frames):

* **Appeals follow unresolved complaints.** A user may take a complaint to the regulator (工信部 /
  通信管理局) only after complaining to the operator and getting no answer within 15 days. A complaint
  opened :data:`WAIT_DAYS`–:data:`WITHIN_DAYS` days after an earlier ticket of the same customer that
  stayed unresolved for :data:`WAIT_DAYS` days or more is a candidate (the demo's complaints mostly
  close within days, so an unfixed fault or an unfinished request counts too); a candidate becomes an appeal
  with probability :data:`APPEAL_P` (``miit`` with :data:`MIIT_SHARE`, else ``ca``). No other ticket
  is an appeal.
* **Other sources.** Of the other complaints a few came through 12315, the media or elsewhere
  (:data:`OTHER_SOURCES`); every other ticket came through the operator's own channels (``own``).
* **Regulator categories.** MIIT's 2012–2020 set (valid to 2021-12-31) and its 2022 set, mapped from
  the demo's categories (:data:`MIIT_MAPPING`); ``fault_repair`` moves from 网络质量 to 服务争议.
* **User base.** What the operator reports to the regulator: ``mobile`` users per city and month,
  :data:`LINES_PER_CUSTOMER` lines per customer active at the month's end (a customer holds several
  SIMs), so ``--base mobile`` and the default (customers) give different denominators.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from metrics.demo.util import city_of
from metrics.model import schema

SEED_OFFSET = 20_030  # the appeals' own generator: seed + this
WAIT_DAYS = 15  # the operator's time to answer before a user may appeal
WITHIN_DAYS = 365  # an appeal comes within this many days of the unanswered ticket
ESCALATED_KINDS = ("complaint", "fault", "request", "inquiry")  # unanswered tickets a user takes further
APPEAL_P = 0.8
MIIT_SHARE = 0.6
OTHER_SOURCES = {"12315": 0.010, "media": 0.004, "other": 0.010}
LINES_PER_CUSTOMER = 1.6  # the demo's user_base: mobile lines per active customer
# (valid_from, valid_to, {our category: MIIT's category}) — codes; names in catalogue [regulator_category]
MIIT_MAPPING: tuple[tuple[dt.date, dt.date | None, dict[str, str]], ...] = (
    (dt.date(2012, 1, 1), dt.date(2021, 12, 31), {
        "billing": "charging_dispute", "tariff": "charging_dispute", "value_added": "charging_dispute",
        "service_attitude": "user_service", "network_quality": "network_quality",
        "fault_repair": "network_quality"}),
    (dt.date(2022, 1, 1), None, {
        "billing": "marketing_charging", "tariff": "marketing_charging", "value_added": "marketing_charging",
        "service_attitude": "service_dispute", "fault_repair": "service_dispute",
        "network_quality": "network_security"}),
)


def appeal_candidates(tickets: pd.DataFrame, wait_days: int = WAIT_DAYS, within_days: int = WITHIN_DAYS,
                      ) -> np.ndarray:
    """Per row of ``tickets``: a complaint opened ``wait_days`` to ``within_days`` days after an earlier
    ticket (of :data:`ESCALATED_KINDS`) of the same customer that stayed unresolved for at least ``wait_days`` days
    (resolved that late, or never: resolved_at NaT)."""
    opened = pd.to_datetime(tickets["opened_at"])
    took = pd.to_datetime(tickets["resolved_at"]).fillna(pd.Timestamp.max) - opened
    late = tickets["kind"].isin(ESCALATED_KINDS).to_numpy() & (took >= pd.Timedelta(days=wait_days)).to_numpy()
    first = pd.DataFrame({"customer_id": tickets["customer_id"].to_numpy()[late], "at": opened.to_numpy()[late]})
    comp = (tickets["kind"] == "complaint").to_numpy()
    later = pd.DataFrame({"row": np.flatnonzero(comp), "customer_id": tickets["customer_id"].to_numpy()[comp],
                          "opened": opened.to_numpy()[comp]})
    m = later.merge(first, on="customer_id")
    gap = m["opened"] - m["at"]
    hit = (gap >= pd.Timedelta(days=wait_days)) & (gap <= pd.Timedelta(days=within_days))
    out = np.zeros(len(tickets), dtype=bool)
    out[m.loc[hit, "row"].to_numpy()] = True
    return out


def draw_appeals(seed: int, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The finished ``tickets`` with their ``source`` column, ``regulator_categories`` and ``user_base``."""
    tickets = frames["tickets"]
    rng = np.random.default_rng(seed + SEED_OFFSET)
    n = len(tickets)
    complaint = (tickets["kind"] == "complaint").to_numpy()
    candidate = appeal_candidates(tickets)
    u, v = rng.random(n), rng.random(n)
    source = np.full(n, "own", dtype=object)
    edge = 0.0
    for code, p in OTHER_SOURCES.items():
        source[complaint & (v >= edge) & (v < edge + p)] = code
        edge += p
    appeal = candidate & (u < APPEAL_P)
    source[appeal] = np.where(rng.random(n)[appeal] < MIIT_SHARE, "miit", "ca")
    out = tickets.copy()
    out["source"] = source
    return {"tickets": out, "regulator_categories": regulator_category_frame(),
            "user_base": user_base_frame(frames["customers"], frames["regions"], out["opened_at"])}


def user_base_frame(customers: pd.DataFrame, regions: pd.DataFrame, opened: pd.Series) -> pd.DataFrame:
    """``mobile`` users per city and month of the tickets' span: the customers active at the month's
    end × :data:`LINES_PER_CUSTOMER`, rounded."""
    cities = customers["region_id"].map(city_of(regions))
    start = pd.to_datetime(customers["start_date"]).to_numpy()
    stop = pd.to_datetime(customers["end_date"]).fillna(pd.Timestamp.max).to_numpy()
    first, last = pd.to_datetime(opened).min(), pd.to_datetime(opened).max()
    rows = []
    for month in pd.date_range(first.to_period("M").to_timestamp(), last, freq="MS"):
        end = month + pd.offsets.MonthEnd(0)
        active = (start <= end.to_datetime64()) & (stop > end.to_datetime64())
        counts = cities[active].value_counts()
        rows += [(month, int(c), "mobile", int(round(n * LINES_PER_CUSTOMER))) for c, n in counts.items()]
    df = pd.DataFrame(rows, columns=[c.name for c in schema.user_base.columns])
    df["month"] = pd.to_datetime(df["month"])
    return df.astype({"region_id": "int64", "users": "int64"})


def regulator_category_frame() -> pd.DataFrame:
    """MIIT's two category sets as ``regulator_categories`` rows."""
    rows = [("miit", start, stop, ours, theirs)
            for start, stop, mapping in MIIT_MAPPING for ours, theirs in mapping.items()]
    df = pd.DataFrame(rows, columns=[c.name for c in schema.regulator_categories.columns])
    return df.astype({"valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]"})
