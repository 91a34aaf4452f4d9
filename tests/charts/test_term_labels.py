"""Model terms read as words, also for levels the data introduced (issue 14: "new codes appear raw in
legends"): the forest chart of a model fitted on a CRM snapshot whose tiers are contract types names
each level and the fit's own reference level, never ``tier_One year``."""

from __future__ import annotations

import pandas as pd

from metrics.present.charts.churn import forest, references, term_label

STORED = "tier = Month-to-month (most common, 55% of rows); channel = hotline (most common, 30% of rows)"


def test_references_from_the_stored_model() -> None:
    assert references(STORED) == {"tier": "Month-to-month", "channel": "hotline"}
    assert references(None) == {} and references("") == {}


def test_levels_name_the_fits_reference() -> None:
    refs = references(STORED)
    assert term_label("tier_One year", "en", refs) == "Tier: One year (vs Month-to-month)"
    assert term_label("tier_One year", "zh", refs) == "客户等级：One year（对Month-to-month）"
    assert term_label("channel_email", "en", refs) == "Acquisition channel: email (vs Hotline)"
    # the catalogue's words where no reference is known; pooled levels and numeric terms as written there
    assert term_label("tier_diamond", "en") == "Diamond (vs standard)"
    assert term_label("tier_other", "zh", refs) == "其他等级（合并的少数等级）"
    assert term_label("tenure_years", "en", refs) == "Tenure (per year)"
    assert term_label("segment_SMB", "en", refs) == "Segment: SMB"  # no reference stored for segments


def test_forest_shows_no_raw_term() -> None:
    terms = pd.DataFrame({"term": ["tier_One year", "tier_Two year", "tenure_years"], "hr": [0.4, 0.2, 0.9],
                          "hr_lower": [0.3, 0.1, 0.85], "hr_upper": [0.5, 0.3, 0.95]})
    fig = forest(terms, "en", "Hazard ratios", "", references(STORED))
    shown = [str(v) for trace in fig.data for v in (trace.y if trace.y is not None else ())]
    assert "Tier: Two year (vs Month-to-month)" in shown and "Tenure (per year)" in shown
    assert not any(s.startswith(("tier_", "tenure_")) for s in shown), shown


def test_a_missing_value_level_reads_in_words() -> None:
    from metrics.present.charts.churn import term_label

    refs = {"sla_level": "none"}
    assert term_label("sla_level_gold", "zh", refs).endswith("金牌SLA（对未填写）")
    assert "none" not in term_label("sla_level_gold", "en", refs) and "not given" in term_label(
        "sla_level_gold", "en", refs)
    assert "未填写" in term_label("sla_level_none", "zh", {"sla_level": "gold"})
