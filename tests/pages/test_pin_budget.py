"""Key columns stay pinned on a 1024 px screen (issue 15 item 5): Streamlit pins no column when the pinned
ones take more than 60% of the grid, so tables.fitted_columns pins leading columns only while they fit
PIN_BUDGET_PX together; every data-quality check's name fits it in both languages (the Data page's list
of checks keeps its first column in view)."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics.model.i18n import catalogue
from servicewatch.tables import PIN_BUDGET_PX, fitted_columns


def test_pins_leading_columns_within_the_budget() -> None:
    shown = pd.DataFrame({"id": ["C000001"], "name": ["x" * 80], "tier": ["Gold"]})
    config = fitted_columns(shown, pin=2)
    assert config["id"].get("pinned") is True
    assert not config["name"].get("pinned")  # 80 characters: ~630 px, beyond the budget
    assert config["id"]["width"] + config["name"]["width"] > PIN_BUDGET_PX
    short = fitted_columns(pd.DataFrame({"id": ["C1"], "name": ["张三"], "tier": ["金卡"]}), pin=2)
    assert short["id"]["pinned"] and short["name"]["pinned"] and not short["tier"].get("pinned")


def test_a_column_past_the_key_is_as_wide_as_its_text() -> None:
    reasons = "Spend down 10% (last 3 months vs the 3 before); 1 unresolved complaint in 90 days; 2 complaints"
    config = fitted_columns(pd.DataFrame({"id": ["C1"], "drivers": [reasons]}))
    assert config["drivers"]["width"] > 640  # was cut at 640 px: the at-risk list's reasons in English


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_check_name_fits_a_pinned_column(lang: str) -> None:
    names = [v[lang] for k, v in catalogue().items() if k.startswith("page.data.check.")]
    assert names
    config = fitted_columns(pd.DataFrame({"check": names}))
    assert config["check"]["pinned"] and config["check"]["width"] <= PIN_BUDGET_PX, max(names, key=len)
