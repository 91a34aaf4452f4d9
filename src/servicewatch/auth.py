"""Sign-in for the dashboard: a form against the users file, a demo mode, an idle timeout.

Modes (:func:`auth_mode`):

* ``users``: ``$SERVICEWATCH_USERS`` is set (or ``SERVICEWATCH_AUTH=users``): nothing is shown
  before a successful sign-in; a missing or malformed users file stops the app (fail closed).
* ``demo``: ``SERVICEWATCH_AUTH=demo`` signs in as an announced demo admin (for ``make run``).
* ``oidc``: ``SERVICEWATCH_AUTH=oidc`` signs in through the organisation's identity provider with
  ``st.login`` (``[auth]`` in ``.streamlit/secrets.toml``); the identity is mapped to an entry of
  the users file for role and scope (:func:`metrics.access.users.user_for_identity`). No ``[auth]``
  section, no users file or an identity without an entry: nobody gets in (fail closed).
* ``None``: nothing configured, the dashboard is open as before (development only; production
  must set ``SERVICEWATCH_USERS``, see docs/security.md).

Five failed sign-ins for a name lock it for every dashboard process sharing the users file
(:mod:`metrics.access.lockout`); a lockout store that cannot be used refuses every sign-in.

The signed-in user is kept in ``st.session_state["sw_user"]`` with the time of the last run;
after ``SERVICEWATCH_SESSION_MINUTES`` (default 30) without a run the session ends. The user is
read again from the users file on every run, so a removed user or a changed role takes effect at
once.
"""

from __future__ import annotations

import logging
import os
import time

import streamlit as st

from metrics.access import audit
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import AuthError, Scope, User, UsersFileError
from metrics.model.i18n import label, t
from metrics.present.markup import md

AUTH_ENV = "SERVICEWATCH_AUTH"
OIDC_PROVIDER_ENV = "SERVICEWATCH_OIDC_PROVIDER"  # a named provider of [auth.<name>]; default: [auth] itself
TIMEOUT_ENV = "SERVICEWATCH_SESSION_MINUTES"
DEMO_USER = User("demo", "admin")
log = logging.getLogger(__name__)


def auth_mode() -> str | None:
    mode = os.environ.get(AUTH_ENV, "").strip().lower()
    if mode == "demo":
        return "demo"
    if mode == "oidc":
        return "oidc"
    if mode == "users" or os.environ.get(access.USERS_ENV):
        return "users"
    if mode:  # an unknown value must not open the dashboard
        return "users"
    return None


def timeout_s() -> float:
    try:
        return 60 * float(os.environ.get(TIMEOUT_ENV, 30))
    except ValueError:
        return 1800.0


def out_of_scope_message(lang: str) -> str:
    return t("auth.out_of_scope", lang)


def current_user() -> User | None:
    return st.session_state.get("sw_user")


def current_scope() -> Scope | None:
    user = current_user()
    return access_scope.scope_for(user) if user is not None else None


def sign_out() -> None:
    for key in ("sw_user", "_sw_seen", "sw_state"):
        st.session_state.pop(key, None)


def gate(lang: str, url: str) -> User | None:
    """Return the signed-in user (None when the dashboard is open); otherwise draw the sign-in
    form and stop the script."""
    mode = auth_mode()
    if mode is None:
        return None
    if mode == "demo":
        st.session_state["sw_user"] = DEMO_USER
        st.warning(t("auth.demo_banner", lang), icon=":material/warning:")
        return DEMO_USER
    if mode == "oidc":
        return _oidc_gate(lang, url)
    user = current_user()
    now = time.time()
    seen = st.session_state.get("_sw_seen", 0.0)
    if user is not None and not (isinstance(user, User) and isinstance(seen, (int, float))):
        sign_out()  # anything but what the sign-in put there: a forged or stale session state
        user = None
    if user is not None:
        if not 0 <= now - seen <= timeout_s():  # expired, or "seen" in the future (forged)
            sign_out()
            st.info(t("auth.timed_out", lang))
        else:
            try:
                user = access.get_user(user.name)  # removed users and changed roles take effect at once
            except (ValueError, UsersFileError):
                sign_out()
                user = None
            if user is not None:
                st.session_state["sw_user"] = user
                st.session_state["_sw_seen"] = now
                return user
    _form(lang, url)
    st.stop()
    return None  # unreachable


def oidc_configured() -> bool:
    """Whether ``[auth]`` is in the secrets (``st.login`` needs it)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def _oidc_gate(lang: str, url: str) -> User:
    """``st.login`` against the identity provider, then the users file decides role and scope."""
    if not oidc_configured():
        st.error(t("auth.oidc_unconfigured", lang))
        st.stop()
    identity = st.user
    if not identity.is_logged_in:
        sign_out()
        st.title("ServiceWatch")
        if st.button(t("auth.oidc_sign_in", lang), key="_sw_oidc_login", type="primary"):
            provider = os.environ.get(OIDC_PROVIDER_ENV)
            st.login(provider) if provider else st.login()
        st.stop()
    claims = identity.to_dict()
    now = time.time()
    user, seen = current_user(), st.session_state.get("_sw_seen", 0.0)
    expired = isinstance(claims.get("exp"), (int, float)) and claims["exp"] < now  # the ID token's end
    idle = user is not None and not (isinstance(seen, (int, float)) and 0 <= now - seen <= timeout_s())
    if expired or idle:
        sign_out()
        st.info(t("auth.timed_out", lang))
        if st.button(t("auth.oidc_sign_in", lang), key="_sw_oidc_again", type="primary"):
            st.logout()  # a fresh sign-in at the provider
        st.stop()
    try:
        found = access.user_for_identity(claims)
    except UsersFileError as exc:
        st.error(t("auth.unavailable", lang, detail=str(exc)))
        st.stop()
    except AuthError:
        who = str(claims.get("email") or claims.get("sub") or "?")[:80]
        if st.session_state.get("_sw_refused") != who:  # recorded once per session
            audit.record_safely(url, who, "sign_in_failed", {"reason": "unknown identity", "via": "oidc"})
            st.session_state["_sw_refused"] = who
        sign_out()
        st.error(t("auth.oidc_unknown", lang, identity=md(who)))
        if st.button(t("auth.sign_out", lang), key="_sw_oidc_out"):
            st.logout()
        st.stop()
    if not isinstance(user, User) or user.name != found.name:
        st.session_state.pop("sw_state", None)  # filters are rebuilt within the new scope
        audit.record_safely(url, found.name, "sign_in", {"role": found.role, "via": "oidc"})
    st.session_state["sw_user"] = found
    st.session_state["_sw_seen"] = now
    return found


def _form(lang: str, url: str) -> None:
    st.title("ServiceWatch")
    with st.form("sw_sign_in"):
        name = st.text_input(t("auth.user_name", lang), key="_sw_login_name")
        password = st.text_input(t("auth.password", lang), type="password", key="_sw_login_password")
        submitted = st.form_submit_button(t("auth.sign_in", lang))
    if not submitted:
        return
    try:
        user = access.verify(name.strip(), password)  # counted in the lockout store shared by every process
    except access.LockoutUnavailable as exc:  # fail closed; the path and cause go to the server log only
        log.error("sign-in refused: %s", exc)
        st.error(t("auth.lockout_unavailable", lang))
        return
    except UsersFileError as exc:
        st.error(t("auth.unavailable", lang, detail=str(exc)))
        return
    except access.LockedError as exc:
        audit.record_safely(url, name.strip()[:80] or "?", "sign_in_failed", {"reason": str(exc)})
        st.error(t("auth.locked", lang))
        return
    except AuthError as exc:
        audit.record_safely(url, name.strip()[:80] or "?", "sign_in_failed", {"reason": str(exc)})
        st.error(t("auth.failed", lang))
        return
    st.session_state["sw_user"] = user
    st.session_state["_sw_seen"] = time.time()
    st.session_state.pop("sw_state", None)  # filters are rebuilt within the new scope
    audit.record_safely(url, user.name, "sign_in", {"role": user.role})
    st.rerun()


def sidebar(lang: str) -> None:
    """Who is signed in, and the sign-out button."""
    user = current_user()
    if user is None or auth_mode() is None:
        return
    st.caption(t("auth.signed_in", lang, name=md(user.name), role=label("role", user.role, lang)))
    if user.role == "admin":
        st.page_link("pages/7_Admin.py", label=t("auth.admin_link", lang),
                     icon=":material/admin_panel_settings:")
    if auth_mode() in ("users", "oidc") and st.button(t("auth.sign_out", lang), key="_sw_sign_out"):
        sign_out()
        if auth_mode() == "oidc":
            st.logout()
        st.rerun()
