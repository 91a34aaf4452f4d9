"""Unexpected errors: one line for the user, in their language, with a short id; the detail (type,
message, traceback — paths and all) in the server log under the same id.

:func:`install` makes :func:`on_page_error` the handler of every uncaught exception of the page run
(Streamlit's ``ScriptRunContext.on_script_error``), so no page shows a traceback, a path or an
exception text; the meeting pack calls :func:`log_error` itself. ``client.showErrorDetails = "none"``
in ``.streamlit/config.toml`` stays as the fallback should the handler itself fail.
"""

from __future__ import annotations

import logging
import secrets

import streamlit as st

from metrics.model.i18n import DEFAULT_LANG, t

log = logging.getLogger("servicewatch.dashboard")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _ensure_handler() -> None:
    """A stderr handler when nothing is configured: the server log gets the traceback (Python's
    last-resort handler would print the message only)."""
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        log.addHandler(handler)


def log_error(exc: BaseException, where: str) -> str:
    """Log ``exc`` with its traceback under a new 8-hex-digit id and return the id."""
    _ensure_handler()
    error_id = secrets.token_hex(4)
    log.error("error id %s in %s: %s: %s", error_id, where, type(exc).__name__, exc,
              exc_info=(type(exc), exc, exc.__traceback__))
    return error_id


def message(key: str, error_id: str, lang: str | None = None) -> str:
    """The user's line for ``key`` (``error.page``, ``error.pack``) with the id, in ``lang`` (default:
    the session's language)."""
    return t(key, lang or st.session_state.get("sw_lang", DEFAULT_LANG), id=error_id)


def on_page_error(exc: Exception) -> bool:
    """Streamlit's ``on_script_error``: log, show one line with the id; True: Streamlit shows nothing more."""
    error_id = log_error(exc, f"page {st.session_state.get('_sw_page', '?')}")
    st.error(message("error.page", error_id), icon=":material/error:")
    return True


def install() -> None:
    """Handle the uncaught exceptions of this page run with :func:`on_page_error` (first thing a page
    does: :func:`servicewatch.ui.page`)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is not None and hasattr(ctx, "on_script_error"):
        ctx.on_script_error = on_page_error
