"""The sentences of a decomposition (metrics.present.explain_text): numbers from the decomposition,
words from the catalogue in both languages, noise said as noise, a reason instead of a 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics.analysis import decompose as dc
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.present import explain_text as et
from metrics.query.warehouse import Warehouse


@pytest.fixture(scope="module")
def wh(duckdb_url: str) -> Warehouse:
    return Warehouse.open(duckdb_url)


def fake(groups: list[dict], delta: float, lower: float, upper: float) -> dc.Decomposition:
    rows = [{"key": g["name"], "name_zh": g["name"] + "市", "name_en": g["name"], "main": "rate",
             "rate_effect": g["c"], "mix_effect": 0.0, "contribution": g["c"], **g} for g in groups]
    return dc.Decomposition("complaint_rate", "region", "city", 37.4, 32.1, delta, pd.DataFrame(rows),
                            0.5, None, lower, upper)


def test_named_contributions_and_noise() -> None:
    d = fake([{"name": "Dongjiang", "c": 4.1, "noise": False}, {"name": "Nanling", "c": -1.0, "noise": False},
              {"name": "Xiqiao", "c": 2.2, "noise": True}], 5.3, 1.0, 9.0)
    assert et.sentence(d, "en") == ("Complaint rate rose 5.3 per 1,000 (32.1 → 37.4); 4.1 of it is Dongjiang "
                                    "(rate effect), Nanling pulled the other way by 1.0 (rate effect); "
                                    "the one other city is within noise.")
    zh = et.sentence(d, "zh")
    assert zh.startswith("投诉率上升 5.3‰（32.1 → 37.4）；其中 4.1 来自Dongjiang市（自身变化）")
    assert et.card_sentence(d, "en") == "mostly Dongjiang (rate effect)"
    assert et.card_sentence(d, "zh") == "主要来自Dongjiang市（自身变化）"


def test_all_noise_and_a_change_within_noise() -> None:
    d = fake([{"name": "A", "c": 3.0, "noise": True}, {"name": "B", "c": 2.3, "noise": True}], 5.3, -1.0, 11.6)
    en = et.sentence(d, "en")
    assert "no one of the cities moved it beyond noise" in en
    assert "the change itself is within noise (95% interval -1.0 per 1,000 to +11.6 per 1,000)" in en
    assert et.card_sentence(d, "zh") == t("explain.card_noise", "zh")


def test_no_change_gives_the_reason(wh: Warehouse) -> None:
    start, end = preset_period("last_quarter", wh.as_of())
    d = dc.decompose(wh, "csat", Filters(start, end, comparison="none"), "tier")
    assert et.sentence(d, "zh") == t("explain.reason.no_comparison", "zh")
    assert et.card_sentence(d, "zh") is None and np.isnan(d.delta)


def test_demo_sentence_names_dongjiang_in_both_languages(wh: Warehouse) -> None:
    start, end = preset_period("last_quarter", wh.as_of())
    best = dc.explain(wh, "complaint_rate", Filters(start, end))[0]
    assert "东江市（自身变化）" in et.sentence(best, "zh")
    assert "Dongjiang (rate effect)" in et.sentence(best, "en")
    assert et.amount(best.delta, "complaint_rate", "zh") in et.sentence(best, "zh")
