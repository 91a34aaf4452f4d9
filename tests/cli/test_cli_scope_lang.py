"""A request outside the user's data scope (:class:`metrics.access.scope.ScopeError`) is refused on the
command line in the command's language (scope_refusal.toml): one line on stderr, exit 1, no traceback,
once with ``--lang zh`` and once with ``--lang en`` through ``main`` in this process. The English line is
the error's message as it always was; the Chinese line has Chinese characters and none of its English
words; data text (a region's name, a user's name) stays as the data has it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metrics.access import users as access
from metrics.access.users import User

CJK = re.compile(r"[\u4e00-\u9fff]")
CITY, OTHER_CITY = 2, 3  # demo regions 南岭市, 珠湾市
PERIOD = ["--from", "2025-11-01", "--to", "2026-10-31"]

# (argv without --db/--lang, the English line, its English words the zh line must not hold)
CASES = {
    "manager_region": (["metric", "csat", "--as-user", "nanling", "--region", str(OTHER_CITY)],
                       "region 珠湾市 is outside your scope", ["region", "outside", "your", "scope"]),
    "viewer_health_list": (["health", *PERIOD, "--as-user", "look"],
                           "account health lists are not available to viewers (aggregates only)",
                           ["account", "health", "lists", "available", "viewers", "aggregates"]),
    "viewer_action_list": (["actions", "list", "--as-user", "look"],
                           "action lists are not available to viewers (aggregates only)",
                           ["action", "lists", "available", "viewers", "aggregates"]),
    "account_manager_other_portfolio": (["portfolio", *PERIOD, "--as-user", "am3", "--manager", "4"],
                                        "that account manager's portfolio is outside your scope",
                                        ["account", "manager", "portfolio", "outside", "scope"]),
    "viewer_import": (["import", "tickets", "tickets.csv", "--as-user", "look"],
                      "user look is not an admin and may not import; imports are for admins",
                      ["admin", "may", "not", "import", "imports", "admins"]),
}


@pytest.fixture()
def scoped_users(duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo database and a users file (a city manager, an account manager, a viewer); the audit and
    alert stores in ``tmp_path``."""
    monkeypatch.setenv(access.USERS_ENV, str(tmp_path / "users.json"))
    monkeypatch.setenv("SERVICEWATCH_ALERTS_DB", f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    access.add_user(User("nanling", "manager", (CITY,)), None)
    access.add_user(User("am3", "account_manager", manager_id=3), None)
    access.add_user(User("look", "viewer"), None)
    return duckdb_url


@pytest.mark.parametrize("case", list(CASES))
def test_scope_refusal_in_chinese_and_english(scoped_users: str, sw, case: str) -> None:
    argv, english, words = CASES[case]
    zh, en = (sw(*argv, "--db", scoped_users, "--lang", lang) for lang in ("zh", "en"))
    for code, out, err in (zh, en):
        assert code == 1 and out == "", (out, err)
        assert err.count("\n") == 1 and err.startswith("servicewatch: error: ") and "Traceback" not in err
    assert en[2] == f"servicewatch: error: {english}\n"
    line = zh[2].removeprefix("servicewatch: error: ")
    assert CJK.search(line), line
    left = [w for w in words if re.search(rf"(?<![-\w]){re.escape(w)}(?![-\w])", line, re.IGNORECASE)]
    assert not left, (line, left)


def test_the_customer_key_is_a_parameter_cut_at_64_characters() -> None:
    """A customer key the data does not hold: the key as text (quoted, cut at 64), never markup."""
    from metrics.access.scope import ScopeError

    class NoKeys:
        def key_ids(self, entity: str, keys: list[str]) -> dict[str, int]:
            return {}

    from metrics.analysis.customer_history import resolve_customer

    key = "<b>{lang}</b>" + "x" * 100
    with pytest.raises(ScopeError) as exc:
        resolve_customer(NoKeys(), key)
    assert str(exc.value) == f"no customer {key[:64]!r}"
    assert exc.value.text("zh") == f"没有客户 {key[:64]!r}"


def test_every_list_refused_to_viewers_has_its_line() -> None:
    """Each key of lists the engine passes to ``require_rows`` is a catalogue line whose English keeps the
    old wording (and a line in Chinese); a key the catalogue does not hold is refused for every user."""
    from metrics.access.scope import ScopeError, require_rows

    english = {"customer_and_ticket_lists": "customer and ticket lists", "action_lists": "action lists",
               "retention_action_lists": "retention action lists",
               "at_risk_customer_lists": "at-risk customer lists",
               "quotes_of_the_customers_words": "quotes of the customers' words",
               "portfolio_customer_lists": "portfolio customer lists",
               "account_health_lists": "account health lists", "customer_histories": "customer histories"}
    src = Path(__file__).resolve().parents[2] / "src"
    keys = {m for p in src.rglob("*.py")
            for m in re.findall(r'require_rows\([^,)]+,\s*"([^"]+)"\)', p.read_text(encoding="utf-8"))}
    assert len(keys) >= 7 and keys <= set(english), keys
    for key, what in english.items():
        with pytest.raises(ScopeError) as exc:
            require_rows(access.Scope("v", aggregates_only=True), key)
        assert str(exc.value) == f"{what} are not available to viewers (aggregates only)"
        assert CJK.search(exc.value.text("zh"))
    with pytest.raises(ScopeError) as exc:
        require_rows(access.Scope("v", aggregates_only=True))
    assert str(exc.value) == "customer and ticket lists are not available to viewers (aggregates only)"
    with pytest.raises(ValueError, match="no catalogue line"):
        require_rows(None, "lists of something new")
