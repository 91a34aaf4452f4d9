"""An alert notice names its slice by filter and display name: an outlet rule says the hall (it read
"whole province" before), in Chinese and English."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from metrics.deliver.alert_notify import slice_words
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_outlet_rule_names_its_hall(duckdb_url: str, lang: str) -> None:
    wh = Warehouse.open(duckdb_url)
    oid, name = wh.read(sa.text("SELECT outlet_id, name FROM outlets ORDER BY outlet_id LIMIT 1")).iloc[0]
    words = slice_words(wh, Filters(date(2026, 9, 1), date(2026, 9, 30), outlets=(int(oid),)), lang)
    assert name in words and words != t("filter.scope_all", lang)
    assert slice_words(wh, Filters(date(2026, 9, 1), date(2026, 9, 30)), lang) == t("filter.scope_all", lang)
