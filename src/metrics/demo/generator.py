"""Deterministic, realistic demo data for ServiceWatch (岭南省 Lingnan Province, fictional).

``generate(customers, seed, end, years)`` returns one DataFrame per table of
:data:`metrics.model.schema.DATA_TABLES`, columns in table order. Everything is vectorised numpy
(``np.random.default_rng(seed)``): one million customers give ~10M tickets and ~3M surveys in well
under two minutes. The planted patterns (tiers, a deteriorating city, hotline vs account manager,
churn after bad experiences, falling spend, seasonality) are described in ``docs/data-model.md``.

dtypes: DateTime and Date columns are ``datetime64[ns]`` (dates at midnight, NaT = NULL); strings
are ``object``; booleans ``bool`` or nullable ``boolean``; nullable integers ``Int64``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from metrics.demo.appeals import draw_appeals
from metrics.demo.assets import draw_billing, draw_services_outages
from metrics.demo.complaint_text import draw_descriptions
from metrics.demo.handlers import draw_handlers
from metrics.demo.model import (
    CHANNELS,
    CHURN_REASONS,
    CLASS_SLA,
    CLASS_TIER,
    DETERIORATING_CITY,
    SLA_POLICIES,
    Population,
)
from metrics.demo.open_complaints import draw_open_complaints
from metrics.demo.outlets import draw_outlets
from metrics.demo.retention import draw_retention
from metrics.demo.surveys import draw_surveys
from metrics.demo.tickets import draw_tickets
from metrics.demo.util import Clock, choice, choice_by_group, pick
from metrics.model import schema, vocabulary
from metrics.model.i18n import catalogue

__all__ = ["generate", "DETERIORATING_CITY", "CITIES", "history_start"]

PROVINCE = (1, "Lingnan Province", "岭南省")
# city id, English, Chinese, share of customers, districts (English, Chinese, share within city)
CITIES: tuple = (
    (2, "Nanling", "南岭市", 0.36, (("Zhongshan", "中山区", .28), ("Zhujiang", "珠江区", .27),
                                     ("Baiyunshan", "白云山区", .20), ("Huangpugang", "黄埔港区", .17),
                                     ("Huaxi", "花溪区", .08))),
    (3, "Zhuwan", "珠湾市", 0.18, (("Xiangwan", "香湾区", .45), ("Jinwan", "金湾区", .35),
                                    ("Doumen", "斗门县", .20))),
    (4, "Dongjiang", "东江市", 0.15, (("Huicheng", "惠城区", .40), ("Jiangbei", "江北区", .30),
                                       ("Boluo", "博罗县", .18), ("Longmen", "龙门县", .12))),
    (5, "Xiqiao", "西樵市", 0.12, (("Chancheng", "禅城区", .45), ("Nanhai", "南海区", .35),
                                    ("Gaoming", "高明县", .20))),
    (6, "Meiling", "梅岭市", 0.09, (("Meijiang", "梅江区", .40), ("Xingning", "兴宁县", .25),
                                     ("Jiaoling", "蕉岭县", .20), ("Dabu", "大埔县", .15))),
    (7, "Hailing", "海陵市", 0.06, (("Haicheng", "海城区", .50), ("Yangxi", "阳西县", .30),
                                     ("Zhapo", "闸坡县", .20))),
    (8, "Qingxi", "青溪市", 0.04, (("Qingcheng", "青城区", .55), ("Lianshan", "连山县", .25),
                                    ("Ruyuan", "乳源县", .20))),
)

SURNAMES = list("陈李黄张梁林刘吴罗何郑杨谢周邓冯曾许蔡苏叶朱钟潘卢彭莫余赖廖")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲丹萍鹏辉建文"
             "婷宇欣浩嘉俊颖慧志思雨晓佳梓子锦泽")
FIRM_WORDS = ["华信", "恒达", "粤海", "新桥", "宏图", "汇通", "明珠", "联创", "鼎盛", "金穗", "天禾",
              "南方", "远航", "锐智", "中恒", "瑞丰", "嘉禾", "永安", "东方", "创新"]
FIRM_TRADES = ["科技", "物流", "制造", "贸易", "医药", "电子", "建设", "餐饮", "文旅", "能源", "传媒", "纺织"]

CLASS_P = np.array([0.9 * p for p in (0.03, 0.12, 0.25, 0.60)] + [0.1 * p for p in (0.2, 0.35, 0.45)])
# acquisition channel probabilities per class (CHANNELS order)
ACQ_P = np.array([[.30, .08, .05, .25, .12, .20]] + [[.30, .13, .08, 0, .25, .24]] * 3
                 + [[.12, .04, .05, .62, .07, .10]] * 3)
# monthly revenue (CNY) median per class; lognormal sigma 0.35
REVENUE = np.array([520.0, 230.0, 128.0, 58.0, 26000.0, 9000.0, 3500.0])

def _region_frame() -> pd.DataFrame:
    rows = [(PROVINCE[0], PROVINCE[1], PROVINCE[2], None, "province")]
    for cid, en, zh, _, districts in CITIES:
        rows.append((cid, en, zh, PROVINCE[0], "city"))
        for j, (den, dzh, _) in enumerate(districts, start=1):
            kind = "County" if dzh.endswith("县") else "District"
            rows.append((cid * 100 + j, f"{den} {kind}", dzh, cid, "district"))
    df = pd.DataFrame(rows, columns=[c.name for c in schema.regions.columns])
    df["parent_id"] = df["parent_id"].astype("Int64")
    return df


def _person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = pick(SURNAMES, rng.integers(0, len(SURNAMES), n))
    g1 = pick(GIVEN, rng.integers(0, len(GIVEN), n))
    g2 = pick(GIVEN + [""] * 20, rng.integers(0, len(GIVEN) + 20, n))
    return sur + g1 + g2


def _firm_names(rng: np.random.Generator, city_id: np.ndarray) -> np.ndarray:
    city_zh = {c[0]: c[2][:-1] for c in CITIES}
    prefix = pd.Series(city_id).map(city_zh).to_numpy(dtype=object)
    w = pick(FIRM_WORDS, rng.integers(0, len(FIRM_WORDS), len(city_id)))
    t = pick(FIRM_TRADES, rng.integers(0, len(FIRM_TRADES), len(city_id)))
    return prefix + w + t + "有限公司"


def _managers(rng: np.random.Generator) -> pd.DataFrame:
    city_ids = np.repeat([c[0] for c in CITIES], [max(2, round(c[3] * 20)) for c in CITIES])
    return pd.DataFrame({
        "manager_id": np.arange(1, len(city_ids) + 1, dtype=np.int64),
        "name": _person_names(rng, len(city_ids)),
        "region_id": city_ids.astype(np.int64),
    })


def _population(rng: np.random.Generator, n: int, clock: Clock, managers: pd.DataFrame) -> Population:
    cls = choice(rng, n, CLASS_P)
    districts = [(c[0] * 100 + j, c[0], c[3] * d[2]) for c in CITIES for j, d in enumerate(c[4], 1)]
    d_idx = choice(rng, n, [d[2] for d in districts])
    region_id = np.array([d[0] for d in districts])[d_idx]
    city_id = np.array([d[1] for d in districts])[d_idx]
    acq = choice_by_group(rng, cls, ACQ_P)
    # a manager of the customer's city for enterprise and diamond customers
    mgr_city = managers["region_id"].to_numpy()
    first = {c: int(np.argmax(mgr_city == c)) for c in np.unique(mgr_city)}
    count = {c: int((mgr_city == c).sum()) for c in np.unique(mgr_city)}
    lo = pd.Series(city_id).map(first).to_numpy()
    k = pd.Series(city_id).map(count).to_numpy()
    mgr = (lo + np.floor(rng.random(n) * k)).astype(float) + 1.0
    mgr[(cls != 0) & (cls < 4)] = np.nan
    old = rng.random(n) < 0.55
    start = np.where(old, -rng.integers(30, 365 * 8, n), rng.integers(0, clock.days, n))
    revenue = np.round(REVENUE[cls] * np.exp(rng.normal(0, 0.35, n)), 2)
    return Population(cls, region_id, city_id, acq, mgr, start, revenue)


def _customer_frame(rng: np.random.Generator, pop: Population, clock: Clock) -> pd.DataFrame:
    ent = pop.enterprise
    names = _person_names(rng, pop.n)
    names[ent] = _firm_names(rng, pop.city_id[ent])
    churned = pop.end_day >= 0
    return pd.DataFrame({
        "customer_id": np.arange(1, pop.n + 1, dtype=np.int64),
        "name": names,
        "segment": np.where(ent, "enterprise", "consumer").astype(object),
        "tier": pick(CLASS_TIER, pop.cls),
        "region_id": pop.region_id.astype(np.int64),
        "acquisition_channel": pick(CHANNELS, pop.acq),
        "account_manager_id": pd.array(pop.manager_id, dtype="Int64"),
        "sla_level": pick(CLASS_SLA, pop.cls),
        "start_date": clock.dates(pop.start_day),
        "end_date": clock.dates(pop.end_day, churned),
        "churn_reason": pick((*CHURN_REASONS, None), pop.reason),
        "monthly_revenue": pop.revenue,
    })


def _static_frames(clock: Clock, tickets: pd.DataFrame, n_customers: int) -> dict[str, pd.DataFrame]:
    sla = pd.DataFrame(list(SLA_POLICIES), columns=[c.name for c in schema.sla_policies.columns])
    # complaint rate target: near the observed complaints per 1,000 customers per month
    months = max(1, round(clock.days / 30.44))
    complaints = int((tickets["kind"] == "complaint").sum())
    rate = round(0.9 * complaints / max(n_customers, 1) / months * 1000.0, 1) or 1.0
    rows = [
        ("csat", None, None, None, 0.85), ("csat", None, "diamond", None, 0.92),
        ("csat", None, "enterprise", None, 0.90), ("csat", 2, None, None, 0.88),
        ("csat", None, None, "hotline", 0.80), ("nps", None, None, None, 30.0),
        ("complaint_rate", None, None, None, rate), ("sla_resolution_compliance", None, None, None, 0.95),
        ("sla_resolution_compliance", None, "enterprise", None, 0.97), ("fcr_rate", None, None, None, 0.75),
        ("churn_rate", None, None, None, 0.01), ("churn_rate", None, "diamond", None, 0.005),
    ]
    targets = pd.DataFrame(rows, columns=["metric", "region_id", "tier", "channel", "value"])
    targets.insert(0, "target_id", np.arange(1, len(rows) + 1, dtype=np.int64))
    targets["region_id"] = targets["region_id"].astype("Int64")
    targets.insert(5, "valid_from", clock.dates(np.zeros(len(rows), dtype=np.int64)))
    targets = targets.astype({"tier": object, "channel": object})
    return {"sla_policies": sla, "targets": targets}


def history_start(end: dt.date, years: float) -> dt.date:
    """First day of the month ``years`` before ``end``."""
    d = end - dt.timedelta(days=round(years * 365.25))
    return (d + dt.timedelta(days=1)).replace(day=1)


def generate(customers: int, seed: int = 7, end: dt.date = dt.date(2026, 10, 31),
             years: float = 2.5) -> dict[str, pd.DataFrame]:
    """One DataFrame per data table (keys = table names), reproducible for (customers, seed, end).

    About 10 tickets and 3 surveys per customer over ``years`` of history ending on ``end``.
    """
    if customers < 1:
        raise ValueError("customers must be >= 1")
    rng = np.random.default_rng(seed)
    clock = Clock(history_start(end, years), end)
    managers = _managers(rng)
    pop = _population(rng, customers, clock, managers)
    tickets, tk = draw_tickets(rng, clock, pop)
    surveys = draw_surveys(rng, clock, pop, tk)
    services, outages = draw_services_outages(rng, clock, pop)
    frames = {
        "regions": _region_frame(),
        "account_managers": managers,
        "customers": _customer_frame(rng, pop, clock),
        "tickets": tickets,
        "surveys": surveys,
        "services": services,
        "outages": outages,
        "billing_monthly": draw_billing(rng, clock, pop),
        **_static_frames(clock, tickets, customers),
        # the codes' display names and order, as data (metrics.model.vocabulary)
        "vocabulary": pd.DataFrame(vocabulary.catalogue_rows(catalogue()),
                                   columns=[c.name for c in schema.vocabulary.columns]),
    }
    # last: its own generator, reads the finished customers, changes nothing drawn before (issue 18)
    frames.update(draw_retention(seed, clock, frames["customers"]))
    frames.update(draw_outlets(seed, clock, frames))  # the same, after it (issue 19): outlets, queues, audits
    frames.update(draw_descriptions(seed, clock, frames["tickets"], frames["customers"]))  # issue 20: own generator
    frames.update(draw_appeals(seed, frames))  # issue 20: sources, appeals, user base; own generator
    frames.update(draw_handlers(seed, frames))  # issue 20: who handles each complaint; own generator
    frames.update(draw_open_complaints(seed, clock, frames))  # issue 20: a few complaints left open; last
    out = {}
    for table in schema.DATA_TABLES:
        out[table.name] = frames[table.name][[c.name for c in table.columns]]
    # picked up by metrics.ingest.load.replace_all for the sw_meta table
    out["customers"].attrs.update(
        {"demo_seed": seed, "demo_customers": customers, "demo_end": end.isoformat()})
    return out
