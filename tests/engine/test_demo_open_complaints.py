"""The demo's complaints left open at its end (metrics.demo.open_complaints): on the demo ``make demo``
builds (20,000 customers, seed 7), the appeal-risk list has complaints past 15 days and complaints
passing 15 days within 3, their ages checked by hand from the frames; the step changes only its own
rows and columns, every other table as without it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metrics.analysis.appeal_risk import SOON_DAYS, WAIT_DAYS, appeal_risk
from metrics.demo import generator
from metrics.demo import open_complaints as oc
from metrics.ingest.load import replace_all
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

END = date(2026, 10, 31)  # the demo's last day (generate's default)
NOW = pd.Timestamp(2026, 11, 1)  # the end of it: the appeal-risk list's as-of moment
CHANGED = ["resolved_at", "status", "reopened", "revisited_at", "revisit_satisfied"]


def planted(tk: pd.DataFrame) -> pd.DataFrame:
    return tk[tk["status"] == "open"]


def test_a_few_complaints_near_the_end_are_left_open(demo_frames_20k: dict) -> None:
    tk = demo_frames_20k["tickets"]
    p = planted(tk)
    age = (NOW - pd.to_datetime(p["opened_at"])).dt.total_seconds() / 86400
    assert (p["kind"] == "complaint").all() and p["resolved_at"].isna().all()
    assert p["revisited_at"].isna().all() and not p["reopened"].any() and not p["first_contact_resolved"].any()
    assert ((age >= oc.SOON_FROM_DAYS) & (age <= oc.PAST_TO_DAYS)).all()
    soon, past = int((age < WAIT_DAYS).sum()), int((age >= WAIT_DAYS).sum())
    assert 1 <= soon <= 8 and 1 <= past <= 8, (soon, past)  # a small, realistic number
    # no survey on a ticket that is not resolved (a post-interaction survey follows the resolution)
    assert not p["ticket_id"].isin(demo_frames_20k["surveys"]["ticket_id"].dropna()).any()
    # every other ticket has no status, as before: open or resolved by resolved_at
    assert tk.loc[~tk.index.isin(p.index), "status"].isna().all()


def test_the_demos_appeal_risk_lists_past_and_soon_checked_by_hand(demo_frames_20k: dict, tmp_path) -> None:
    url = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    replace_all(url, demo_frames_20k)
    wh = Warehouse.open(url)
    assert wh.as_of() == END
    risk = appeal_risk(wh, Filters(start=date(2026, 10, 1), end=END))
    assert risk.past > 0 and risk.soon > 0
    # by hand from the frames: complaints without a resolution time, aged from the end of the last day
    tk = demo_frames_20k["tickets"]
    c = tk[(tk["kind"] == "complaint") & tk["resolved_at"].isna()]
    age = (NOW - pd.to_datetime(c["opened_at"])).dt.total_seconds() / 86400
    hand_past = c[age >= WAIT_DAYS]
    hand_soon = c[(age >= WAIT_DAYS - SOON_DAYS) & (age < WAIT_DAYS)]
    assert (risk.past, risk.soon) == (len(hand_past), len(hand_soon))
    got = risk.table.assign(ticket_id=risk.table["ticket_id"].astype(int)).set_index("ticket_id")
    want = pd.Series(age.to_numpy(), index=c["ticket_id"].to_numpy())
    for state, rows in (("past", hand_past), ("soon", hand_soon)):
        ids = rows["ticket_id"].to_numpy()
        assert set(got.index[got["state"] == state]) == set(ids)
        assert got.loc[ids, "age_days"].to_numpy() == pytest.approx(want.loc[ids].to_numpy(), abs=1e-5)
    # the planted soon ones are all of the soon group, and some of the recent past ones
    p = planted(tk)
    assert set(hand_soon["ticket_id"]) == set(p["ticket_id"][(NOW - p["opened_at"]) < pd.Timedelta(days=WAIT_DAYS)])
    assert got.loc[hand_soon["ticket_id"].to_numpy(), "owner"].notna().any()  # with their owners


def test_drawn_last_it_changes_only_its_rows_and_columns(demo_frames_20k: dict, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(generator, "draw_open_complaints", lambda seed, clock, fr: {"tickets": fr["tickets"]})
    without = generator.generate(20000, seed=7)
    for name, frame in demo_frames_20k.items():
        if name != "tickets":
            pd.testing.assert_frame_equal(frame, without[name])
    tk, before = demo_frames_20k["tickets"], without["tickets"]
    rows = planted(tk).index
    pd.testing.assert_frame_equal(tk.drop(columns=CHANGED), before.drop(columns=CHANGED))
    keep = ~tk.index.isin(rows)
    pd.testing.assert_frame_equal(tk.loc[keep, CHANGED], before.loc[keep, CHANGED], check_dtype=False)
    assert before.loc[rows, "resolved_at"].notna().all()  # they were resolved without this step
