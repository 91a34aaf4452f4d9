"""A line the reader cannot split (``bad_row``, the wrong number of fields) carries its whole text into the
problem list: that text is masked there (the summary, ``servicewatch import --dry-run``, the Data page), as
the customers' own words are everywhere, while the rejects file keeps the line exactly as the source wrote
it, for the user to fix and re-import (the rejects file is the user's own data)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from metrics.cli.common import EXIT_REJECTS
from metrics.cli.main import main
from metrics.ingest.importer import import_file
from metrics.present.masking import mask

HEADER = "ticket_id,customer_id,channel,kind,category,priority,opened_at\n"
PHONE, ID_CARD = "13812345678", "11010519491231002X"
# nine fields under a seven-column header: a stray comma in the note a clerk typed
BROKEN = f"T0009,1,hotline,complaint,billing,P1,2026-03-05 10:00,客户电话{PHONE},身份证{ID_CARD}"
SHORT = f"T0010,1,客户电话{PHONE} 身份证{ID_CARD}"  # a line cut short: three fields
GOOD = "T0008,1,hotline,complaint,billing,P1,2026-03-05 09:00"


@pytest.fixture()
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.csv"
    path.write_text(HEADER + GOOD + "\n" + BROKEN + "\n" + SHORT + "\n", encoding="utf-8")
    return path


def test_the_problem_list_masks_the_line_and_the_rejects_file_keeps_it(duck: str, broken: Path) -> None:
    r = import_file(duck, "tickets", broken)
    assert (r.rows_loaded, r.rows_rejected) == (1, 2), r.summary()
    bad = r.problems[r.problems["code"] == "bad_row"]
    assert bad["row"].astype(int).tolist() == [3, 4]
    for value, line in zip(bad["value"], (BROKEN, SHORT), strict=True):
        assert value == mask(line) and PHONE not in value and ID_CARD not in value and "***" in value
    assert bad["value"].iloc[0].startswith("T0009,1,hotline,complaint")  # the rest of the line, to find it by
    assert bad["value"].iloc[1] == "T0010,1,客户电话*** 身份证***"
    shown = r.problems_text("zh")
    assert not shown["value"].astype(str).str.contains(f"{PHONE}|{ID_CARD}").any()
    # the rejects file: the line as the source wrote it, under the file's headers
    with (broken.parent / "tickets.csv.rejects.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == HEADER.strip().split(",") + ["_row", "_reasons", "_codes"]
    assert len(rows) == 3 and [r[-3] for r in rows[1:]] == ["3", "4"] and {r[-1] for r in rows[1:]} == {"bad_row"}
    assert ",".join(rows[1][:-3]) == BROKEN  # the extra fields joined into the last column, as read
    assert rows[2][:3] == SHORT.split(",") and not any(rows[2][3:-3])  # the missing fields left empty


def test_servicewatch_import_dry_run_prints_the_line_masked(duck: str, broken: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for lang in ("en", "zh"):
        assert main(["import", "tickets", str(broken), "--db", duck, "--dry-run", "--lang", lang]) == EXIT_REJECTS
        out = capsys.readouterr().out
        assert "T0009,1,hotline" in out and "T0010,1,客户电话*** 身份证***" in out, out
        assert PHONE not in out and ID_CARD not in out, out
    assert not (broken.parent / "tickets.csv.rejects.csv").exists()  # a dry run writes none


def test_servicewatch_import_writes_the_rejects_file_as_read(duck: str, broken: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "tickets", str(broken), "--db", duck]) == EXIT_REJECTS
    out = capsys.readouterr().out
    assert PHONE not in out and ID_CARD not in out, out
    text = (broken.parent / "tickets.csv.rejects.csv").read_text(encoding="utf-8-sig")
    assert PHONE in text and ID_CARD in text  # the user's own data, to fix
