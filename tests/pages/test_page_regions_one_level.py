"""Regions page and filter bar on a one-level region tree (issue 14 item 2): a database whose
customers came from a file with only a city column (the cities created from their names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from page_helpers import default_filters, open_page

from metrics.analysis import league
from metrics.ingest.importer import import_file
from metrics.model.registry import get
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

PAGE = "pages/5_Regions.py"
CITIES = ("深圳", "广州", "东莞", "佛山")


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder: Path = tmp_path_factory.mktemp("one-level")
    url = f"duckdb:///{folder / 'sw.duckdb'}"
    rng = np.random.default_rng(11)
    n, m = 200, 900
    pd.DataFrame({"customer_id": np.arange(1, n + 1), "name": "x", "segment": "consumer", "tier": "gold",
                  "城市": rng.choice(CITIES, n), "acquisition_channel": "hotline", "start_date": "2025-01-15",
                  "monthly_revenue": 10}).to_csv(folder / "customers.csv", index=False)
    answered = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 360 * 24, m), unit="h")
    pd.DataFrame({"survey_id": np.arange(1, m + 1), "customer_id": rng.integers(1, n + 1, m), "channel": "hotline",
                  "kind": "post_interaction", "answered_at": answered.strftime("%Y-%m-%d %H:%M"),
                  "csat": rng.integers(1, 6, m)}).to_csv(folder / "surveys.csv", index=False)
    assert import_file(url, "customers", folder / "customers.csv").rows_rejected == 0
    assert import_file(url, "surveys", folder / "surveys.csv").rows_rejected == 0
    return url


@pytest.fixture(autouse=True)
def _db(city_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", city_db)


def test_league_of_cities(city_db: str) -> None:
    wh = Warehouse.open(city_db)
    at = open_page(PAGE)
    f = default_filters(wh)
    expected = league.league(get("csat"), wh.compare("csat", f, ("region",)), wh.metric("csat", f))
    table = at.dataframe[0].value
    assert len(expected) == len(CITIES)
    assert sorted(table["地市"]) == sorted(CITIES)
    assert table["数值"].tolist() == [fmt_value(v, "share", "zh") for v in expected["value"]]


def test_city_filter_on_a_tree_without_districts(city_db: str) -> None:
    wh = Warehouse.open(city_db)
    at = open_page(PAGE)
    city = at.sidebar.selectbox(key="_w_city")
    ids = dict(zip(wh.regions()["name_zh"], wh.regions()["region_id"].astype(int), strict=True))
    assert sorted(ids) == sorted(CITIES) and sorted(city.options[1:]) == sorted(CITIES)
    city.set_value(ids["广州"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.sidebar.selectbox(key="_w_district").options == ["全部"]  # no districts: only "all"
    f = default_filters(wh, regions=(ids["广州"],))
    table = at.dataframe[0].value
    assert table["地市"].tolist() == ["广州"]  # the chosen city alone, not an empty district league
    assert table["数值"].tolist() == [fmt_value(wh.metric("csat", f)["value"].iloc[0], "share", "zh")]
