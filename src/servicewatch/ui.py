"""Shared Streamlit pieces: page setup, the View a page works with, sections and chart output
(the cached engine calls are in :mod:`servicewatch.cache`, the filter bar in
:mod:`servicewatch.filter_bar`).

Every page calls :func:`page` first; it draws the sidebar (language, navigation, filters) and
returns a :class:`View` with the warehouse, the filters and the language. Filter state lives in
``st.session_state["sw_state"]`` (it survives page switches, unlike widget keys) and is mirrored
into the URL query string, so a link reproduces the view.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from metrics.access import scope as access_scope
from metrics.access.users import ScopeError, User
from metrics.analysis import drill
from metrics.analysis.subtitles import region_parents, subtitle
from metrics.backends.connect import DatabaseError, resolve_url
from metrics.model.filters import Filters
from metrics.model.i18n import LANGS, label, metric_label, t
from metrics.model.keys import shown
from metrics.present import export
from metrics.present.markup import md, md_values
from metrics.query.warehouse import Warehouse
from servicewatch import auth, errors, heap, screen, url_state
from servicewatch.cache import (  # noqa: F401 - pages and tests reach them as ui.*
    cached_call,
    cached_compare,
    cached_metric,
    close_warehouses,
    warehouse,
)
from servicewatch.downloads import XLSX_MIME, audited, metrics_named, table_export
from servicewatch.filter_bar import filter_bar

warnings.filterwarnings("ignore", message="The kopts argument is ignored")

PAGES = (
    ("app.py", "nav.overview", ":material/dashboard:"),
    ("pages/1_Satisfaction.py", "nav.satisfaction", ":material/sentiment_satisfied:"),
    ("pages/2_Complaints.py", "nav.complaints", ":material/report:"),
    ("pages/3_SLA.py", "nav.sla", ":material/timer:"),
    ("pages/4_Churn.py", "nav.churn", ":material/trending_down:"),
    ("pages/5_Regions.py", "nav.regions", ":material/map:"),
    ("pages/6_Data.py", "nav.data", ":material/database:"),
    ("pages/8_At_risk.py", "nav.at_risk", ":material/warning:"),
    ("pages/9_Alerts.py", "nav.alerts", ":material/notifications:"),
    ("pages/10_Portfolio.py", "nav.portfolio", ":material/groups:"),
    ("pages/11_Outlets.py", "nav.outlets", ":material/storefront:"),
    ("pages/12_Regulator.py", "nav.regulator", ":material/gavel:"),
)
APP_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class View:
    """What a page needs: the warehouse, the filters, the language and region names."""

    wh: Warehouse
    version: float | str
    filters: Filters
    lang: str
    as_of: date
    regions: pd.DataFrame
    region_names: dict[int, str] = field(default_factory=dict)
    user: User | None = None  # None: the dashboard runs without sign-in
    page_key: str = ""  # the page's title key: its sections are remembered under it
    reseed: bool = False  # another page or language this run: widgets are set from the stored state
    link_section: str | None = None  # ``section=`` of the link that opened the session, first run only

    @property
    def url(self) -> str:
        return self.wh.url

    def metric(self, metric_id: str, by: Iterable[str] = (), level: str = "city", f: Filters | None = None):
        return self._refusing(cached_metric, metric_id, f or self.filters, tuple(by), level)

    def compare(self, metric_id: str, by: Iterable[str] = (), level: str = "city", f: Filters | None = None):
        return self._refusing(cached_compare, metric_id, f or self.filters, tuple(by), level)

    def call(self, fn: str | Callable, *args, **kwargs):
        """A cached engine call: a ``Warehouse`` method by name, or an engine function taking the
        warehouse first (``view.call(sla.service_by, f, "tier")``)."""
        if isinstance(fn, str):
            return self._refusing(cached_call, fn, *args, **kwargs)
        return self._refusing(cached_call, fn.__name__, *args, module=fn.__module__, **kwargs)

    def _refusing(self, cached: Callable, *args, **kwargs):
        """``cached(wh, version, url, *args)``; a request outside the user's scope (a list for a viewer,
        a chart selection of a region elsewhere) is said on the page and gives an empty frame."""
        try:
            return cached(self.wh, self.version, self.url, *args, **kwargs)
        except ScopeError:
            key = "auth.refused_rows" if self.filters.scope and self.filters.scope.aggregates_only else \
                "auth.refused_request"
            st.info(self.t(key), icon=":material/lock:")
            return pd.DataFrame()

    @cached_property
    def _ancestors(self) -> dict[int, list[int]]:
        return drill.ancestors(self.regions)

    def target(self, metric_id: str, f: Filters | None = None) -> float | None:
        """The target that applies to ``metric_id`` under the filters (``targets`` table), if any."""
        return drill.target_for(self.call("targets"), metric_id, f or self.filters, self._ancestors)

    def keys(self, entity: str, ids: Iterable[object]) -> dict[int, str]:
        """Each id of ``entity`` (customers, tickets …) -> its key as the source wrote it, as text
        (:func:`metrics.model.keys.shown`); missing ids are left out."""
        wanted = tuple(sorted({int(i) for i in ids if i is not None and not pd.isna(i)}))
        negative = tuple(i for i in wanted if i < 0)
        texts = self.call("key_texts", entity, negative) if negative else {}
        return {i: shown(i, texts if isinstance(texts, dict) else {}) for i in wanted}

    def t(self, key: str, **fmt) -> str:
        return t(key, self.lang, **fmt)

    def choice(self, key: str, options: Sequence, label: str, default=None, **kwargs):
        """A choice of the page that lives in the URL (``key=…``), a link, a reload and Back/Forward
        reproduce it: :func:`servicewatch.url_state.choice`."""
        return url_state.choice(self, key, options, label, default, **kwargs)

    def md(self, key: str, **fmt) -> str:
        """The catalogue text ``key`` for a Markdown element (st.markdown, captions, alerts, labels),
        its text arguments escaped (:func:`metrics.present.markup.md`): data is shown, never rendered."""
        return t(key, self.lang, **md_values(fmt))

    def label(self, dim: str, value) -> str:
        return label(dim, value, self.lang)

    def metric_label(self, metric_id: str) -> str:
        from metrics.query.dialect import quantiles_mode

        return metric_label(metric_id, self.lang, approximate=quantiles_mode(self.wh.engine) == "approx")

    @cached_property
    def _parents(self) -> dict[int, int | None]:
        return region_parents(self.regions)

    def subtitle(self, with_comparison: bool = False, f: Filters | None = None) -> str:
        """Period and slices of ``f`` (default: the page's filters) in words, naming the regions the
        figure covers: the user's scope when no region is chosen
        (:func:`metrics.analysis.subtitles.covered_regions`)."""
        return subtitle(f or self.filters, self.lang, self.region_names, with_comparison, self._parents)


# -- page setup -------------------------------------------------------------------------------
def _initial_lang() -> str:
    q = st.query_params.get("lang")
    if q in LANGS:
        return q
    locale = (getattr(st.context, "locale", None) or "").lower()
    return "en" if locale and not locale.startswith("zh") else "zh"


def _resolve_lang(page_changed: bool) -> str:
    """The language of this run, settled before anything is drawn (tab title, sign-in, sidebar).

    A click on the language radio reaches ``st.session_state["_w_lang"]`` before the script runs, so
    the radio's value is this run's language; the persisted ``sw_lang`` (first from ``?lang=`` or the
    browser locale) seeds the radio when it has no value yet or another page is shown."""
    if "sw_lang" not in st.session_state:
        st.session_state["sw_lang"] = _initial_lang()
    picked = st.session_state.get("_w_lang")
    if not page_changed and picked in LANGS:
        st.session_state["sw_lang"] = picked
    else:
        st.session_state["_w_lang"] = st.session_state["sw_lang"]
    return st.session_state["sw_lang"]


def _resend_widget_values() -> None:
    """After a language change, hand every keyed widget (``_w_*``: filter bar and page widgets) its
    value again, read before any widget is drawn (so still decoded with the old labels); Streamlit
    then sends the browser the value as a label of the new language instead of keeping the old one."""
    for key in [k for k in st.session_state if str(k).startswith("_w_") and k != "_w_lang"]:
        st.session_state[key] = st.session_state[key]


def page_title(title_key: str, lang: str) -> str:
    """The browser tab title of a page in ``lang``."""
    return f"ServiceWatch · {t(title_key, lang)}"


def page(title_key: str) -> View:
    """Set up a page: config, sidebar (language, navigation, filters); stops politely on errors. An
    unexpected exception later in the page shows one line with an error id (:mod:`servicewatch.errors`)."""
    errors.install()
    heap.freeze_heap()
    # Back/Forward: the URL is the truth again (filters, section, language and the page's choices are
    # read from it as from a link opened, servicewatch.url_state)
    url_state.new_run()
    back = url_state.history_navigation()
    if back:
        st.session_state.pop("sw_state", None)
        if st.query_params.get("lang") in LANGS:
            st.session_state["sw_lang"] = st.session_state["_w_lang"] = st.query_params.get("lang")
    # Streamlit drops widget state when another page is shown: on a page switch every widget of the
    # filter bar is set again from the persisted state.
    page_changed = st.session_state.get("_sw_page") != title_key
    st.session_state["_sw_page"] = title_key
    lang = _resolve_lang(page_changed)
    st.set_page_config(page_title=page_title(title_key, lang), layout="wide", initial_sidebar_state="auto")
    screen.fit(lang)  # cards, buttons and the sidebar fit 1024 px; the uploader's words in the language
    # The browser keeps each selectbox/multiselect value as its displayed label; after a language
    # change those labels are of the other language and no longer match the options, so the filter
    # bar is set again from the persisted state then too, like on a page switch.
    lang_changed = st.session_state.get("_sw_bar_lang") not in (None, lang)
    st.session_state["_sw_bar_lang"] = lang
    if lang_changed:
        _resend_widget_values()
    user = auth.gate(lang, resolve_url())  # stops here until signed in
    with st.sidebar:
        st.radio("Language", LANGS, format_func=lambda x: "中文" if x == "zh" else "English",
                 horizontal=True, key="_w_lang", label_visibility="collapsed")
        nav = st.container()  # filled after the filter bar: each link carries its page's whole query string
        auth.sidebar(lang)
        st.divider()
    try:
        wh, version = warehouse()
        as_of = cached_call(wh, version, wh.url, "as_of")
        span = cached_call(wh, version, wh.url, "data_span")
        regions = cached_call(wh, version, wh.url, "regions")
    except DatabaseError as exc:
        st.error(t("common.db_error", lang, detail=md(exc)))
        st.stop()
    name_col = "name_zh" if lang == "zh" else "name_en"
    names = dict(zip(regions["region_id"].astype(int), regions[name_col], strict=True))
    scope = access_scope.scope_for(user, key_ids=lambda entity, keys: cached_call(
        wh, version, wh.url, "key_ids", entity, tuple(keys))) if user is not None else None  # keys -> ids
    reseed = page_changed or lang_changed or back
    view = View(wh, version, filter_bar(wh, version, as_of, regions, lang, reseed, scope, page_changed, span,
                                        title_key), lang,
                as_of, regions, names, user, title_key, reseed, st.session_state.pop("sw_link_section", None))
    filter_query = st.session_state.get(url_state.FILTER_QUERY, {})
    for path, key, icon in PAGES:
        if (APP_ROOT / path).is_file():
            target = url_state.PAGE_OF_PATH.get(path, "")
            nav.page_link(path, label=t(key, lang), icon=icon, query_params=url_state.page_query(target, filter_query))
    from servicewatch.pack_button import meeting_pack_button  # the review-meeting pack, at the end of the sidebar

    meeting_pack_button(view)
    from servicewatch.subscribe import subscribe_button  # "subscribe to this view", below the pack

    subscribe_button(view)
    st.title(t(title_key, lang))
    st.caption(f"{md(view.subtitle(with_comparison=True))} · {t('app.as_of', lang, date=as_of.isoformat())}")
    return view


# -- sections ---------------------------------------------------------------------------------
SECTION_KEY = "_w_section"


def sections(view: View, ids: Sequence[str]) -> str:
    """The page's section switch; returns the chosen section id (``section.<id>`` in the catalogue).

    A page computes and draws only its chosen section, so a first load or a filter change runs the
    queries and draws the charts of one section, not of the whole page (each plotly chart costs the
    browser ~0.1 s to draw, see docs/performance.md). The choice is remembered per page for the
    session and lives in the URL (``section=``), so a link opens the same section."""
    stored = st.session_state.setdefault("sw_sections", {})
    from_url = st.session_state.get(url_state.FROM_URL) == view.page_key  # a link or Back/Forward: the URL says
    if from_url:  # an address without a section shows the first (servicewatch.url_state)
        current = st.query_params.get("section") if st.query_params.get("section") in ids else ids[0]
    else:
        current = view.link_section if view.link_section in ids else stored.get(view.page_key)
    if current not in ids:
        current = ids[0]
    if from_url or view.reseed or st.session_state.get(SECTION_KEY) not in ids:
        st.session_state[SECTION_KEY] = current
    chosen = st.segmented_control(view.t("common.section"), ids, key=SECTION_KEY, required=True,
                                  format_func=lambda s: view.t(f"section.{s}"), label_visibility="collapsed")
    chosen = chosen if chosen in ids else current
    stored[view.page_key] = chosen
    # into the URL when it changed; the first section of a URL that names none is what the URL shows
    # already (written, it would be a second history entry on the first load of a bare link)
    if st.query_params.get("section") != chosen and not ("section" not in st.query_params and chosen == ids[0]):
        st.query_params["section"] = chosen
    return chosen


def section_page(title_key: str, intro_key: str, drawn: Mapping[str, Callable[[View], object]]) -> View:
    """A page of sections: :func:`page`, its intro line (catalogue key ``intro_key``), the section switch
    (:func:`sections`, in ``drawn``'s order) and the chosen section drawn by its function."""
    view = page(title_key)
    st.caption(view.t(intro_key))
    drawn[sections(view, tuple(drawn))](view)
    return view


# -- output -----------------------------------------------------------------------------------
def empty_state(view: View) -> None:
    st.info(view.t("common.no_data"))


def chart(view: View, fig: go.Figure, data: pd.DataFrame, key: str, select: bool = False,
          metrics: Iterable[str] | str = (), f: Filters | None = None):
    """Show a figure with PNG/SVG/CSV/Excel downloads; returns the selection when ``select``. The
    data downloads with headers, dimension values and region names in the page's language; the
    Excel file with the chart's title, the filters ``f`` (default: the page's) and the definitions
    of ``metrics`` (default: the metric ids the key names), each column in its number format."""
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics) or metrics_named(key)
    title = export.title_text(fig.layout.title.text)
    # the table (values and headers in the language, number formats) is built when a download asks for
    # it, not on every run: ~5 ms of pandas per chart (bench/server_cpu.py)
    table = functools.cache(lambda: table_export(view, with_region_codes(data), title, metrics, f))
    event = st.plotly_chart(fig, key=key, on_select="rerun" if select else "ignore",
                            selection_mode="points", config=screen.plot_config(view.lang))  # toolbar in the language
    row = st.container(horizontal=True, gap="small")  # wraps on a narrow screen: no label cut off
    name = key.replace(" ", "_")
    rows = len(data)
    row.download_button(view.t("export.png"), audited(view, lambda: export.figure_image(fig, "png"),
                                                      f"{name}.png", rows), f"{name}.png",
                        "image/png", key=f"{key}_png", on_click="ignore", icon=":material/image:", width="content")
    row.download_button(view.t("export.svg"), audited(view, lambda: export.figure_image(fig, "svg"),
                                                      f"{name}.svg", rows), f"{name}.svg",
                        "image/svg+xml", key=f"{key}_svg", on_click="ignore", width="content")
    row.download_button(view.t("export.csv"), audited(view, lambda: table().csv(), f"{name}.csv", rows),
                        f"{name}.csv", "text/csv", key=f"{key}_csv", on_click="ignore", width="content")
    row.download_button(view.t("export.xlsx"), audited(view, lambda: table().xlsx(), f"{name}.xlsx", rows),
                        f"{name}.xlsx",
                        XLSX_MIME, key=f"{key}_xlsx", on_click="ignore", width="content")
    if select and event and event.selection and event.selection.points:
        return event.selection.points
    return None


def with_region_codes(data: pd.DataFrame) -> pd.DataFrame:
    """``region_code`` (the id as the data holds it) beside ``region_id``, which
    :func:`servicewatch.tables.localise` turns into the region's name: a download names each region
    and keeps its id for joining."""
    if "region_id" not in data.columns or "region_code" in data.columns:
        return data
    out = data.copy()
    out.insert(out.columns.get_loc("region_id") + 1, "region_code", out["region_id"])
    return out


def selected_values(points) -> list[str]:
    """The category values (customdata) of selected chart points."""
    out = []
    for p in points or []:
        cd = p.get("customdata")
        if isinstance(cd, list):
            cd = cd[0] if cd else None
        if cd is not None:
            out.append(str(cd))
    return out
