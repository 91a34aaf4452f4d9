"""The one filter bar (period, comparison, city/district, tier, segment, channel, outlet) shared by every
page: its state lives in ``st.session_state["sw_state"]`` (it survives page switches, unlike widget
keys) and is mirrored into the URL, so a link reproduces the view; a link is read by the one parser
(:func:`metrics.model.links.parse_query`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import streamlit as st

from metrics.access import users as access
from metrics.access.users import Scope
from metrics.model.dimensions import KEYED_FILTERS
from metrics.model.filters import COMPARISONS, PRESETS, Filters, clamp_period, default_period, preset_period
from metrics.model.i18n import catalogue, label, t
from metrics.model.keys import shown
from metrics.model.links import LIST_KEYS, date_range, parse_query
from metrics.present.markup import md
from metrics.query.warehouse import Warehouse
from servicewatch import auth, screen, url_state
from servicewatch.cache import cached_call

KEYED = tuple(d.url_key for d in KEYED_FILTERS)  # region, outlet: named by keys, not values of the data
DEFAULT_PRESET = "last_quarter"  # the opening window when it fits the data (filters.default_period)


def _state(as_of: date, allowed: set[int] | None, regions: pd.DataFrame, values: Callable[[str], list[str]],
           lang: str, span: tuple[date, date] | None = None, keys: dict[int, str] | None = None,
           snapshot: date | None = None, page_key: str = "", outlets: dict[int, str] | None = None,
           allowed_outlets: set[int] | None = None) -> dict:
    """The persisted filter state; first built from the URL query string by the one parser
    (:func:`metrics.model.links.parse_query`): unknown keys, malformed or implausible dates, unknown regions
    and values are dropped and listed in one notice; dates outside the data's ``span`` are clamped to it
    with a notice; regions outside ``allowed`` are dropped too (a crafted link cannot widen a user's
    scope); a link names regions by their keys (``keys``: id -> key as the source wrote it; a plain
    number is its own id). Without a link the view opens on :func:`metrics.model.filters.default_period`.
    The link's choices of the page ``page_key`` go to :func:`servicewatch.url_state.read_link`.
    ``outlets``: every outlet's key (id -> key as the source wrote it); outlets outside
    ``allowed_outlets`` (a hall manager's) are dropped like regions outside the scope."""
    if "sw_state" not in st.session_state:
        q = st.query_params.to_dict()
        first, last = span or (date.min, as_of)
        default_preset, start, end = default_period(DEFAULT_PRESET, first, last, snapshot)
        known = {k: values(k) for k in LIST_KEYS if k not in KEYED and q.get(k)}  # only the dimensions it names
        parsed = parse_query(q, Filters(start=start, end=end), limits=date_range(max(date.today(), as_of)),
                             regions=set(regions["region_id"].astype(int)), values=known, sections=section_ids(),
                             span=(first, last), region_keys={k: i for i, k in (keys or {}).items()} or None,
                             choice_keys=url_state.PAGE_CHOICES.get(page_key, ()), outlets=set(outlets or ()),
                             outlet_keys={k: i for i, k in (outlets or {}).items()})
        url_state.read_link(page_key, dict(parsed.choices))
        if parsed.ignored:
            st.warning(t("query.ignored", lang, items=md(", ".join(parsed.ignored))), icon=":material/link_off:")
        f = parsed.filters
        if parsed.clamped:
            st.warning(t("query.clamped", lang, items=md(", ".join(parsed.clamped)), first=first.isoformat(),
                         last=last.isoformat(), start=f.start.isoformat(), end=f.end.isoformat()),
                       icon=":material/date_range:")
        dated = "from" in q and not any(i.startswith("from=") for i in parsed.ignored)
        preset = parsed.preset or ("custom" if dated else default_preset)
        if preset == default_preset == "custom" and not dated:  # not the usual quarter: say why
            key = "filter.default_snapshot" if snapshot is not None and snapshot == last else "filter.default_span"
            st.info(t(key, lang, preset=t(f"preset.{DEFAULT_PRESET}", lang), start=f.start.isoformat(),
                      end=f.end.isoformat()), icon=":material/date_range:")
        if allowed is not None and any(r not in allowed for r in f.regions):
            st.warning(auth.out_of_scope_message(st.session_state.get("sw_lang", "zh")))
            f = f.with_(regions=())
        if allowed_outlets is not None and any(o not in allowed_outlets for o in f.outlets):
            st.warning(auth.out_of_scope_message(st.session_state.get("sw_lang", "zh")))
            f = f.with_(outlets=())
        st.session_state["sw_state"] = {"preset": preset, "filters": f}
        st.session_state["sw_link_section"] = parsed.section  # for the page's section switch
    return st.session_state["sw_state"]


def section_ids() -> set[str]:
    """Every section id of the catalogue (``section.<id>``): the valid values of ``?section=``."""
    return {k.removeprefix("section.") for k in catalogue() if k.startswith("section.")}


def filter_bar(wh: Warehouse, version: float | str, as_of: date, regions: pd.DataFrame, lang: str,
               reseed: bool = False, scope: Scope | None = None, page_changed: bool = False,
               span: tuple[date, date] | None = None, page_key: str = "") -> Filters:
    """The sidebar filter bar; ``reseed`` (another page or language) sets every widget again from the
    persisted state instead of trusting the values the browser sends. ``page_changed``: the URL's
    ``section`` belongs to the page shown before (the new page's :func:`sections` sets its own).
    ``span``: the data's first and last day (``Warehouse.data_span``); the custom dates stay inside it.
    ``page_key``: the page shown (its section and choices stay in the URL, :mod:`servicewatch.url_state`)."""
    allowed = access.allowed_regions(scope, regions)
    keys = region_keys(wh, version, regions)
    snapshot = cached_call(wh, version, wh.url, "snapshot_date")  # data ending on a customers snapshot
    every_outlet = outlet_keys(wh, version)
    allowed_outlets = set(scope.outlet_ids) if scope is not None and scope.outlet_ids is not None else None
    state = _state(as_of, allowed, regions, lambda dim: cached_call(wh, version, wh.url, "values", dim),
                   lang, span, keys, snapshot, page_key, every_outlet, allowed_outlets)
    first, last = span or (min(state["filters"].start, as_of), as_of)
    f: Filters = state["filters"]
    url = wh.url
    st.sidebar.subheader(t("filter.header", lang))

    def widget(key: str, value) -> str:
        wkey = f"_w_{key}"
        if reseed or wkey not in st.session_state:
            st.session_state[wkey] = value
        return wkey

    preset = st.sidebar.selectbox(t("filter.period", lang), PRESETS, key=widget("preset", state["preset"]),
                                  format_func=lambda p: t(f"preset.{p}", lang))
    if preset == "custom":
        seed = clamp_period(f.start, f.end, first, last) or (first, last)
        _clamp_range_widget(first, last)  # a value kept from older data must not break the widget
        picked = st.sidebar.date_input(t("filter.custom_range", lang), key=widget("range", seed),
                                       min_value=first, max_value=last, format="YYYY-MM-DD")
        start, end = (picked[0], picked[-1]) if isinstance(picked, (list, tuple)) and picked else (f.start, f.end)
    else:
        start, end = preset_period(preset, as_of)
    comparison = st.sidebar.selectbox(t("filter.comparison", lang), COMPARISONS,
                                      key=widget("cmp", f.comparison), format_func=lambda c: t(f"comparison.{c}", lang))
    name_col = "name_zh" if lang == "zh" else "name_en"
    names = dict(zip(regions["region_id"].astype(int), regions[name_col], strict=True))
    cities = regions.loc[regions["level"] == "city", "region_id"].astype(int).tolist()
    if allowed is not None:  # only regions in the user's scope are offered
        cities = [c for c in cities if c in allowed]
    current_city, current_district = _split_region(f.regions, regions)
    if current_city not in cities:
        current_city = 0
    if st.session_state.get("_w_city", 0) not in [0] + cities:  # e.g. left over from another user
        st.session_state["_w_city"] = 0
    city = st.sidebar.selectbox(t("filter.city", lang), [0] + cities, key=widget("city", current_city),
                                format_func=lambda r: t("filter.all", lang) if r == 0 else names[r])
    districts = regions.loc[regions["parent_id"] == city, "region_id"].astype(int).tolist() if city else []
    if allowed is not None:
        districts = [d for d in districts if d in allowed]
    district = 0
    if city:
        if st.session_state.get("_w_district") not in [0] + districts:
            st.session_state["_w_district"] = 0
        keep = current_district if current_district in districts else 0
        district = st.sidebar.selectbox(t("filter.district", lang), [0] + districts, key=widget("district", keep),
                                        format_func=lambda r: t("filter.all", lang) if r == 0 else names[r])
    tiers = _multi("tier", cached_call(wh, version, url, "values", "tier"), f.tiers, lang, widget)
    segments = _multi("segment", cached_call(wh, version, url, "values", "segment"), f.segments, lang, widget)
    channels = _multi("channel", cached_call(wh, version, url, "values", "channel"), f.channels, lang, widget)
    chosen = (district or city,) if (district or city) else ()
    outlets = _outlets(wh, version, as_of, chosen, scope, f.outlets, lang, widget) if every_outlet else ()
    new = f.with_(start=start, end=end, comparison=comparison, regions=chosen,
                  tiers=tiers, segments=segments, channels=channels, outlets=outlets, scope=scope)
    if st.sidebar.button(t("filter.reset", lang), width="stretch"):
        for key in [k for k in st.session_state if str(k).startswith("_w_") and k != "_w_lang"]:
            del st.session_state[key]
        p0, s0, e0 = default_period(DEFAULT_PRESET, first, last, snapshot)
        st.session_state["sw_state"] = {"preset": p0, "filters": Filters(start=s0, end=e0, scope=scope)}
        st.rerun()
    state.update(preset=preset, filters=new)
    from_link = st.session_state.get(url_state.FROM_URL) == page_key  # a link or Back/Forward: the URL's section
    section = st.query_params.get("section") if from_link or not page_changed else \
        st.session_state.get(url_state.SECTIONS, {}).get(page_key)
    _sync_query(new, preset, lang, section, keys, url_state.page_choices(page_key), every_outlet)
    return new


def _clamp_range_widget(first: date, last: date) -> None:
    """Move the custom-range widget's stored dates into ``first``–``last`` (Streamlit raises on a value
    outside the widget's bounds, e.g. after the data was replaced by a shorter extract)."""
    value = st.session_state.get("_w_range")
    if not isinstance(value, (list, tuple)) or not value:
        return
    dates = [d for d in value if isinstance(d, date)]
    if dates and any(not first <= d <= last for d in dates):
        st.session_state["_w_range"] = clamp_period(dates[0], dates[-1], first, last) or (first, last)


def _multi(dim: str, options: list[str], current: tuple[str, ...], lang: str, widget: Callable) -> tuple[str, ...]:
    from metrics.present.theme import order

    opts = order(dim, options)
    chosen = st.sidebar.multiselect(t(f"filter.{dim}", lang), opts, key=widget(dim, [v for v in current if v in opts]),
                                    format_func=lambda v: label(dim, v, lang), placeholder=t("filter.all", lang),
                                    select_all=False)  # Streamlit's "Select all" row is English only
    return tuple(chosen)


def _outlets(wh: Warehouse, version: float | str, as_of: date, regions: tuple[int, ...], scope: Scope | None,
             current: tuple[int, ...], lang: str, widget: Callable) -> tuple[int, ...]:
    """The outlet filter: the outlets of the chosen city or district and the user's scope, by their names
    (the data's; shown as text)."""
    df = cached_call(wh, version, wh.url, "outlets_in_scope", Filters(start=as_of, end=as_of, regions=regions,
                                                                       scope=scope), module="metrics.analysis.outlets")
    names = dict(zip(df["outlet_id"].astype(int), df["name"].astype(str), strict=True))
    if not names:
        return ()
    key = "_w_outlet"
    if key in st.session_state and any(o not in names for o in st.session_state[key]):  # another city picked
        st.session_state[key] = [o for o in st.session_state[key] if o in names]
    chosen = st.sidebar.multiselect(t("filter.outlet", lang), list(names),
                                    key=widget("outlet", [o for o in current if o in names]),
                                    format_func=lambda o: names.get(o, str(o)), placeholder=t("filter.all", lang),
                                    help=t("filter.outlet_help", lang), select_all=False)
    return tuple(int(o) for o in chosen)


def outlet_keys(wh: Warehouse, version: float | str) -> dict[int, str]:
    """Every outlet's key as the source wrote it (id -> text): what links name outlets by; {} when the
    data holds no outlets (the filter is not offered)."""
    return {i: k for k, i in cached_call(wh, version, wh.url, "outlet_keys").items()}


def _split_region(selected: tuple[int, ...], regions: pd.DataFrame) -> tuple[int, int]:
    if not selected:
        return 0, 0
    row = regions.loc[regions["region_id"] == selected[0]]
    if row.empty:
        return 0, 0
    level = row["level"].iloc[0]
    if level == "district":
        return int(row["parent_id"].iloc[0]), int(selected[0])
    if level == "city":
        return int(selected[0]), 0
    return 0, 0


def region_keys(wh: Warehouse, version: float | str, regions: pd.DataFrame) -> dict[int, str]:
    """Every region's key as the source wrote it (id -> text): what links name regions by."""
    ids = [int(r) for r in regions["region_id"]]
    negative = tuple(i for i in ids if i < 0)
    texts = cached_call(wh, version, wh.url, "key_texts", "regions", negative) if negative else {}
    return {i: shown(i, texts) for i in ids}


def _sync_query(f: Filters, preset: str, lang: str, section: str | None = None,
                keys: dict[int, str] | None = None, choices: dict[str, str] | None = None,
                outlets: dict[int, str] | None = None) -> None:
    """Write the view into the URL when it differs (each write is one browser history entry): the
    filters, the language, the page's ``section`` and its ``choices``; the filters' part is kept for the
    sidebar's page links (:func:`servicewatch.url_state.page_query`)."""
    wanted = {"preset": preset, **f.to_query(keys, outlets), "lang": lang}
    if preset != "custom":
        wanted.pop("from", None)
        wanted.pop("to", None)
    st.session_state[url_state.FILTER_QUERY] = dict(wanted)
    if section:
        wanted["section"] = section
    wanted.update(choices or {})
    if st.session_state.get(url_state.FROM_URL) and not st.query_params.to_dict():  # a bare link opened
        screen.complete_address(wanted)  # in place: a pushed query would be a second history entry
    elif st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


