"""Demo complaints still open at the demo's end (issue 20's appeal-risk list), drawn last on their own generator.

The demo's complaints close within days, so without this step none is open and 12–15 days old at the
demo's end and the Regulator page's "complaints that will become appeals next week" would be empty.
This module runs after every other demo step on ``np.random.default_rng(seed + SEED_OFFSET)`` and
changes only a few rows of ``tickets`` (every other table and every other row as before; the
sources, texts and handlers drawn before stay):

* **Candidates**: complaints that were resolved but not at first contact, carry no survey, of a customer
  still active at the end, opened :data:`SOON_FROM_DAYS` to :data:`PAST_TO_DAYS` days before the end of
  the demo's last day (the as-of moment of :mod:`metrics.analysis.appeal_risk`).
* **Soon** (aged :data:`SOON_FROM_DAYS` up to :data:`WAIT_DAYS` days: they pass 15 days within the next
  3): :data:`SOON_SHARE` of those candidates, at least one; **past** (aged :data:`WAIT_DAYS` up to
  :data:`PAST_TO_DAYS` days): :data:`PAST_SHARE` of them, at least one. Four of each at 20,000
  customers.
* The chosen complaints become open: no resolution time, ``status`` ``open``, not reopened, no revisit
  (a revisit follows a resolution).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.demo.util import Clock
from metrics.model import ticket_status

SEED_OFFSET = 20_050  # this module's own generator: seed + this
WAIT_DAYS = 15  # the operator's time to answer before a user may appeal (metrics.analysis.appeal_risk)
SOON_FROM_DAYS = 12  # WAIT_DAYS - the list's 3-day horizon
PAST_TO_DAYS = 35  # the oldest planted open complaint
SOON_SHARE = 0.15
PAST_SHARE = 0.03


def _pick(rng: np.random.Generator, rows: np.ndarray, share: float) -> np.ndarray:
    """``share`` of ``rows`` (at least one when there is any), at random, in order."""
    if not len(rows):
        return rows
    k = max(1, int(round(share * len(rows))))
    return np.sort(rng.choice(rows, size=k, replace=False))


def draw_open_complaints(seed: int, clock: Clock, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The finished ``tickets`` with a few complaints near the end left open (module docstring)."""
    tickets = frames["tickets"]
    rng = np.random.default_rng(seed + SEED_OFFSET)
    now = pd.Timestamp(clock.end) + pd.Timedelta(days=1)  # the end of the demo's last day
    age = (now - pd.to_datetime(tickets["opened_at"])).dt.total_seconds().to_numpy() / 86400.0
    active = frames["customers"].set_index("customer_id")["end_date"].isna()
    surveyed = tickets["ticket_id"].isin(frames["surveys"]["ticket_id"].dropna()).to_numpy()
    candidate = (
        (tickets["kind"] == "complaint").to_numpy()
        & ~tickets["first_contact_resolved"].to_numpy(bool)
        & tickets["resolved_at"].notna().to_numpy()
        & ~surveyed
        & tickets["customer_id"].map(active).fillna(False).to_numpy(bool)
    )
    soon = np.flatnonzero(candidate & (age >= SOON_FROM_DAYS) & (age < WAIT_DAYS))
    past = np.flatnonzero(candidate & (age >= WAIT_DAYS) & (age <= PAST_TO_DAYS))
    rows = np.concatenate([_pick(rng, soon, SOON_SHARE), _pick(rng, past, PAST_SHARE)])
    out = tickets.copy()
    at = out.index[rows]
    out.loc[at, "resolved_at"] = pd.NaT
    out["status"] = out["status"].astype(object)
    out.loc[at, "status"] = ticket_status.OPEN
    out.loc[at, "reopened"] = False
    out.loc[at, "revisited_at"] = pd.NaT
    out.loc[at, "revisit_satisfied"] = pd.NA
    return {"tickets": out}


__all__ = [
    "PAST_SHARE",
    "PAST_TO_DAYS",
    "SEED_OFFSET",
    "SOON_FROM_DAYS",
    "SOON_SHARE",
    "WAIT_DAYS",
    "draw_open_complaints",
]
