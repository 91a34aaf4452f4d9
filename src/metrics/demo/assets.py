"""Demo enterprise circuits (专线), their outages (故障) and monthly bills (账单).

Part of :mod:`metrics.demo.generator`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.demo.model import CLASS_SLA, Population
from metrics.demo.util import Clock, choice, pick

PRODUCTS = ("dedicated_line", "mpls_vpn", "idc", "cloud_connect")
CAUSES = ("fiber_cut", "equipment_failure", "power_failure", "configuration_error", "third_party", "weather")
OUTAGES_PER_YEAR = np.array([1.0, 1.6, 2.6])  # per circuit, by SLA level gold/silver/bronze
RESTORE_MEDIAN_H = np.array([2.0, 3.0, 5.0])


def draw_services_outages(rng: np.random.Generator, clock: Clock,
                          pop: Population) -> tuple[pd.DataFrame, pd.DataFrame]:
    """1-3 circuits per enterprise customer (SLA level = the customer's) and their outages."""
    ent = np.flatnonzero(pop.enterprise)
    k = 1 + choice(rng, len(ent), [.5, .3, .2])
    cust = np.repeat(ent, k)
    c_end = np.where(pop.end_day[cust] >= 0, pop.end_day[cust], clock.days - 1)
    span = np.maximum(c_end - pop.start_day[cust], 0)
    start = pop.start_day[cust] + np.floor(rng.random(len(cust)) * np.minimum(span, 180)).astype(np.int64)
    level = pop.cls[cust].astype(np.intp) - 4
    churned = pop.end_day[cust] >= 0
    services = pd.DataFrame({
        "service_id": np.arange(1, len(cust) + 1, dtype=np.int64),
        "customer_id": cust.astype(np.int64) + 1,
        "product": pick(PRODUCTS, choice(rng, len(cust), [.45, .25, .15, .15])),
        "sla_level": pick(CLASS_SLA, pop.cls[cust]),
        "start_date": clock.dates(start),
        "end_date": clock.dates(np.where(churned, c_end, 0), churned),
    })
    a = np.maximum(start, 0) * 24.0
    b = (c_end + 1) * 24.0
    cnt = rng.poisson(OUTAGES_PER_YEAR[level] * np.maximum(b - a, 0) / 8766.0)
    svc = np.repeat(np.arange(len(cust)), cnt)
    started = a[svc] + rng.random(len(svc)) * (b[svc] - a[svc])
    restored = started + RESTORE_MEDIAN_H[level[svc]] * np.exp(0.9 * rng.standard_normal(len(svc)))
    restored[restored >= clock.hours] = np.nan
    order = np.argsort(started, kind="stable")
    svc, started, restored = svc[order], started[order], restored[order]
    if len(svc) >= 2 and np.isfinite(restored).sum() > len(svc) - 2:
        restored[-2:] = np.nan  # a few outages are always still open at the end
    outages = pd.DataFrame({
        "outage_id": np.arange(1, len(svc) + 1, dtype=np.int64),
        "service_id": svc.astype(np.int64) + 1,
        "started_at": clock.timestamps(started),
        "restored_at": clock.timestamps(restored),
        "cause": pick(CAUSES, choice(rng, len(svc), [.3, .25, .15, .12, .1, .08])),
    })
    return services, outages


def draw_billing(rng: np.random.Generator, clock: Clock, pop: Population) -> pd.DataFrame:
    """One row per customer and active month in the history (month = first day of the month).

    Revenue (CNY) scatters around ``monthly_revenue``; for churners it falls over the last six
    months before the end date, to 45% in the final month (planted pattern e).
    """
    last_day = np.where(pop.end_day >= 0, pop.end_day, clock.days - 1)
    first_m = clock.month_index(np.maximum(pop.start_day, 0))
    last_m = clock.month_index(last_day)
    m = np.maximum(last_m - first_m + 1, 0)
    cust = np.repeat(np.arange(pop.n, dtype=np.int32), m)
    offs = np.arange(len(cust)) - np.repeat(np.cumsum(m) - m, m)
    month = first_m[cust] + offs
    before_end = (last_m[cust] - month).astype(float)
    decline = np.where((pop.end_day[cust] >= 0) & (before_end < 6), 0.45 + 0.55 * before_end / 6, 1.0)
    revenue = pop.revenue[cust] * np.exp(0.1 * rng.standard_normal(len(cust))) * decline
    months = (np.datetime64(clock.t0, "M") + month.astype("timedelta64[M]")).astype("datetime64[ns]")
    return pd.DataFrame({
        "customer_id": cust.astype(np.int64) + 1,
        "month": months,
        "revenue": np.round(revenue, 2),
    })
