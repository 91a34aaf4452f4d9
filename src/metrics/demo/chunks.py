"""The demo drawn in customer chunks, for populations too big to hold whole (issue 21 item 1).

:func:`metrics.demo.generator.generate` draws the whole population on one generator and returns every
frame: fine up to about a million customers, far beyond 16 GB at ten million. Here the population is
drawn in chunks of customers, each on its own reproducible stream (``np.random.SeedSequence([seed,
chunk index])``), with ids offset so that they never collide (:class:`Offsets`). ``generate()`` is
untouched: the 20,000-customer demo and every test keep their data byte for byte; a streamed demo is
another data set of the same model (same seed, other draws), reproducible for (customers, seed,
chunk size, end, years): another chunk size gives other draws.

**Drawn once** (:func:`draw_shared`, on the stream ``SeedSequence([seed, SHARED_KEY])``): regions,
account managers, SLA policies, vocabulary, regulator categories, the outlets (sized from the expected
customers per city, ``customers × city share``: one own hall per 700), their audits and audit items, and
the complaint handlers' pools per city. The outlets' ``stars`` are those :mod:`metrics.demo.outlets`
draws before it recomputes them from the queues (band of the hidden quality, moved for ~15%): the
earned stars would need every queue record at once. ``targets`` come from the first chunk (its complaint
rate per 1,000 customers and month), ``user_base`` from the active customers per city and month added
up over the chunks (:func:`active_per_city_month`), then × 1.6 lines, rounded once.

**Per chunk** (everything that belongs to a customer): customers, tickets and the churn they cause,
surveys, circuits and outages, bills, visits and the retention programme (risk deciles ranked within the
chunk: a random sample of the population), queue records (book visits and hall visits to the shared
outlets; the VIP lanes made exact within each chunk), the outlet of each ticket and survey, complaint
texts, sources and appeals, handlers (from the shared pools), the complaints left open at the end.
Mystery-shopper surveys are booked a few per district and month *per chunk*, so their number grows with
the number of chunks (a few hundred a month at ten million customers in chunks of 250,000).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metrics.demo import generator as gen
from metrics.demo import handlers, outlets
from metrics.demo.appeals import LINES_PER_CUSTOMER, draw_appeals, regulator_category_frame
from metrics.demo.assets import draw_billing, draw_services_outages
from metrics.demo.complaint_text import draw_descriptions
from metrics.demo.open_complaints import draw_open_complaints
from metrics.demo.outlet_audits import draw_audits
from metrics.demo.outlet_queues import (
    book_visits,
    contact_outlets,
    days_since_t0,
    hall_visits,
    planted_hall,
    queue_records,
)
from metrics.demo.retention import draw_retention
from metrics.demo.surveys import draw_surveys
from metrics.demo.tickets import draw_tickets
from metrics.demo.util import Clock, city_of
from metrics.model import schema, vocabulary
from metrics.model.i18n import catalogue

SHARED_KEY = 2_100_001  # SeedSequence([seed, SHARED_KEY]): the shared draws; chunks use [seed, k], k from 0
# id columns offset per chunk: table -> (its id column, the tables whose column refers to it)
ID_COLUMNS = {
    "customers": "customer_id", "tickets": "ticket_id", "surveys": "survey_id", "services": "service_id",
    "outages": "outage_id", "visits": "visit_id", "retention_actions": "action_id", "queue_records": "queue_id",
}
REFERENCES = {  # table -> its columns that hold another table's id
    "tickets": {"customer_id": "customers"}, "surveys": {"customer_id": "customers", "ticket_id": "tickets"},
    "services": {"customer_id": "customers"}, "outages": {"service_id": "services"},
    "billing_monthly": {"customer_id": "customers"}, "visits": {"customer_id": "customers"},
    "retention_actions": {"customer_id": "customers"}, "queue_records": {"customer_id": "customers"},
}
SHARED_TABLES = ("regions", "account_managers", "sla_policies", "regulator_categories", "vocabulary",
                 "outlets", "audits", "audit_items")
CHUNK_TABLES = ("customers", "tickets", "surveys", "services", "outages", "billing_monthly", "visits",
                "retention_actions", "queue_records")


@dataclass
class Shared:
    """What every chunk reads and nobody draws twice."""

    clock: Clock
    frames: dict[str, pd.DataFrame]  # SHARED_TABLES
    base: np.ndarray  # the outlets' base mean wait (minutes), by outlet_id - 1
    pools: dict[object, list[str]]  # complaint handlers per city


@dataclass
class Offsets:
    """The largest id written so far per table (0 before the first chunk)."""

    last: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ID_COLUMNS, 0))


def chunk_sizes(customers: int, chunk_customers: int) -> list[int]:
    """Customers per chunk: ``chunk_customers`` each, the rest in the last one."""
    if customers < 1 or chunk_customers < 1:
        raise ValueError("customers and chunk_customers must be >= 1")
    full, rest = divmod(customers, chunk_customers)
    return [chunk_customers] * full + ([rest] if rest else [])


def draw_shared(customers: int, seed: int, end: dt.date = dt.date(2026, 10, 31), years: float = 2.5) -> Shared:
    """The tables drawn once for a population of ``customers`` (module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SHARED_KEY]))
    clock = Clock(gen.history_start(end, years), end)
    regions = gen._region_frame()
    managers = gen._managers(rng)
    counts = [round(customers * c[3]) for c in gen.CITIES]  # expected customers per city
    cust_city = np.repeat(np.array([c[0] for c in gen.CITIES], dtype=np.int64), counts)
    halls, quality, base, _ = outlets._outlets(rng, clock, regions, cust_city)
    del cust_city
    audits, items = draw_audits(rng, clock, halls, quality, planted_hall(halls),
                                days_since_t0(clock, halls["opened_on"]))
    cities = sorted({c for c in city_of(regions).values() if c is not None})
    static = gen._static_frames(clock, pd.DataFrame({"kind": []}), 1)
    frames = {
        "regions": regions, "account_managers": managers, "sla_policies": static["sla_policies"],
        "regulator_categories": regulator_category_frame(),
        "vocabulary": pd.DataFrame(vocabulary.catalogue_rows(catalogue()),
                                   columns=[c.name for c in schema.vocabulary.columns]),
        "outlets": halls[[c.name for c in schema.outlets.columns]], "audits": audits, "audit_items": items,
    }
    return Shared(clock, frames, base, handlers.pools(rng, cities))


def chunk_frames(shared: Shared, k: int, n: int, seed: int, offsets: Offsets) -> dict[str, pd.DataFrame]:
    """The per-customer tables of chunk ``k`` (``n`` customers), ids after ``offsets`` (which advance),
    columns in table order; plus ``active`` (:func:`active_per_city_month`) and, for chunk 0, ``targets``."""
    clock, regions = shared.clock, shared.frames["regions"]
    seq = np.random.SeedSequence([seed, k])
    rng = np.random.default_rng(seq)
    sub = int(seq.generate_state(1)[0])  # the int seed of the steps with their own generators (seed + offset)
    pop = gen._population(rng, n, clock, shared.frames["account_managers"])
    tickets, tk = draw_tickets(rng, clock, pop)
    surveys = draw_surveys(rng, clock, pop, tk)
    services, outages = draw_services_outages(rng, clock, pop)
    frames = {"customers": gen._customer_frame(rng, pop, clock), "tickets": tickets, "surveys": surveys,
              "services": services, "outages": outages, "billing_monthly": draw_billing(rng, clock, pop)}
    del pop, tk
    _offset(frames, offsets)
    customers = frames["customers"]
    extra = {"targets": gen._static_frames(clock, frames["tickets"], n)["targets"]} if k == 0 else {}
    frames.update(draw_retention(sub, clock, customers))
    frames.update(_queues(shared, sub, frames))
    frames.update(draw_descriptions(sub, clock, frames["tickets"], customers))
    frames.update({"tickets": draw_appeals(sub, {**frames, "regions": regions})["tickets"]})
    frames["tickets"] = _handlers(shared, sub, frames["tickets"], customers)
    frames.update(draw_open_complaints(sub, clock, frames))
    _offset(frames, offsets, only=("visits", "retention_actions", "queue_records"))
    for name, column in ID_COLUMNS.items():
        if len(frames[name]):
            offsets.last[name] = int(frames[name][column].max())
    out = {name: frames[name][[c.name for c in schema.metadata.tables[name].columns]] for name in CHUNK_TABLES}
    out["active"] = active_per_city_month(customers, regions, clock)
    return {**out, **extra}


def _offset(frames: dict[str, pd.DataFrame], offsets: Offsets, only: tuple[str, ...] | None = None) -> None:
    """Shift the ids of the chunk's new tables (and the columns that refer to them) past ``offsets``."""
    names = only or tuple(n for n in CHUNK_TABLES if n in frames and n not in ("visits", "retention_actions",
                                                                                "queue_records"))
    for name in names:
        df = frames[name]
        if name in ID_COLUMNS:
            df[ID_COLUMNS[name]] = df[ID_COLUMNS[name]] + offsets.last[name]
        for column, target in REFERENCES.get(name, {}).items():
            if only and target == "customers":
                continue  # these tables were drawn from the already shifted customers
            df[column] = df[column] + offsets.last[target]


def _queues(shared: Shared, sub: int, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The chunk's queue records and the outlet of its tickets and surveys (as :func:`outlets.draw_outlets`,
    at the shared outlets, without recomputing their stars)."""
    clock, halls, regions = shared.clock, shared.frames["outlets"], shared.frames["regions"]
    rng = np.random.default_rng(sub + outlets.SEED_OFFSET)
    customers = frames["customers"]
    cities = city_of(regions)
    cust_city = customers["region_id"].map(cities).to_numpy(dtype=np.int64)
    book = book_visits(rng, clock, customers, cust_city, halls, shared.base)
    more = hall_visits(np.random.default_rng(sub + outlets.HALL_SEED_OFFSET), clock, customers, cust_city,
                       halls, shared.base)
    out = {"queue_records": queue_records(clock, halls, {k: np.r_[book[k], more[k]] for k in book})}
    ids = customers["customer_id"].to_numpy()
    for name in ("tickets", "surveys"):
        frame = frames[name].copy(deep=False)
        frame["outlet_id"] = contact_outlets(rng, frame, ids, cust_city, halls)
        out[name] = frame
    return out


def _handlers(shared: Shared, sub: int, tickets: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """``tickets.handler`` as :func:`handlers.draw_handlers` gives it, from the shared pools."""
    rng = np.random.default_rng(sub + handlers.SEED_OFFSET)
    n = len(tickets)
    pick, named = rng.integers(0, handlers.PER_CITY, n), rng.random(n) >= handlers.UNNAMED_P
    rows = np.flatnonzero((tickets["kind"] == "complaint").to_numpy() & named)  # the tickets that get a name
    region = tickets["customer_id"].iloc[rows].map(customers.set_index("customer_id")["region_id"]).to_numpy()
    city = pd.Series(region).map(city_of(shared.frames["regions"])).to_numpy(dtype=object)
    handler = np.full(n, None, dtype=object)
    for c, pool in shared.pools.items():  # cities compared over the named complaints only, not every ticket
        sel = rows[city == c]
        handler[sel] = np.asarray(pool, dtype=object)[pick[sel]]
    out = tickets.copy(deep=False)  # a new column on a shallow copy: the caller's frame is left as it was
    out["handler"] = handler
    return out


def active_per_city_month(customers: pd.DataFrame, regions: pd.DataFrame, clock: Clock) -> pd.Series:
    """Customers active at each month's end, by (month, city), over the clock's months (for ``user_base``)."""
    cities = customers["region_id"].map(city_of(regions))
    start = pd.to_datetime(customers["start_date"]).to_numpy()
    stop = pd.to_datetime(customers["end_date"]).fillna(pd.Timestamp.max).to_numpy()
    parts = {}
    for month in pd.date_range(pd.Timestamp(clock.t0), pd.Timestamp(clock.end), freq="MS"):
        end = (month + pd.offsets.MonthEnd(0)).to_datetime64()
        parts[month] = cities[(start <= end) & (stop > end)].value_counts()
    return pd.concat(parts, names=["month", "region_id"]).astype(np.int64)


def user_base(active: pd.Series) -> pd.DataFrame:
    """The ``user_base`` frame from the summed :func:`active_per_city_month` counts (× 1.6 lines, rounded)."""
    df = active.rename("n").reset_index()
    df["base"] = "mobile"
    df["users"] = (df["n"] * LINES_PER_CUSTOMER).round().astype(np.int64)
    df["region_id"] = df["region_id"].astype(np.int64)
    return df[[c.name for c in schema.user_base.columns]].sort_values(["month", "region_id"], ignore_index=True)


__all__ = ["CHUNK_TABLES", "SHARED_TABLES", "Offsets", "Shared", "active_per_city_month", "chunk_frames",
           "chunk_sizes", "draw_shared", "user_base"]
