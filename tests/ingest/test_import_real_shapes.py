"""Real extracts load as they are (issue 14, items 3, 5, 7 and the validator fixes of item 4).

Generated files shaped like an operator's own exports — English values in any case, dd-mm-yy dates
and 12-hour times, no first-contact-resolution columns, a survey export whose ticket ids partly
do not exist, a customer snapshot with tenure and a churn flag — go through the documented path
(``servicewatch import`` with a mapping file) with no pre-processing outside the product. What
is stored is compared with an independent pandas computation on the raw generated frame.

The shared PostgreSQL and MariaDB databases are left as found: ids from ``FIRST_ID`` up are
deleted afterwards and sw_meta / import_log restored (tests/db_snapshot.py for tickets; the
surveys and customers of this module are removed here first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import left_as_found, read

from metrics.backends.connect import make_engine
from metrics.backends.swap import writable
from metrics.ingest.importer import MappingError, import_file, load_mapping
from metrics.ingest.importer.rejects import rejects_path_for
from metrics.model import schema
from metrics.present import files as outputs

FIRST_ID = 47_000_000
SERVICEWATCH = [sys.executable, "-m", "metrics.cli.main"]
SNAPSHOT = dt.date(2026, 2, 28)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SERVICEWATCH, *args], capture_output=True, text=True, timeout=180)


@contextlib.contextmanager
def cleaned(url: str) -> Iterator[None]:
    """Remove this module's surveys and customers (ids >= FIRST_ID), then the tickets and the rest
    as tests/db_snapshot.py does."""
    with left_as_found(url, FIRST_ID):
        try:
            yield
        finally:
            with writable(url) as engine, engine.begin() as conn:
                conn.execute(schema.surveys.delete().where(schema.surveys.c.survey_id >= FIRST_ID))
                conn.execute(schema.customers.delete().where(schema.customers.c.customer_id >= FIRST_ID))


# -- the extracts ---------------------------------------------------------------------------------
def helpdesk_tickets(demo_frames: dict, n: int = 60, seed: int = 3) -> pd.DataFrame:
    """A helpdesk export: English values in mixed case, dd-mm-yy dates with 12-hour times, no FCR,
    reopen, escalation or compensation columns, a few rows with a problem."""
    rng = np.random.default_rng(seed)
    cust = demo_frames["customers"]["customer_id"].to_numpy()
    opened = pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 200 * 24 * 60, n), unit="min")
    hours = rng.integers(1, 96, n)
    resolved = opened + pd.to_timedelta(hours, unit="h")
    channels = rng.choice(["HOTLINE", "Hotline", "hotline", "Web / App", "hall"], n)
    df = pd.DataFrame({
        "Ticket ID": np.arange(FIRST_ID, FIRST_ID + n),
        "Customer": rng.choice(cust, n),
        "Source": channels,
        "Type": rng.choice(["Complaint", "FAULT", "request"], n),
        "Topic": rng.choice(["Billing", "network_quality", "FAULT_REPAIR"], n),
        "Priority": rng.choice(["p1", "P2", "p3"], n),
        "Created": opened.strftime("%d-%m-%y %I:%M:%S %p"),
        "Closed": resolved.strftime("%d-%m-%y %I:%M:%S %p"),
    })
    df.loc[3, "Created"] = "2025-06-03 10:00"  # not in the file's format: not_datetime
    # a new channel (a tickets file may introduce one, issue 14 item 4) longer than the column (24)
    df.loc[7, "Source"] = "carrier pigeon via the old tower"
    df.loc[n - 1, "Closed"] = ""  # still open
    return df


TICKET_MAPPING = """\
columns:
  Ticket ID: ticket_id
  Customer: customer_id
  Source: channel
  Type: kind
  Topic: category
  Priority: priority
  Created: opened_at
  Closed: resolved_at
values:
  channel:
    hall: service_hall
formats:
  opened_at: "%d-%m-%y %I:%M:%S %p"
  resolved_at: "%d-%m-%y %I:%M:%S %p"
"""


def expected_tickets(raw: pd.DataFrame) -> pd.DataFrame:
    """The rows that should load, typed by hand (pandas, not the importer)."""
    ok = raw.drop(index=[3, 7]).copy()
    fmt = "%d-%m-%y %I:%M:%S %p"
    channel = ok["Source"].str.lower().replace({"web / app": "web_app", "hall": "service_hall"})
    return pd.DataFrame({
        "ticket_id": ok["Ticket ID"].astype("int64"), "customer_id": ok["Customer"].astype("int64"),
        "channel": channel, "kind": ok["Type"].str.lower(), "category": ok["Topic"].str.lower(),
        "priority": ok["Priority"].str.upper(),
        "opened_at": pd.to_datetime(ok["Created"], format=fmt),
        "resolved_at": pd.to_datetime(ok["Closed"].replace("", None), format=fmt),
    }).sort_values("ticket_id").reset_index(drop=True)


def stored_tickets(url: str) -> pd.DataFrame:
    t = schema.tickets
    return read(url, sa.select(t).where(t.c.ticket_id >= FIRST_ID).order_by(t.c.ticket_id))


def test_helpdesk_export_loads_as_it_is(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    raw = helpdesk_tickets(demo_frames)
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(TICKET_MAPPING, encoding="utf-8")
    with left_as_found(db_url, FIRST_ID):
        run = cli("import", "tickets", str(path), "--db", db_url, "--mapping", str(mapping))
        got = stored_tickets(db_url)
    assert run.returncode == 3, (run.stdout, run.stderr)
    want = expected_tickets(raw)
    assert got["ticket_id"].tolist() == want["ticket_id"].tolist()
    for col in ("customer_id", "channel", "kind", "category", "priority"):
        assert got[col].tolist() == want[col].tolist(), col
    pd.testing.assert_series_equal(pd.to_datetime(got["opened_at"]), want["opened_at"], check_names=False)
    assert (pd.to_datetime(got["resolved_at"]).isna() == want["resolved_at"].isna()).all()
    assert (pd.to_datetime(got["resolved_at"]).dropna() == want["resolved_at"].dropna()).all()
    # missing is not "no": the flags and the amount the file lacks are stored unknown
    for col in ("first_contact_resolved", "reopened", "escalated", "compensation"):
        assert got[col].isna().all(), (col, got[col].unique())
    assert "stored as unknown" in run.stdout and "first_contact_resolved" in run.stdout, run.stdout
    # the rejects file: the two bad rows as they were in the file, with reasons and codes
    rejects = pd.read_csv(rejects_path_for(path), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(rejects.columns) == [*raw.columns, "_row", "_reasons", "_codes"]
    assert rejects["_row"].astype(int).tolist() == [5, 9]  # header = row 1
    assert rejects["_codes"].tolist() == ["not_datetime", "too_long"]  # a new code, too long to store
    original = raw.astype(str).iloc[[3, 7]].reset_index(drop=True)
    pd.testing.assert_frame_equal(rejects[list(raw.columns)], original, check_dtype=False)


def test_corrected_rejects_file_imports_as_it_is(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    raw = helpdesk_tickets(demo_frames, seed=5)
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(TICKET_MAPPING, encoding="utf-8")
    with left_as_found(duck, FIRST_ID):
        first = import_file(duck, "tickets", path, mapping=mapping)
        assert first.rows_rejected == 2 and first.introduced == {}, first.summary()
        fixed = pd.read_csv(rejects_path_for(path), encoding="utf-8-sig", dtype=str, keep_default_na=False)
        fixed.loc[0, "Created"] = raw.loc[2, "Created"]
        fixed.loc[1, "Source"] = "Hotline"
        again = tmp_path / "fixed.csv"
        fixed.to_csv(again, index=False, encoding="utf-8-sig")
        second = import_file(duck, "tickets", again, mapping=mapping)
        assert (second.rows_loaded, second.rows_rejected, second.inserted) == (2, 0, 2), second.summary()
        assert second.unused_headers == []  # _row, _reasons, _codes are the rejects file's own
        assert len(stored_tickets(duck)) == len(raw)


# -- surveys whose tickets partly do not exist ---------------------------------------------------
def test_survey_with_unknown_ticket_loads_without_the_link(db_url: str, tmp_path: Path,
                                                           demo_frames: dict) -> None:
    rng = np.random.default_rng(8)
    tickets = demo_frames["tickets"]
    n = 40
    real = rng.choice(tickets["ticket_id"].to_numpy(), n)
    missing = rng.random(n) < 0.4
    ticket = np.where(missing, 99_000_000 + np.arange(n), real)
    raw = pd.DataFrame({
        "survey_id": np.arange(FIRST_ID, FIRST_ID + n),
        "customer_id": tickets.set_index("ticket_id").loc[real, "customer_id"].to_numpy(),
        "ticket_id": ticket.astype(object), "channel": "HOTLINE", "kind": "Post_Interaction",
        "answered_at": (pd.Timestamp("2025-09-01")
                        + pd.to_timedelta(np.arange(n), unit="h")).strftime("%d/%m/%Y %H:%M"),
        "csat": rng.integers(1, 6, n),
    })
    raw.loc[n - 1, "ticket_id"] = ""  # no ticket named: loads as before, not counted
    path, mapping = tmp_path / "ratings.csv", tmp_path / "ratings.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text('formats:\n  answered_at: "%d/%m/%Y %H:%M"\n', encoding="utf-8")
    with cleaned(db_url):
        run = cli("import", "surveys", str(path), "--db", db_url, "--mapping", str(mapping))
        s = schema.surveys
        got = read(db_url, sa.select(s).where(s.c.survey_id >= FIRST_ID).order_by(s.c.survey_id))
    assert run.returncode == 0, (run.stdout, run.stderr)  # a warning, not a rejection
    assert len(got) == n and not rejects_path_for(path).exists()
    dropped = int(missing[:-1].sum())
    assert f"{dropped} rows name a ticket_id that is not in tickets" in run.stdout, run.stdout
    want = pd.Series(np.where(missing, np.nan, real).astype(float))
    want.iloc[-1] = np.nan
    assert got["ticket_id"].astype(float).tolist() == pytest.approx(want.tolist(), nan_ok=True)
    assert (got["channel"] == "hotline").all() and (got["kind"] == "post_interaction").all()
    assert got["csat"].mean() == pytest.approx(raw["csat"].mean())


# -- a customer snapshot with tenure and a churn flag -------------------------------------------
def snapshot_customers(n: int = 50, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customerID": np.arange(FIRST_ID, FIRST_ID + n),
        "name": [f"C{i:04d}" for i in range(n)],
        "tenure": rng.integers(0, 72, n),
        "Churn": rng.choice(["Yes", "No"], n, p=[0.3, 0.7]),
        "MonthlyCharges": rng.uniform(20, 110, n).round(2),
        "Contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
    })


SNAPSHOT_MAPPING = """\
columns:
  customerID: customer_id
  MonthlyCharges: monthly_revenue
  Contract: tier
  tenure: tenure_months
values:
  tier: {Month-to-month: standard, One year: silver, Two year: gold}
defaults:
  segment: consumer
  region_id: 1
  acquisition_channel: service_hall
"""


def test_customer_snapshot(db_url: str, tmp_path: Path) -> None:
    raw = snapshot_customers()
    path, mapping = tmp_path / "crm.csv", tmp_path / "crm.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(SNAPSHOT_MAPPING, encoding="utf-8")
    with cleaned(db_url):
        run = cli("import", "customers", str(path), "--db", db_url, "--mapping", str(mapping),
                  "--snapshot-date", SNAPSHOT.isoformat())
        c = schema.customers
        got = read(db_url, sa.select(c).where(c.c.customer_id >= FIRST_ID).order_by(c.c.customer_id))
    assert run.returncode == 0, (run.stdout, run.stderr)
    want_start = [(pd.Timestamp(SNAPSHOT) - pd.DateOffset(months=int(m))).date() for m in raw["tenure"]]
    want_end = [SNAPSHOT if c == "Yes" else None for c in raw["Churn"]]
    assert [pd.Timestamp(d).date() for d in got["start_date"]] == want_start
    assert [None if pd.isna(d) else pd.Timestamp(d).date() for d in got["end_date"]] == want_end
    assert got["tier"].tolist() == raw["Contract"].map({"Month-to-month": "standard", "One year": "silver",
                                                        "Two year": "gold"}).tolist()
    assert (got["segment"] == "consumer").all() and (got["region_id"] == 1).all()
    assert got["monthly_revenue"].sum() == pytest.approx(raw["MonthlyCharges"].sum())
    assert "segment=consumer (50)" in run.stdout and "Snapshot import" in run.stdout, run.stdout


def test_snapshot_in_days_on_duckdb(duck: str, tmp_path: Path) -> None:
    raw = snapshot_customers(12, seed=9).rename(columns={"tenure": "tenure_days"})
    raw["tenure_days"] = raw["tenure_days"] * 30 + 1
    raw["Churn"] = raw["Churn"].map({"Yes": "Left", "No": "ACTIVE"})  # the flag in the source's own words
    path, mapping = tmp_path / "crm.csv", tmp_path / "crm.yaml"
    raw.to_csv(path, index=False)
    text = (SNAPSHOT_MAPPING.replace("  tenure: tenure_months\n", "")
            .replace("values:\n", "values:\n  churned: {left: yes, active: no}\n"))  # matched in any case
    mapping.write_text(text, encoding="utf-8")
    r = import_file(duck, "customers", path, mapping=mapping, snapshot_date=SNAPSHOT)
    assert r.rows_loaded == 12, r.summary()
    c = schema.customers
    got = read(duck, sa.select(c).where(c.c.customer_id >= FIRST_ID).order_by(c.c.customer_id))
    want = [SNAPSHOT - dt.timedelta(days=int(d)) for d in raw["tenure_days"]]
    assert [pd.Timestamp(d).date() for d in got["start_date"]] == want
    assert int(got["end_date"].notna().sum()) == int((raw["Churn"] == "Left").sum())


def test_snapshot_needs_tenure_and_churn(duck: str, tmp_path: Path) -> None:
    raw = snapshot_customers(5).drop(columns=["Churn"])
    path, mapping = tmp_path / "crm.csv", tmp_path / "crm.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(SNAPSHOT_MAPPING, encoding="utf-8")
    run = cli("import", "customers", str(path), "--db", duck, "--mapping", str(mapping),
              "--snapshot-date", SNAPSHOT.isoformat())
    assert run.returncode == 1 and "churned" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    run = cli("import", "tickets", str(path), "--db", duck, "--snapshot-date", SNAPSHOT.isoformat())
    assert run.returncode == 1 and "customers" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    run = cli("import", "customers", str(path), "--db", duck, "--snapshot-date", "28-02-2026")
    assert run.returncode == 1 and "--snapshot-date" in run.stderr, run.stderr


# -- the mapping file is checked strictly ---------------------------------------------------------
BAD_MAPPINGS = [
    ("colums:\n  a: ticket_id\n", "unknown key 'colums'"),
    ("columns:\n  Kanal: chanel\n", "'chanel' is not a column of tickets"),
    ("values:\n  chanel: {a: hotline}\n", "values: 'chanel'"),
    ("defaults:\n  opened: 2026-01-01\n", "defaults: 'opened'"),
    ("defaults:\n  compensation: lots\n", "defaults: 'compensation'"),
    ("defaults:\n  ticket_id: 5\n", "defaults: 'ticket_id' is a key"),
    ('formats:\n  opened_at: "%d-%m-%Q"\n', "formats: 'opened_at'"),
    ('formats:\n  opened_at: "%d-%m"\n', "needs a day, a month and a year"),
    ('formats:\n  opened_at: "%d-%m-%y %I:%M"\n', "without %p"),
    ('formats:\n  channel: "%d-%m-%y"\n', "formats: 'channel' is not a date"),
    ("formats: [1, 2]\n", "'formats' must be a map"),
]


@pytest.mark.parametrize(("text", "says"), BAD_MAPPINGS, ids=[b[1][:30] for b in BAD_MAPPINGS])
def test_bad_mapping_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping(path, "tickets")
    assert says in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_bad_mapping_through_the_cli_writes_nothing(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    raw = helpdesk_tickets(demo_frames, 5)
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(TICKET_MAPPING.replace("%S %p", "%S %Q"), encoding="utf-8")
    before = len(stored_tickets(duck))
    run = cli("import", "tickets", str(path), "--db", duck, "--mapping", str(mapping))
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1 and "%Q" in run.stderr, run.stderr
    assert len(stored_tickets(duck)) == before and not rejects_path_for(path).exists()


# -- no silent cascade inside one file ---------------------------------------------------------
def test_child_of_a_rejected_row_is_parent_rejected(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text("region_id,name_en,name_zh,parent_id,level\n"
                    "9301,Bad City,坏市,1,town\n"  # rejected: level
                    "9302,Child,子区,9301,district\n"  # its child: parent_rejected
                    "9303,Grandchild,孙区,9302,district\n"  # and its grandchild
                    "9304,Orphan,孤区,9399,district\n", encoding="utf-8")  # names nothing at all
    r = import_file(duck, "regions", path)
    got = {(int(p.row), p.code) for p in r.problems.itertuples()}
    assert got == {(2, "not_allowed"), (3, "parent_rejected"), (4, "parent_rejected"), (5, "unknown_reference")}
    rejects = pd.read_csv(rejects_path_for(path), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert rejects["_row"].tolist() == ["2", "3", "4", "5"]
    assert "file row 2" in rejects.loc[1, "_reasons"] and rejects.loc[1, "name_zh"] == "子区"


# -- the rejects file is recognised as ours, in the new and the old layout ----------------------
def test_rejects_files_are_ours(tmp_path: Path) -> None:
    new, old, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    new.write_text("\ufeff工单号,\"a,b\",_row,_reasons,_codes\n1,2,3,x,y\n", encoding="utf-8")
    old.write_text("\ufeffrow,column,value,reason,code\n", encoding="utf-8")
    other.write_text("ticket_id,_row\n", encoding="utf-8")
    assert outputs.is_rejects_file(new) and outputs.is_rejects_file(old) and not outputs.is_rejects_file(other)


def test_older_database_with_not_null_flags_takes_unknown(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    """A database made before "missing is not no" declares the flags NOT NULL: the import relaxes
    them (and leaves the shared database as the current schema has it: nullable)."""
    flags = {"first_contact_resolved": "BOOL", "reopened": "BOOL", "escalated": "BOOL", "compensation": "DOUBLE"}
    with writable(db_url) as engine, engine.begin() as conn:
        for col, ty in flags.items():
            if conn.dialect.name in ("mysql", "mariadb"):
                conn.exec_driver_sql(f"ALTER TABLE tickets MODIFY {col} {ty} NOT NULL")
            else:
                conn.exec_driver_sql(f"ALTER TABLE tickets ALTER COLUMN {col} SET NOT NULL")
    raw = helpdesk_tickets(demo_frames, 10)
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(TICKET_MAPPING, encoding="utf-8")
    with left_as_found(db_url, FIRST_ID):
        r = import_file(db_url, "tickets", path, mapping=mapping)
        assert r.rows_loaded == 8, (r.summary(), r.problems.to_string())
        assert stored_tickets(db_url)["first_contact_resolved"].isna().all()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            declared = {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns("tickets")}
    finally:
        engine.dispose()
    assert all(declared[c] for c in flags), declared
