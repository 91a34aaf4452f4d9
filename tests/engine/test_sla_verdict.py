"""The SLA page's answer "do higher tiers get faster service?" (issue 15 item 2): the verdict is
computed from the figures the sentence quotes, as it quotes them, and never says "yes" next to equal
medians or overlapping compliance intervals. Hand-made service frames; the intervals are hand-set."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.analysis import sla
from metrics.model.i18n import t


def _service(top: dict, bottom: dict) -> pd.DataFrame:
    base = {"n_resolved": 1000.0, "n_decided": 1000.0, "response_compliance": 0.98}
    rows = [{"tier": "diamond", **base, **top}, {"tier": "standard", **base, **bottom}]
    df = pd.DataFrame(rows)
    df.attrs["ladder"] = ["diamond", "standard"]
    return df


def _rung(median: float, p90: float, compliance: float, half_width: float = 0.01) -> dict:
    return {"median_hours": median, "p90_hours": p90, "compliance": compliance,
            "compliance_lower": compliance - half_width, "compliance_upper": compliance + half_width}


CASES = {
    # the demo's case: medians 0.47 h and 0.51 h both read "0.5", the tail and compliance far apart
    "equal_medians_as_shown": (_rung(0.47, 19, 0.97), _rung(0.51, 111, 0.87), "mixed"),
    "exactly_equal_everything": (_rung(2.0, 10, 0.90), _rung(2.0, 10, 0.90), "no"),
    "faster_but_intervals_overlap": (_rung(1.0, 10, 0.91, 0.02), _rung(2.0, 12, 0.89, 0.02), "mixed"),
    "faster_and_apart": (_rung(1.0, 10, 0.95), _rung(2.0, 12, 0.85), "yes"),
    "faster_apart_but_tail_slower": (_rung(1.0, 30, 0.95), _rung(2.0, 12, 0.85), "mixed"),
    "slower_and_overlapping": (_rung(3.0, 20, 0.90), _rung(2.0, 12, 0.90), "no"),
    "slower_but_more_compliant": (_rung(3.0, 20, 0.95), _rung(2.0, 12, 0.85), "mixed"),
    # compliance intervals apart but the percentages read alike (94.4% vs 93.6% -> "94%" and "94%")
    "apart_but_read_alike": (_rung(1.0, 10, 0.9440, 0.002), _rung(2.0, 12, 0.9360, 0.002), "mixed"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_verdict(name: str) -> None:
    top, bottom, want = CASES[name]
    gap = sla.tier_gap(_service(top, bottom))
    assert gap is not None and gap.verdict == want, (name, gap)


@pytest.mark.parametrize("name", list(CASES))
def test_no_yes_next_to_a_tie(name: str) -> None:
    """The contradiction the issue saw: "yes — faster" beside medians that read the same."""
    top, bottom, _ = CASES[name]
    gap = sla.tier_gap(_service(top, bottom))
    words = t(f"page.sla.answer_{gap.verdict}", "zh", top="钻石卡", bottom="普通", **gap.figures())
    medians = [f"{gap.top_median:.1f} 小时", f"{gap.bottom_median:.1f} 小时"]
    assert all(m in words for m in medians)
    lo_t, hi_t, lo_b, hi_b = (r[k] for r in (top, bottom) for k in ("compliance_lower", "compliance_upper"))
    overlap = not (lo_t > hi_b or lo_b > hi_t)
    if medians[0] == medians[1] or overlap:
        assert gap.verdict != "yes" and not words.startswith("是的")


def test_significance_needs_a_visible_difference() -> None:
    """A significant z test on 94.4% vs 93.6% of 100,000 tickets each still reads "94% vs 94%": the
    page does not call that difference significant."""
    top, bottom = _rung(1.0, 10, 0.944, 0.002), _rung(2.0, 12, 0.936, 0.002)
    df = _service(top, bottom)
    df["n_decided"] = 100_000.0
    gap = sla.tier_gap(df)
    assert not gap.significant
    df2 = _service(_rung(1.0, 10, 0.95), _rung(2.0, 12, 0.85))
    assert sla.tier_gap(df2).significant
