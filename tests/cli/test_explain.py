"""``servicewatch explain``: the decomposition as JSON/CSV/table, the sentence on stderr, the same
numbers as the engine, one line and a non-zero exit for what cannot be explained."""

from __future__ import annotations

import csv
import io
import json

import pytest

from metrics.analysis import decompose as dc
from metrics.cli.main import main
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse


def test_all_dimensions_best_first_match_the_engine(duckdb_url: str, capsys) -> None:
    assert main(["explain", "complaint_rate", "--db", duckdb_url, "--period", "last_quarter", "--format", "json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    ds = dc.explain(wh, "complaint_rate", Filters(start, end))
    assert [r["dim"] for r in records] == [d.dim for d in ds for _ in range(len(d.groups))]
    first = records[0]
    assert first["dim"] == "region" and first["key"] == DETERIORATING_CITY and first["group"] == "Dongjiang"
    assert first["contribution"] == pytest.approx(ds[0].groups["contribution"].iloc[0])
    region = [r for r in records if r["dim"] == "region"]
    assert sum(r["contribution"] for r in region) == pytest.approx(region[0]["delta"], abs=1e-9)
    assert first["period_start"] == start.isoformat() and first["metric"] == "complaint_rate"
    assert "Dongjiang (rate effect)" in captured.err


def test_one_dimension_in_chinese_as_csv(duckdb_url: str, capsys) -> None:
    assert main(["explain", "csat", "--by", "tier", "--db", duckdb_url, "--period", "last_quarter",
                 "--format", "csv", "--lang", "zh"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out.lstrip("\ufeff"))))
    assert {r["dim"] for r in rows} == {"tier"} and "普通" in {r["group"] for r in rows}
    assert "满意度" in captured.err


def test_table_and_no_comparison(duckdb_url: str, capsys) -> None:
    assert main(["explain", "csat", "--db", duckdb_url, "--period", "last_quarter", "--compare", "none"]) == 0
    captured = capsys.readouterr()
    assert "No comparison period is chosen" in captured.err and "(no rows)" in captured.out


@pytest.mark.parametrize(("args", "says"), [
    (["tickets"], "total or a quantile"),
    (["nope"], "unknown metric"),
    (["csat", "--by", "category"], "unknown dimension category"),
    (["csat", "--by", "region", "--region", "201"], "no lower region level"),
])
def test_bad_input_is_one_line_and_fails(duckdb_url: str, capsys, args: list[str], says: str) -> None:
    assert main(["explain", *args, "--db", duckdb_url, "--period", "last_quarter"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert says in err[-1] and err[-1].startswith("servicewatch: error:") and "Traceback" not in "".join(err)
