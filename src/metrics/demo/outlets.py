"""Demo service halls and outlets, their queues and mystery-shopper audits, with planted patterns (issue 19).

Design — every existing demo figure stays as it was. This module runs last, on its own generator
(``np.random.default_rng(seed + SEED_OFFSET)``), reads the finished frames and changes none of their
values; it only adds ``outlet_id`` to ``tickets`` and ``surveys`` (where the channel is a hall or an
agent: an outlet of that kind in the customer's city; NULL elsewhere).

* **Outlets** (``outlets``): per city about one own hall (``own_hall``) per :data:`CUSTOMERS_PER_HALL`
  customers (at least two), half as many partner halls and franchises and 1.5 times as many agents
  (at least one of each). Each has a hidden quality (0-1) that drives its waits and audit scores;
  the first own hall of every city has a VIP room (``vip_room``), the other own halls and partner
  halls one with probability 0.3 and 0.2. Current ``stars`` (1-5): those the outlet earns over the
  last :data:`STAR_MONTHS` months under the shipped star rules (:data:`STAR_RULES`, recomputed from
  the frames exactly as metrics.analysis.outlet_stars computes them), moved one star up or down for
  about 15% of outlets (and one up for the planted hall, from the more it earns over those months and
  the last complete quarter) — those would gain or lose a star this quarter.
* **Queue records** (``queue_records``): the last 12 calendar months before ``end``. Every customer
  active then visits an outlet of their city about :data:`VISITS_PER_YEAR` times a year (enterprise
  customers 40% as often; weekends 1.3 times as busy), own halls drawing most visits
  (:data:`KIND_WEIGHT`); 15% more visits are anonymous walk-ins (no customer). Halls also serve people
  outside the book: :data:`WALK_INS_PER_YEAR` anonymous visits per customer of the city a year at any
  outlet, and every diamond and gold customer visits a VIP-room hall of their city
  :data:`VIP_VISITS_PER_YEAR` more times a year (a generator of their own, ``seed +``
  :data:`HALL_SEED_OFFSET`: every other table stays as it was but for the outlets' current stars, earned
  on all the visits; the planted hall then holds enough VIP waits for a month's verdict). Arrivals 9:00-20:00,
  congestion following the arrivals by hour. Waiting time (minutes) = the outlet's base mean × the
  hour's congestion × Gamma(2, ½); service time lognormal per service type (:data:`SERVICE_TYPES`);
  abandonment rising with the wait.
* **Planted.** (1) The first own hall of 东江市 Dongjiang (:data:`MONTH_END_CITY`): waits × 2.5 in the
  last 7 days of every month (its p90 doubles). (2) VIP lane: in every other VIP-room hall (by id,
  starting with the first; the Dongjiang hall among them) diamond and gold customers wait
  :data:`VIP_SAVING_MIN` minutes less on average than the others of that hall (their waits scaled so
  the hall's high-tier mean is 11 minutes lower); in the other VIP halls they wait no less.
  (3) Audits (:mod:`metrics.demo.outlet_audits`): quarterly per outlet over the last two years, 5-8
  checklist items (five core items always, ``CHECKLIST``); item scores are the outlet's quality ± noise,
  at least 65% of the maximum except rare single failures (below 60%), never three in a row by chance; the Dongjiang
  hall fails ``waiting`` (:data:`FAILED_ITEM`) in its last three audits.

This module draws the outlets and their stars; the queues (visits, waits, the planted month-end hall and
VIP lanes, and the outlet of each ticket and survey) are :mod:`metrics.demo.outlet_queues`, with the
constants named above, and the audits :mod:`metrics.demo.outlet_audits`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.demo.outlet_audits import (  # noqa: F401 - also the names of demo.outlets
    AUDIT_QUARTERS,
    AUDITORS,
    CHECKLIST,
    CORE_ITEMS,
    FAIL_SHARE,
    FAILED_ITEM,
    draw_audits,
)
from metrics.demo.outlet_queues import (  # noqa: F401 - the constants: also demo.outlets' names
    CHANNEL_KINDS,
    HIGH_TIERS,
    MONTH_END_CITY,
    MONTH_END_DAYS,
    VIP_SAVING_MIN,
    book_visits,
    contact_outlets,
    days_since_t0,
    hall_visits,
    planted_hall,
    queue_records,
    vip_lanes,
)
from metrics.demo.util import Clock
from metrics.model import schema

SEED_OFFSET = 19_019  # the outlets' own generator: seed + this
HALL_SEED_OFFSET = 19_020  # the halls' visitors from outside the book (walk-ins, VIP visits): their own generator
CUSTOMERS_PER_HALL = 700
KIND_WAIT_MIN = {"own_hall": 6.0, "partner_hall": 3.0, "agent": -2.0, "franchise": -1.0}  # added to the base mean
ROADS = ("人民路", "解放路", "中山路", "建设路", "新华路", "滨江路", "朝阳路", "文化路", "东风路", "育才路",
         "环城路", "和平路", "学府路", "迎宾大道", "光明路", "长安街")
# the star rules as data/outlet_stars.toml ships them (weights, lowest score of 2-5 stars): current stars
# are those earned over the last STAR_MONTHS months, moved one star for ~15% of outlets
STAR_RULES = {"target_minutes": 15.0, "points_per_complaint": 0.3,
              "weights": {"waiting": 0.30, "audits": 0.30, "satisfaction": 0.25, "complaints": 0.15},
              "stars": [62.0, 70.0, 76.0, 82.0]}
STAR_MONTHS = 3
SHOPS = ("鑫源", "诚信", "联通达", "顺发", "美佳", "宏运", "乐享", "万家", "星辰", "安信")


def draw_outlets(seed: int, clock: Clock, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``outlets``, ``queue_records``, ``audits``, ``audit_items`` frames (columns in table order), and
    ``tickets`` / ``surveys`` with their ``outlet_id`` (the frames given, one column added)."""
    rng = np.random.default_rng(seed + SEED_OFFSET)
    regions, customers = frames["regions"], frames["customers"]
    district = regions["level"] == "district"
    city_of = dict(zip(regions["region_id"], np.where(district, regions["parent_id"], regions["region_id"]),
                       strict=True))
    cust_city = customers["region_id"].map(city_of).to_numpy(dtype=np.int64)
    outlets, quality, base, move = _outlets(rng, clock, regions, cust_city)
    book = book_visits(rng, clock, customers, cust_city, outlets, base)
    audits, items = draw_audits(rng, clock, outlets, quality, planted_hall(outlets),
                                days_since_t0(clock, outlets["opened_on"]))
    more = hall_visits(np.random.default_rng(seed + HALL_SEED_OFFSET), clock, customers, cust_city, outlets, base)
    out = {"queue_records": queue_records(clock, outlets, {k: np.r_[book[k], more[k]] for k in book}), "audits": audits,
           "audit_items": items}
    ids = customers["customer_id"].to_numpy()
    for name in ("tickets", "surveys"):
        frame = frames[name].copy(deep=False)  # the given frame keeps its columns
        frame["outlet_id"] = contact_outlets(rng, frame, ids, cust_city, outlets)
        out[name] = frame
    earned = _earned_stars(clock, outlets, out)
    planted = (outlets["outlet_id"] == planted_hall(outlets)).to_numpy()  # a star above what it earns in the
    earned[planted] = np.fmax(earned, _earned_stars(clock, outlets, out, _last_quarter(clock)))[planted]  # quarter too
    stars = np.where(np.isnan(earned), outlets["stars"].to_numpy(float), np.clip(earned + move, 1, 5))
    out["outlets"] = outlets.assign(stars=stars.astype(np.int64))[[c.name for c in schema.outlets.columns]]
    return out


def _outlets(rng: np.random.Generator, clock: Clock, regions: pd.DataFrame,
             cust_city: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The outlets, their hidden quality (0-1) and base mean wait (minutes)."""
    rows = []
    cities = regions[regions["level"] == "city"]
    for cid, city_zh in zip(cities["region_id"], cities["name_zh"], strict=True):
        n = int((cust_city == cid).sum())
        own = max(2, round(n / CUSTOMERS_PER_HALL))
        counts = {"own_hall": own, "partner_hall": max(1, round(own / 2)), "agent": max(1, round(own * 1.5)),
                  "franchise": max(1, round(own / 2))}
        districts = regions.loc[regions["parent_id"] == cid, "name_zh"].to_numpy(dtype=object)
        for kind, k in counts.items():
            for j in range(k):
                rows.append((int(cid), city_zh, kind, j, districts[rng.integers(0, len(districts))]))
    df = pd.DataFrame(rows, columns=["region_id", "city", "kind", "j", "district"])
    n = len(df)
    road = np.array(ROADS, dtype=object)[rng.integers(0, len(ROADS), n)]
    number = rng.integers(1, 400, n)
    shop = np.array(SHOPS, dtype=object)[rng.integers(0, len(SHOPS), n)]
    suffix = df["kind"].map({"own_hall": "营业厅", "partner_hall": "合作营业厅", "agent": "通信代理点",
                             "franchise": "通信加盟店"}).to_numpy(dtype=object)
    name = np.where(df["kind"].isin(["agent", "franchise"]), df["district"] + shop + suffix,
                    df["district"] + road + suffix).astype(object)
    dup = pd.Series(name).groupby(name).cumcount().to_numpy()
    name = np.where(dup > 0, name + "（" + (dup + 1).astype(str).astype(object) + "）", name)
    quality = rng.beta(6, 2, n)
    is_own = (df["kind"] == "own_hall").to_numpy()
    vip = np.where(is_own & (df["j"] == 0).to_numpy(), True,
                   np.where(is_own, rng.random(n) < 0.3,
                            np.where(df["kind"] == "partner_hall", rng.random(n) < 0.2, False)))
    base = np.maximum(3.0, 8.0 + 22.0 * (1 - quality) + df["kind"].map(KIND_WAIT_MIN).to_numpy())
    base = np.where(vip, 17.0 + 9.0 * rng.random(n), base)  # VIP halls are the busy ones
    first = is_own & (df["j"] == 0).to_numpy()
    planted = int(np.flatnonzero(first & (df["region_id"] == MONTH_END_CITY).to_numpy())[0])
    quality[planted] = 0.7
    band = np.searchsorted([0.1, 0.3, 0.65, 0.9], pd.Series(quality).rank(pct=True).to_numpy()) + 1
    move = np.where(rng.random(n) < 0.15, np.where(rng.random(n) < 0.5, -1, 1), 0)
    move[planted] = 1  # the Dongjiang hall holds a star it no longer earns
    opened = clock.day_of(clock.end) - rng.integers(365 * 2, 365 * 15, n)
    since = np.maximum(clock.day_of(clock.end) - rng.integers(30, 720, n), opened)
    out = pd.DataFrame({
        "outlet_id": np.arange(1, n + 1, dtype=np.int64),
        "name": name,
        "kind": df["kind"].to_numpy(dtype=object),
        "region_id": df["region_id"].to_numpy(dtype=np.int64),
        "address": (df["city"] + df["district"] + road + number.astype(str).astype(object) + "号").to_numpy(object),
        "opened_on": clock.dates(opened),
        "vip_room": vip.astype(bool),
        "stars": np.clip(band + move, 1, 5).astype(np.int64),
        "stars_since": clock.dates(since),
    })
    return out, quality, base, move


def _last_quarter(clock: Clock) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[first day, day after) of the last complete calendar quarter up to ``clock.end``."""
    stop = pd.Timestamp(clock.end) + pd.Timedelta(days=1)
    stop = pd.Timestamp(stop.year, 3 * ((stop.month - 1) // 3) + 1, 1)
    return stop - pd.DateOffset(months=3), stop


def _earned_stars(clock: Clock, outlets: pd.DataFrame, out: dict[str, pd.DataFrame],
                  window: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> np.ndarray:
    """The stars each outlet earns over the last :data:`STAR_MONTHS` months (or the days [since, until)
    of ``window``) under the shipped star rules (:data:`STAR_RULES`, as data/outlet_stars.toml ships
    them; metrics.analysis.outlet_stars): NaN without any component. Recomputed from the frames, as the
    engine computes them from the tables."""
    y, m = clock.end.year, clock.end.month - STAR_MONTHS + 1
    since, until = window or (pd.Timestamp(y - (m < 1), (m - 1) % 12 + 1, 1), pd.Timestamp(clock.end) + pd.Timedelta(
        days=1))
    out = {k: out[k] for k in ("queue_records", "audits", "audit_items", "surveys", "tickets")}
    for name, col in (("queue_records", "arrived_at"), ("audits", "audited_on"), ("surveys", "answered_at"),
                      ("tickets", "opened_at")):
        out[name] = out[name][pd.to_datetime(out[name][col]) < until]
    ids = outlets["outlet_id"]
    q = out["queue_records"]
    q = q[q["arrived_at"] >= since]
    wait = (q["called_at"] - q["arrived_at"]).dt.total_seconds() / 60
    waiting = 100 * (wait[wait.notna()] < STAR_RULES["target_minutes"]).groupby(q["outlet_id"]).mean()
    visits = q.groupby("outlet_id").size()
    a = out["audits"][out["audits"]["audited_on"] >= since].merge(out["audit_items"], on="audit_id")
    per_audit = a.groupby(["outlet_id", "audit_id"])[["score", "max_score"]].sum()
    audit = (100 * per_audit["score"] / per_audit["max_score"]).groupby(level=0).mean()
    sv = out["surveys"]
    sv = sv[sv["outlet_id"].notna() & sv["csat"].notna() & (sv["answered_at"] >= since)]
    csat = 100 * (sv["csat"] >= 4).groupby(sv["outlet_id"].astype("int64")).mean()
    tk = out["tickets"]
    tk = tk[tk["outlet_id"].notna() & (tk["kind"] == "complaint") & (tk["opened_at"] >= since)]
    per_1000 = 1000 * tk.groupby(tk["outlet_id"].astype("int64")).size().reindex(visits.index, fill_value=0) / visits
    complaints = np.clip(100 - STAR_RULES["points_per_complaint"] * per_1000, 0, None)
    parts = pd.DataFrame({"waiting": waiting, "audits": audit, "satisfaction": csat, "complaints": complaints})
    parts = parts.reindex(ids.to_numpy())
    w = pd.Series(STAR_RULES["weights"])[parts.columns]
    have = parts.notna()
    score = (parts.fillna(0) * w).sum(axis=1) / (have * w).sum(axis=1).replace(0, np.nan)
    stars = 1 + np.searchsorted(STAR_RULES["stars"], score.to_numpy(), side="right").astype(float)
    return np.where(score.notna(), stars, np.nan)
