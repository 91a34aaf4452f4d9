"""``servicewatch alerts add`` for and to a hall manager (营业厅主任) on the demo (review H1, L1): their own
rule without ``--outlet`` is narrowed to their outlets (and stays visible to them); a rule on a
customer-based metric (complaint_rate: complaints over the organisation's customer-months) is refused
for them as owner or as recipient, with one line and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics import alert_rules as rule_store
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.cli.main import main
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse


@pytest.fixture()
def wh(alerts_wh: Warehouse) -> Warehouse:
    """The demo with alert rules, alerts and audit log in this test's own stores (conftest's ``alerts_wh``)."""
    return alerts_wh


@pytest.fixture()
def hall(wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """A hall manager of the demo's first outlet (by its key), in this test's users file."""
    key, oid = min(wh.outlet_keys().items(), key=lambda kv: kv[1])
    users = tmp_path / "users.json"
    access.add_user(access.User("hall1", "hall_manager", outlets=(key,), email="hall1@example.com"), None, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    return key, oid


def _add(capsys, duckdb_url: str, *argv: str) -> tuple[int, str, str]:
    code = main(["alerts", "add", *argv, "--db", duckdb_url, "--lang", "en"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_hall_managers_rule_is_narrowed_to_their_outlets(wh, hall, duckdb_url, capsys) -> None:
    key, oid = hall
    code, _, err = _add(capsys, duckdb_url, "hm.csat", "--metric", "csat", "--type", "change", "--as-user", "hall1")
    assert code == 0, err
    [rule] = rule_store.rules(wh).itertuples(index=False)
    assert rule.owner == "hall1" and rule.filters.get("outlet") == key
    scope = access_scope.scope_for(access.get_user("hall1"), key_ids=wh.key_ids)
    assert scope.outlet_ids == (oid,)
    assert list(rule_store.rules(wh, scope)["rule_id"]) == ["hm.csat"]  # its owner sees it


def test_customer_based_rules_are_refused_for_a_hall_manager(wh, hall, duckdb_url, capsys) -> None:
    key, _ = hall
    code, out, err = _add(
        capsys, duckdb_url, "hm.cr", "--metric", "complaint_rate", "--type", "change", "--as-user", "hall1"
    )
    assert code == 1 and not out
    assert err.strip().splitlines()[-1].endswith(t("alert_scope.owner_scope", "en", metric="complaint_rate"))
    assert "Traceback" not in err
    # the operator's rule on the hall, told to the hall manager: refused too
    code, _, err = _add(
        capsys,
        duckdb_url,
        "op.cr",
        "--metric",
        "complaint_rate",
        "--type",
        "change",
        "--outlet",
        key,
        "--recipient",
        "hall1",
    )
    assert code == 1 and "outside the data scope of hall1" in err
    assert rule_store.rules(wh).empty
    # the same rule on the hall's surveys is theirs to receive
    code, _, err = _add(
        capsys, duckdb_url, "op.csat", "--metric", "csat", "--type", "change", "--outlet", key, "--recipient", "hall1"
    )
    assert code == 0, err
