"""Sign-in fails closed (issue 7): wrong password, expired session, a forged or stale session-state
user, a missing or broken users file, an unknown auth mode. Each case checks that no figure is
shown (no KPI card, no filter bar) and that the message comes from the catalogue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from page_helpers import open_page

from metrics.access import users as access
from metrics.access.users import User
from metrics.model.i18n import t

CITY = 2
PASSWORD = "correct horse 1"


@pytest.fixture()
def users_file(tmp_path: Path, duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "users.json"
    monkeypatch.setenv(access.USERS_ENV, str(path))
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    access.add_user(User("nanling", "manager", (CITY,)), PASSWORD)
    return path


def _nothing_shown(at) -> bool:
    return not at.metric and not at.sidebar.selectbox and not at.dataframe and not at.get("plotly_chart")


def _sign_in_form(at) -> bool:
    keys = {w.key for w in at.text_input}
    return {"_sw_login_name", "_sw_login_password"} <= keys


def _signed_in(user: User, seen: float | None = None) -> dict:
    return {"sw_user": user, "_sw_seen": time.time() if seen is None else seen}


def test_wrong_password_shows_nothing(users_file) -> None:
    at = open_page("app.py", {"lang": "zh"})
    assert _nothing_shown(at) and _sign_in_form(at)
    at.text_input(key="_sw_login_name").input("nanling")
    at.text_input(key="_sw_login_password").input("correct horse 2")
    at.button[0].click().run()
    assert _nothing_shown(at) and [e.value for e in at.error] == [t("auth.failed", "zh")]
    assert "sw_user" not in at.session_state


def test_expired_session_signs_out(users_file, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_SESSION_MINUTES", "1")
    at = open_page("app.py", {"lang": "zh"}, _signed_in(User("nanling", "manager", (CITY,)), time.time() - 61))
    assert not at.exception
    assert _nothing_shown(at) and _sign_in_form(at)
    assert t("auth.timed_out", "zh") in [i.value for i in at.info]
    # the same session, still within the timeout, is served
    at = open_page("app.py", {"lang": "zh"}, _signed_in(User("nanling", "manager", (CITY,)), time.time() - 30))
    assert at.metric and not _sign_in_form(at)


@pytest.mark.parametrize("forged", [
    User("ghost", "admin"),  # a user who is not in the file
    User("nanling", "admin"),  # a real user with a role they do not have
    User("nanling", "manager", (3,)),  # a real user with another city
])
def test_forged_session_user_is_replaced_by_the_file(users_file, forged) -> None:
    at = open_page("pages/7_Admin.py", {"lang": "zh"}, _signed_in(forged))
    assert not at.exception and not at.dataframe
    user = at.session_state["sw_user"] if "sw_user" in at.session_state else None
    if forged.name == "ghost":
        assert user is None and _sign_in_form(at) and _nothing_shown(at)
    else:  # the role and scope come from the users file, not from the session
        assert user == User("nanling", "manager", (CITY,))
        assert [e.value for e in at.error] == [t("page.admin.refused", "zh")]


@pytest.mark.parametrize("session", [
    {"sw_user": {"name": "nanling", "role": "admin"}},  # not a User at all
    {"sw_user": "nanling", "_sw_seen": 0.0},
    {"sw_user": None, "_sw_seen": 9e18},
    {"sw_user": {"name": "nanling", "role": "admin"}, "_sw_seen": 9e18},  # fresh, but forged
    {"sw_user": "nanling", "_sw_seen": "now"},
])
def test_malformed_session_state_fails_closed(users_file, session) -> None:
    at = open_page("app.py", {"lang": "zh"}, session)
    assert not at.exception, [e.value for e in at.exception]
    assert _nothing_shown(at) and _sign_in_form(at)


def test_users_file_removed_during_a_session(users_file) -> None:
    users_file.unlink()
    at = open_page("app.py", {"lang": "zh"}, _signed_in(User("nanling", "manager", (CITY,))))
    assert not at.exception and _nothing_shown(at) and _sign_in_form(at)
    at.text_input(key="_sw_login_name").input("nanling")
    at.text_input(key="_sw_login_password").input(PASSWORD)
    at.button[0].click().run()
    assert _nothing_shown(at)
    assert len(at.error) == 1 and at.error[0].value.startswith(t("auth.unavailable", "zh", detail="")[:8])
    assert PASSWORD not in at.error[0].value


@pytest.mark.parametrize("content", ["{not json", '{"version": 1}', ""])
def test_broken_users_file_fails_closed(users_file, content) -> None:
    users_file.write_text(content)
    at = open_page("app.py", {"lang": "zh"})
    at.text_input(key="_sw_login_name").input("nanling")
    at.text_input(key="_sw_login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and _nothing_shown(at) and len(at.error) == 1


@pytest.mark.parametrize("mode", ["users", "sso", "OFF"])
def test_auth_required_without_users_file(users_file, monkeypatch, mode) -> None:
    """SERVICEWATCH_AUTH set (any value but demo) without a users file: nobody gets in."""
    monkeypatch.delenv(access.USERS_ENV)
    monkeypatch.setenv("SERVICEWATCH_AUTH", mode)
    at = open_page("app.py", {"lang": "zh"})
    assert _nothing_shown(at) and _sign_in_form(at)
    at.text_input(key="_sw_login_name").input("nanling")
    at.text_input(key="_sw_login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and _nothing_shown(at)
    assert any("SERVICEWATCH_USERS" in e.value for e in at.error)
