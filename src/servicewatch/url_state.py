"""A link is the view: a page's own choices (the metric shown, the dimension a chart is cut by, the
survey kind, a picked customer …) live in the URL beside the filters and the section, so a link, a
reload and the browser's Back/Forward reproduce what the page shows.

One mechanism for every page: :func:`choice` draws the widget (radio, select box or segmented
control), takes its first value from the URL (checked against the options by
:func:`metrics.model.links.check_choice`; an invalid value is dropped with the link notice), remembers
it per page for the session and writes it back when it changes. A value equal to the page's default
is left out of the URL.

History: the browser adds one history entry whenever the script sets a different query string (Back
and Forward rerun the script with the entry's query string, flagged as a history navigation). So the
URL is written only when a value changed, each change writes once, and the sidebar's page links carry
the target page's whole query string (filters, language, its remembered section and choices): a page
switch is one entry, not one for the switch and more for the query the new page writes. On a history
navigation the URL is the truth: the filters, section, language and choices are read from it again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import streamlit as st

from metrics.model.i18n import t
from metrics.model.links import CHOICE_KEYS, check_choice
from metrics.present.markup import md

if TYPE_CHECKING:
    from servicewatch.ui import View

# each page (by its title key, the View's page_key) and the choice keys it offers, in URL order
PAGE_CHOICES: dict[str, tuple[str, ...]] = {
    "nav.overview": ("metric", "dim", "explain"),
    "page.satisfaction.title": ("survey", "metric"),
    "page.complaints.title": ("dim", "handling", "handling_dim", "voc_dim", "voc_topic", "pick"),
    "page.sla.title": ("cut",),
    "page.churn.title": ("dim",),
    "page.regions.title": ("metric",),
    "page.at_risk.title": ("customer",),
    "page.alerts.title": ("metric", "alert"),  # a metric's control chart (servicewatch.control_link); an alert's
    "page.portfolio.title": ("rank_by", "manager", "group", "customer"),
    "page.outlets.title": ("hall",),
    "page.regulator.title": ("quarter", "level", "base", "point", "authority"),
}
# the page scripts of the sidebar's links and their title keys
PAGE_OF_PATH = {
    "app.py": "nav.overview",
    "pages/1_Satisfaction.py": "page.satisfaction.title",
    "pages/2_Complaints.py": "page.complaints.title",
    "pages/3_SLA.py": "page.sla.title",
    "pages/4_Churn.py": "page.churn.title",
    "pages/5_Regions.py": "page.regions.title",
    "pages/6_Data.py": "page.data.title",
    "pages/8_At_risk.py": "page.at_risk.title",
    "pages/9_Alerts.py": "page.alerts.title",
    "pages/10_Portfolio.py": "page.portfolio.title",
    "pages/11_Outlets.py": "page.outlets.title",
    "pages/12_Regulator.py": "page.regulator.title",
}
CHOICES = "sw_choices"  # {page key: {choice key: text}}: the non-default choices, per page, for the session
SECTIONS = "sw_sections"  # {page key: section id} (servicewatch.ui.sections)
FILTER_QUERY = "sw_filter_query"  # the filter bar's part of the URL this run (filters, preset, language)
FROM_URL = "_sw_from_url"  # this run reads the page's choices from the URL (a link opened, Back/Forward)
WIDGETS = {"radio": "radio", "selectbox": "selectbox", "segmented": "segmented_control"}  # st.<name>
assert all(k in CHOICE_KEYS for keys in PAGE_CHOICES.values() for k in keys)


def history_navigation() -> bool:
    """Whether this run was started by the browser's Back or Forward button (Streamlit passes the flag
    with the rerun request; read from the run's context, False where there is none, e.g. AppTest)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))
    except ImportError:  # pragma: no cover - another Streamlit layout: no history flag
        return False


def read_link(page_key: str, choices: dict[str, str]) -> None:
    """A link was opened or the browser went Back/Forward: the page's choices as the URL wrote them
    (checked later, by :func:`choice`, against the options)."""
    st.session_state.setdefault(CHOICES, {})[page_key] = dict(choices)
    st.session_state[FROM_URL] = page_key


def page_choices(page_key: str) -> dict[str, str]:
    """The page's remembered non-default choices (key -> text), in the page's URL order."""
    stored = st.session_state.get(CHOICES, {}).get(page_key, {})
    return {k: stored[k] for k in PAGE_CHOICES.get(page_key, ()) if k in stored}


def page_query(page_key: str, filter_query: dict[str, str]) -> dict[str, str]:
    """The whole query string of ``page_key`` as it would open now: the filters, its section and its
    choices (what the sidebar's link to it carries)."""
    wanted = dict(filter_query)
    section = st.session_state.get(SECTIONS, {}).get(page_key)
    if section:
        wanted["section"] = section
    return {**wanted, **page_choices(page_key)}


def choice(view: View, key: str, options: Sequence[Any], label: str, default: Any = None, *,
           widget: str = "radio", format_func: Callable[[Any], str] = str, to_url: Callable[[Any], str] = str,
           where: Any = None, **kwargs: Any) -> Any:
    """Draw the page choice ``key`` (one of the page's :data:`PAGE_CHOICES`) as a ``widget`` over
    ``options`` with ``label``, in ``where`` (a column or container; default the page); return the
    chosen option. ``to_url``: an option's text in the URL (default ``str``); ``default``: the option
    shown when the URL and the session say nothing (default the first). Its value comes from the URL
    when a link was opened or the browser went Back/Forward, else from the widget or, after a page
    switch or a language change, from what the page remembered; it is written to the URL when it
    changed (left out when it is the default)."""
    if key not in PAGE_CHOICES.get(view.page_key, ()):
        raise ValueError(f"{key!r} is not a choice of {view.page_key!r} (servicewatch.url_state.PAGE_CHOICES)")
    options = list(options)
    if not options:
        return None
    default = options[0] if default is None or default not in options else default
    by_text = {to_url(o): o for o in options}
    store = st.session_state.setdefault(CHOICES, {}).setdefault(view.page_key, {})
    wkey = widget_key(key)
    if st.session_state.get(FROM_URL) == view.page_key:  # a link or Back/Forward: the URL says
        text, ignored = check_choice(key, store.get(key), by_text)
        if ignored:
            st.warning(t("query.ignored", view.lang, items=md(ignored)), icon=":material/link_off:")
        st.session_state[wkey] = by_text[text] if text is not None else default
    elif view.reseed or st.session_state.get(wkey) not in options:  # another page or language: remembered
        st.session_state[wkey] = by_text.get(store.get(key, ""), default)
    if widget == "segmented":
        kwargs.setdefault("required", True)
    value = getattr(where or st, WIDGETS[widget])(label, options, key=wkey, format_func=format_func, **kwargs)
    if value not in options:
        value = default
    if value == default:
        store.pop(key, None)
    else:
        store[key] = to_url(value)
    _write(key, store.get(key))
    return value


def widget_key(key: str) -> str:
    """The session-state key of the widget of the choice ``key`` (tests and pages that drive it)."""
    return f"_w_choice_{key}"


def new_run() -> None:
    """Start of a run (:func:`servicewatch.ui.page`): the choices are read from the URL only in the run
    that opened a link or went Back/Forward (:func:`read_link`); later runs trust the widgets."""
    st.session_state.pop(FROM_URL, None)


def _write(key: str, text: str | None) -> None:
    """Set (or, for None, remove) one URL key, only when it differs: every write is a history entry."""
    if st.query_params.get(key) == text:
        return
    if text is None:
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = text


PICK_SEEN = "_sw_pick_seen"  # {page key: {chart key: values}}: each chart's selection as last seen


def picked(view: View, key: str, dim: str, chart: Sequence[str], chart_key: str, valid: Collection[str],
           to_url: Callable[[str], str] = str) -> list[str]:
    """The values of ``dim`` picked in a chart (``chart``: the plotly selection's values this run, of
    the chart ``chart_key``), kept in the URL as ``key=dim:a,b`` (``to_url``: a value's text there;
    ``valid``: the values the chart shows). A plotly selection cannot be set from the server, so the
    URL's pick holds until the chart's selection changes (a new pick, or the selection cleared in the
    chart) or :func:`clear_pick`: a link opens with the pick the sender had, drawn by the page in
    words. A pick of another dimension (the chart was cut otherwise) is dropped; values the chart does
    not show are dropped with the link notice; a chart selection naming values the chart does not show
    (only a crafted request can: another city's region, say) is refused on the page and not kept."""
    if key not in PAGE_CHOICES.get(view.page_key, ()):
        raise ValueError(f"{key!r} is not a choice of {view.page_key!r} (servicewatch.url_state.PAGE_CHOICES)")
    store = st.session_state.setdefault(CHOICES, {}).setdefault(view.page_key, {})
    seen = st.session_state.setdefault(PICK_SEEN, {}).setdefault(view.page_key, {})
    shown_values = {str(v) for v in valid}
    foreign = [str(v) for v in chart if str(v) not in shown_values]
    if foreign:  # the browser sent values the chart does not draw (a crafted selection): refused, not kept
        st.info(t("auth.refused_request", view.lang), icon=":material/lock:")
    now = tuple(str(v) for v in chart if str(v) in shown_values)
    from_url = st.session_state.get(FROM_URL) == view.page_key
    if not from_url and now != seen.get(chart_key, ()):  # picked or cleared in the chart: the chart says
        if now:
            store[key] = f"{dim}:" + ",".join(to_url(v) for v in now)
        else:
            store.pop(key, None)
    seen[chart_key] = now
    text = store.get(key) or ""
    by_text = {to_url(str(v)): str(v) for v in valid}
    values: list[str] = []
    bad: list[str] = []
    if text:
        d, _, rest = text.partition(":")
        for part in (p for p in rest.split(",") if p) if d == dim else ():
            (values if part in by_text else bad).append(by_text.get(part, part))
        if d != dim:  # a pick in a chart cut by another dimension: not this chart's
            bad = [text]
        kept = f"{dim}:" + ",".join(to_url(v) for v in values) if values else None
        if kept is None:
            store.pop(key, None)
        else:
            store[key] = kept
    if from_url and bad:
        st.warning(t("query.ignored", view.lang, items=md(f"{key}={','.join(bad)}")), icon=":material/link_off:")
    _write(key, store.get(key))
    return values


def clear_pick(page_key: str, key: str, chart_key: str) -> None:
    """Forget the chart pick ``key`` of ``page_key`` (a button's callback: the URL follows in the run
    it starts) and the chart's own selection, so the chart is drawn unselected."""
    st.session_state.get(CHOICES, {}).get(page_key, {}).pop(key, None)
    st.session_state.setdefault(PICK_SEEN, {}).setdefault(page_key, {})[chart_key] = ()
    st.session_state.pop(chart_key, None)
