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
"""

from __future__ import annotations

import datetime as dt

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
from metrics.demo.util import Clock
from metrics.model import schema

SEED_OFFSET = 19_019  # the outlets' own generator: seed + this
HALL_SEED_OFFSET = 19_020  # the halls' visitors from outside the book (walk-ins, VIP visits): their own generator
CUSTOMERS_PER_HALL = 700
KIND_WEIGHT = {"own_hall": 3.0, "partner_hall": 1.5, "agent": 0.6, "franchise": 0.9}  # visits drawn per outlet
FLAGSHIP = 2.0  # the first own hall of a city (with a VIP room) draws twice an own hall's visits
PLANTED_SIZE = 4.0  # … the planted hall (Dongjiang's central hall) four times: a month shows its pattern
CHANNEL_KINDS = {"service_hall": ("own_hall",), "partner_hall": ("partner_hall",), "agent": ("agent", "franchise")}
KIND_WAIT_MIN = {"own_hall": 6.0, "partner_hall": 3.0, "agent": -2.0, "franchise": -1.0}  # added to the base mean
VISITS_PER_YEAR = 1.5
WAIT_SHAPE = 3.0  # the waits' Gamma shape (mean 1): coefficient of variation 0.58
ENTERPRISE_PROPENSITY = 0.4
WALK_IN_SHARE = 0.15
WALK_INS_PER_YEAR = 1.5  # anonymous visits per customer of the city a year, besides the book's own walk-ins
VIP_VISITS_PER_YEAR = 2.0  # a diamond or gold customer's extra visits a year to a VIP-room hall of their city
WEEKDAY_W = np.array([1.0, 0.95, 0.95, 0.95, 1.0, 1.3, 1.3])  # Monday first: halls are busier at weekends
HOURS = np.arange(9, 20)  # opening hours 9:00-20:00
HOUR_W = np.array([0.7, 1.2, 1.3, 1.0, 0.8, 1.0, 1.2, 1.1, 0.9, 0.6, 0.4])
# code, share of visits, median service minutes, queue-number prefix
SERVICE_TYPES = (("payment", .24, 4.0, "A"), ("sim_card", .12, 8.0, "B"), ("new_service", .10, 18.0, "B"),
                 ("plan_change", .14, 9.0, "B"), ("broadband", .10, 15.0, "B"), ("device", .08, 12.0, "B"),
                 ("inquiry", .16, 6.0, "A"), ("complaint", .06, 14.0, "C"))
HIGH_TIERS = ("diamond", "gold")
VIP_SAVING_MIN = 11.0
MONTH_END_CITY = 4  # 东江市 Dongjiang
MONTH_END_DAYS, MONTH_END_FACTOR = 7, 2.5
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
    book = _queue(rng, clock, customers, cust_city, outlets, base)
    audits, items = draw_audits(rng, clock, outlets, quality, planted_hall(outlets),
                                _days(clock, outlets["opened_on"]))
    more = _hall_visits(np.random.default_rng(seed + HALL_SEED_OFFSET), clock, customers, cust_city, outlets, base)
    out = {"queue_records": _records(clock, outlets, {k: np.r_[book[k], more[k]] for k in book}), "audits": audits,
           "audit_items": items}
    ids = customers["customer_id"].to_numpy()
    for name in ("tickets", "surveys"):
        frame = frames[name].copy(deep=False)  # the given frame keeps its columns
        frame["outlet_id"] = _where(rng, frame, ids, cust_city, outlets)
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


def planted_hall(outlets: pd.DataFrame) -> int:
    """The outlet_id of the planted hall: the first own hall of :data:`MONTH_END_CITY` (its waits
    double at month-end, its VIP lane works, it fails :data:`FAILED_ITEM` in its last three audits)."""
    own = outlets[(outlets["kind"] == "own_hall") & (outlets["region_id"] == MONTH_END_CITY)]
    return int(own["outlet_id"].min())


def vip_lanes(outlets: pd.DataFrame) -> tuple[list[int], list[int]]:
    """(halls whose VIP lane works, VIP-room halls where it does not): every other VIP-room hall by
    id from the first, and the planted hall."""
    ids = sorted(outlets.loc[outlets["vip_room"].fillna(False).astype(bool), "outlet_id"].astype(int))
    works = sorted(set(ids[::2]) | {planted_hall(outlets)})
    return works, [i for i in ids if i not in works]


def _flagships(outlets: pd.DataFrame) -> np.ndarray:
    """The first own hall of every city."""
    return outlets[outlets["kind"] == "own_hall"].groupby("region_id")["outlet_id"].min().to_numpy()


def _window(clock: Clock) -> int:
    """Day (since t0) of the first day of the 12 calendar months ending with ``clock.end``'s."""
    y, m = clock.end.year, clock.end.month - 11
    if m < 1:
        y, m = y - 1, m + 12
    return max(0, clock.day_of(dt.date(y, m, 1)))


def _days(clock: Clock, col: pd.Series) -> np.ndarray:
    v = np.asarray(col, dtype="datetime64[ns]").astype("datetime64[D]")
    out = (v - np.datetime64(clock.t0, "D")).astype("timedelta64[D]").astype(float)
    out[np.isnat(v)] = np.nan
    return out


def _pick_outlet(rng: np.random.Generator, city: np.ndarray, outlets: pd.DataFrame,
                 kinds: tuple[str, ...] | None = None, rooms: bool = False) -> np.ndarray:
    """An outlet id per row in the row's city, weighted by :data:`KIND_WEIGHT` (only ``kinds`` when given;
    only halls with a VIP room with ``rooms``); 0 where the city has none."""
    out = np.zeros(len(city), dtype=np.int64)
    u = rng.random(len(city))
    ids, region = outlets["outlet_id"].to_numpy(), outlets["region_id"].to_numpy()
    size = np.where(outlets["outlet_id"].isin(_flagships(outlets)).to_numpy(), FLAGSHIP, 1.0)
    size[ids == planted_hall(outlets)] = PLANTED_SIZE
    weight = outlets["kind"].map(KIND_WEIGHT).to_numpy(dtype=float) * size
    if kinds:
        weight = np.where(outlets["kind"].isin(kinds).to_numpy(), weight, 0.0)
    if rooms:
        weight = np.where(outlets["vip_room"].fillna(False).to_numpy(dtype=bool), weight, 0.0)
    order = np.argsort(city, kind="stable")
    cities, starts = np.unique(city[order], return_index=True)
    for cid, rows in zip(cities, np.split(order, starts[1:]), strict=True):
        mine = np.flatnonzero((region == cid) & (weight > 0))
        if not len(mine):
            continue
        w = np.cumsum(weight[mine])
        idx = np.minimum(np.searchsorted(w / w[-1], u[rows], side="right"), len(mine) - 1)
        out[rows] = ids[mine][idx]
    return out


def _where(rng: np.random.Generator, frame: pd.DataFrame, ids: np.ndarray, cust_city: np.ndarray,
           outlets: pd.DataFrame) -> pd.arrays.IntegerArray:
    """``outlet_id`` of tickets or surveys: an outlet of the channel's kind in the customer's city."""
    city = cust_city[np.searchsorted(ids, frame["customer_id"].to_numpy())]
    channel = frame["channel"].to_numpy()
    out = np.full(len(frame), np.nan)
    for ch, kinds in CHANNEL_KINDS.items():
        rows = np.flatnonzero(channel == ch)
        got = _pick_outlet(rng, city[rows], outlets, kinds).astype(float)
        out[rows] = np.where(got > 0, got, np.nan)
    return pd.array(out, dtype="Float64").astype("Int64")


def _visitors(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, per_year: float,
              prop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(customer row, day) of visits in the queue window: each customer active then ``per_year`` × ``prop``
    times a year (weekends busier, :data:`WEEKDAY_W`)."""
    w0 = _window(clock)
    start = np.maximum(_days(clock, customers["start_date"]), w0)
    end = _days(clock, customers["end_date"])
    stop = np.minimum(np.where(np.isnan(end), clock.days, end), clock.days)
    span = np.maximum(stop - start, 0)
    accept_mean = WEEKDAY_W.mean() / WEEKDAY_W.max()
    count = rng.poisson(per_year * span / 365.25 * prop / accept_mean)
    who = np.repeat(np.arange(len(customers)), count)
    day = np.floor(start[who] + rng.random(len(who)) * span[who]).astype(np.int64)
    weekday = (np.datetime64(clock.t0, "D") + day.astype("timedelta64[D]")).astype(np.int64) + 3
    keep = rng.random(len(who)) < WEEKDAY_W[weekday % 7] / WEEKDAY_W.max()
    return who[keep], day[keep]


def _queue(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, cust_city: np.ndarray,
           outlets: pd.DataFrame, base: np.ndarray) -> dict[str, np.ndarray]:
    """The book's visits (its customers' and :data:`WALK_IN_SHARE` walk-ins among them): the columns of
    :func:`_records` as arrays."""
    prop = np.where(customers["segment"].to_numpy() == "enterprise", ENTERPRISE_PROPENSITY, 1.0)
    who, day = _visitors(rng, clock, customers, VISITS_PER_YEAR, prop)
    outlet = _pick_outlet(rng, cust_city[who], outlets)
    cust = customers["customer_id"].to_numpy()[who].astype(float)
    tier = customers["tier"].to_numpy()[who]
    walk = rng.integers(0, len(who), round(len(who) * WALK_IN_SHARE / (1 - WALK_IN_SHARE))) if len(who) else \
        np.zeros(0, dtype=np.int64)
    outlet, day = np.r_[outlet, outlet[walk]], np.r_[day, day[walk]]
    cust, tier = np.r_[cust, np.full(len(walk), np.nan)], np.r_[tier, np.full(len(walk), None)]
    return _visits(rng, outlets, base, clock, outlet, day, cust, tier)


def _hall_visits(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, cust_city: np.ndarray,
                 outlets: pd.DataFrame, base: np.ndarray) -> dict[str, np.ndarray]:
    """The halls' other visitors (their own generator, so the book's figures stay as they were): people
    not (yet) in the book, :data:`WALK_INS_PER_YEAR` anonymous visits per customer of the city a year at
    any outlet, and the high tiers' :data:`VIP_VISITS_PER_YEAR` extra visits a year to a VIP-room hall of
    their city."""
    tiers = customers["tier"].to_numpy()
    who, day = _visitors(rng, clock, customers, WALK_INS_PER_YEAR, np.ones(len(customers)))
    outlet = _pick_outlet(rng, cust_city[who], outlets)
    high = pd.Series(tiers).isin(HIGH_TIERS).to_numpy()
    vwho, vday = _visitors(rng, clock, customers, VIP_VISITS_PER_YEAR, high.astype(float))
    vip = _pick_outlet(rng, cust_city[vwho], outlets, rooms=True)
    kept = vip > 0  # a city without a VIP room: no such visit
    vwho, vday, vip = vwho[kept], vday[kept], vip[kept]
    cust = np.r_[np.full(len(who), np.nan), customers["customer_id"].to_numpy()[vwho].astype(float)]
    tier = np.r_[np.full(len(who), None), tiers[vwho]]
    return _visits(rng, outlets, base, clock, np.r_[outlet, vip], np.r_[day, vday], cust, tier)


def _visits(rng: np.random.Generator, outlets: pd.DataFrame, base: np.ndarray, clock: Clock, outlet: np.ndarray,
            day: np.ndarray, cust: np.ndarray, tier: np.ndarray) -> dict[str, np.ndarray]:
    """Arrival, waits (the planted month-end and VIP lane), service and abandonment of visits to
    ``outlet`` on ``day`` by ``cust`` (NaN: a walk-in) of ``tier``."""
    n = len(day)
    hour = HOURS[np.searchsorted(np.cumsum(HOUR_W) / HOUR_W.sum(), rng.random(n), side="right")]
    arrived = day * 24.0 + hour + rng.random(n)
    congestion = (HOUR_W / (HOUR_W @ HOUR_W / HOUR_W.sum()))[hour - HOURS[0]]
    wait = base[outlet - 1] * congestion * rng.gamma(WAIT_SHAPE, 1 / WAIT_SHAPE, n)
    dates = np.datetime64(clock.t0, "D") + day.astype("timedelta64[D]")
    month_end = (dates + np.timedelta64(MONTH_END_DAYS, "D")).astype("datetime64[M]") != dates.astype("datetime64[M]")
    wait = np.where((outlet == planted_hall(outlets)) & month_end, wait * MONTH_END_FACTOR, wait)
    high = pd.Series(tier).isin(HIGH_TIERS).to_numpy()
    lane = [(np.flatnonzero((outlet == oid) & high), np.flatnonzero((outlet == oid) & ~high))
            for oid in vip_lanes(outlets)[0]]
    for h, _ in lane:  # the lane, provisionally: the high tiers' waits 11 minutes shorter on average
        if len(h):
            wait[h] *= max(0.1, 1 - VIP_SAVING_MIN / wait[h].mean())
    stype = rng.choice(len(SERVICE_TYPES), n, p=[s[1] for s in SERVICE_TYPES])
    abandoned = rng.random(n) < 0.02 + 0.25 * (1 - np.exp(-wait / 50.0))
    seen = ~(abandoned & (rng.random(n) < 0.75))  # called (the others left before their number came)
    gap = rng.uniform(0.2, 1.5, n) / 60.0  # hours from the call to the service's start
    service = np.array([s[2] for s in SERVICE_TYPES])[stype] * np.exp(rng.normal(0, 0.45, n)) / 60.0
    return {"outlet": outlet, "day": day, "cust": cust, "stype": stype, "high": high, "arrived": arrived,
            "wait": wait, "seen": seen, "gap": gap, "service": service, "abandoned": abandoned}


def _records(clock: Clock, outlets: pd.DataFrame, v: dict[str, np.ndarray]) -> pd.DataFrame:
    """The ``queue_records`` frame of the visits ``v`` (:func:`_visits`, all of them): the VIP lane made
    exact — in every hall where it works the called high tiers' mean wait 11 minutes below the other
    identified customers' (as metrics.analysis.outlets.vip_lane compares them) —,
    ids by arrival, queue numbers per outlet, day and prefix (V: a high tier at a VIP room)."""
    outlet, day, arrived, high, stype = v["outlet"], v["day"], v["arrived"], v["high"], v["stype"]
    cust, abandoned, seen, wait = v["cust"], v["abandoned"], v["seen"], v["wait"].copy()
    for oid in vip_lanes(outlets)[0]:
        hs = np.flatnonzero((outlet == oid) & high & seen)
        rs = np.flatnonzero((outlet == oid) & ~high & seen & ~np.isnan(cust))  # against the identified others
        if len(hs) and len(rs):
            wait[(outlet == oid) & high] *= np.clip((wait[rs].mean() - VIP_SAVING_MIN) / wait[hs].mean(), 0.05, 20.0)
    called = np.where(seen, arrived + wait / 60.0, np.nan)
    started = np.where(abandoned, np.nan, called + v["gap"])
    ended = started + v["service"]
    n = len(day)
    vip_room = outlets["vip_room"].to_numpy()[outlet - 1]
    prefix = np.where(high & vip_room, "V", np.array([s[3] for s in SERVICE_TYPES], dtype=object)[stype])
    df = pd.DataFrame({"outlet_id": outlet, "day": day, "prefix": prefix, "arrived": arrived}).sort_values(
        ["arrived", "outlet_id"], kind="stable")
    seq = df.groupby(["outlet_id", "day", "prefix"], sort=False).cumcount().to_numpy() + 1
    order = df.index.to_numpy()
    queue_no = (df["prefix"].to_numpy() + pd.Series(seq).map("{:03d}".format).to_numpy()).astype(object)
    out = pd.DataFrame({
        "queue_id": np.arange(1, n + 1, dtype=np.int64),
        "outlet_id": outlet[order].astype(np.int64),
        "queue_no": queue_no,
        "service_type": np.array([s[0] for s in SERVICE_TYPES], dtype=object)[stype[order]],
        "customer_id": pd.array(cust[order], dtype="Float64").astype("Int64"),
        "arrived_at": clock.timestamps(arrived[order]),
        "called_at": clock.timestamps(called[order]),
        "started_at": clock.timestamps(started[order]),
        "ended_at": clock.timestamps(ended[order]),
        "abandoned": abandoned[order],
    })
    return out[[c.name for c in schema.queue_records.columns]]
