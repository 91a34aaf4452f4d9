"""A text-keyed database as an operator's extracts make it (issue 14, item 1): shared by the tests of
the import (tests/ingest/test_text_keys.py) and of where ids reach users (tests/pages/test_text_keys_shown.py).

Regions ``GD``, ``GD-SZ``, ``0755`` and ``755`` (a leading zero kept apart), account managers
``AM-001`` and ``am-001`` (case kept apart), customers ``7590-VHVEG``-like, ``ABC``/``abc``,
``0042``/``42``, an e-mail and a 64-bit number, tickets ``INC0000001`` … ``T-1``/``t-1``, surveys
``S00001`` …, loaded with ``servicewatch import`` as a user would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SERVICEWATCH = [sys.executable, "-m", "metrics.cli.main"]
BIG = "9223372036854775807"  # a 64-bit id


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SERVICEWATCH, *args], capture_output=True, text=True, timeout=180)


# -- the extracts ---------------------------------------------------------------------------------
def extracts(seed: int = 11) -> dict[str, pd.DataFrame]:
    """Regions, account managers, customers, tickets and surveys keyed as real sources key them."""
    rng = np.random.default_rng(seed)
    regions = pd.DataFrame({
        "region_id": ["GD", "GD-SZ", "GD-GZ", "0755", "755", "gd-sz-ft"],
        "name_zh": ["广东", "深圳", "广州", "南山", "宝安", "福田"],
        "name_en": ["Guangdong", "Shenzhen", "Guangzhou", "Nanshan", "Bao'an", "Futian"],
        "parent_id": ["", "GD", "GD", "GD-SZ", "GD-SZ", "GD-SZ"],
        "level": ["province", "city", "city", "district", "district", "district"],
    })
    districts = ["0755", "755", "gd-sz-ft"]
    managers = pd.DataFrame({"manager_id": ["AM-001", "am-001", "007"], "name": ["王芳", "李强", "张伟"],
                             "region_id": ["GD-SZ", "GD-SZ", "GD-GZ"]})
    n = 60
    ids = [f"{rng.integers(1000, 9999)}-{''.join(rng.choice(list('ABCDEFGHJKLMNPQRSTUVWXYZ'), 5))}"
           for _ in range(n - 6)]
    ids += ["li.na@example.cn", "ABC", "abc", "0042", "42", BIG]  # case, leading zeros, 64-bit
    assert len(set(ids)) == n
    customers = pd.DataFrame({
        "customer_id": ids,
        "name": [f"客户{i}" for i in range(n)],
        "segment": rng.choice(["enterprise", "consumer"], n),
        "tier": rng.choice(["gold", "silver", "standard"], n),
        "region_id": rng.choice(districts, n),
        "acquisition_channel": "hotline",
        "account_manager_id": rng.choice(["AM-001", "am-001", "007", ""], n),
        "start_date": "2024-01-15",
        "monthly_revenue": rng.integers(50, 5000, n).astype(float),
    })
    m = 400
    opened = pd.Timestamp("2025-03-01") + pd.to_timedelta(rng.integers(0, 300 * 24, m), unit="h")
    tickets = pd.DataFrame({
        "ticket_id": [f"INC{i:07d}" for i in range(m - 2)] + ["T-1", "t-1"],
        "customer_id": rng.choice(ids, m),
        "channel": rng.choice(["hotline", "web_app"], m),
        "kind": rng.choice(["complaint", "fault", "request"], m),
        "category": "billing",
        "priority": rng.choice(["P1", "P2", "P3"], m),
        "opened_at": opened.strftime("%Y-%m-%d %H:%M:%S"),
        "resolved_at": (opened + pd.to_timedelta(rng.integers(1, 72, m), unit="h")).strftime("%Y-%m-%d %H:%M:%S"),
    })
    surveys = pd.DataFrame({
        "survey_id": [f"S{i:05d}" for i in range(200)],
        "ticket_id": tickets["ticket_id"].iloc[:200].to_numpy(),
        "customer_id": tickets["customer_id"].iloc[:200].to_numpy(),
        "channel": tickets["channel"].iloc[:200].to_numpy(),
        "kind": "post_interaction",
        "answered_at": (opened[:200] + pd.Timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S"),
        "csat": rng.integers(1, 6, 200),
    })
    return {"regions": regions, "account_managers": managers, "customers": customers, "tickets": tickets,
            "surveys": surveys}


def load(url: str, tmp: Path, frames: dict[str, pd.DataFrame]) -> dict[str, subprocess.CompletedProcess]:
    """Import each extract with ``servicewatch import`` as a user would, in dependency order."""
    out = {}
    for table in ("regions", "account_managers", "customers", "tickets", "surveys"):
        path = tmp / f"{table}.csv"
        frames[table].to_csv(path, index=False)
        out[table] = cli("import", table, str(path), "--db", url)
    return out
