"""The Overview's "What moved most" direction: better / worse / unchanged from the delta itself."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.present.formatting import direction, fmt_delta
from metrics.query.warehouse import Warehouse

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.mark.parametrize("higher", [True, False, None])
def test_no_change_is_neither_better_nor_worse(higher: bool | None) -> None:
    assert direction(0.0, higher) == "unchanged"
    assert direction(-0.0, higher) == "unchanged"
    assert direction(0, higher) == "unchanged"


@pytest.mark.parametrize("missing", [None, math.nan, float("nan")])
def test_missing_delta_has_no_label(missing: float | None) -> None:
    assert direction(missing, True) is None and direction(missing, False) is None


def test_sign_and_preferred_direction() -> None:
    assert direction(0.1, True) == "better" and direction(-0.1, True) == "worse"
    assert direction(0.1, False) == "worse" and direction(-0.1, False) == "better"
    assert direction(0.1, None) is None


def test_decided_on_the_delta_not_its_rounded_text() -> None:
    tiny = 1e-7
    assert fmt_delta(tiny, "points") == "+0.0"  # shown as no change …
    assert direction(tiny, True) == "better" and direction(-tiny, True) == "worse"  # … but it did move


def test_labels_exist_in_both_languages() -> None:
    for d in ("better", "worse", "unchanged"):
        for lang in ("zh", "en"):
            assert t(f"page.overview.{d}", lang) != f"page.overview.{d}"
    assert t("page.overview.unchanged", "zh") not in (t("page.overview.worse", "zh"), t("page.overview.better", "zh"))


def test_overview_table_labels_follow_the_engine_deltas(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    metric_id, dim = at.selectbox(key="_w_choice_metric").value, at.radio(key="_w_choice_dim").value
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    moves = wh.compare(metric_id, Filters(start=start, end=end), (dim,), "city").dropna(subset=["delta"])
    moves = moves.reindex(moves["delta"].abs().sort_values(ascending=False).index).head(8)
    from metrics.model.registry import get

    expected = sorted(t(f"page.overview.{direction(float(d), get(metric_id).higher_is_better)}", "zh")
                      for d in moves["delta"])
    tables = [df.value for df in at.dataframe if t("page.overview.direction", "zh") in df.value.columns]
    assert len(tables) == 1
    assert sorted(tables[0][t("page.overview.direction", "zh")]) == expected
