""""Subscribe to this view": a popover at the foot of every page's sidebar (drawn by
:func:`servicewatch.ui.page`) that subscribes users to the page's filters and section.

The format (PDF or PPTX meeting pack, or the digest), the period of each delivery, the schedule
(daily, weekly on a weekday, monthly on a day, at a time in a time zone, Asia/Shanghai by default)
and the recipients among the users with an address. The checks and the stored row are the command
line's (:func:`metrics.deliver.subscribe.subscribe`): only admins and managers subscribe others,
and nobody is subscribed to figures outside their scope. Without sign-in nobody subscribes.
"""

from __future__ import annotations

from datetime import UTC, time
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

import streamlit as st

from metrics.access import users as access
from metrics.deliver import store
from metrics.deliver.lease import now_utc
from metrics.deliver.schedule import DEFAULT_TIME_ZONE, WEEKDAYS, Schedule, ScheduleError, next_due
from metrics.deliver.scope import DEFAULT_PRESET, PRESETS
from metrics.deliver.subscribe import MAY_SUBSCRIBE_OTHERS, Refused, subscribe
from metrics.model.i18n import t
from metrics.present.markup import md_values
from servicewatch import url_state
from servicewatch.errors import log_error, message

if TYPE_CHECKING:
    from servicewatch.ui import View

FORMATS = ("pdf", "pptx", "digest")
FREQUENCIES = ("daily", "weekly", "monthly")
KEY = "sw_sub"  # widget keys: sw_sub_format, sw_sub_every …


def section_id(view: View) -> str:
    """The page and section subscribed from: ``satisfaction`` or ``satisfaction.survey`` (as
    ``subscription add --section`` takes it)."""
    page = view.page_key.removeprefix("nav.").removeprefix("page.").removesuffix(".title")
    section = st.session_state.get(url_state.SECTIONS, {}).get(view.page_key)
    return f"{page}.{section}" if section else page


def every(freq: str, weekday: str, day: int) -> str:
    """The schedule text of the form's choices: ``daily``, ``weekly:MON``, ``monthly:1``."""
    if freq == "weekly":
        return f"weekly:{weekday}"
    if freq == "monthly":
        return f"monthly:{int(day)}"
    return "daily"


def recipients_for(owner: access.User) -> list[str]:
    """Whom ``owner`` may choose: every user with an address for admins and managers, else only
    themselves (when they have one)."""
    users = {n: u for n, (u, _h) in access.load_users().items() if u.email}
    if owner.role in MAY_SUBSCRIBE_OTHERS:
        return sorted(users)
    return [owner.name] if owner.name in users else []


def subscribe_button(view: View) -> None:
    """The "subscribe to this view" popover in the sidebar."""
    with st.sidebar.popover(view.t("subscribe.button"), icon=":material/schedule_send:", width="stretch",
                            help=view.t("subscribe.help")):
        if view.user is None:
            st.caption(view.t("subscribe.sign_in"))  # a caption: the page's own notices stay the only st.info
            return
        _form(view, view.user)


def _form(view: View, owner: access.User) -> None:
    lang = view.lang
    st.caption(view.md("subscribe.view", page=view.t(view.page_key), filters=view.subtitle()))
    try:
        names = recipients_for(owner)
    except access.UsersFileError:  # signed in another way (OIDC) without a users file: nobody to choose
        st.info(view.t("subscribe.no_users"))
        return
    except Exception as exc:  # noqa: BLE001 - anything else: one line with an id
        st.error(message("subscribe.error", log_error(exc, "subscription users"), lang))
        return
    if owner.role not in MAY_SUBSCRIBE_OTHERS:
        st.caption(view.t("subscribe.only_self"))
    preset = st.session_state.get(url_state.FILTER_QUERY, {}).get("preset")
    with st.form(f"{KEY}_form", border=False):
        fmt = st.selectbox(view.t("subscribe.format"), FORMATS, key=f"{KEY}_format",
                           format_func=lambda x: view.t(f"subscribe.fmt.{x}"))
        period = st.selectbox(view.t("subscribe.period"), PRESETS, key=f"{KEY}_period",
                              index=PRESETS.index(preset if preset in PRESETS else DEFAULT_PRESET),
                              format_func=lambda p: view.t(f"preset.{p}"))
        freq = st.radio(view.t("subscribe.every"), FREQUENCIES, key=f"{KEY}_freq", horizontal=True,
                        format_func=lambda x: view.t(f"subscribe.freq.{x}"))
        cols = st.columns(2)
        weekday = cols[0].selectbox(view.t("subscribe.weekday"), WEEKDAYS, key=f"{KEY}_weekday",
                                    format_func=lambda d: view.t(f"subscribe.wd.{d}"))
        day = cols[1].number_input(view.t("subscribe.day"), 1, 31, 1, key=f"{KEY}_day")
        cols = st.columns(2)
        at = cols[0].time_input(view.t("subscribe.at"), time(8, 0), key=f"{KEY}_at", step=900)
        zones = sorted(available_timezones())
        zone = cols[1].selectbox(view.t("subscribe.zone"), zones, key=f"{KEY}_zone",
                                 index=zones.index(DEFAULT_TIME_ZONE))
        to = st.multiselect(view.t("subscribe.to"), names, key=f"{KEY}_to", help=view.t("subscribe.to_help"))
        saved = st.form_submit_button(view.t("subscribe.save"), icon=":material/schedule_send:")
    if not saved:
        return
    if not to:
        st.warning(view.t("subscribe.no_recipients"))
        return
    try:
        when = Schedule.parse(every(freq, weekday, day), at.strftime("%H:%M"), zone)
        sid = subscribe(view.wh, store.engine_for(store.store_url(view.url)), view.filters, owner=owner,
                        owner_name=owner.name, recipients=to, schedule=when, fmt=fmt, preset=period,
                        section=section_id(view))
    except Refused as exc:
        st.error(t(exc.key, lang, **md_values(exc.params)))  # the names shown, never rendered
        return
    except ScheduleError as exc:
        st.error(view.md("subscribe.failed", detail=exc.text(lang)))
        return
    except Exception as exc:  # noqa: BLE001 - the store unreachable …: one line with an id, the detail logged
        st.error(message("subscribe.error", log_error(exc, "subscription"), lang))
        return
    first = next_due(when, now_utc().replace(tzinfo=UTC)).astimezone(when.zone)
    st.success(view.md("subscribe.added", id=sid, first=f"{first:%Y-%m-%d %H:%M %Z}"))
