"""The one parser of a view's query string: the dashboard's URL (``?region=2&tier=gold&from=…``).

Every key is checked: dates are real ISO dates within the plausible range (:func:`date_range`),
a period starts before it ends, regions are named by their keys as the source wrote them (``GD-SZ``,
``0755``; a plain number is its own id, so older links keep working) naming a known region, tiers, channels
and the other list filters are values the data holds, the preset, comparison, language and section
are known words; a page's choices (``metric=nps``, ``dim=tier`` …: :data:`CHOICE_KEYS`) are kept as
text for the page, which checks them against its options (:func:`check_choice`). Anything unknown or
malformed is dropped and listed in ``ParsedQuery.ignored``, so the page can say once what it did not
use; nothing here raises on input. Given the data's span, dates outside it are clamped to it and
listed in ``ParsedQuery.clamped`` (a link shared before the data was replaced by a shorter extract
still opens, on the days that hold data).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from metrics.model import plausible
from metrics.model.filters import COMPARISONS, LIST_FIELDS, PRESETS, Filters, fit_to_span

FUTURE_DAYS = 366  # a view may end up to a year ahead (targets, planned periods), not later
LANGS = ("zh", "en")
PAGE_KEYS = ("preset", "lang", "section")
LIST_KEYS = tuple(LIST_FIELDS.values())  # region, tier, …: comma-separated lists
FILTER_KEYS = ("from", "to", "as_of", "cmp", *LIST_KEYS)
KNOWN_KEYS = frozenset((*PAGE_KEYS, *FILTER_KEYS))
# what a page lets the reader choose besides the filters and the section, one URL key each (the metric
# shown, the dimension a chart is cut by, the survey kind, a picked customer …); which page offers which
# is the app's business (servicewatch.url_state), the grammar of a link is here
CHOICE_KEYS = ("metric", "dim", "survey", "handling", "handling_dim", "cut", "customer", "explain",
               "rank_by", "manager", "group", "hall", "quarter", "level", "authority",
               "base", "point", "voc_dim", "voc_topic")
CHOICE_KEYS += ("pick", "alert")  # the Complaints charts' picked bars or points; the chart the Alerts page shows
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REGION_ID = re.compile(r"[0-9]{1,9}")
SHOWN_CHARS = 40  # an ignored value is quoted in the notice up to this length


def date_range(today: date | None = None) -> tuple[date, date]:
    """The dates a view may use: the plausible window's start (:func:`metrics.model.plausible.earliest`,
    the importer's too) to today plus :data:`FUTURE_DAYS` (inclusive)."""
    return plausible.earliest(), (today or date.today()) + timedelta(days=FUTURE_DAYS)


def parse_date(text: str, limits: tuple[date, date] | None = None) -> date:
    """``YYYY-MM-DD`` (ASCII digits) as a date within ``limits``; ValueError with a one-line reason."""
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise ValueError(f"not a date (YYYY-MM-DD): {shown(text)}")
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"no such day: {text}") from None
    if limits is not None and not limits[0] <= d <= limits[1]:
        raise ValueError(f"{text} is outside the plausible range {limits[0]} – {limits[1]}")
    return d


def shown(value: object) -> str:
    """``value`` quoted for a message: printable characters only, at most :data:`SHOWN_CHARS`."""
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…")


@dataclass(frozen=True)
class ParsedQuery:
    """What a query string asks for, valid parts only; ``ignored``: ``key=value`` of what was dropped;
    ``clamped``: ``key=value`` of the dates moved into the data's span (as the link gave them)."""

    filters: Filters
    preset: str | None = None
    lang: str | None = None
    section: str | None = None
    ignored: tuple[str, ...] = ()
    clamped: tuple[str, ...] = ()
    choices: Mapping[str, str] = field(default_factory=dict)  # the page's choice keys as the link wrote them


def check_choice(key: str, text: str | None, valid: Collection[str]) -> tuple[str | None, str | None]:
    """A page choice ``key=text`` of a link against the texts ``valid`` for it: ``(text, None)`` when
    valid, ``(None, None)`` when absent or empty (the page's default), ``(None, "key='text'")`` when
    not one of them (dropped; the item for the link notice, quoted like every ignored key)."""
    if text is None or text == "":
        return None, None
    if isinstance(text, str) and text in valid:
        return text, None
    return None, f"{key}={shown(text)}"


def parse_query(query: Mapping[str, object], default: Filters, *, limits: tuple[date, date] | None = None,
                regions: Collection[int] | None = None, values: Mapping[str, Collection[str]] | None = None,
                sections: Collection[str] | None = None, span: tuple[date, date] | None = None,
                region_keys: Mapping[str, int] | None = None, choice_keys: Collection[str] = (),
                outlets: Collection[int] | None = None, outlet_keys: Mapping[str, int] | None = None) -> ParsedQuery:
    """Parse ``query`` over ``default``. ``limits``: plausible dates (None: any real date);
    ``regions``: known region ids; ``values``: known values per dimension (``tier`` …, as in
    ``Filters``' query keys); ``sections``: known section ids; ``span``: the data's first and last
    day — the link's period and as-of are clamped to it (:func:`metrics.model.filters.fit_to_span`;
    a period with no day inside becomes ``default``'s); ``region_keys``: each region's key as the
    source wrote it -> its id (``{"GD-SZ": -2, "17": 17}``; without it a region is named by its id in
    ASCII digits); ``choice_keys``: the page's choice keys (of :data:`CHOICE_KEYS`), returned as written
    in ``ParsedQuery.choices`` (the page checks their values); other choice keys are dropped as unknown;
    ``outlets``, ``outlet_keys``: the known outlet ids and keys, as ``regions`` and ``region_keys``.
    A check given None is not made."""
    q = {str(k): (v[-1] if isinstance(v, list) and v else v) for k, v in query.items()}
    q = {k: v if isinstance(v, str) else str(v) for k, v in q.items()}
    ignored: list[str] = []

    def drop(key: str, value: str | None = None) -> None:
        ignored.append(f"{key}={shown(q.get(key, '') if value is None else value)}")

    changes: dict[str, object] = {}
    kept_choices = {k: q[k] for k in CHOICE_KEYS if k in choice_keys and k in q}
    for key in sorted(set(q) - KNOWN_KEYS - set(kept_choices)):
        drop(key)
    for key, attr in (("from", "start"), ("to", "end"), ("as_of", "as_of")):
        if q.get(key):
            try:
                changes[attr] = parse_date(q[key], limits)
            except ValueError:
                drop(key)
    start, end = changes.get("start", default.start), changes.get("end", default.end)
    if end < start:  # type: ignore[operator]
        for key, attr in (("from", "start"), ("to", "end")):
            if attr in changes:
                changes.pop(attr)
                drop(key)
    if "cmp" in q:
        if q["cmp"] in COMPARISONS:
            changes["comparison"] = q["cmp"]
        else:
            drop("cmp")
    for name, key in LIST_FIELDS.items():
        raw = q.get(key)
        if not raw:
            continue
        kept: list[object] = []
        ids, id_keys = {"regions": (regions, region_keys), "outlets": (outlets, outlet_keys)}.get(name, (None, None))
        for part in (p for p in raw.split(",") if p):
            if name in ("regions", "outlets") and id_keys is not None:
                ok = part in id_keys and (ids is None or id_keys[part] in ids)
                value: object = id_keys[part] if ok else part
            elif name in ("regions", "outlets"):
                ok = _REGION_ID.fullmatch(part) is not None and (ids is None or int(part) in ids)
                value = int(part) if ok else part
            else:
                ok = values is None or key not in values or part in values[key]
                value = part
            if ok and value not in kept:
                kept.append(value)
            elif not ok:
                drop(key, part)
        if kept:
            changes[name] = tuple(kept)
    preset = _word(q, "preset", PRESETS, drop)
    lang = _word(q, "lang", LANGS, drop)
    section = _word(q, "section", sections, drop)
    try:
        filters = replace(default, **changes)
    except ValueError:  # e.g. a default period the URL's other date contradicts: keep the default
        filters = default
    clamped: list[str] = []
    if span is not None:
        fitted = fit_to_span(filters, span[0], span[1], (default.start, default.end))
        clamped = [f"{key}={q[key]}" for key, attr in (("from", "start"), ("to", "end"), ("as_of", "as_of"))
                   if attr in changes and getattr(fitted, attr) != getattr(filters, attr)]
        filters = fitted
    return ParsedQuery(filters, preset, lang, section, tuple(ignored), tuple(clamped), kept_choices)


def _word(q: Mapping[str, str], key: str, known: Collection[str] | None, drop) -> str | None:
    if key not in q or q[key] == "":
        return None
    if known is None or q[key] in known:
        return q[key]
    drop(key)
    return None
