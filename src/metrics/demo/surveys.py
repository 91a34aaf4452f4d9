"""Demo satisfaction surveys (满意度调查); part of :mod:`metrics.demo.generator`.

Three kinds: post-interaction surveys after a resolved ticket (CSAT + CES, sometimes NPS),
periodic relationship surveys (NPS, often CSAT) and mystery-shopper audits of halls (CSAT, CES).
Scores come from one latent satisfaction ``z``: tier and channel effects, the ticket's outcome
(resolution time, reopening, breach, complaint: the planted key drivers below), the deteriorating
city, plus noise. CES is the
CES 2.0 agreement scale: 7 = "it was very easy", higher is better.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.demo.model import CHANNELS, Population, decline_ramp
from metrics.demo.util import Clock, SeasonalSampler, bernoulli, pick

KIND_LABELS = ("post_interaction", "relationship", "mystery_shopper")
CLASS_EFFECT = np.array([0.45, 0.3, 0.15, 0.0, 0.4, 0.25, 0.05])
CHANNEL_EFFECT = np.array([0.15, 0.0, -0.35, 0.4, -0.1, 0.05])  # CHANNELS order: hotline < AM
CSAT_CUTS = np.array([-2.3, -1.7, -1.15, 0.1])
# The planted key drivers of post-interaction satisfaction (issue 17; docs/drivers.md), on z (noise sd 1):
# per unit of log(1 + hours from opening to resolution), a reopening, a first-contact resolution, an SLA
# breach, a complaint. Reopening and resolution time lead the analysis; first-contact resolution comes
# third: nearly collinear with short resolutions, it shares their variance, and its own +0.6 offsets the
# 5-point scale's ceiling (its coefficient is unclear). Reopenings: metrics.demo.tickets.REOPEN_P.
HOURS_EFFECT = -0.15
REOPEN_EFFECT = -1.2
FCR_EFFECT = 0.6
BREACH_EFFECT = -0.3
COMPLAINT_EFFECT = -0.45
TYPICAL_LOG_HOURS = 1.5  # the rated tickets' mean log(1 + hours): the hours term is centred on it
POST_LEVEL = 0.15  # keeps post-interaction satisfaction near its level before issue 17
POSITIVE = ["处理很及时，谢谢", "客户经理很专业", "态度很好，问题一次解决", "网速稳定，满意",
            "营业厅环境不错", "回访很贴心", "Quick fix, thank you", "热线很快接通"]
NEGATIVE = ["等了很久才有人处理", "话费扣错了，解释不清楚", "信号差，投诉多次没解决", "热线一直占线",
            "承诺的时间没有做到", "营业员态度一般", "套餐资费不透明", "维修师傅迟到", "Still not fixed"]
NEUTRAL = ["还行", "一般般", "希望改进流程", "无"]


def _csat(z: np.ndarray) -> np.ndarray:
    return 1 + (z[:, None] > CSAT_CUTS[None, :]).sum(axis=1)


def _nps(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.round(8.2 + 1.7 * z + 0.5 * rng.standard_normal(len(z))), 0, 10).astype(np.int64)


def _ces(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(np.round(5.3 + 1.0 * z + 0.6 * rng.standard_normal(len(z))), 1, 7).astype(np.int64)


def _post_interaction(rng: np.random.Generator, clock: Clock, pop: Population, tk: dict) -> dict:
    ok = np.isfinite(tk["resolved"])
    ok &= bernoulli(rng, np.where(tk["kind"] == 0, 0.4, 0.19))
    idx = np.flatnonzero(ok)
    answered = tk["resolved"][idx] + np.exp(np.log(3.0) + 0.8 * rng.standard_normal(len(idx)))
    keep = answered < clock.hours
    idx, answered = idx[keep], answered[keep]
    cust = tk["cust"][idx]
    log_hours = np.log1p(tk["resolved"][idx] - tk["opened"][idx])  # the drivers model's own scale
    z = (CLASS_EFFECT[pop.cls[cust]] + CHANNEL_EFFECT[tk["channel"][idx]]
         + HOURS_EFFECT * (log_hours - TYPICAL_LOG_HOURS) + REOPEN_EFFECT * tk["reopened"][idx]
         + FCR_EFFECT * tk["fcr"][idx] + BREACH_EFFECT * tk["breach"][idx] + COMPLAINT_EFFECT * (tk["kind"][idx] == 0)
         - 0.9 * tk["ramp"][idx] + POST_LEVEL + rng.standard_normal(len(idx)))
    return {"cust": cust, "ticket": tk["ticket_id"][idx], "channel": tk["channel"][idx],
            "kind": np.zeros(len(idx), np.int8), "t": answered, "z": z}


def _relationship(rng: np.random.Generator, clock: Clock, pop: Population) -> dict:
    a = np.maximum(pop.start_day, 0) * 24.0
    b = np.where(pop.end_day >= 0, (pop.end_day + 1) * 24.0, clock.hours)
    cnt = rng.poisson(0.5 * np.maximum(b - a, 0) / 8766.0)
    cust = np.repeat(np.arange(pop.n, dtype=np.int32), cnt)
    t = SeasonalSampler(clock).sample(rng, a[cust], b[cust])
    ramp = decline_ramp(clock, t, pop.city_id[cust])
    z = (CLASS_EFFECT[pop.cls[cust]] + CHANNEL_EFFECT[pop.acq[cust]]
         - 0.45 * np.minimum(pop.bad_events[cust], 3) - 0.8 * ramp + rng.standard_normal(len(cust)))
    return {"cust": cust, "ticket": np.zeros(len(cust), np.int64), "channel": pop.acq[cust],
            "kind": np.ones(len(cust), np.int8), "t": t, "z": z}


def _mystery(rng: np.random.Generator, clock: Clock, pop: Population) -> dict:
    """A few audits per district and month, booked on a customer of that district."""
    order = np.argsort(pop.region_id, kind="stable")
    districts, first, size = np.unique(pop.region_id[order], return_index=True, return_counts=True)
    months = np.arange(clock.month_index(np.array([clock.days - 1]))[0] + 1)
    m_start = (np.datetime64(clock.t0, "M") + months).astype("datetime64[D]")
    m_day = (m_start - np.datetime64(clock.t0, "D")).astype(np.int64)
    m_len = np.diff(np.append(m_day, clock.days))
    d_idx, m_idx = np.meshgrid(np.arange(len(districts)), months, indexing="ij")
    d_idx, m_idx = d_idx.ravel(), m_idx.ravel()
    cnt = rng.poisson(np.clip(0.5 + size[d_idx] / 4000.0, 0.5, 6.0))
    d_idx, m_idx = np.repeat(d_idx, cnt), np.repeat(m_idx, cnt)
    cust = order[first[d_idx] + np.floor(rng.random(len(d_idx)) * size[d_idx]).astype(np.int64)]
    day = m_day[m_idx] + np.floor(rng.random(len(d_idx)) * m_len[m_idx])
    t = day * 24.0 + 9 + 9 * rng.random(len(d_idx))  # opening hours
    channel = np.where(rng.random(len(d_idx)) < 0.7, 0, 1).astype(np.int8)
    hall = rng.normal(0, 0.3, len(districts))[d_idx]
    z = (0.2 - 0.25 * channel + hall - 0.8 * decline_ramp(clock, t, pop.city_id[cust])
         + 0.9 * rng.standard_normal(len(cust)))
    return {"cust": cust, "ticket": np.zeros(len(cust), np.int64), "channel": channel,
            "kind": np.full(len(cust), 2, np.int8), "t": t, "z": z}


def draw_surveys(rng: np.random.Generator, clock: Clock, pop: Population, tk: dict) -> pd.DataFrame:
    """All surveys, ordered by answered_at; survey_id 1..N."""
    parts = [_post_interaction(rng, clock, pop, tk), _relationship(rng, clock, pop),
             _mystery(rng, clock, pop)]
    s = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = s["t"] < clock.hours
    order = np.flatnonzero(keep)[np.argsort(s["t"][keep], kind="stable")]
    s = {k: v[order] for k, v in s.items()}
    n, kind, z = len(order), s["kind"], s["z"]
    # which scores each kind carries: (csat, nps, ces) presence probabilities
    present = np.array([[0.97, 0.12, 0.65], [0.55, 0.96, 0.0], [1.0, 0.0, 0.5]])[kind]
    has = rng.random((n, 3)) < present
    csat = pd.array(_csat(z), dtype="Int64")
    nps = pd.array(_nps(z + 0.3 * rng.standard_normal(n), rng), dtype="Int64")
    ces = pd.array(_ces(z, rng), dtype="Int64")
    csat[~has[:, 0]], nps[~has[:, 1]], ces[~has[:, 2]] = pd.NA, pd.NA, pd.NA
    with_comment = rng.random(n) < 0.18
    mood = np.where(z > 0.3, 0, np.where(z < -1.0, 1, 2))
    pools = (POSITIVE, NEGATIVE, NEUTRAL)
    text = np.full(n, None, dtype=object)
    for m, pool in enumerate(pools):
        sel = with_comment & (mood == m)
        text[sel] = pick(pool, rng.integers(0, len(pool), int(sel.sum())))
    ticket = pd.array(np.where(kind == 0, s["ticket"], 0), dtype="Int64")
    ticket[kind != 0] = pd.NA
    return pd.DataFrame({
        "survey_id": np.arange(1, n + 1, dtype=np.int64),
        "customer_id": s["cust"].astype(np.int64) + 1,
        "ticket_id": ticket,
        "channel": pick(CHANNELS, s["channel"]),
        "kind": pick(KIND_LABELS, kind),
        "answered_at": clock.timestamps(s["t"]),
        "csat": csat,
        "nps": nps,
        "ces": ces,
        "comment": text,
    })

