"""``--outlet`` on every command that computes figures (issue 19): the outlet filter by key or name, the
engine's figures for it; an unknown outlet is one line; ``queue --outlet`` is the same filter. The small
simulated halls of tests/outlet_frames.py."""

from __future__ import annotations

import json

import pytest
from outlet_frames import START, frames, outlets_db

from metrics.cli.main import main
from metrics.ingest.load import replace_all

PERIOD = ["--from", START.isoformat(), "--to", "2026-06-28"]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    return outlets_db(tmp_path_factory.mktemp("outlet_filter_cli") / "o.duckdb")


def _value(capsys) -> float:
    return float(json.loads(capsys.readouterr().out)[0]["value"])


def test_metric_with_outlet_by_key_and_by_name(db: str, capsys) -> None:
    raw = frames()
    t = raw["tickets"]
    assert main(["metric", "tickets", "--db", db, *PERIOD, "--outlet", "1", "--format", "json"]) == 0
    assert _value(capsys) == (t["outlet_id"] == 1).sum()
    assert main(["metric", "tickets", "--db", db, *PERIOD, "--outlet", "East hall", "--outlet", "3",
                 "--format", "json"]) == 0
    assert _value(capsys) == t["outlet_id"].isin([1, 3]).sum()
    sv = raw["surveys"]
    sv = sv[sv["outlet_id"] == 2]
    assert main(["metric", "csat", "--db", db, *PERIOD, "--outlet", "2", "--format", "json"]) == 0
    assert _value(capsys) == pytest.approx((sv["csat"] >= 4).mean())


def test_an_unknown_outlet_is_one_line(db: str, capsys) -> None:
    assert main(["metric", "tickets", "--db", db, "--outlet", "H-NOPE"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1] == "servicewatch: error: unknown outlet H-NOPE (outlets.outlet_id)"


def test_a_name_two_outlets_share_is_refused_and_a_key_wins(tmp_path, capsys) -> None:
    """Outlet names repeat across cities (中心营业厅): a shared name is refused in one line, never
    silently the lowest id; a key is found before a name (an outlet *named* like another's key)."""
    raw = frames()
    raw["outlets"].loc[raw["outlets"]["outlet_id"] == 3, "name"] = "East hall"  # two outlets called East hall
    raw["outlets"].loc[raw["outlets"]["outlet_id"] == 4, "name"] = "2"  # an outlet named like outlet 2's key
    url = f"duckdb:///{tmp_path / 'same_names.duckdb'}"
    replace_all(url, raw)
    assert main(["metric", "tickets", "--db", url, *PERIOD, "--outlet", "East hall"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == 'servicewatch: error: 2 outlets are called "East hall": name the one you mean by its key ' \
                      '(outlets.outlet_id)'
    assert main(["metric", "tickets", "--db", url, *PERIOD, "--outlet", "2", "--format", "json"]) == 0
    assert _value(capsys) == (raw["tickets"]["outlet_id"] == 2).sum()
