"""Plain readings of league verdicts and hazard ratios (issue 15 item 7): the one line a manager reads
follows the numbers it stands on — ties, overlapping intervals, no significant finding, HR < 1 and > 1."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.analysis import league, plain
from metrics.model.i18n import t
from metrics.model.registry import get


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def share_league(values: dict[str, tuple[float, int]]) -> pd.DataFrame:
    """League of csat (a share) over groups value, n; the total pooled by hand."""
    groups = pd.DataFrame([{"region_id": k, "value": v, "n": n, "lower": v - 0.01, "upper": v + 0.01}
                           for k, (v, n) in values.items()])
    n = groups["n"].sum()
    total = pd.DataFrame([{"value": (groups["value"] * groups["n"]).sum() / n, "n": n}])
    return league.league(get("csat"), groups, total)


def reading(table: pd.DataFrame, lang: str = "en", higher_is_better: bool | None = True, fmt=pct) -> str:
    return plain.league_reading(table, [str(x) for x in table["region_id"]], fmt, "CSAT", "city", lang,
                                higher_is_better)


def test_clear_finding_names_groups_with_their_numbers() -> None:
    table = share_league({"A": (0.70, 2000), "B": (0.90, 2000), "C": (0.80, 2000)})
    line = reading(table)
    # rest of A by hand: (0.9·2000 + 0.8·2000) / 4000 = 0.85; rest of B: 0.75
    assert "clearly worse than the other cities: A (70.0%; the rest 85.0%)" in line
    assert "clearly better than the other cities: B (90.0%; the rest 75.0%)" in line
    assert "the other 1 do not differ clearly" in line
    assert "C (" not in line
    zh = reading(table, "zh")
    assert zh.startswith("CSAT：明显差于其他地市的是 A（70.0%，其余 85.0%）") and "其余 1 个" in zh


def test_tie_names_no_one() -> None:
    table = share_league({"A": (0.8, 2000), "B": (0.8, 2000), "C": (0.8, 2000)})
    assert set(table["verdict"]) == {"no_evidence"}
    assert reading(table) == "CSAT: none of the cities stands out; the differences are within chance."


def test_tied_groups_share_their_fate() -> None:
    """Two groups with the same numbers are both named or neither."""
    table = share_league({"A": (0.9, 2000), "B": (0.9, 2000), "C": (0.7, 4000)})
    line = reading(table)
    assert "A (90.0%" in line and "B (90.0%" in line and "C (70.0%" in line


def test_overlapping_intervals_are_no_finding() -> None:
    # 80% vs 84% of 100 each: the 95% intervals (±7.8 pp) overlap widely
    table = share_league({"A": (0.80, 100), "B": (0.84, 100)})
    assert set(table["verdict"]) == {"no_evidence"}
    assert "none of the cities stands out" in reading(table)
    assert "没有明显差异" in reading(table, "zh")


def test_lower_is_better_names_the_high_rate_worse() -> None:
    m = get("complaint_rate")
    groups = pd.DataFrame({"region_id": ["A", "B", "C"], "value": [3.0, 1.0, 2.0], "n": [300, 100, 200],
                           "events": [300, 100, 200], "exposure": [1e5, 1e5, 1e5],
                           "lower": [2.7, 0.8, 1.7], "upper": [3.3, 1.2, 2.3]})
    total = pd.DataFrame([{"value": 2.0, "n": 600, "events": 600, "exposure": 3e5}])
    table = league.league(m, groups, total)
    line = plain.league_reading(table, list(table["region_id"]), lambda v: f"{v:.2f}", "Rate", "district", "en",
                                m.higher_is_better)
    # rest of A: 300 / 200,000 · 1000 = 1.5; rest of B: 500 / 200,000 · 1000 = 2.5
    assert "clearly worse than the other districts: A (3.00; the rest 1.50)" in line
    assert "clearly better than the other districts: B (1.00; the rest 2.50)" in line


def test_verdict_against_its_numbers_is_not_named() -> None:
    """A verdict the numbers contradict (worse, yet above the rest of a higher-is-better metric) or
    an adjusted p not below 5% never makes it into the sentence."""
    table = pd.DataFrame({"region_id": ["A", "B"], "value": [0.9, 0.7], "rest_value": [0.7, 0.9],
                          "p_adjusted": [0.001, 0.2], "verdict": ["worse", "worse"]})
    assert "none of the cities stands out" in reading(table)


def test_no_direction_says_higher_and_lower() -> None:
    table = pd.DataFrame({"region_id": ["A", "B", "C"], "value": [9.0, 5.0, 1.0], "rest_value": [3.0, 5.0, 7.0],
                          "p_adjusted": [0.001, 0.9, 0.001], "verdict": ["higher", "no_evidence", "lower"]})
    line = reading(table, higher_is_better=None, fmt=lambda v: f"{v:.0f}")
    assert "clearly lower than the other cities: C (1; the rest 7)" in line
    assert "clearly higher than the other cities: A (9; the rest 3)" in line


def test_not_tested() -> None:
    table = pd.DataFrame({"region_id": ["A"], "value": [1.0], "rest_value": [float("nan")],
                          "p_adjusted": [float("nan")], "verdict": ["not_tested"]})
    assert reading(table) == "CSAT is not tested between cities: compare the values with their intervals."


def terms(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["term", "hr", "hr_lower", "hr_upper"])


def test_hazard_above_and_below_one() -> None:
    df = terms([("a", 2.34, 1.5, 3.6), ("b", 0.6, 0.4, 0.9), ("c", 1.2, 0.9, 1.6), ("d", 1.5, 1.0, 2.2)])
    line = plain.hazard_reading(df, str.upper, "en")
    assert line == "What changes leaving most clearly: A: 2.3 times the risk of leaving; B: 40% lower risk of leaving."
    zh = plain.hazard_reading(df, str.upper, "zh")
    assert "A：流失风险为 2.3 倍" in zh and "B：流失风险低 40%" in zh and "C" not in zh and "D" not in zh


def test_hazard_strongest_first_and_more() -> None:
    df = terms([("up", 2.0, 1.5, 2.6), ("down", 0.4, 0.3, 0.5), ("x", 1.1, 1.05, 1.2), ("y", 1.3, 1.1, 1.5)])
    line = plain.hazard_reading(df, str, "en", top=2)
    assert line.index("down") < line.index("up") and "(and 2 more factors)" in line and "x:" not in line


def test_hazard_small_effects_keep_their_digits() -> None:
    df = terms([("a", 1.04, 1.01, 1.07), ("b", 0.996, 0.993, 0.999)])
    line = plain.hazard_reading(df, str, "en")
    assert "a: 1.04 times the risk" in line and "b: 0.4% lower risk" in line


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hazard_none_significant(lang: str) -> None:
    df = terms([("a", 1.2, 0.9, 1.6), ("b", 0.8, 0.6, 1.0)])
    line = plain.hazard_reading(df, str, lang)
    assert ("No factor clearly changes" in line) if lang == "en" else ("没有哪个因素" in line)


def logrank_frames(pairs, means):
    lr = pd.DataFrame(pairs, columns=["group_a", "group_b", "chi2", "p_holm"])
    return lr, pd.DataFrame({"group": list(means), "rmst_24m": list(means.values())})


def test_logrank_direction_from_the_summary() -> None:
    lr, summ = logrank_frames([("a", "b", 30.0, 0.001), ("a", "c", 1.0, 0.4), ("b", "c", 12.0, 0.01)],
                              {"a": 18.2, "b": 21.34, "c": 19.0})
    line = plain.logrank_reading(lr, summ, str.upper, "en")
    # largest chi² first; the longer-staying group named first whichever side of the pair it is on
    assert line == ("Retention differs clearly: customers stay longer with B than with A (21.3 against 18.2 of the "
                    "first 24 months); customers stay longer with B than with C (21.3 against 19.0 of the first 24 "
                    "months).")
    assert "A and C" not in line and "C than" not in line


def test_logrank_tie_in_means_has_no_direction() -> None:
    lr, summ = logrank_frames([("a", "b", 9.0, 0.01)], {"a": 20.04, "b": 19.96})  # both 20.0 as shown
    line = plain.logrank_reading(lr, summ, str, "en")
    assert line == "Retention differs clearly: a and b keep customers differently."


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_logrank_no_significant_pair(lang: str) -> None:
    lr, summ = logrank_frames([("a", "b", 3.5, 0.061), ("a", "c", 0.2, 0.9)], {"a": 20.0, "b": 18.0, "c": 19.0})
    line = plain.logrank_reading(lr, summ, str, lang)
    assert line == t("plain.logrank.none", lang)
    assert plain.logrank_reading(lr.iloc[:0], summ, str, lang) == line
