"""The demo outlets' queues (issue 19): who visits which outlet when, the waits (with the planted
month-end hall and VIP lanes), service and abandonment, as ``queue_records``; and the outlet of each
ticket or survey raised at a hall or an agent. The design and the planted patterns are described in
:mod:`metrics.demo.outlets`, which draws the outlets and calls these (and re-exports the names the tests
read: :func:`planted_hall`, :func:`vip_lanes`, :data:`CHANNEL_KINDS`, :data:`HIGH_TIERS`,
:data:`MONTH_END_DAYS`, :data:`VIP_SAVING_MIN`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from metrics.demo.util import Clock
from metrics.model import schema

KIND_WEIGHT = {"own_hall": 3.0, "partner_hall": 1.5, "agent": 0.6, "franchise": 0.9}  # visits drawn per outlet
FLAGSHIP = 2.0  # the first own hall of a city (with a VIP room) draws twice an own hall's visits
PLANTED_SIZE = 4.0  # … the planted hall (Dongjiang's central hall) four times: a month shows its pattern
CHANNEL_KINDS = {"service_hall": ("own_hall",), "partner_hall": ("partner_hall",), "agent": ("agent", "franchise")}
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


def rows_by_outlet(outlet: np.ndarray) -> Callable[[int], np.ndarray]:
    """``rows(oid)``: the ascending positions of ``outlet == oid`` (as ``np.flatnonzero``), from one stable
    sort instead of a scan of every row per outlet (the streamed demo has thousands of VIP halls)."""
    order = np.argsort(outlet, kind="stable")
    ordered = outlet[order]

    def rows(oid: int) -> np.ndarray:
        return order[np.searchsorted(ordered, oid, side="left"):np.searchsorted(ordered, oid, side="right")]

    return rows


def _flagships(outlets: pd.DataFrame) -> np.ndarray:
    """The first own hall of every city."""
    return outlets[outlets["kind"] == "own_hall"].groupby("region_id")["outlet_id"].min().to_numpy()


def _window(clock: Clock) -> int:
    """Day (since t0) of the first day of the 12 calendar months ending with ``clock.end``'s."""
    y, m = clock.end.year, clock.end.month - 11
    if m < 1:
        y, m = y - 1, m + 12
    return max(0, clock.day_of(dt.date(y, m, 1)))


def days_since_t0(clock: Clock, col: pd.Series) -> np.ndarray:
    v = np.asarray(col, dtype="datetime64[ns]").astype("datetime64[D]")
    out = (v - np.datetime64(clock.t0, "D")).astype("timedelta64[D]").astype(float)
    out[np.isnat(v)] = np.nan
    return out


def pick_outlet(rng: np.random.Generator, city: np.ndarray, outlets: pd.DataFrame,
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


def contact_outlets(rng: np.random.Generator, frame: pd.DataFrame, ids: np.ndarray, cust_city: np.ndarray,
           outlets: pd.DataFrame) -> pd.arrays.IntegerArray:
    """``outlet_id`` of tickets or surveys: an outlet of the channel's kind in the customer's city."""
    city = cust_city[np.searchsorted(ids, frame["customer_id"].to_numpy())]
    channel = frame["channel"].to_numpy()
    out = np.full(len(frame), np.nan)
    for ch, kinds in CHANNEL_KINDS.items():
        rows = np.flatnonzero(channel == ch)
        got = pick_outlet(rng, city[rows], outlets, kinds).astype(float)
        out[rows] = np.where(got > 0, got, np.nan)
    return pd.array(out, dtype="Float64").astype("Int64")


def _visitors(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, per_year: float,
              prop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(customer row, day) of visits in the queue window: each customer active then ``per_year`` × ``prop``
    times a year (weekends busier, :data:`WEEKDAY_W`)."""
    w0 = _window(clock)
    start = np.maximum(days_since_t0(clock, customers["start_date"]), w0)
    end = days_since_t0(clock, customers["end_date"])
    stop = np.minimum(np.where(np.isnan(end), clock.days, end), clock.days)
    span = np.maximum(stop - start, 0)
    accept_mean = WEEKDAY_W.mean() / WEEKDAY_W.max()
    count = rng.poisson(per_year * span / 365.25 * prop / accept_mean)
    who = np.repeat(np.arange(len(customers)), count)
    day = np.floor(start[who] + rng.random(len(who)) * span[who]).astype(np.int64)
    weekday = (np.datetime64(clock.t0, "D") + day.astype("timedelta64[D]")).astype(np.int64) + 3
    keep = rng.random(len(who)) < WEEKDAY_W[weekday % 7] / WEEKDAY_W.max()
    return who[keep], day[keep]


def book_visits(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, cust_city: np.ndarray,
           outlets: pd.DataFrame, base: np.ndarray) -> dict[str, np.ndarray]:
    """The book's visits (its customers' and :data:`WALK_IN_SHARE` walk-ins among them): the columns of
    :func:`queue_records` as arrays."""
    prop = np.where(customers["segment"].to_numpy() == "enterprise", ENTERPRISE_PROPENSITY, 1.0)
    who, day = _visitors(rng, clock, customers, VISITS_PER_YEAR, prop)
    outlet = pick_outlet(rng, cust_city[who], outlets)
    cust = customers["customer_id"].to_numpy()[who].astype(float)
    tier = customers["tier"].to_numpy()[who]
    walk = rng.integers(0, len(who), round(len(who) * WALK_IN_SHARE / (1 - WALK_IN_SHARE))) if len(who) else \
        np.zeros(0, dtype=np.int64)
    outlet, day = np.r_[outlet, outlet[walk]], np.r_[day, day[walk]]
    cust, tier = np.r_[cust, np.full(len(walk), np.nan)], np.r_[tier, np.full(len(walk), None)]
    return _visits(rng, outlets, base, clock, outlet, day, cust, tier)


def hall_visits(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, cust_city: np.ndarray,
                 outlets: pd.DataFrame, base: np.ndarray) -> dict[str, np.ndarray]:
    """The halls' other visitors (their own generator, so the book's figures stay as they were): people
    not (yet) in the book, :data:`WALK_INS_PER_YEAR` anonymous visits per customer of the city a year at
    any outlet, and the high tiers' :data:`VIP_VISITS_PER_YEAR` extra visits a year to a VIP-room hall of
    their city."""
    tiers = customers["tier"].to_numpy()
    who, day = _visitors(rng, clock, customers, WALK_INS_PER_YEAR, np.ones(len(customers)))
    outlet = pick_outlet(rng, cust_city[who], outlets)
    high = pd.Series(tiers).isin(HIGH_TIERS).to_numpy()
    vwho, vday = _visitors(rng, clock, customers, VIP_VISITS_PER_YEAR, high.astype(float))
    vip = pick_outlet(rng, cust_city[vwho], outlets, rooms=True)
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
    rows = rows_by_outlet(outlet)
    for oid in vip_lanes(outlets)[0]:  # the lane, provisionally: the high tiers' waits 11 minutes shorter on average
        at = rows(oid)
        h = at[high[at]]
        if len(h):
            wait[h] *= max(0.1, 1 - VIP_SAVING_MIN / wait[h].mean())
    stype = rng.choice(len(SERVICE_TYPES), n, p=[s[1] for s in SERVICE_TYPES])
    abandoned = rng.random(n) < 0.02 + 0.25 * (1 - np.exp(-wait / 50.0))
    seen = ~(abandoned & (rng.random(n) < 0.75))  # called (the others left before their number came)
    gap = rng.uniform(0.2, 1.5, n) / 60.0  # hours from the call to the service's start
    service = np.array([s[2] for s in SERVICE_TYPES])[stype] * np.exp(rng.normal(0, 0.45, n)) / 60.0
    return {"outlet": outlet, "day": day, "cust": cust, "stype": stype, "high": high, "arrived": arrived,
            "wait": wait, "seen": seen, "gap": gap, "service": service, "abandoned": abandoned}


def queue_records(clock: Clock, outlets: pd.DataFrame, v: dict[str, np.ndarray]) -> pd.DataFrame:
    """The ``queue_records`` frame of the visits ``v`` (:func:`_visits`, all of them): the VIP lane made
    exact — in every hall where it works the called high tiers' mean wait 11 minutes below the other
    identified customers' (as metrics.analysis.outlets.vip_lane compares them) —,
    ids by arrival, queue numbers per outlet, day and prefix (V: a high tier at a VIP room)."""
    outlet, day, arrived, high, stype = v["outlet"], v["day"], v["arrived"], v["high"], v["stype"]
    cust, abandoned, seen, wait = v["cust"], v["abandoned"], v["seen"], v["wait"].copy()
    rows = rows_by_outlet(outlet)
    for oid in vip_lanes(outlets)[0]:
        at = rows(oid)
        hs = at[high[at] & seen[at]]
        rs = at[~high[at] & seen[at] & ~np.isnan(cust[at])]  # against the identified others
        if len(hs) and len(rs):
            wait[at[high[at]]] *= np.clip((wait[rs].mean() - VIP_SAVING_MIN) / wait[hs].mean(), 0.05, 20.0)
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
