"""Mystery-shopper audits of the demo's outlets (issue 19, drawn by :mod:`metrics.demo.outlets` on its
generator): quarterly per outlet over the last two years, 5-8 checklist items (the five core items
always, :data:`CHECKLIST`); item scores are the outlet's quality ± noise, at least 65% of the maximum
except rare single failures (below 60%), never three in a row by chance; the planted hall fails
:data:`FAILED_ITEM` in its last three audits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from metrics.demo.util import Clock
from metrics.model import schema

# checklist item -> maximum score; the first five are in every audit
CHECKLIST = {"greeting": 10.0, "waiting": 15.0, "knowledge": 25.0, "etiquette": 15.0, "environment": 10.0,
             "information": 10.0, "sales_compliance": 10.0, "farewell": 5.0}
CORE_ITEMS = 5
FAILED_ITEM = "waiting"
FAIL_SHARE = 0.6  # an item scored below this share of its maximum fails
AUDIT_QUARTERS = 8
AUDITORS = ("岭南明鉴市场研究", "信诚第三方评估", "华衡服务质量检测")


def draw_audits(rng: np.random.Generator, clock: Clock, outlets: pd.DataFrame, quality: np.ndarray, planted: int,
                opened_days: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarterly audits of every outlet (last :data:`AUDIT_QUARTERS` quarters; none before it opened, on
    ``opened_days`` since the clock's start) and their items; ``planted`` (an outlet_id) fails
    :data:`FAILED_ITEM` in its last three."""
    q_end = dt.date(clock.end.year, 3 * ((clock.end.month - 1) // 3) + 1, 1)
    starts = []
    for _ in range(AUDIT_QUARTERS):
        starts.append(clock.day_of(q_end))
        q_end = (q_end - dt.timedelta(days=1)).replace(day=1)
        q_end = q_end.replace(month=3 * ((q_end.month - 1) // 3) + 1)
    n_out = len(outlets)
    oi = np.repeat(np.arange(n_out), len(starts))
    day = np.tile(sorted(starts), n_out) + rng.integers(5, 80, len(oi))
    opened = opened_days[oi]
    keep = (day < clock.days) & (day >= 0) & ~(day < opened)
    oi, day = oi[keep], day[keep]
    audits = pd.DataFrame({"outlet_id": outlets["outlet_id"].to_numpy()[oi], "day": day, "oi": oi}).sort_values(
        ["day", "outlet_id"], kind="stable", ignore_index=True)
    audits.insert(0, "audit_id", np.arange(1, len(audits) + 1, dtype=np.int64))
    names, maxes = list(CHECKLIST), np.array(list(CHECKLIST.values()))
    extra = rng.integers(0, len(names) - CORE_ITEMS + 1, len(audits))
    take = np.arange(len(names))[None, :] < (CORE_ITEMS + extra)[:, None]
    a_idx, i_idx = np.nonzero(take)
    share = np.clip(quality[audits["oi"].to_numpy()[a_idx]] + rng.normal(0, 0.07, len(a_idx)), 0.65, 1.0)
    fail = rng.random(len(a_idx)) < 0.03
    share = np.where(fail, rng.uniform(0.3, 0.55, len(a_idx)), share)
    items = pd.DataFrame({"audit_id": audits["audit_id"].to_numpy()[a_idx], "outlet_id":
                          audits["outlet_id"].to_numpy()[a_idx], "i": i_idx, "share": share})
    items = _no_chance_runs(items)
    last3 = audits.loc[audits["outlet_id"] == planted, "audit_id"].to_numpy()[-3:]
    hit = items["audit_id"].isin(last3).to_numpy() & (items["i"].to_numpy() == names.index(FAILED_ITEM))
    items.loc[hit, "share"] = rng.uniform(0.3, 0.5, int(hit.sum()))
    mx = maxes[items["i"].to_numpy()]
    out_items = pd.DataFrame({
        "audit_id": items["audit_id"].to_numpy(),
        "item": np.array(names, dtype=object)[items["i"].to_numpy()],
        "score": np.round(items["share"].to_numpy() * mx * 2) / 2,
        "max_score": mx,
    })
    out = pd.DataFrame({
        "audit_id": audits["audit_id"].to_numpy(),
        "outlet_id": audits["outlet_id"].to_numpy(dtype=np.int64),
        "audited_on": clock.dates(audits["day"].to_numpy()),
        "auditor": np.array(AUDITORS, dtype=object)[rng.integers(0, len(AUDITORS), len(audits))],
    })
    return out[[c.name for c in schema.audits.columns]], out_items[[c.name for c in schema.audit_items.columns]]


def _no_chance_runs(items: pd.DataFrame) -> pd.DataFrame:
    """Lift the third of any chance run of three failed audits of the same item at one outlet to a pass
    (the planted run stays the only one)."""
    items = items.sort_values(["outlet_id", "i", "audit_id"], kind="stable", ignore_index=True)
    for _ in range(3):
        failed = (items["share"] < FAIL_SHARE).astype(int)
        run = failed.groupby([items["outlet_id"], items["i"]]).rolling(3, min_periods=3).sum()
        third = run.reset_index(level=[0, 1], drop=True).sort_index().to_numpy() >= 3
        if not third.any():
            break
        items.loc[third, "share"] = 0.7
    return items.sort_values(["audit_id", "i"], kind="stable", ignore_index=True)
