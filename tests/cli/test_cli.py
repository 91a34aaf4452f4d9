"""The command line: answers every metric, and fails politely (one line, no traceback, no password)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from metrics.cli.main import main
from metrics.model import registry
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metrics.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("metric_id", [m.id for m in registry.METRICS])
def test_every_metric_answers_as_json(duckdb_url: str, metric_id: str, capsys) -> None:
    assert main(["metric", metric_id, "--db", duckdb_url, "--by", "tier", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert isinstance(records, list)
    for rec in records:
        assert {"tier", "value", "n", "lower", "upper"} <= set(rec)


def test_cli_matches_engine(duckdb_url: str, capsys) -> None:
    assert main(["metric", "csat", "--db", duckdb_url, "--from", "2026-01-01", "--to", "2026-06-30",
                 "--channel", "hotline", "--by", "city", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    wh = Warehouse.open(duckdb_url)
    f = Filters(start=__import__("datetime").date(2026, 1, 1), end=__import__("datetime").date(2026, 6, 30),
                channels=("hotline",))
    expected = wh.metric("csat", f, ("region",), "city")
    assert [r["region_id"] for r in records] == expected["region_id"].tolist()
    assert [r["value"] for r in records] == pytest.approx(expected["value"].tolist(), rel=1e-9)


def test_csv_and_table_formats(duckdb_url: str, capsys) -> None:
    assert main(["metric", "tickets", "--db", duckdb_url, "--by", "month", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "month,value,n,lower,upper" and len(lines) > 2
    assert main(["metric", "nps", "--db", duckdb_url, "--format", "table", "--with-comparison"]) == 0
    assert "value_cmp" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["metric", "no_such_metric"], "unknown metric"),
        (["metric", "csat", "--by", "category"], "cannot be cut by category"),
        (["metric", "csat", "--region", "Atlantis"], "unknown region"),
        (["metric", "csat", "--tier", "platinum"], "unknown tier platinum"),
        (["metric", "csat", "--from", "2026-05-01"], "give both --from and --to"),
        (["metric", "csat", "--from", "2026-05-01", "--to", "2026-04-01"], "before it starts"),
    ],
)
def test_bad_arguments_give_one_line(duckdb_url: str, args: list[str], needle: str) -> None:
    proc = run_cli(*args, "--db", duckdb_url)
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_unreachable_server_hides_password() -> None:
    proc = run_cli("metric", "csat", "--db", "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/nowhere")
    assert proc.returncode != 0
    assert "127.0.0.1" in proc.stderr and "s3cr3t-pw" not in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_not_a_url_and_missing_file(tmp_path) -> None:
    proc = run_cli("metric", "csat", "--db", "::not a url::")
    assert proc.returncode != 0 and "not a database URL" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("metric", "csat", "--db", f"duckdb:///{tmp_path}/empty.duckdb")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_bad_date_is_usage_error() -> None:
    proc = run_cli("metric", "csat", "--from", "yesterday", "--to", "2026-01-01")
    assert proc.returncode == 2 and "not a date" in proc.stderr


@pytest.mark.parametrize("args", [("metric", "csat", "--period", "fortnight"), ("metric",),
                                  ("metric", "csat", "--format", "yaml"), ("nonsense",), ("churn", "fit", "--as-of")])
def test_wrong_arguments_say_so_in_one_line(args: tuple[str, ...]) -> None:
    proc = run_cli(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "error:" in lines[0] and "--help" in lines[0], proc.stderr


def test_grouped_output_names_codes_and_keeps_the_datas_order(duck: str, capsys, monkeypatch) -> None:
    """Issue 14: ``--by channel --lang zh`` prints the stored name beside the code (``channel_name``),
    and ``--by priority`` follows the data's order (the ``vocabulary`` table), not the alphabet."""
    import sqlalchemy as sa

    from metrics.model import schema, vocabulary
    from metrics.model.i18n import label

    monkeypatch.setattr(vocabulary, "_STORE", {})  # this copy's names stay in this test
    engine = sa.create_engine(duck)
    v = schema.vocabulary
    with engine.begin() as conn:  # the data's own order (P3 first) and a name of its own for the hotline
        for order, code in enumerate(("P3", "P1", "P2"), start=1):
            conn.execute(v.update().where(v.c.dimension == "priority", v.c.code == code).values(sort_order=order))
        conn.execute(v.update().where(v.c.dimension == "channel", v.c.code == "hotline")
                     .values(label_zh="客服热线（自定）", label_en="Call centre"))
    engine.dispose()

    assert main(["metric", "tickets", "--db", duck, "--by", "priority", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["priority"] for r in records] == ["P3", "P1", "P2"]
    assert list(records[0])[:2] == ["priority", "priority_name"]

    for lang, hotline in (("zh", "客服热线（自定）"), ("en", "Call centre")):
        assert main(["metric", "tickets", "--db", duck, "--by", "channel", "--lang", lang, "--format", "json"]) == 0
        records = json.loads(capsys.readouterr().out)
        names = {r["channel"]: r["channel_name"] for r in records}
        assert names["hotline"] == hotline  # the code stays in `channel`, the stored name beside it
        assert all(n == label("channel", c, lang) for c, n in names.items())
        assert [r["channel"] for r in records] == theme_order("channel", names)

    # two dimensions: each gets its name; rows by region, then priority in the data's order
    assert main(["metric", "tickets", "--db", duck, "--by", "city", "--by", "priority", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("region_id,region_name,priority,priority_name,value")
    first_city = [line.split(",")[2] for line in out[1:] if line.split(",")[0] == out[1].split(",")[0]]
    assert first_city == [p for p in ("P3", "P1", "P2") if p in first_city]


def theme_order(dim: str, codes) -> list[str]:
    from metrics.present.theme import order

    return order(dim, list(codes))
