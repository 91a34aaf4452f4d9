"""Demo tickets (工单) and the churn they cause; part of :mod:`metrics.demo.generator`.

Tickets are drawn first over each customer's whole potential lifetime in the history window;
then every breached or unresolved complaint may *trigger* churn some weeks later, competing with a
baseline hazard per tier. Tickets after a customer's end date are dropped, so the data stay
consistent and the effect is causal: bad experience first, churn after.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from metrics.demo.model import (
    CHANNELS,
    DETERIORATING_CITY,
    Population,
    commitment_hours,
    decline_ramp,
    quarter_start,
)
from metrics.demo.util import Clock, SeasonalSampler, bernoulli, choice, choice_by_group, pick

KINDS = ("complaint", "fault", "request", "inquiry")
CATEGORIES = ("billing", "network_quality", "fault_repair", "service_attitude", "value_added", "tariff")
PRIORITIES = ("P1", "P2", "P3")
TICKETS_PER_CUSTOMER = 10.0  # over the whole history, before churn removes some
RATE_W = np.array([1.3, 1.1, 1.0, 0.9, 2.0, 2.0, 2.0])  # relative ticket rate per class
KIND_P = np.array([[.06, .30, .31, .33], [.07, .45, .30, .18]])  # consumer, enterprise
CATEGORY_P = np.array([
    [.30, .25, .05, .15, .10, .15],  # complaint
    [0, .30, .70, 0, 0, 0],  # fault
    [.25, 0, 0, 0, .35, .40],  # request
    [.35, .15, 0, 0, .20, .30],  # inquiry
])
CHANNEL_P = np.array([[.10, .03, .30, .35, .02, .20]] + [[.15, .08, .45, 0, .07, .25]] * 2
                     + [[.15, .09, .45, 0, .09, .22]] + [[.05, .02, .28, .50, 0, .15]] * 3)
PRIORITY_P = np.array([[.08, .50, .42], [.15, .45, .40], [.02, .28, .70], [.01, .19, .80],  # consumer
                       [.12, .50, .38], [.25, .45, .30], [.04, .30, .66], [.02, .20, .78]])  # enterprise
FCR_P = np.array([.38, .50, .78, .90])  # first-contact resolution by kind
FCR_CLASS = np.array([.05, .03, 0, -.03, .04, .03, .01])
FCR_CHANNEL = np.array([.02, 0, -.02, .05, -.03, 0])
# share of non-FCR tickets resolved within the commitment, per class: the tier gradient
COMPLIANCE = np.array([.88, .80, .72, .62, .90, .80, .68])
SIGMA = 0.6
# P(reopened) of a resolved ticket not solved at first contact: base, + complaint, + breached
REOPEN_P = np.array([.18, .10, .10])
REOPEN_P_BEFORE = np.array([.04, .06, .06])  # the rate before issue 17; revisit satisfaction still uses it
HAZARD = np.array([.004, .006, .008, .011, .003, .004, .006])  # baseline monthly churn per class
HOURS_PER_MONTH = 730.5
HOURS_PER_YEAR = 8766.0


def _draw_times(rng: np.random.Generator, clock: Clock, pop: Population) -> tuple[np.ndarray, ...]:
    """(customer index, opened hours, forced-complaint flag) for all potential tickets."""
    h = clock.hours
    a = np.maximum(pop.start_day, 0) * 24.0
    expo = (h - a) / HOURS_PER_YEAR
    w = RATE_W[pop.cls]
    k = TICKETS_PER_CUSTOMER * 1.18 * pop.n / max(float((w * expo).sum()), 1e-9)
    cnt = rng.poisson(k * w * expo)
    cust = np.repeat(np.arange(pop.n, dtype=np.int32), cnt)
    opened = SeasonalSampler(clock).sample(rng, a[cust], np.full(len(cust), h))
    # planted pattern (b): extra complaints in the deteriorating city, rising over the last quarter
    q = clock.day_of(quarter_start(clock)) * 24.0
    lo = np.maximum(a, q)
    extra_rate = 0.09 * k * w * (h - lo) / HOURS_PER_YEAR
    extra = rng.poisson(np.where(pop.city_id == DETERIORATING_CITY, extra_rate, 0.0))
    cust2 = np.repeat(np.arange(pop.n, dtype=np.int32), extra)
    opened2 = lo[cust2] + (h - lo[cust2]) * np.sqrt(rng.random(len(cust2)))
    forced = np.concatenate([np.zeros(len(cust), bool), np.ones(len(cust2), bool)])
    return np.concatenate([cust, cust2]), np.concatenate([opened, opened2]), forced


def _reopen_p(p: np.ndarray, complaint: np.ndarray, breach: np.ndarray) -> np.ndarray:
    return p[0] + p[1] * complaint + p[2] * breach


def _churn(rng: np.random.Generator, clock: Clock, pop: Population, cust: np.ndarray,
           t_event: np.ndarray, bad: np.ndarray) -> None:
    """Set pop.end_day / pop.reason: baseline hazard vs. triggers after bad tickets (pattern d)."""
    h = clock.hours
    a = np.maximum(pop.start_day, 0) * 24.0
    t_base = a + rng.exponential(HOURS_PER_MONTH / HAZARD[pop.cls])
    trig = bad & bernoulli(rng, np.where(pop.cls[cust] >= 4, 0.2, 0.3))
    cand = t_event[trig] + rng.exponential(45 * 24.0, int(trig.sum()))
    t_trig = np.full(pop.n, np.inf)
    np.minimum.at(t_trig, cust[trig], cand)
    t_churn = np.minimum(t_base, t_trig)
    churned = t_churn < h
    pop.end_day = np.where(churned, np.floor(np.where(churned, t_churn, 0) / 24.0), -1).astype(np.int64)
    triggered = churned & (t_trig <= t_base)
    reason = np.where(triggered, choice(rng, pop.n, [.3, .1, .55, 0, .05]),
                      choice(rng, pop.n, [.4, .25, .1, .15, .1]))
    pop.reason = np.where(churned, reason, -1).astype(np.int64)


def draw_tickets(rng: np.random.Generator, clock: Clock, pop: Population) -> tuple[pd.DataFrame, dict]:
    """The tickets frame and a dict of per-ticket arrays for the survey generator.

    Also decides churn (sets ``pop.end_day``, ``pop.reason``, ``pop.bad_events``).
    """
    h = clock.hours
    cust, opened, forced = _draw_times(rng, clock, pop)
    n = len(cust)
    cls = pop.cls[cust].astype(np.intp)
    ent = cls >= 4
    kind = choice_by_group(rng, ent.astype(np.intp), KIND_P)
    kind[forced] = 0
    complaint = kind == 0
    category = choice_by_group(rng, kind.astype(np.intp), CATEGORY_P)
    channel = choice_by_group(rng, cls, CHANNEL_P)
    prio = choice_by_group(rng, kind + 4 * ent, PRIORITY_P).astype(np.intp)
    ramp = decline_ramp(clock, opened, pop.city_id[cust])

    resp_hours, res_hours = commitment_hours()
    resp_due, res_due = resp_hours[cls, prio], res_hours[cls, prio]
    p_fcr = FCR_P[kind] + FCR_CLASS[cls] + FCR_CHANNEL[channel] - 0.15 * ramp
    fcr = bernoulli(rng, np.clip(p_fcr, 0.05, 0.97))
    mu = -SIGMA * ndtri(COMPLIANCE[cls]) + 0.1 * complaint + 0.5 * ramp
    res_dur = res_due * np.exp(mu + SIGMA * rng.standard_normal(n))
    resp_dur = np.minimum(resp_due * np.exp(-0.6 * ndtri(0.95) + 0.3 * ramp + 0.6 * rng.standard_normal(n)),
                          res_dur)
    fast_resp = rng.uniform(0.02, 0.25, n)
    resp_dur = np.where(fcr, fast_resp, resp_dur)
    res_dur = np.where(fcr, fast_resp + rng.uniform(0.02, 0.5, n), res_dur)
    stuck = bernoulli(rng, 0.003, n) & ~fcr
    breach = (res_dur > res_due) | stuck
    resolved = opened + res_dur
    resolved[stuck | (resolved >= h)] = np.nan
    first_resp = opened + resp_dur
    first_resp[first_resp >= h] = np.nan
    is_resolved = np.isfinite(resolved)

    # reopenings (issue 17: frequent enough to drive CSAT, docs/drivers.md): one uniform per ticket, as
    # bernoulli() draws, so nothing after it moves. Revisit satisfaction and the churn it triggers see only
    # the reopenings of the original, rarer draw (u below REOPEN_P_BEFORE, a subset of the final ones),
    # so that raising the rate changed no customer, ticket or churn figure of the demo.
    u_reopen = rng.random(n)
    reopened_before = ~fcr & is_resolved & (u_reopen < _reopen_p(REOPEN_P_BEFORE, complaint, breach))
    reopened = ~fcr & is_resolved & (u_reopen < _reopen_p(REOPEN_P, complaint, breach))
    escalated = bernoulli(rng, np.array([.08, .03, .01, .005])[kind] + 0.15 * breach
                          + 0.05 * (ent & (prio == 0)) + 0.1 * ramp * complaint)
    revisit = resolved + np.exp(np.log(20.0) + 0.6 * rng.standard_normal(n))
    revisit[~(complaint & is_resolved & bernoulli(rng, 0.88, n)) | (revisit >= h)] = np.nan
    p_sat = np.clip(0.92 - 0.35 * breach - 0.15 * reopened_before - 0.35 * ramp, 0.05, 1)
    sat = pd.array(bernoulli(rng, p_sat), dtype="boolean")
    sat[~np.isfinite(revisit)] = pd.NA
    seen_breach = np.where(is_resolved, res_dur > res_due, (h - opened) > res_due)
    comp = ent & seen_breach & (prio < 2) & (kind < 2) & bernoulli(rng, 0.5, n)
    compensation = np.where(comp, np.round(pop.revenue[cust] * rng.uniform(0.02, 0.1, n)), 0.0)

    unsatisfied = ~np.asarray(sat.fillna(True), dtype=bool)
    bad = (complaint & (breach | unsatisfied)) | (ent & breach & (prio < 2))
    _churn(rng, clock, pop, cust, opened + np.minimum(res_dur, res_due), bad)

    end_h = np.where(pop.end_day >= 0, (pop.end_day + 1) * 24.0, np.inf)
    keep = opened < end_h[cust]
    pop.bad_events = np.bincount(cust[keep & bad], minlength=pop.n)
    order = np.flatnonzero(keep)[np.argsort(opened[keep], kind="stable")]
    ticket_id = np.arange(1, len(order) + 1, dtype=np.int64)
    frame = pd.DataFrame({
        "ticket_id": ticket_id,
        "customer_id": cust[order].astype(np.int64) + 1,
        "channel": pick(CHANNELS, channel[order]),
        "kind": pick(KINDS, kind[order]),
        "category": pick(CATEGORIES, category[order]),
        "priority": pick(PRIORITIES, prio[order]),
        "opened_at": clock.timestamps(opened[order]),
        "first_response_at": clock.timestamps(first_resp[order]),
        "resolved_at": clock.timestamps(resolved[order]),
        "status": None,  # no status column in the demo: resolved or open by resolved_at (model.ticket_status)
        "response_due_at": clock.timestamps(opened[order] + resp_due[order]),
        "resolution_due_at": clock.timestamps(opened[order] + res_due[order]),
        "due_source": "file",  # the demo's data gives every due time (docs/data-model.md)
        "first_contact_resolved": fcr[order],
        "reopened": reopened[order],
        "escalated": escalated[order],
        "revisited_at": clock.timestamps(revisit[order]),
        "revisit_satisfied": sat[order],
        "compensation": compensation[order],
    })
    arrays = {
        "ticket_id": ticket_id, "cust": cust[order], "opened": opened[order], "resolved": resolved[order],
        "channel": channel[order], "kind": kind[order], "fcr": fcr[order], "breach": breach[order],
        "reopened": reopened[order], "ramp": ramp[order], "category": category[order],
    }
    return frame, arrays
