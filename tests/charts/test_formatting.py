"""Every number's text from metrics.present.formatting, against strings written out by hand in zh and en:
a metric's fixed decimals (not chosen by the value), separators, yuan, hours, p-values, ratios, ticks."""

from __future__ import annotations

import pytest

from metrics.model.registry import METRICS
from metrics.present import formatting as fmt


@pytest.mark.parametrize(("value", "unit", "lang", "expected"), [
    (0.85, "share", "zh", "85.0%"),
    (0.9225, "share", "en", "92.3%"),  # one decimal for a share; 92.25 (92.2499… in binary) rounds up
    (0.9996, "share", "zh", "100.0%"),  # no longer two decimals because the value is high
    (0.004213, "share_per_month", "en", "0.42%"),
    (55166188.4, "currency", "zh", "¥55,166,188"),
    (-1234.0, "currency", "en", "-¥1,234"),
    (15123, "customers", "zh", "15,123"),
    (3.25, "hours", "zh", "3.3 小时"),  # half away from zero
    (3.24, "hours", "en", "3.2 hours"),
    (41.44, "points", "en", "41.4"),
    (4.126, "score_1_5", "zh", "4.13"),
    (2.345, "per_1000_customer_months", "zh", "2.3"),
    (-0.0001, "points", "en", "0.0"),  # a value that rounds to zero has no sign
    (None, "share", "zh", "—"),
    (float("nan"), "currency", "en", "—"),
])
def test_values_in_their_unit(value: float | None, unit: str, lang: str, expected: str) -> None:
    assert fmt.fmt_value(value, unit, lang) == expected


def test_a_metric_fixes_its_own_decimals() -> None:
    assert fmt.fmt_metric(0.99951, "availability", "zh") == "99.95%"
    assert fmt.fmt_metric(0.9, "availability", "en") == "90.00%"  # the same decimals at any value
    assert fmt.fmt_metric(0.9225, "sla_resolution_compliance", "zh") == "92.3%"
    assert fmt.fmt_metric(0.0123, "churn_rate", "en") == "1.23%"
    assert fmt.fmt_metric(1234567.0, "revenue", "zh") == "¥1,234,567"
    assert all(fmt.decimals(m.unit, m) in range(0, 4) for m in METRICS)  # every metric has its decimals


@pytest.mark.parametrize(("delta", "unit", "expected"), [
    (0.0121, "share_per_month", "+1.21 pp"),
    (-0.0345, "share", "-3.5 pp"),
    (4259, "customers", "+4,259"),
    (-12000.4, "currency", "-12,000"),
    (1.0, "points", "+1.0"),
    (None, "share", None),
])
def test_changes(delta: float | None, unit: str, expected: str | None) -> None:
    assert fmt.fmt_delta(delta, unit) == expected


@pytest.mark.parametrize(("p", "expected"), [
    (1.61e-14, "< 0.001"), (0.0, "< 0.001"), (0.000999, "< 0.001"), (0.001, "0.00100"),
    (0.012345, "0.0123"), (0.45, "0.450"), (0.04999, "0.0500"), (1.0, "1.00"), (None, "—"),
])
def test_p_values(p: float | None, expected: str) -> None:
    assert fmt.fmt_p(p) == expected


def test_ratios_and_ticks_keep_their_leading_zero() -> None:
    assert fmt.fmt_ratio(0.3) == "0.30" and fmt.fmt_ratio(3.04) == "3.04"
    assert [fmt.fmt_tick(x) for x in (0.3, 0.5, 1.0, 1.5, 3.0, 10.0, 2500.0)] == \
        ["0.3", "0.5", "1", "1.5", "3", "10", "2,500"]


@pytest.mark.parametrize(("target", "unit", "lang", "expected"), [
    (0.95, "share", "zh", "目标 95%"),
    (0.95, "share", "en", "Target 95%"),
    (0.925, "share", "zh", "目标 92.5%"),
    (0.9995, "share", "en", "Target 99.95%"),  # with availability's two decimals below
    (4.0, "hours", "zh", "目标 4 小时"),
])
def test_target_labels(target: float, unit: str, lang: str, expected: str) -> None:
    digits = 2 if target == 0.9995 else None
    assert fmt.target_label(target, unit, lang, digits) == expected


def test_counts_percentages_intervals() -> None:
    assert fmt.fmt_count(1234567) == "1,234,567" and fmt.fmt_count(None) == "—"
    assert fmt.fmt_percent(0.75, 0) == "75%" and fmt.fmt_percent(0.123, 1, signed=True) == "+12.3%"
    assert fmt.fmt_interval(0.901, 0.942, "share", "zh") == "90.1% – 94.2%"
    assert fmt.fmt_interval(None, 0.942, "share", "zh") == "—"
