"""Regions from what the source has (issue 14 item 2): a customers file that names its regions.

A generated customer extract with only a city column (names written in several ways, some cities
new) loads into a fresh DuckDB file holding two cities (imported by their Chinese name alone); one
with province, city and district names loads into the shared demo databases (DuckDB, PostgreSQL,
MariaDB), which are left as found. What is stored, what ``servicewatch metric csat --by city`` says
and the summary are compared with pandas on the raw files.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import left_as_found, read

from metrics.backends.swap import writable
from metrics.ingest.importer import MappingError, import_file, load_mapping
from metrics.model import schema

FIRST_ID = 48_000_000
SERVICEWATCH = [sys.executable, "-m", "metrics.cli.main"]
# how a city is written in the extract -> the city it is (None: new)
CITY_SPELLINGS = {"深圳": "深圳", " 深 圳 ": "深圳", "广州市": "广州", "Dongguan": "Dongguan",
                  "ＤＯＮＧＧＵＡＮ": "Dongguan", "dongguan ": "Dongguan", "佛山": "佛山"}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SERVICEWATCH, *args], capture_output=True, text=True, timeout=180)


def city_extract(n: int = 120, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers with a 城市 column only (no region_id) and their CSAT answers."""
    rng = np.random.default_rng(seed)
    spellings = rng.choice(list(CITY_SPELLINGS), n)
    customers = pd.DataFrame({
        "客户编号": np.arange(1, n + 1), "客户名称": [f"c{i}" for i in range(n)], "客户类型": "consumer",
        "客户等级": "gold", "城市": spellings, "入网渠道": "hotline", "入网日期": "2025-01-15", "月均收入": 50})
    m = 3 * n
    answered = pd.Timestamp("2025-03-01") + pd.to_timedelta(rng.integers(0, 150 * 24, m), unit="h")
    surveys = pd.DataFrame({"survey_id": np.arange(1, m + 1), "customer_id": rng.integers(1, n + 1, m),
                            "channel": "hotline", "kind": "post_interaction",
                            "answered_at": answered.strftime("%Y-%m-%d %H:%M"), "csat": rng.integers(1, 6, m)})
    return customers, surveys


@pytest.fixture(scope="module")
def city_only(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("city-only")
    url = f"duckdb:///{folder / 'sw.duckdb'}"
    pd.DataFrame({"region_id": [1, 2], "name_zh": ["深圳", "广州"], "level": ["city", "city"]}).to_csv(
        folder / "regions.csv", index=False)
    customers, surveys = city_extract()
    customers.to_csv(folder / "customers.csv", index=False)
    surveys.to_csv(folder / "surveys.csv", index=False)
    out = {"url": url, "folder": folder, "customers": customers, "surveys": surveys}
    out["regions"] = import_file(url, "regions", folder / "regions.csv")
    out["dry"] = import_file(url, "customers", folder / "customers.csv", dry_run=True)
    out["regions_after_dry"] = read(url, sa.select(schema.regions))
    out["load"] = import_file(url, "customers", folder / "customers.csv")
    out["surveys_load"] = import_file(url, "surveys", folder / "surveys.csv")
    return out


def new_names(raw: pd.DataFrame) -> list[str]:
    """The new cities as the file first writes them (half-width, trimmed), in file order."""
    import unicodedata

    first = raw["城市"].groupby(raw["城市"].map(CITY_SPELLINGS), sort=False).first()
    return [unicodedata.normalize("NFKC", first[c]).strip() for c in first.index if c in ("Dongguan", "佛山")]


def test_one_language_is_enough_for_regions(city_only: dict) -> None:
    assert city_only["regions"].rows_loaded == 2 and city_only["regions"].rows_rejected == 0
    stored = city_only["regions_after_dry"][["name_zh", "name_en"]].values.tolist()
    assert stored == [["深圳", "深圳"], ["广州", "广州"]]


def test_dry_run_creates_nothing_and_says_what_it_would(city_only: dict) -> None:
    dry = city_only["dry"]
    assert len(city_only["regions_after_dry"]) == 2
    assert dry.rows_loaded == len(city_only["customers"]) and dry.rows_rejected == 0
    names = new_names(city_only["customers"])
    assert dry.created_regions == [f"{n} (city, id {i})" for i, n in enumerate(names, start=3)]
    assert any("2 regions would be created" in line and "nothing written" in line for line in dry.summary())


def test_cities_found_or_created_and_customers_in_them(city_only: dict) -> None:
    url, raw, load = city_only["url"], city_only["customers"], city_only["load"]
    assert load.rows_loaded == len(raw) and load.rows_rejected == 0 and load.unused_headers == []
    names = new_names(raw)
    assert load.created_regions == [f"{n} (city, id {i})" for i, n in enumerate(names, start=3)]
    assert any("2 regions created from the names in the file" in line for line in load.summary())
    regions = read(url, sa.select(schema.regions).order_by(schema.regions.c.region_id))
    assert regions["region_id"].tolist() == [1, 2, 3, 4]
    assert regions["level"].tolist() == ["city"] * 4 and regions["parent_id"].isna().all()
    assert regions["name_zh"].tolist() == regions["name_en"].tolist() == ["深圳", "广州", *names]
    ids = dict(zip(["深圳", "广州", *[n if n == "佛山" else "Dongguan" for n in names]], regions["region_id"],
                   strict=True))
    stored = read(url, sa.select(schema.customers.c.customer_id, schema.customers.c.region_id))
    expected = raw["城市"].map(CITY_SPELLINGS).map(ids)
    got = stored.set_index("customer_id")["region_id"].reindex(raw["客户编号"]).tolist()
    assert got == expected.tolist()
    closure = read(url, sa.select(schema.region_closure))
    assert len(closure) == 4 and (closure["ancestor_id"] == closure["descendant_id"]).all()


def test_csat_by_city_equals_pandas(city_only: dict) -> None:
    url, cust, sv = city_only["url"], city_only["customers"], city_only["surveys"]
    assert city_only["surveys_load"].rows_rejected == 0
    run = cli("metric", "csat", "--by", "city", "--from", "2025-03-01", "--to", "2025-07-31",
              "--format", "json", "--db", url)
    assert run.returncode == 0, run.stderr
    names = {n: ("佛山" if n == "佛山" else "Dongguan") for n in new_names(cust)} | {"深圳": "深圳", "广州": "广州"}
    got = {names[r["region_name"]]: (r["value"], r["n"]) for r in json.loads(run.stdout)}
    city = sv["customer_id"].map(dict(zip(cust["客户编号"], cust["城市"].map(CITY_SPELLINGS), strict=True)))
    ref = (sv["csat"] >= 4).groupby(city).agg(["mean", "size"])
    assert set(got) == set(ref.index)
    for name, (value, n) in got.items():
        assert value == pytest.approx(ref.loc[name, "mean"]) and n == ref.loc[name, "size"]


def test_same_file_again_creates_nothing(city_only: dict) -> None:
    again = import_file(city_only["url"], "customers", city_only["folder"] / "customers.csv", dry_run=True)
    assert again.created_regions == [] and again.rows_rejected == 0


def test_values_on_region_id_map_names_to_ids(city_only: dict, tmp_path: Path) -> None:
    """A mapping's values: on region_id is applied (it was silently ignored: every row not_integer)."""
    pd.DataFrame({"id": [900, 901, 902], "name": "x", "segment": "consumer", "tier": "gold",
                  "地区": ["SZ", "gz", "99"], "acquisition_channel": "hotline", "start_date": "2025-02-01",
                  "monthly_revenue": 1}).to_csv(tmp_path / "c.csv", index=False)
    (tmp_path / "m.yaml").write_text("columns: {地区: region_id}\nvalues:\n  region_id: {SZ: 1, GZ: 2}\n",
                                     encoding="utf-8")
    res = import_file(city_only["url"], "customers", tmp_path / "c.csv", mapping=tmp_path / "m.yaml",
                      dry_run=True, rejects=False)
    assert res.rows_loaded == 2 and res.rows_rejected == 1  # 99: no such region
    assert res.problems[["value", "code"]].values.tolist() == [["99", "unknown_reference"]]


def test_region_columns_in_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("columns: {Town: city}\n", encoding="utf-8")
    assert load_mapping(tmp_path / "m.yaml", "customers").columns == {"Town": "city"}
    with pytest.raises(MappingError, match="'city' is not a column of tickets"):
        load_mapping(tmp_path / "m.yaml", "tickets")


# -- province + city + district on the shared databases ------------------------------------------
def three_levels(n: int = 40) -> pd.DataFrame:
    """Names of the demo tree (岭南省 › 南岭市 › 中山区, written loosely), a new district under an
    existing city, a new province with a city and a district, and a row naming only a city."""
    places = [("岭南省", "南岭", "中山区"), ("Lingnan Province", "南岭市", "新城区"),
              ("海东省", "海港市", "滨海区"), ("海东省", "海港市", ""), ("", "南岭市", "")]
    rows = [places[i % len(places)] for i in range(n)]
    return pd.DataFrame({"customer_id": np.arange(FIRST_ID, FIRST_ID + n), "name": "x", "segment": "consumer",
                         "tier": "gold", "省份": [r[0] for r in rows], "地市": [r[1] for r in rows],
                         "区县": [r[2] for r in rows], "acquisition_channel": "hotline",
                         "start_date": "2025-02-01", "monthly_revenue": 1})


@contextlib.contextmanager
def regions_left_as_found(url: str) -> Iterator[int]:
    """The largest region id before; afterwards this module's customers and the regions created removed."""
    top = int(read(url, sa.select(sa.func.max(schema.regions.c.region_id).label("m")))["m"].iloc[0])
    with left_as_found(url, FIRST_ID):
        try:
            yield top
        finally:
            with writable(url) as engine, engine.begin() as conn:
                conn.execute(schema.customers.delete().where(schema.customers.c.customer_id >= FIRST_ID))
                conn.execute(schema.regions.delete().where(schema.regions.c.region_id > top))


def test_province_city_district_names(db_url: str, tmp_path: Path) -> None:
    raw = three_levels()
    raw.to_csv(tmp_path / "customers.csv", index=False)
    with regions_left_as_found(db_url) as top:
        res = import_file(db_url, "customers", tmp_path / "customers.csv", rejects=False)
        assert res.rows_loaded == len(raw) and res.rows_rejected == 0
        assert res.created_regions == [f"岭南省 › 南岭市 › 新城区 (district, id {top + 1})",
                                       f"海东省 (province, id {top + 2})", f"海东省 › 海港市 (city, id {top + 3})",
                                       f"海东省 › 海港市 › 滨海区 (district, id {top + 4})"]
        new = read(db_url, sa.select(schema.regions).where(schema.regions.c.region_id > top)
                   .order_by(schema.regions.c.region_id))
        assert new["parent_id"].fillna(-1).astype(int).tolist() == [2, -1, top + 2, top + 3]
        assert new["level"].tolist() == ["district", "province", "city", "district"]
        stored = read(db_url, sa.select(schema.customers.c.customer_id, schema.customers.c.region_id)
                      .where(schema.customers.c.customer_id >= FIRST_ID).order_by(schema.customers.c.customer_id))
        expected = [[201, top + 1, top + 4, top + 3, 2][i % 5] for i in range(len(raw))]
        assert stored["region_id"].astype(int).tolist() == expected
        closure = read(db_url, sa.select(schema.region_closure.c.ancestor_id)
                       .where(schema.region_closure.c.descendant_id == top + 4)
                       .order_by(schema.region_closure.c.depth))
        assert closure["ancestor_id"].astype(int).tolist() == [top + 4, top + 3, top + 2]
