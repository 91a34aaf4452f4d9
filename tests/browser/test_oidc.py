"""OpenID Connect sign-in through Streamlit's ``st.login`` (issue 7), for real: a local mock provider
(``oidc-provider-mock``, a Flask app served on 127.0.0.1 by this fixture), ``streamlit run`` with
``[auth]`` in a secrets file, and Chromium signing in through the provider's form.

The identity (its ``sub``/e-mail, typed into the mock's form) is mapped to an entry of the users
file: a known one gets its role and scope, an unknown one is refused; a tampered identity cookie
signs the browser out; ``SERVICEWATCH_AUTH=oidc`` without ``[auth]`` lets nobody in."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_app
from playwright.sync_api import expect
from test_browser import settle
from test_browser_sign_in import card, city_figure

from metrics.access import users as access
from metrics.access.users import AuthError, User
from metrics.model.i18n import t

CITY, OTHER_CITY = 2, 3
MANAGER = "nanling@example.org"
STRANGER = "stranger@example.org"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """Base URL of oidc-provider-mock on 127.0.0.1 (any client id and secret are accepted)."""
    import oidc_provider_mock as oidc_mock  # the test extra (pyproject.toml)
    import werkzeug.serving

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_mock.app(require_nonce=False), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def _secrets(path: Path, provider: str) -> Path:
    path.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "servicewatch"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def oidc_app(tmp_path_factory: pytest.TempPathFactory, duckdb_url: str, provider: str, browser) -> Iterator[str]:
    import authlib  # noqa: F401 - st.login needs it (a dependency in pyproject.toml)

    work = tmp_path_factory.mktemp("oidc_app")
    users = work / "users.json"
    access.add_user(User(MANAGER, "manager", (CITY,)), None, users)
    env = {access.USERS_ENV: str(users), "SERVICEWATCH_AUTH": "oidc",
           "SERVICEWATCH_AUDIT_DB": f"sqlite:///{work / 'audit.sqlite'}",
           "STREAMLIT_SECRETS_FILES": str(_secrets(work / "secrets.toml", provider))}
    with run_app(work, duckdb_url, env) as base_url:
        yield base_url


def sign_in_at_provider(page, base: str, sub: str, query: str = "lang=en") -> None:
    page.goto(f"{base}/?{query}", timeout=120_000)
    settle(page, 1000)
    assert page.locator("[data-testid=stMetric]").count() == 0  # nothing before signing in
    page.get_by_role("button", name=t("auth.oidc_sign_in", "en")).click()
    page.wait_for_selector("input[name=sub]", timeout=60_000)  # the provider's own form
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**", timeout=60_000)
    settle(page, 1500)


def test_manager_signs_in_through_the_provider(page, oidc_app: str, duckdb_url: str) -> None:
    sign_in_at_provider(page, oidc_app, MANAGER, f"lang=en&region={OTHER_CITY}")
    page.wait_for_selector("[data-testid=stMetric]", timeout=60_000)
    assert card(page, "active_customers") == city_figure(duckdb_url, "active_customers")
    expect(page.locator("body")).to_contain_text("Nanling", timeout=60_000)  # the page is drawn
    body = page.inner_text("body").replace("\u2060", "")  # data is shown with invisible word joiners
    assert t("auth.signed_in", "en", name=MANAGER, role="manager") in body
    assert "Zhuwan" not in body
    # the identity cookie signs a new page load in again; tampered, it signs nobody in
    cookies = page.context.cookies()
    ours = [c for c in cookies if c["name"].startswith("_streamlit_user")]
    assert ours, [c["name"] for c in cookies]
    page.goto(f"{oidc_app}/?lang=en", timeout=120_000)
    settle(page, 1500)
    assert page.locator("[data-testid=stMetric]").count() > 0
    forged = [{**c, "value": c["value"][:-6] + ("AAAAAA" if not c["value"].endswith("AAAAAA") else "BBBBBB")}
              for c in ours]
    page.context.clear_cookies()
    page.context.add_cookies(forged)
    page.goto(f"{oidc_app}/?lang=en", timeout=120_000)
    settle(page, 1500)
    assert page.locator("[data-testid=stMetric]").count() == 0
    assert page.get_by_role("button", name=t("auth.oidc_sign_in", "en")).count() == 1


def test_unknown_identity_is_refused(page, oidc_app: str) -> None:
    sign_in_at_provider(page, oidc_app, STRANGER)
    assert page.locator("[data-testid=stMetric]").count() == 0
    body = page.inner_text("body").replace("\u2060", "")  # the identity is data: shown as text
    assert body.count(t("auth.oidc_unknown", "en", identity=STRANGER)) == 1


def test_identity_mapping(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    access.add_user(User(MANAGER, "manager", (CITY,)), None, path)
    access.add_user(User("sub-42", "viewer"), None, path)
    assert access.user_for_identity({"sub": "x", "email": MANAGER}, path).role == "manager"
    assert access.user_for_identity({"sub": "sub-42", "email": MANAGER}, path).name == "sub-42"  # sub first
    for claims in ({"sub": "x", "email": MANAGER, "email_verified": False}, {"sub": "x", "email": STRANGER}, {}):
        with pytest.raises(AuthError, match="not a ServiceWatch user"):
            access.user_for_identity(claims, path)
    # no password opens an OpenID Connect-only entry
    with pytest.raises(AuthError):
        access.verify(MANAGER, "", path, limiter=access.RateLimiter())


def test_oidc_mode_without_auth_section_fails_closed(tmp_path: Path, duckdb_url: str, monkeypatch) -> None:
    from page_helpers import open_page

    users = tmp_path / "users.json"
    access.add_user(User(MANAGER, "manager", (CITY,)), None, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv("SERVICEWATCH_AUTH", "oidc")
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("app.py", {"lang": "en"})
    assert not at.exception and not at.metric and not at.sidebar.selectbox
    assert [e.value for e in at.error] == [t("auth.oidc_unconfigured", "en")]
