"""Nothing misread (issue 12): keys are read as the text they are, integers fit their column, dates
and times are plausible and checked field by field, text holds no control characters, and one
implausible value already in the database does not move the as-of date.

Each case is a class of defect; the cases are variants of the examples the issue found (``1e3``
overwriting ticket 1000, ``99999`` read as an Excel serial day in 2173, ``25:61`` rolling into the
next day, a NUL byte refused by PostgreSQL) and others of the same class."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.ingest.importer import import_file
from metrics.ingest.importer.parse import control_characters, key_problems, parse
from metrics.ingest.load import refresh_derived
from metrics.model import plausible, schema

HEADER = "ticket_id,customer_id,channel,kind,category,priority,opened_at\n"
GOOD = "{id},1,hotline,complaint,billing,P1,2026-03-05 10:00\n"


def _tickets(duck: str, ids: list[int]) -> pd.DataFrame:
    engine = make_engine(duck, read_only=True)
    try:
        t = schema.tickets
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(sa.select(t).where(t.c.ticket_id.in_(ids))).mappings().all())
    finally:
        engine.dispose()


def _codes(result: object) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for r in result.problems.itertuples():
        out.setdefault(int(r.row), set()).add(r.code)
    return out


@pytest.mark.parametrize(("key", "code"), [
    ("1e3", "mangled_number"), ("1.23457E+11", "mangled_number"), ("1,2E+5", "mangled_number"),
    ("1000.0", "mangled_number"), ("1,000", "mangled_number"), ("+1000", "mangled_number"),
    # text keys (issue 14 item 1): loaded as written, never as ticket 1000
    ("¥1000", None), ("0x3E8", None), ("99999999999", None), ("2147483648", None), ("01000", None),
])
def test_a_key_is_never_reread_as_another(duck: str, tmp_path: Path, key: str, code: str | None) -> None:
    before = _tickets(duck, [1000])
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD.format(id=10_000_001) + GOOD.format(id=f'"{key}"'), encoding="utf-8")
    r = import_file(duck, "tickets", path)
    if code is None:
        assert r.rows_loaded == 2 and not _codes(r), r.summary()
        engine = make_engine(duck)
        try:
            with engine.connect() as conn:
                ids = conn.execute(sa.select(schema.source_keys.c.id).where(
                    schema.source_keys.c.entity == "tickets", schema.source_keys.c.key == key)).scalars().all()
        finally:
            engine.dispose()
        assert len(ids) == 1 and ids[0] < 0  # its own row, named as written
    else:
        assert r.rows_loaded == 1 and _codes(r) == {3: {code}}, r.summary()
    pd.testing.assert_frame_equal(_tickets(duck, [1000]), before)  # ticket 1000 untouched
    if code == "mangled_number":
        assert "ticket_id" in r.mangled and any("scientific" in line for line in r.summary("en"))


def test_keys_written_as_digits_still_load(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD.format(id=" 10000001 ") + GOOD.format(id="１００００００２"), encoding="utf-8")
    r = import_file(duck, "tickets", path)
    assert (r.rows_loaded, r.rows_rejected) == (2, 0), r.summary()
    assert sorted(_tickets(duck, [10_000_001, 10_000_002])["ticket_id"]) == [10_000_001, 10_000_002]


def test_reference_columns_are_keys_too(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "10000001,1e0,hotline,complaint,billing,P1,2026-03-05 10:00\n", encoding="utf-8")
    r = import_file(duck, "tickets", path)
    assert _codes(r) == {2: {"mangled_number"}} and r.rows_loaded == 0


def test_key_parser_on_typed_cells() -> None:
    bad, sci = key_problems(pa.array([1000.0, 1000.5, 2.0**60, None]))  # number cells of Excel or Parquet
    assert bad.tolist() == [False, True, True, False] and not sci.any()
    bad, _ = key_problems(pa.array([1, 2, None], pa.int64()))
    assert not bad.any()


@pytest.mark.parametrize(("opened", "code"), [
    ("2026-03-05 25:61", "not_datetime"), ("2026-03-05 24:00", "not_datetime"), ("2026/3/5 23:60", "not_datetime"),
    ("2026年3月5日 10时75分", "not_datetime"), ("2026-02-30 10:00", "not_datetime"),
    ("2173-10-13", "implausible_date"), ("99999", "implausible_date"), ("1899-12-31", "implausible_date"),
    ("1989-12-31 23:59", "implausible_date"), ("9999-12-31", "implausible_date"),
])
def test_implausible_dates_and_times_are_rejected(duck: str, tmp_path: Path, opened: str, code: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + GOOD.format(id=10_000_001) + f'10000002,1,hotline,complaint,billing,P1,"{opened}"\n',
                    encoding="utf-8")
    r = import_file(duck, "tickets", path)
    assert r.rows_loaded == 1 and _codes(r) == {3: {code}}, r.summary()


def test_times_are_read_field_by_field() -> None:
    out, bad = parse(pa.array(["2026/3/5 23:59", "2026/3/5 23:59:59", "2026/3/5 0:00", "2026/3/5 23:59:60"]),
                     "datetime")
    assert bad.tolist() == [False, False, False, True]
    assert out.to_pylist()[:3] == [dt.datetime(2026, 3, 5, 23, 59), dt.datetime(2026, 3, 5, 23, 59, 59),
                                   dt.datetime(2026, 3, 5)]


def test_due_times_may_lie_ahead_events_may_not(duck: str, tmp_path: Path) -> None:
    ahead = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    path = tmp_path / "t.csv"
    path.write_text(HEADER.rstrip("\n") + ",resolution_due_at\n"
                    f"10000001,1,hotline,complaint,billing,P1,2026-03-05 10:00,{ahead} 10:00\n"
                    f"10000002,1,hotline,complaint,billing,P1,{ahead} 10:00,{ahead} 12:00\n", encoding="utf-8")
    r = import_file(duck, "tickets", path)
    assert r.rows_loaded == 1 and _codes(r) == {3: {"implausible_date"}}, r.summary()


def test_the_window_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plausible.EARLIEST_ENV, "2000-01-01")
    monkeypatch.setenv(plausible.FUTURE_ENV, "10")
    w = plausible.window("tickets", "opened_at", today=dt.date(2026, 1, 1))
    assert (w.earliest, w.latest) == (dt.date(2000, 1, 1), dt.date(2026, 1, 11))
    monkeypatch.setenv(plausible.FUTURE_ENV, "-3")
    with pytest.raises(plausible.SettingError, match=plausible.FUTURE_ENV):
        plausible.window()


@pytest.mark.parametrize("text", ["计费\x00", "a\x07b", "\x1b[31mred", "x\x7f"])
def test_control_characters_are_rejected(duck: str, tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes((HEADER + GOOD.format(id=10_000_001)
                      + f'10000002,1,hotline,complaint,"{text}",P1,2026-03-05 10:00\n').encode("utf-8"))
    r = import_file(duck, "tickets", path)
    assert r.rows_loaded == 1 and _codes(r) == {3: {"bad_character"}}, r.summary()


def test_tabs_and_line_breaks_are_text() -> None:
    assert control_characters(pa.array(["one\ttwo", "line\nbreak", "crlf\r\n", None])).tolist() == [False] * 4


def test_one_implausible_row_in_the_database_does_not_move_the_as_of(duck: str) -> None:
    engine = make_engine(duck)
    try:
        with engine.connect() as conn:
            as_of = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == "as_of")).scalar_one()
            row = dict(conn.execute(sa.select(schema.tickets).limit(1)).mappings().one())
        row.update(ticket_id=10_000_001, opened_at=dt.datetime(2173, 10, 13), resolved_at=None, first_response_at=None,
                   response_due_at=None, resolution_due_at=None, revisited_at=None)
        with engine.begin() as conn:  # as another tool (or an older version) may have written it
            conn.execute(schema.tickets.insert(), [row])
        refresh_derived(engine)
        with engine.connect() as conn:
            meta = dict(conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).all())
            months = conn.execute(sa.select(sa.func.max(schema.calendar_months.c.month_start))).scalar_one()
    finally:
        engine.dispose()
    assert meta["as_of"] == as_of
    assert meta["as_of_ignored"] == "1" and meta["as_of_source"] and meta["as_of_limit"]
    assert months <= dt.date.fromisoformat(as_of)
