"""``servicewatch forecast METRIC`` (issue 17 item 4): the engine's periods as JSON/CSV/table, the
sentences in both languages on stderr, the back-test's figures, and bad input in one line."""

from __future__ import annotations

import json
from datetime import date

import pytest

from metrics.analysis import forecast as fcast
from metrics.cli.main import main
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


def test_json_matches_the_engine(duckdb_url: str, capsys) -> None:
    args = ["forecast", "sla_resolution_compliance", "--db", duckdb_url, "--from", "2026-07-01", "--to",
            "2026-09-30", "--format", "json"]
    assert main(args) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    engine = fcast.forecast(Warehouse.open(duckdb_url), "sla_resolution_compliance",
                            Filters(date(2026, 7, 1), date(2026, 9, 30)))
    assert len(records) == 3 == len(engine.periods)
    assert [r["value"] for r in records] == pytest.approx(engine.periods["value"].tolist())
    assert [r["p_meet"] for r in records] == pytest.approx(engine.periods["p_meet"].tolist())
    first = records[0]
    assert first["target"] == pytest.approx(0.95) and first["verdict"] in ("likely_meet", "uncertain", "likely_miss")
    assert first["end"].endswith(("-31", "-30")) and first["backtest_n"] > 0
    assert 0 <= first["backtest_cover80"] <= 1 and first["model"] == engine.model
    assert "chance of reaching 95%" in out.err and "Back-test (rolling origin" in out.err


def test_csv_table_and_chinese(duckdb_url: str, capsys) -> None:
    assert main(["forecast", "csat", "--db", duckdb_url, "--format", "csv", "--lang", "zh", "--no-backtest"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].startswith("metric,period,start,end,known,value") and len(lines) == 4
    assert "季度" in lines[1] and "的概率为" in out.err and "回测" not in out.err
    assert main(["forecast", "complaint_rate", "--db", duckdb_url, "--months", "--no-backtest"]) == 0
    table = capsys.readouterr()
    assert "lower95" in table.out.splitlines()[0] and "staying at or below" in table.err


@pytest.mark.parametrize("argv, message", [
    (["forecast", "no_such_metric"], "there is no metric no_such_metric"),
    (["forecast", "csat", "--region", "nowhere"], "unknown region"),
])
def test_bad_input_is_one_line(duckdb_url: str, capsys, argv: list[str], message: str) -> None:
    assert main([*argv, "--db", duckdb_url]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_unknown_metric_in_chinese_names_the_known_ones(duckdb_url: str, capsys) -> None:
    from metrics.model import registry

    assert main(["forecast", "no_such_metric", "--db", duckdb_url, "--lang", "zh"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("servicewatch: error: 无法预测：没有这个指标 no_such_metric；已有的指标：")
    assert "known" not in err and len(err.splitlines()) == 1
    assert err.endswith("、".join(registry.BY_ID))


def test_too_short_history_is_a_reason(duckdb_url: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fcast, "HISTORY_MONTHS", 6)
    assert main(["forecast", "csat", "--db", duckdb_url]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("servicewatch: error: No forecast: 6 months of continuous history, "
                   f"at least {fcast.MIN_MONTHS} are needed")
