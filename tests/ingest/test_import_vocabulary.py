"""Vocabularies are data (issue 14, item 4): a helpdesk extract with four English priorities
(Low/Medium/High/Critical), its own channels (email, chat, phone) and a ``labels:`` section loads
through ``servicewatch import`` as it is, on DuckDB, PostgreSQL and MariaDB; the summary lists the
new codes, the figures by priority come in the data's order and the labels are what is shown."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import left_as_found, read

from metrics import Filters, Warehouse
from metrics.backends.swap import writable
from metrics.ingest.importer import MappingError, import_file, load_mapping
from metrics.model import i18n, schema, vocabulary
from metrics.present import theme

sys.path.insert(0, str(Path(__file__).parents[1]))
from page_helpers import open_page  # noqa: E402

FIRST_ID = 48_000_000
SERVICEWATCH = [sys.executable, "-m", "metrics.cli.main"]
PRIORITIES = ["Low", "Medium", "High", "Critical"]
CHANNELS = ["email", "chat", "phone"]

MAPPING = """\
columns:
  Ticket: ticket_id
  Customer: customer_id
  Channel: channel
  Type: kind
  Topic: category
  Priority: priority
  Created: opened_at
  Closed: resolved_at
  Due: resolution_due_at
values:
  kind:
    Incident: fault
    Service Request: request
    Question: inquiry
labels:
  priority:
    Critical: {zh: 紧急, en: Critical, order: 1}
    High: {zh: 高, en: High, order: 2}
    Medium: {zh: 中, en: Medium, order: 3}
    Low: {zh: 低, en: Low, order: 4}
  channel:
    email: {zh: 电子邮件, en: E-mail}
    chat: {zh: 在线客服, en: Chat}
"""


def helpdesk(demo_frames: dict, n: int = 120, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2026-04-02") + pd.to_timedelta(rng.integers(0, 150 * 24 * 60, n), unit="min")
    return pd.DataFrame({
        "Ticket": np.arange(FIRST_ID, FIRST_ID + n),
        "Customer": rng.choice(demo_frames["customers"]["customer_id"].to_numpy(), n),
        "Channel": rng.choice(CHANNELS, n),
        "Type": rng.choice(["Incident", "Service Request", "Question"], n),
        "Topic": rng.choice(["billing", "Login problems"], n),
        "Priority": rng.choice(PRIORITIES, n),
        "Created": opened.strftime("%Y-%m-%d %H:%M:%S"),
        "Closed": (opened + pd.to_timedelta(rng.integers(1, 72, n), unit="h")).strftime("%Y-%m-%d %H:%M:%S"),
        "Due": (opened + pd.Timedelta(hours=36)).strftime("%Y-%m-%d %H:%M:%S"),
    })


@contextlib.contextmanager
def vocabulary_as_found(url: str) -> Iterator[None]:
    """The tickets as db_snapshot leaves them, and the vocabulary table restored row for row."""
    before = read(url, sa.select(schema.vocabulary))
    try:
        with left_as_found(url, FIRST_ID):
            yield
    finally:
        with writable(url) as engine, engine.begin() as conn:
            conn.execute(schema.vocabulary.delete())
            if len(before):
                conn.execute(schema.vocabulary.insert(), before.astype(object).where(before.notna(), None)
                             .to_dict("records"))
        vocabulary.clear()


def test_helpdesk_vocabulary_loads_with_labels_and_order(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    raw = helpdesk(demo_frames)
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(MAPPING, encoding="utf-8")
    with vocabulary_as_found(db_url):
        run = subprocess.run([*SERVICEWATCH, "import", "tickets", str(path), "--db", db_url,
                              "--mapping", str(mapping)], capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, (run.stdout, run.stderr)
        for code in [*PRIORITIES, *CHANNELS, "Login problems"]:  # the summary lists the new codes
            assert f"={code} (" in run.stdout, (code, run.stdout)
        t = schema.tickets
        got = read(db_url, sa.select(t.c.channel, t.c.priority, t.c.kind).where(t.c.ticket_id >= FIRST_ID))
        assert sorted(got["priority"].unique()) == sorted(PRIORITIES)
        assert sorted(got["channel"].unique()) == sorted(CHANNELS)
        assert set(got["kind"]) == {"fault", "request", "inquiry"}
        v = schema.vocabulary
        stored = read(db_url, sa.select(v).where(v.c.dimension.in_(["priority", "channel"])))
        stored = stored.set_index(["dimension", "code"])
        assert stored.loc[("priority", "Critical"), "label_zh"] == "紧急"
        assert int(stored.loc[("priority", "Low"), "sort_order"]) == 4
        assert stored.loc[("channel", "email"), "label_en"] == "E-mail"
        assert ("channel", "phone") in stored.index  # a new code without labels is stored too

        vocabulary.clear()
        wh = Warehouse.open(db_url)
        try:
            f = Filters(start=date(2026, 4, 1), end=date(2026, 9, 30))
            by_priority = wh.metric("tickets", f, ("priority",))
            # the same figures as pandas, grouped by the new codes, in the data's order
            want = raw.groupby("Priority").size()
            ours = by_priority.set_index("priority")["value"]
            for code in PRIORITIES:
                assert ours[code] == want[code]
            shown = [c for c in theme.order("priority", ours.index.tolist()) if c in PRIORITIES]
            assert shown == ["Critical", "High", "Medium", "Low"]  # the labels' order, not the alphabet
            assert i18n.label("priority", "Critical", "zh") == "紧急"
            assert i18n.label("channel", "email", "en") == "E-mail"
            assert i18n.label("channel", "email", "zh") == "电子邮件"
            assert i18n.label("channel", "phone", "zh") == "phone"  # no label: the code, never a key
            assert i18n.label("category", "Login problems", "en") == "Login problems"
        finally:
            wh.engine.dispose()


def test_unmapped_kind_is_not_allowed_with_the_four_listed(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    raw = helpdesk(demo_frames, n=10)
    raw.loc[2, "Type"] = "Feedback"
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(MAPPING, encoding="utf-8")
    r = import_file(duck, "tickets", path, mapping=mapping, dry_run=True)
    problems = r.problems
    row = problems[problems["column"] == "kind"]
    assert row["code"].tolist() == ["not_allowed"]
    detail = str(row["detail"].iloc[0])
    for kind in schema.TICKET_KINDS:
        assert kind in detail


@pytest.mark.parametrize("text, says", [
    ("labels:\n  colour: {red: {zh: 红}}\n", "not a vocabulary"),
    ("labels:\n  priority: {Critical: {zh: 紧急, shade: dark}}\n", "must be a map of zh, en, order"),
    ("labels:\n  priority: {Critical: {order: first}}\n", "order must be a whole number"),
])
def test_bad_labels_are_one_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=says):
        load_mapping(path, "tickets")


def test_new_code_has_a_stable_colour_by_its_code() -> None:
    assert theme.colour("channel", "email", 0) == theme.colour("channel", "email", 5)
    assert theme.colour("priority", "Critical", 1) == theme.colour("priority", "Critical", 3)
    assert theme.colour("tier", "gold") == "#d4a017"  # the demo's colours are kept


def test_demo_fills_the_vocabulary(demo_frames: dict) -> None:
    v = demo_frames["vocabulary"]
    tiers = v[v["dimension"] == "tier"].sort_values("sort_order")
    assert tiers["code"].tolist() == vocabulary.section_codes(i18n.catalogue(), "tier")
    assert tiers["label_zh"].notna().all() and tiers["label_en"].notna().all()


def test_sla_page_shows_the_labels_in_the_data_order(duck: str, tmp_path: Path, demo_frames: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    raw = helpdesk(demo_frames, n=300)
    path, mapping = tmp_path / "helpdesk.csv", tmp_path / "helpdesk.yaml"
    raw.to_csv(path, index=False)
    mapping.write_text(MAPPING, encoding="utf-8")
    assert import_file(duck, "tickets", path, mapping=mapping).rows_rejected == 0
    monkeypatch.setenv("SERVICEWATCH_DB", duck)
    vocabulary.clear()
    try:
        at = open_page("pages/3_SLA.py", query={"from": "2026-04-01", "to": "2026-09-30"})
        at.segmented_control(key="_w_choice_cut").set_value("priority").run()
        assert not at.exception, [e.value for e in at.exception]
        shown: list[str] = []
        for chart in at.get("plotly_chart"):
            spec = json.loads(chart.proto.spec)
            for trace in spec["data"]:
                for values in (trace.get("y"), trace.get("x")):  # numbers may come as typed arrays (dicts)
                    shown += [str(v) for v in values] if isinstance(values, list) else []
        labels = ["紧急", "高", "中", "低"]
        assert all(x in shown for x in labels), shown
        assert [x for x in shown if x in labels][:4] == labels  # the data's order
    finally:
        vocabulary.clear()
