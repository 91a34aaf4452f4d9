"""Every CSV and Excel writer escapes formula prefixes (issue 12): ``metrics.present.cells`` is the one escape,
used by the dashboard's CSV/Excel downloads and every ``--format csv`` of the CLI; the importer's
rejects file keeps its own (checked here too)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import changed_copy
from hypothesis import given
from hypothesis import strategies as st

from metrics.present.cells import FORMULA_START, safe_cell, safe_frame

HYPERLINK = '=HYPERLINK("http://evil.example","x")'
SUM = "+SUM(1,2)"
HOSTILE = (HYPERLINK, SUM, "-2+3", "@SUM(A1)", "\t=1", "\r=1")


def _dangerous(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: starts with a formula prefix and is not a plain number."""
    if not cell.startswith(FORMULA_START):
        return False
    try:
        float(cell)
        return False
    except ValueError:
        return True


def _csv_cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")) for c in row]


# -- the function -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE)
def test_safe_cell(value: str) -> None:
    assert safe_cell(value) == "'" + value.replace("\r", "\n")
    assert safe_cell("a\r=1") == "a\n=1"  # a lone CR would start a new row in a spreadsheet
    assert safe_cell("ok") == "ok" and safe_cell(-2.5) == -2.5 and safe_cell(None) is None


@given(st.lists(st.text(max_size=12), min_size=1, max_size=6))
def test_safe_frame_any_text(values: list[str]) -> None:
    for dtype in (object, "string", "category"):
        df = pd.DataFrame({"name": pd.Series(values, dtype=dtype), "n": range(len(values))})
        out = safe_frame(df)
        assert not any(_dangerous(str(v)) for v in out["name"] if isinstance(v, str))
        assert list(out["n"]) == list(range(len(values)))  # numbers untouched


@given(st.lists(st.text(alphabet=st.sampled_from("=+-@\t\r\n,\"'a1 "), max_size=10), min_size=1, max_size=6))
def test_written_csv_has_no_formula_cell(values: list[str]) -> None:
    """As the CLI writes it (``safe_frame(df).to_csv``): no cell of the file, as a reader splits it, is
    a formula, even when a value holds line breaks or a lone carriage return."""
    text = safe_frame(pd.DataFrame({"v": values})).to_csv(index=False)
    assert not [c for c in _csv_cells(text) if _dangerous(c)], text


def test_safe_frame_headers_and_numbers() -> None:
    df = pd.DataFrame({SUM: [HYPERLINK], "value": [-1.5], "when": pd.to_datetime(["2026-01-01"])})
    out = safe_frame(df)
    assert list(out.columns) == ["'" + SUM, "value", "when"]
    assert out.iloc[0, 0] == "'" + HYPERLINK and out["value"].iloc[0] == -1.5


# -- the dashboard's writers ------------------------------------------------------------------
def test_dashboard_csv_and_excel() -> None:
    from metrics.present.export import to_csv, to_excel

    df = pd.DataFrame({"name": list(HOSTILE), "category": pd.Series(list(HOSTILE), dtype="string"),
                       "n": range(len(HOSTILE))})
    cells = _csv_cells(to_csv(df).decode("utf-8-sig"))
    assert not any(_dangerous(c) for c in cells) and "'" + HYPERLINK in cells
    wb = openpyxl.load_workbook(io.BytesIO(to_excel(df)))
    values = [c for row in wb.active.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in values)
    assert not any(_dangerous(str(c.value)) for c in values if isinstance(c.value, str))


# -- the command line -------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metrics.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def hostile_db(fitted_duckdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The fitted demo with formulas for names: two categories, a city, every customer and manager."""
    from metrics.model import schema as s

    def formulas(conn: sa.Connection) -> None:
        cats = conn.execute(sa.select(s.tickets.c.category).distinct().order_by(s.tickets.c.category)).scalars().all()
        for cat, bad in zip(cats, (HYPERLINK, SUM), strict=False):
            conn.execute(sa.update(s.tickets).where(s.tickets.c.category == cat).values(category=bad))
        conn.execute(sa.update(s.regions).where(s.regions.c.region_id == 2).values(name_en=SUM, name_zh=HYPERLINK))
        conn.execute(sa.update(s.customers).values(name=HYPERLINK))
        conn.execute(sa.update(s.account_managers).values(name=SUM))

    return changed_copy(fitted_duckdb_url, tmp_path_factory.mktemp("cells") / "sw.duckdb", formulas, rollups=True)


@pytest.mark.parametrize("argv", [
    ("metric", "tickets", "--by", "category", "--period", "last_12_months"),
    ("metric", "tickets", "--by", "category", "--with-comparison"),
    ("regions",),
    ("churn", "scores", "--top", "20"),
])
def test_cli_csv_escapes_formulas(argv: tuple[str, ...], hostile_db: str) -> None:
    r = _cli(*argv, "--db", hostile_db, "--format", "csv")
    assert r.returncode == 0, r.stderr
    cells = _csv_cells(r.stdout)
    assert not [c for c in cells if _dangerous(c)], r.stdout[:500]
    assert any(c in ("'" + HYPERLINK, "'" + SUM) for c in cells), r.stdout[:500]


def test_importer_rejects_file_escapes_formulas(duck: str, tmp_path: Path) -> None:
    from metrics.ingest.importer import import_file

    src = tmp_path / "regions.csv"
    src.write_text("region_id,name_en,name_zh,parent_id,level\n"
                   f'x1,"{HYPERLINK.replace(chr(34), chr(34) * 2)}",{SUM},1,city\n', encoding="utf-8")
    rejects = tmp_path / "out.rejects.csv"
    result = import_file(duck, "regions", src, rejects=rejects)
    assert result.rows_rejected >= 1
    cells = _csv_cells(rejects.read_text(encoding="utf-8-sig"))
    assert not [c for c in cells if _dangerous(c)], cells
