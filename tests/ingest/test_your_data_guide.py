"""docs/your-data.md walked as a new user would: the example extracts in docs/examples/ are generated
here (deterministic; the committed files must equal the generator's output), imported with the
guide's own commands and mapping files on a fresh DuckDB file in a temporary folder, the rejects
files corrected and imported again, and every figure the guide quotes checked against an independent
pandas computation on the raw example file."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
CLI = str(Path(sys.executable).with_name("servicewatch"))
SNAPSHOT_DATE = date(2026, 11, 30)


# ---------------------------------------------------------------- the example extracts (generated)

def crm_snapshot(n: int = 200, seed: int = 14, broken: bool = True) -> pd.DataFrame:
    """A CRM customer snapshot shaped like the public telco churn extract: text customer ids, tenure in
    months, contract type, payment method, monthly charges, Churn Yes/No. The CRM's own ``customerID``
    (``7590-VHVEG``) is the key, loaded as it is. Two rows are broken on purpose (empty tenure, ``n/a``
    charges)."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.22, 0.23])
    tenure = np.where(contract == "Month-to-month", np.ceil(rng.exponential(15, n)),
                      np.where(contract == "One year", rng.integers(1, 73, n), 73 - np.ceil(rng.exponential(20, n))))
    tenure = np.clip(tenure, 1, 72).astype(int)
    charges = np.round(rng.uniform(19, 115, n), 2)
    logit = 0.2 + np.select([contract == "One year", contract == "Two year"], [-1.2, -2.4], 0.0) - 0.03 * tenure \
        + 0.01 * (charges - 65)
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    ids = [f"{rng.integers(1000, 9999)}-{''.join(rng.choice(letters, 5))}" for _ in range(n)]
    df = pd.DataFrame({
        "customerID": ids,
        "gender": rng.choice(["Female", "Male"], n),
        "tenure": tenure.astype(str), "Contract": contract,
        "PaymentMethod": rng.choice(["Electronic check", "Mailed check", "Bank transfer (automatic)",
                                     "Credit card (automatic)"], n),
        "MonthlyCharges": [f"{c:.2f}" for c in charges], "Churn": np.where(churn, "Yes", "No"),
    })
    if broken:
        df.loc[17, "tenure"] = ""             # missing tenure: rejected (missing)
        df.loc[58, "MonthlyCharges"] = "n/a"  # not a number: rejected (not_number)
    return df




def helpdesk(n: int = 160, seed: int = 14, broken: bool = True) -> pd.DataFrame:
    """A helpdesk ticket export (Zendesk-like): integer ticket and requester ids (some requesters open
    several tickets), English values, a four-level priority, dd-mm-yy dates with 12-hour times, a
    satisfaction rating on most solved tickets, no first-contact-resolution column. Two rows are
    broken on purpose (31 February; a first response a day before the ticket was created)."""
    rng = np.random.default_rng(seed)
    requester = rng.integers(5001, 5001 + int(n * 0.75), n)
    opened = [datetime(2026, 6, 1, 8) + timedelta(minutes=int(m)) for m in rng.integers(0, 150 * 24 * 60, n)]
    status = rng.choice(["Closed", "Closed", "Closed", "Open", "Pending"], n)
    first = [o + timedelta(minutes=int(m)) for o, m in zip(opened, rng.integers(5, 600, n), strict=True)]
    resolved = [o + timedelta(minutes=int(m)) if s == "Closed" else None
                for o, s, m in zip(opened, status, rng.integers(30, 7 * 24 * 60, n), strict=True)]
    rating = [str(int(r)) if s == "Closed" and rng.random() < 0.85 else ""
              for s, r in zip(status, rng.choice([1, 2, 3, 4, 5], n, p=[0.12, 0.13, 0.2, 0.3, 0.25]), strict=True)]

    def fmt(t: datetime | None) -> str:
        return "" if t is None else t.strftime("%d-%m-%y %I:%M:%S %p").replace(" 0", " ", 1)

    df = pd.DataFrame({
        "Ticket ID": np.arange(1001, 1001 + n), "Requester ID": requester,
        "Requester": [f"customer{r}@example.com" for r in requester],
        "Ticket Type": rng.choice(["Technical issue", "Billing inquiry", "Refund request", "Product inquiry",
                                   "Cancellation request"], n),
        "Ticket Subject": rng.choice(["Network problem", "Billing", "Hardware issue", "Tariff question",
                                      "Account access"], n),
        "Ticket Status": status,
        "Ticket Priority": rng.choice(["Low", "Medium", "High", "Critical"], n, p=[0.3, 0.35, 0.25, 0.1]),
        "Ticket Channel": rng.choice(["Email", "Chat", "Social media", "Phone"], n),
        "Created": [fmt(t) for t in opened], "First Response": [fmt(t) for t in first],
        "Solved": [fmt(t) for t in resolved], "Customer Satisfaction Rating": rating,
        "Customer Since": [f"{2019 + int(y)}-{int(m):02d}-01" for y, m in zip(
            rng.integers(0, 7, n), rng.integers(1, 13, n), strict=True)],
    })
    if broken:
        df.loc[20, "Created"] = "31-02-26 10:15:00 AM"               # no such day: not_datetime
        df.loc[41, "First Response"] = fmt(opened[41] - timedelta(days=1))  # before Created: before
    return df




def complaint_log(n: int = 120, seed: int = 14, broken: bool = True) -> pd.DataFrame:
    """A regulator-style (12300) complaint log in Chinese: the regulator's appeal number and the
    operator's ticket number, no customer id, city names, Chinese categories and channels, dates as
    2026/9/3. One row is broken on purpose (受理日期 2026/13/02)."""
    rng = np.random.default_rng(seed)
    opened = [date(2026, 6, 1) + timedelta(days=int(d)) for d in rng.integers(0, 170, n)]
    days = rng.choice([1, 2, 3, 5, 7, 10, 14, 16, 20], n, p=[0.15, 0.2, 0.2, 0.15, 0.1, 0.08, 0.05, 0.04, 0.03])
    closed = [o + timedelta(days=int(d)) if o + timedelta(days=int(d)) <= date(2026, 11, 30) else None
              for o, d in zip(opened, days, strict=True)]
    df = pd.DataFrame({
        "申诉编号": np.arange(2606001, 2606001 + n), "工单号": np.arange(81000001, 81000001 + n),
        "受理日期": [f"{o.year}/{o.month}/{o.day}" for o in opened],
        "地市": rng.choice(["深圳", "广州", "东莞"], n, p=[0.45, 0.4, 0.15]),
        "申诉类别": rng.choice(["计费", "网络质量", "服务态度", "资费", "增值业务"], n,
                               p=[0.3, 0.25, 0.15, 0.15, 0.15]),
        "申诉渠道": rng.choice(["12300网站", "12300电话"], n, p=[0.6, 0.4]),
        "办结日期": ["" if c is None else f"{c.year}/{c.month}/{c.day}" for c in closed],
        "是否重复申诉": rng.choice(["是", "否"], n, p=[0.12, 0.88]),
    })
    if broken:
        df.loc[33, "受理日期"] = "2026/13/02"  # month 13: rejected (not_date / not_datetime)
    return df



EXTRACTS = {"crm_snapshot.csv": crm_snapshot, "helpdesk_tickets.csv": helpdesk, "complaint_log.csv": complaint_log}


def write_examples() -> None:
    """Write the example CSVs into docs/examples/ (run once by hand: python tests/ingest/test_your_data_guide.py)."""
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    for name, make in EXTRACTS.items():
        make().to_csv(EXAMPLES / name, index=False, encoding="utf-8")


# ---------------------------------------------------------------- walking the guide

GUIDE = ROOT / "docs" / "your-data.md"
HELPDESK_FMT = "%d-%m-%y %I:%M:%S %p"


def test_the_committed_examples_are_the_generators_output() -> None:
    for name, make in EXTRACTS.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == make().to_csv(index=False), name


class Walk:
    """One shape of the guide run in a fresh folder holding copies of docs/examples/, with its own
    DuckDB file; every command's exit code and output kept for the assertions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        for f in EXAMPLES.iterdir():
            shutil.copy(f, folder / f.name)
        self.env = {**os.environ, "SERVICEWATCH_DB": f"duckdb:///{folder / 'sw.duckdb'}"}
        self.env.pop("SERVICEWATCH_USERS", None)
        self.runs: dict[str, subprocess.CompletedProcess] = {}

    def sw(self, key: str, *args: str, rc: int = 0) -> str:
        p = subprocess.run([CLI, *args], cwd=self.folder, env=self.env, capture_output=True, text=True,
                           timeout=120)
        self.runs[key] = p
        assert p.returncode == rc, (key, p.returncode, p.stdout, p.stderr)
        return p.stdout

    def json(self, key: str, *args: str) -> list[dict]:
        return json.loads(self.sw(key, *args, "--format", "json"))

    def rejects(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.folder / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")

    def correct(self, name: str, clean: pd.DataFrame, key: str) -> None:
        """Correct the rejected rows in place, as a user would in a spreadsheet: each row's cells
        become the clean extract's (the _row, _reasons, _codes columns are left as they are)."""
        rej = self.rejects(name)
        good = clean.astype(str).set_index(key)
        for i, k in enumerate(rej[key]):
            for col in good.columns:
                rej.loc[i, col] = good.loc[k, col]
        with open(self.folder / name, "w", encoding="utf-8-sig", newline="") as fh:
            rej.to_csv(fh, index=False, quoting=csv.QUOTE_MINIMAL)


def walk_crm(w: Walk) -> None:
    w.sw("regions", "import", "regions", "regions.csv")
    w.sw("customers", "import", "customers", "crm_snapshot.csv", "--mapping", "crm_snapshot.yaml",
         "--snapshot-date", "2026-11-30", rc=3)
    w.first_rejects = w.rejects("crm_snapshot.csv.rejects.csv")
    w.correct("crm_snapshot.csv.rejects.csv", crm_snapshot(broken=False), "customerID")  # keyed by the CRM id
    w.sw("fixed", "import", "customers", "crm_snapshot.csv.rejects.csv", "--mapping", "crm_snapshot.yaml",
         "--snapshot-date", "2026-11-30")
    w.sw("fit", "churn", "fit")
    w.scores = w.json("scores", "churn", "scores", "--top", "10")
    w.by_tier = w.json("by_tier", "metric", "churn_rate", "--by", "tier", "--from", "2026-11-01", "--to", "2026-11-30")
    w.active = w.json("active", "metric", "active_customers", "--from", "2026-11-01", "--to", "2026-11-30")
    w.monthly = w.json("monthly", "metric", "churn_rate")  # no dates: the 12 months to the snapshot's date


def walk_helpdesk(w: Walk) -> None:
    w.sw("regions", "import", "regions", "regions.csv")
    w.sw("tickets", "import", "tickets", "helpdesk_tickets.csv", "--mapping", "helpdesk_tickets.yaml",
         "--rejects", "helpdesk_tickets.rejects.csv", rc=3)
    w.first_rejects = w.rejects("helpdesk_tickets.rejects.csv")
    w.correct("helpdesk_tickets.rejects.csv", helpdesk(broken=False), "Ticket ID")
    w.sw("fixed", "import", "tickets", "helpdesk_tickets.rejects.csv", "--mapping", "helpdesk_tickets.yaml")
    w.sw("surveys", "import", "surveys", "helpdesk_tickets.csv", "--mapping", "helpdesk_surveys.yaml",
         "--rejects", "helpdesk_surveys.rejects.csv", rc=3)
    period = ("--from", "2026-06-01", "--to", "2026-10-30")
    w.csat = w.json("csat", "metric", "csat", *period)
    w.csat_default = w.json("csat_default", "metric", "csat")
    w.csat_mean = w.json("csat_mean", "metric", "csat_mean", *period)
    w.median = w.json("median", "metric", "resolution_hours_median", *period)
    w.priority = w.json("priority", "metric", "tickets", "--by", "priority", *period)
    w.fcr = w.json("fcr", "metric", "fcr_rate", *period)
    w.coverage = w.json("coverage", "coverage")
    # the guide's aside: the export's own Customer Since as the created customers' start date (another database)
    mapping = (w.folder / "helpdesk_tickets.yaml").read_text(encoding="utf-8")
    assert "\ncolumns:\n" in mapping
    (w.folder / "helpdesk_since.yaml").write_text(
        mapping.replace("\ncolumns:\n", "\ncolumns:\n  Customer Since: start_date\n", 1), encoding="utf-8")
    w.since_db = w.folder / "since.duckdb"
    w.sw("since_regions", "import", "regions", "regions.csv", "--db", f"duckdb:///{w.since_db}")
    w.sw("since", "import", "tickets", "helpdesk_tickets.csv", "--mapping", "helpdesk_since.yaml",
         "--rejects", "since.rejects.csv", "--db", f"duckdb:///{w.since_db}", rc=3)


def walk_complaints(w: Walk) -> None:
    w.sw("regions", "import", "regions", "regions.csv")
    w.sw("tickets", "import", "tickets", "complaint_log.csv", "--mapping", "complaint_log_tickets.yaml",
         "--rejects", "complaint_log.tickets.rejects.csv", "--lang", "zh", rc=3)
    w.first_rejects = w.rejects("complaint_log.tickets.rejects.csv")
    w.correct("complaint_log.tickets.rejects.csv", complaint_log(broken=False), "申诉编号")
    w.sw("again", "import", "tickets", "complaint_log.csv", "--mapping", "complaint_log_tickets.yaml",
         "--rejects", "complaint_log.again.rejects.csv", "--lang", "zh", rc=3)
    w.sw("tickets_fixed", "import", "tickets", "complaint_log.tickets.rejects.csv",
         "--mapping", "complaint_log_tickets.yaml", "--lang", "zh")
    w.category = w.json("category", "metric", "tickets", "--by", "category")
    w.city = w.json("city", "metric", "tickets", "--by", "city")  # 地市 names found the cities (issue 14 item 2)
    # the other way the guide shows: city names mapped to region ids under values:
    w.sw("by_city", "import", "customers", "complaint_log.csv", "--mapping", "complaint_log_by_city.yaml",
         "--dry-run", rc=3)
    w.median = w.json("median", "metric", "resolution_hours_median")
    w.reopen = w.json("reopen", "metric", "reopen_rate")


@pytest.fixture(scope="module")
def walks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Walk]:
    """The three shapes walked at once (separate folders and databases), to keep the module short."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path_factory.mktemp("your-data")
    plan = {"crm": walk_crm, "helpdesk": walk_helpdesk, "complaints": walk_complaints}
    out = {name: Walk(root / name) for name in plan}
    with ThreadPoolExecutor(3) as pool:
        for f in [pool.submit(plan[n], out[n]) for n in plan]:
            f.result()
    return out


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_crm_snapshot(walks: dict[str, Walk]) -> None:
    w, raw, text = walks["crm"], crm_snapshot(broken=False), guide()
    assert "200 rows read, 198 loaded (198 new, 0 updated, 0 unchanged), 2 rejected" in w.runs["customers"].stdout
    assert "Snapshot import (snapshot date 2026-11-30)" in w.runs["customers"].stdout
    assert w.first_rejects["_codes"].tolist() == ["missing", "not_number"]
    assert "2 rows read, 2 loaded (2 new" in w.runs["fixed"].stdout
    fit = w.runs["fit"].stdout
    for line in ("snapshot Cox model", "training: 140 rows of 140 customers, 36 departures",
                 "60 rows, 16 departures"):  # every line the guide shows: test_crm_snapshot_keyed_by_the_crm_id
        assert line in fit and line in text, line
    # the churn flag per contract type, independently of the product
    tiers = {"Month-to-month": "standard", "One year": "silver", "Two year": "gold"}
    left = raw.assign(tier=raw["Contract"].map(tiers))[raw["Churn"] == "Yes"].groupby("tier").size()
    assert {r["tier"]: int(r["events"]) for r in w.by_tier} == {t: int(left.get(t, 0)) for t in tiers.values()}
    churned, total = int((raw["Churn"] == "Yes").sum()), len(raw)
    assert w.active[0]["value"] == total - churned
    assert f"{churned} of {total}" in text and f"{churned / total:.1%}" in text
    assert w.monthly[0]["events"] == churned and f"({w.monthly[0]['value']:.1%})" in text  # 12 months, monthly
    assert f"`active_customers` {total - churned}" in text
    for contract, tier in tiers.items():
        share = (raw.loc[raw["Contract"] == contract, "Churn"] == "Yes").mean()
        assert f"{contract} ({tier}) {share:.1%}" in text, (contract, share)


def quoted(text: str, after: str) -> list[str]:
    """The lines of the first fenced block of the guide after the text ``after``."""
    rest = text[text.index(after) + len(after):]
    body = rest[rest.index("\n", rest.index("```")) + 1:]
    return body[:body.index("```")].splitlines()


def untimed(line: str) -> str:
    return re.sub(r", \d+\.\d s$", "", line.strip())


def test_crm_snapshot_keyed_by_the_crm_id(walks: dict[str, Walk]) -> None:
    """Text keys (issue 14 item 1): the CRM id is the key of the guide's main path. What the guide
    shows of the file, the mapping, the import's summary, the rejects file and the fit is what the
    walk met, line by line."""
    w, text = walks["crm"], guide()
    raw = crm_snapshot(broken=False)
    head = (EXAMPLES / "crm_snapshot.csv").read_text(encoding="utf-8").splitlines()[:3]
    assert quoted(text, "[`crm_snapshot.yaml`](examples/crm_snapshot.yaml)") == head
    assert head[0].split(",")[0] == "customerID" and "customer_no" not in head[0]
    mapping = (EXAMPLES / "crm_snapshot.yaml").read_text(encoding="utf-8").splitlines()
    shown = quoted(text, "**Keys load as they are.**")
    assert "  customerID: [customer_id, name]" in [line.split("#")[0].rstrip() for line in shown]
    assert all(line in mapping for line in shown), [line for line in shown if line not in mapping]
    summary = {untimed(line) for line in w.runs["customers"].stdout.splitlines()}
    block = quoted(text, "$SW import customers crm_snapshot.csv --mapping crm_snapshot.yaml "
                         "--snapshot-date 2026-11-30\n```")
    assert block and all(untimed(line) in summary for line in block), (block, summary)
    rejects = (w.folder / "crm_snapshot.csv.rejects.csv")
    assert quoted(text, "`_reasons`, `_codes`:") == \
        w.first_rejects.to_csv(index=False).splitlines()  # the file before the correction
    assert rejects.exists() and set(w.first_rejects["customerID"]) == {raw.loc[17, "customerID"],
                                                                      raw.loc[58, "customerID"]}
    # the corrections the guide names are the ones the walk makes (the clean extract's cells)
    tenure, charges = raw.loc[17, "tenure"], raw.loc[58, "MonthlyCharges"]
    assert f"在网月数填 `{tenure}`，月费填 `{charges}`" in text and f"(tenure `{tenure}`, charges `{charges}`" in text
    fit = {line.strip() for line in w.runs["fit"].stdout.splitlines()}
    shown_fit = [line.strip() for line in quoted(text, "$SW churn fit\n```") if line.strip() != "…"]
    assert len(shown_fit) > 10 and all(line in fit for line in shown_fit), [x for x in shown_fit if x not in fit]
    # the at-risk list names customers by their CRM id, the key as written in the file
    keys = [r["customer_id"] for r in w.scores]
    assert len(keys) == 10 and set(keys) <= set(raw["customerID"]) and f"(`{keys[0]}`, …)" in text
    at_risk = [r["revenue_at_risk"] for r in w.scores]
    assert at_risk == sorted(at_risk, reverse=True)


def test_cli_default_window_is_the_12_months_to_the_snapshot(walks: dict[str, Walk]) -> None:
    w, text = walks["crm"], guide()
    err = w.runs["monthly"].stderr
    assert "period 2025-12-01 – 2026-11-30 (default: the 12 months to the customer snapshot's date" in err
    assert (w.monthly[0]["period_start"], w.monthly[0]["period_end"]) == ("2025-12-01", "2026-11-30")
    assert "default: the 12 months to the customer snapshot's date" in text and "2025-12-01 – 2026-11-30" in text


def _window_churn(raw: pd.DataFrame, start: date, end: date) -> tuple[int, int, float]:
    """Customers lost, active on ``end`` and the monthly churn rate (leavers ÷ customer-months at risk,
    docs/metrics.md) of the snapshot in the window ``start``–``end`` (inclusive days), from the raw file:
    start_date = snapshot − tenure in calendar months, leavers leave on the snapshot's date."""
    snap = pd.Timestamp(SNAPSHOT_DATE)
    began = pd.Series([snap - pd.DateOffset(months=int(m)) for m in raw["tenure"]])
    left = (raw["Churn"] == "Yes").to_numpy()
    lo, stop = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    gone = pd.Series(np.where(left, snap, stop)).clip(upper=stop)
    days = (gone - began.clip(lower=lo)).dt.days.clip(lower=0)
    lost = int((left & (snap >= lo) & (snap < stop)).sum())
    active = int(((began < stop) & ~left).sum())
    return lost, active, lost / (days.sum() / (365.25 / 12))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_crm_dashboard_opens_on_the_departures(walks: dict[str, Walk], lang: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard on the walked database opens on the three months to the snapshot's date, says
    so, and the Churn page's cards are the guide's figures, computed again from the raw file."""
    from page_helpers import filters, open_page

    from metrics.model.i18n import metric_label, t

    text = guide()
    monkeypatch.setenv("SERVICEWATCH_DB", f"duckdb:///{walks['crm'].folder / 'sw.duckdb'}")
    monkeypatch.delenv("SERVICEWATCH_USERS", raising=False)
    at = open_page("pages/4_Churn.py", {"lang": lang})
    start, end = date(2026, 9, 1), SNAPSHOT_DATE
    assert (filters(at).start, filters(at).end) == (start, end)
    notice = t("filter.default_snapshot", lang, start=start.isoformat(), end=end.isoformat())
    assert notice in [i.value for i in at.info] and notice in " ".join(text.split())  # the guide wraps lines
    assert not at.error, [e.value for e in at.error]
    lost, active, rate = _window_churn(crm_snapshot(broken=False), start, end)
    cards = {m.label: m.value for m in at.metric}

    def card(label: str) -> str:
        return next(v for k, v in cards.items() if k.startswith(label))

    annual = 1 - (1 - rate) ** 12
    assert card(metric_label("churn_rate", lang)) == f"{rate:.2%}"
    assert card(t("page.churn.kpi_annual", lang)) == f"{annual:.1%}"
    assert card(t("page.churn.kpi_churned", lang)) == str(lost)
    assert card(metric_label("active_customers", lang)) == str(active)
    assert (lost, active) == (52, 148)
    bullet = text[text.index("**打开即是快照的离网"):text.index("流失与留存 Churn & retention")]
    for figure in (f"{rate:.2%}", f"{annual:.1%}", f"{lost}", f"{active}"):
        assert figure in bullet, figure



def test_city_names_become_regions(walks: dict[str, Walk]) -> None:
    """Issue 14 item 2 landed: the log's 地市 column finds the cities of regions.csv by name (广州 →
    广州市), and values: on region_id maps names to ids (it was accepted and ignored)."""
    w, raw = walks["complaints"], complaint_log(broken=False)
    ids = {"深圳": 2, "广州": 3, "东莞": 4}
    assert {int(r["region_id"]): int(r["value"]) for r in w.city} == raw["地市"].map(ids).value_counts().to_dict()
    assert "regions created" not in w.runs["tickets"].stdout  # every city was found
    out = w.runs["by_city"].stdout
    assert "120 rows read, 119 would load, 1 rejected" in out and "Not a whole number" not in out


def test_helpdesk_export(walks: dict[str, Walk]) -> None:
    w, raw, text = walks["helpdesk"], helpdesk(broken=False), guide()
    # one import, no customers file: the requesters of the rows that load are created, no duplicate_key
    loaded = raw.drop(index=[20, 41])
    created = loaded["Requester ID"].nunique()
    out = w.runs["tickets"].stdout
    assert "160 rows read, 158 loaded (158 new, 0 updated, 0 unchanged), 2 rejected" in out
    assert f"{created} customers created from the file" in out and "Duplicate key" not in out
    assert f"{created} customers created from the file" in text
    late = raw["Requester ID"].nunique() - created  # requesters of the two corrected rows only
    assert f"{late} customers created" in w.runs["fixed"].stdout if late else "customers created" not in \
        w.runs["fixed"].stdout
    assert w.first_rejects["_codes"].tolist() == ["not_datetime", "before"]
    assert "Not in the file, stored as unknown (not as no or 0): first_contact_resolved, reopened, escalated, " \
           "compensation" in w.runs["tickets"].stdout
    unsolved = int((raw["Solved"] == "").sum())
    assert f"160 rows read, {160 - unsolved} loaded" in w.runs["surveys"].stdout
    assert f"{unsolved} × Required value missing" in w.runs["surveys"].stdout
    assert "loaded without the link" not in w.runs["surveys"].stdout  # every rating keeps its ticket
    assert "customers created" not in w.runs["surveys"].stdout
    # CSAT = ratings 4-5 / all ratings; resolution time = Solved - Created (hours), median
    ratings = pd.to_numeric(raw["Customer Satisfaction Rating"], errors="coerce").dropna()
    good = int((ratings >= 4).sum())
    assert w.csat[0]["n"] == len(ratings) and w.csat[0]["value"] == pytest.approx(good / len(ratings))
    assert f"{good / len(ratings):.1%} ({good} of {len(ratings)} ratings)" in text
    assert w.csat_mean[0]["value"] == pytest.approx(ratings.mean()) and f"mean score {ratings.mean():.2f}" in text
    # without dates: less than 12 complete months of data (created customers start on their first
    # ticket), so the CLI takes all of it: the same ratings
    opened = pd.to_datetime(raw["Created"], format=HELPDESK_FMT)
    answered = pd.to_datetime(raw["Solved"], format=HELPDESK_FMT)
    assert w.csat_default[0]["period_start"] == opened.min().date().isoformat() == "2026-06-01"
    assert w.csat_default[0]["period_end"] == max(opened.max(), answered.max()).date().isoformat() == "2026-10-30"
    assert w.csat_default[0]["n"] == len(ratings) and f"same {len(ratings)} ratings" in text
    hours = (pd.to_datetime(raw["Solved"], format=HELPDESK_FMT) - opened).dt.total_seconds() / 3600
    assert w.median[0]["value"] == pytest.approx(hours.median()) and w.median[0]["n"] == hours.notna().sum()
    assert f"{hours.median():.1f} hours" in text
    by_priority = raw["Ticket Priority"].str.lower().value_counts()
    assert {r["priority"]: int(r["value"]) for r in w.priority} == by_priority.to_dict()
    assert w.fcr[0]["value"] is None and w.fcr[0]["missing"] == "first_contact_resolved"
    fcr = next(r for r in w.coverage if r["metric"] == "fcr_rate")
    assert not fcr["supported"]


def test_created_customers_take_the_files_start_dates(walks: dict[str, Walk]) -> None:
    """create: customers takes a customer column the file has (Customer Since -> start_date) instead of
    the earliest ticket's day: the guide's aside, on a second database."""
    import duckdb

    w, text = walks["helpdesk"], guide()
    assert "Customer Since: start_date" in text
    with duckdb.connect(str(w.since_db), read_only=True) as con:
        rows = con.sql("select customer_id, name, start_date from customers").fetchall()
    assert all(name == str(k) for k, name, _ in rows)  # named by the key as written
    got = {int(k): v.isoformat() for k, _, v in rows}
    loaded = helpdesk().drop(index=[20, 41])  # the rows that load on the first import
    first = loaded.groupby("Requester ID", sort=False)["Customer Since"].first()
    assert got == {int(k): v for k, v in first.items()}
    assert min(got.values()) < "2026-06-01"  # not the first ticket's day


def test_complaint_log(walks: dict[str, Walk]) -> None:
    w, raw, text = walks["complaints"], complaint_log(broken=False), guide()
    out = w.runs["tickets"].stdout
    for line in ("读取 120 行，导入 119 行（新增 119，更新 0，未变 0），拒绝 1 行", "按文件新建了 119 个客户",
                 "每行一个匿名客户"):
        assert line in out and line in text, line
    assert w.first_rejects["_codes"].tolist() == ["not_datetime"]
    assert "（新增 0，更新 0，未变 119）" in w.runs["again"].stdout and "新建" not in w.runs["again"].stdout
    assert "导入 1 行" in w.runs["tickets_fixed"].stdout and "新建了 1 个客户" in w.runs["tickets_fixed"].stdout
    codes = {"计费": "billing", "网络质量": "network_quality", "服务态度": "service_attitude", "资费": "tariff",
             "增值业务": "value_added"}
    assert {r["category"]: int(r["value"]) for r in w.category} == raw["申诉类别"].map(codes).value_counts().to_dict()
    # the data's as-of date is the newest appeal; a case closed after it is still open on that day
    opened = pd.to_datetime(raw["受理日期"], format="%Y/%m/%d")
    closed = pd.to_datetime(raw["办结日期"], format="%Y/%m/%d")
    as_of = opened.max()
    done = closed.notna() & (closed <= as_of)
    hours = (closed - opened).dt.total_seconds()[done] / 3600
    assert w.median[0]["value"] == pytest.approx(hours.median()) and w.median[0]["n"] == done.sum()
    assert w.median[0]["as_of"] == as_of.date().isoformat() and as_of.date().isoformat() in text
    repeated = (raw.loc[done, "是否重复申诉"] == "是")
    assert w.reopen[0]["value"] == pytest.approx(repeated.mean()) and w.reopen[0]["n"] == done.sum()
    assert f"{repeated.mean():.1%}" in text and f"{int(done.sum())}" in text
    assert f"{hours.median():.0f} hours" in text


if __name__ == "__main__":
    write_examples()
