"""What the commands of the ``servicewatch`` command line share: exit codes, the one-line
:class:`UserError`, filters checked against the data, the audit of exports and the printing of tidy
frames. Their options are registered by :mod:`metrics.cli.options`."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.backends.connect import check_connection, resolve_url
from metrics.model import dimensions, registry
from metrics.model.filters import Filters, default_period, fit_to_span, preset_period
from metrics.model.i18n import Worded, label, t
from metrics.model.keys import ENTITIES, ID_COLUMNS, as_given
from metrics.model.registry import Metric, dim_column
from metrics.present.cells import safe_frame
from metrics.present.theme import has_order, order
from metrics.query.warehouse import Warehouse

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_REJECTS = 3  # servicewatch import: some rows were rejected, the others were loaded
DEFAULT_PERIOD = "last_12_months"  # the CLI's opening window when it fits the data (filters.default_period)


class UserError(Exception):
    """A problem with what the user asked for; printed as one line."""


class Interrupted(Worded, KeyboardInterrupt):
    """A command stopped by Ctrl-C that says what it left, made by :meth:`said` with a catalogue key;
    any other KeyboardInterrupt is printed as the catalogue's generic ``cli_interrupt.stopped``."""


def choose_period(wh: Warehouse, args: argparse.Namespace) -> tuple[date, date, date | None, str]:
    """(start, end, as-of, how) of the command's window, fitted to the data's span
    (:meth:`Warehouse.data_span`). ``how``: ``dates`` (--from/--to), ``clamped`` (dates moved into the
    data), ``preset`` (--period), ``default`` (the last 12 complete months) or ``span`` (all the data:
    those months begin before it, :func:`metrics.model.filters.default_period`)."""
    first, last = wh.data_span()
    if args.start or args.end:
        if not (args.start and args.end):
            raise UserError(t("cli_usage.both_dates", cli_lang(args)))
        if args.end < args.start:
            raise UserError(t("cli_usage.period_order", cli_lang(args), start=args.start, end=args.end))
    as_of = args.as_of
    if as_of is not None and not first <= as_of <= last:
        as_of = None if as_of > last else first
    newest = as_of or last
    snapshot = wh.snapshot_date()
    if args.start:
        _, s0, e0 = default_period(DEFAULT_PERIOD, first, newest, snapshot)
        asked = Filters(start=args.start, end=args.end)
        fitted = fit_to_span(asked, first, last, (s0, e0))
        how = "dates" if (fitted.start, fitted.end) == (args.start, args.end) else "clamped"
        return fitted.start, fitted.end, as_of, how
    if args.period:
        start, end = preset_period(args.period, newest)
        return start, end, as_of, "preset"
    preset, start, end = default_period(DEFAULT_PERIOD, first, newest, snapshot)
    if preset == DEFAULT_PERIOD:
        return start, end, as_of, "default"
    return start, end, as_of, "snapshot" if snapshot == newest else "span"


def cli_lang(args: argparse.Namespace) -> str:
    """The language of the command's notes: its ``--lang`` if it has one, else English."""
    lang = getattr(args, "lang", None)
    return lang if lang in ("zh", "en") else "en"


def user_of(name: str, lang: str) -> access.User:
    """The users file's ``name``; :class:`UserError` in ``lang`` (never the file's path) otherwise."""
    try:
        return access.get_user(name)
    except access.UsersFileError as exc:
        raise UserError(exc.text(lang)) from None
    except ValueError:
        raise UserError(t("cli_usage.no_user", lang, name=name)) from None


def build_filters(wh: Warehouse, args: argparse.Namespace) -> Filters:
    """Filters from parsed options, checking every value against what the database holds; dates
    outside the data are clamped to its span, with a one-line note on stderr."""
    start, end, as_of, how = choose_period(wh, args)
    first, last = wh.data_span()
    if how == "clamped" or as_of != args.as_of:  # name only the options that were moved
        asked = [f"{opt} {given}" for opt, given, used in (("--from", args.start, start), ("--to", args.end, end),
                                                           ("--as-of", args.as_of, as_of))
                 if given is not None and given != used]
        print(t("cli.clamped", cli_lang(args), items=", ".join(asked), first=first, last=last, start=start,
                end=end), file=sys.stderr)
    lang = cli_lang(args)
    regions = resolve_regions(wh, args.region, lang)
    outlets = resolve_outlets(wh, getattr(args, "outlet", None) or [], lang)
    values = {}
    for d in dimensions.VALUE_FILTERS:
        given = getattr(args, d.name)
        if given:
            known = wh.values(d.name)
            unknown = [v for v in given if v not in known]
            if unknown:
                raise UserError(t("cli_usage.unknown_value", lang, dim=d.name, values=", ".join(unknown),
                                  known=", ".join(known)))
        values[d.name] = tuple(given)
    scope = None
    if getattr(args, "as_user", None):  # without it the CLI is the operator's tool: no scope
        scope = access_scope.scope_for(user_of(args.as_user, lang), key_ids=wh.key_ids)
        access_scope.check_regions(scope, regions, wh.regions())  # refused here, before any query
        access_scope.check_outlets(scope, outlets)
    try:
        return Filters(start=start, end=end, as_of=as_of, comparison=args.compare, regions=regions,
                       scope=scope,
                       tiers=values["tier"], segments=values["segment"], channels=values["channel"], outlets=outlets,
                       categories=values["category"], kinds=values["kind"],
                       survey_kinds=values["survey_kind"], priorities=values["priority"],
                       sla_levels=values["sla_level"])
    except ValueError as exc:
        raise UserError(str(exc)) from None


def open_filtered(args: argparse.Namespace) -> tuple[Warehouse, Filters]:
    """The database of ``--db`` (its connection checked) and the command's filters, every value
    checked against its data (:func:`build_filters`)."""
    wh = open_warehouse(args.db)
    return wh, build_filters(wh, args)


def window_text(wh: Warehouse, args: argparse.Namespace, f: Filters, with_comparison: bool) -> str:
    """The window a figure used, in one line: "period 2026-07-01 – 2026-09-30 (last quarter), compared
    with 2026-04-01 – 2026-06-30; data as of 2026-10-31" (the comparison only when it is printed)."""
    lang, how = cli_lang(args), choose_period(wh, args)[3]
    label = t(f"preset.{args.period}", lang) if how == "preset" else t(f"cli.window_{how}", lang)
    text = t("cli.window", lang, start=f.start, end=f.end, how=label)
    cf = f.comparison_filters() if with_comparison else None
    if cf is not None:
        text += t("cli.window_cmp", lang, start=cf.start, end=cf.end)
    return text + t("cli.window_as_of", lang, as_of=wh.resolve_as_of(f))


def window_fields(wh: Warehouse, f: Filters, with_comparison: bool) -> dict[str, str]:
    """The same window as fields of every JSON record: period_start, period_end, (comparison_start,
    comparison_end,) as_of — ISO dates."""
    out = {"period_start": f.start.isoformat(), "period_end": f.end.isoformat()}
    cf = f.comparison_filters() if with_comparison else None
    if cf is not None:
        out.update(comparison_start=cf.start.isoformat(), comparison_end=cf.end.isoformat())
    out["as_of"] = wh.resolve_as_of(f).isoformat()
    return out


def keys_as_given(df: pd.DataFrame, wh: Warehouse, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``df`` with its id columns (``columns``: column -> entity, default those of
    :data:`metrics.model.keys.ID_COLUMNS` it has) as the source wrote them: a text key where the
    source's key is not a plain number, the number otherwise (JSON keeps numbers numbers)."""
    out = df
    for col, entity in (columns or ID_COLUMNS).items():
        if col not in df.columns:
            continue
        ids = pd.to_numeric(df[col], errors="coerce").dropna()
        texts = wh.key_texts(entity, [int(v) for v in ids.unique() if v < 0])
        if texts:
            out = out.copy() if out is df else out
            out[col] = pd.Series([as_given(v, texts) for v in df[col]], index=df.index, dtype=object)
    return out


def with_region_names(df: pd.DataFrame, wh: Warehouse, lang: str) -> pd.DataFrame:
    """``region_name`` beside ``region_id`` (in ``lang``; the other language when a name is missing),
    the region as the source wrote its key (:func:`keys_as_given`)."""
    if "region_id" not in df.columns:
        return df
    regions = wh.regions()
    main, other = ("name_zh", "name_en") if lang == "zh" else ("name_en", "name_zh")
    names = regions[main].where(regions[main].notna() & (regions[main].astype(str) != ""), regions[other])
    by_id = dict(zip(regions["region_id"].map(_key), names, strict=True))
    out = df.copy()
    out.insert(out.columns.get_loc("region_id") + 1, "region_name",
               [by_id.get(_key(v)) if pd.notna(v) else None for v in out["region_id"]])
    return keys_as_given(out, wh, {"region_id": "regions"})


def with_vocabulary_names(df: pd.DataFrame, wh: Warehouse, by: Sequence[str], lang: str) -> pd.DataFrame:
    """``<dim>_name`` beside each grouped vocabulary dimension (tier, channel, priority …: the name the
    data stores in ``lang``, :func:`metrics.model.i18n.label`), and the rows in the data's order of those
    codes (:func:`metrics.present.theme.order`), other group columns keeping their order. The codes stay
    in the dimension's column (scripts read them)."""
    dims = [d for d in dict.fromkeys(by) if has_order(d) and d in df.columns]
    if not dims or df.empty:
        return df
    wh.vocabulary()  # registered once per Warehouse: the labels and orders below are look-ups
    out = df.copy()
    for d in dims:
        out.insert(out.columns.get_loc(d) + 1, f"{d}_name",
                   [label(d, v, lang) if pd.notna(v) else None for v in out[d]])
    keys = [dim_column(d) for d in by if dim_column(d) in out.columns]
    ranks = {d: {v: i for i, v in enumerate(order(d, out[d].dropna().unique()))} for d in dims}

    def position(col: pd.Series) -> pd.Series:
        rank = ranks.get(str(col.name))
        return col.map(rank).fillna(len(rank)) if rank is not None else col

    return out.sort_values(keys, key=position, kind="stable", na_position="last").reset_index(drop=True)


def _key(value: object) -> str:
    """A region id as text: 2, 2.0 (a column with gaps) and "2" alike."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def resolve_regions(wh: Warehouse, given: Sequence[str], lang: str = "en") -> tuple[int, ...]:
    """Regions named by their keys as the source wrote them (``GD-SZ``, ``0755``; a plain number is
    its own id) or by their English or Chinese names; an unknown one is one line in ``lang``."""
    if not given:
        return ()
    regions = wh.regions()
    by_key = wh.key_ids("regions", list(given))
    out = []
    for g in given:
        match = regions[(regions["region_id"] == by_key.get(g.strip(), None))
                        | (regions["name_en"].str.lower() == g.lower()) | (regions["name_zh"] == g)]
        if match.empty:
            raise UserError(t("cli_usage.unknown_region", lang, region=repr(g)))
        out.append(int(match["region_id"].iloc[0]))
    return tuple(out)


def resolve_outlets(wh: Warehouse, given: Sequence[str], lang: str = "en") -> tuple[int, ...]:
    """Outlets named by their keys as the source wrote them (``HALL-001``, ``0755-01``; a plain number
    is its own id) or by their names — a key first, a name only when one outlet has it; an unknown or
    ambiguous one is one line in ``lang``."""
    if not given:
        return ()
    import sqlalchemy as sa

    from metrics.model import schema

    o = schema.outlets
    by_key = wh.key_ids("outlets", list(given))
    out: list[int] = []
    for g in given:
        key = by_key.get(g.strip())
        found = wh.read(sa.select(o.c.outlet_id).where(o.c.outlet_id == key)) if key is not None else None
        if found is None or found.empty:  # not a key: a name, which must name one outlet only
            found = wh.read(sa.select(o.c.outlet_id).where(o.c.name == g.strip()).order_by(o.c.outlet_id))
            if len(found) > 1:
                raise UserError(t("outlets.ambiguous_outlet", lang, outlet=g, n=len(found)))
        if found.empty:
            raise UserError(t("outlets.unknown_outlet", lang, outlet=g))
        if int(found.iloc[0, 0]) not in out:
            out.append(int(found.iloc[0, 0]))
    return tuple(out)


def known_id(wh: Warehouse, entity: str, key: str, message: str, lang: str, **fmt: object) -> int:
    """The id of the row of ``entity`` (a data table) the user named by its key as the source wrote it;
    a key the data does not hold is refused with the catalogue text ``message`` (``fmt``) in ``lang``.
    A plain whole number is its own id, so the row is looked up in the table too."""
    import sqlalchemy as sa

    from metrics.model import schema

    found = wh.key_ids(entity, [key]).get(key.strip())
    if found is not None:
        column = schema.metadata.tables[entity].c[ENTITIES[entity]]
        if len(wh.read(sa.select(column).where(column == found))):
            return int(found)
    raise UserError(t(message, lang, **fmt))


def audit_export(args: argparse.Namespace, action: str, detail: dict) -> None:
    """Record what a command hands out (rows, files) in the audit log before it does so.

    Acting for a user (``--as-user``) the record is required: if it cannot be written the command
    fails and writes nothing. The operator's own calls are recorded as ``os:<login>``; a failure
    to record them is logged, not fatal."""
    from metrics.access import audit

    url = resolve_url(getattr(args, "db", None))
    user = audit.cli_user(getattr(args, "as_user", None))
    detail = {"command": args.command, **detail}
    if not getattr(args, "as_user", None):
        audit.record_safely(url, user, action, detail)
        return
    try:
        audit.record(url, user, action, detail)
    except Exception as exc:  # noqa: BLE001 - any failure of the audit store
        raise UserError(t("cli_usage.audit_failed", cli_lang(args), kind=type(exc).__name__)) from None


def known_manager(wh: Warehouse, key: str | None, lang: str) -> int | None:
    """The id of the account manager ``--manager`` names by their key (None without one); an unknown
    key is one line in ``lang``."""
    if not key:
        return None
    return known_id(wh, "account_managers", key, "portfolio.unknown_manager", lang, manager=key)


@contextmanager
def catalogue_refusals(lang: str, *errors: type[Exception]) -> Iterator[None]:
    """``errors`` that carry a catalogue ``key`` and its ``params`` (a weights or rules file that
    cannot be used) raised again as a one-line :class:`UserError` in ``lang``."""
    try:
        yield
    except errors as exc:
        raise UserError(t(exc.key, lang, **exc.params)) from None


def known_metric(metric_id: str, lang: str = "en") -> Metric:
    """The registry's metric ``metric_id``; a :class:`UserError` in ``lang`` naming the known ones otherwise."""
    try:
        return registry.get(metric_id)
    except registry.UnknownMetric:
        raise UserError(t("cli_usage.unknown_metric", lang, metric=repr(metric_id),
                          known=", ".join(registry.BY_ID))) from None


def hand_out(args: argparse.Namespace, wh: Warehouse, f: Filters, df: pd.DataFrame, detail: dict,
             lines: Sequence[str | None] = (), with_comparison: bool = False,
             table: Callable[[pd.DataFrame], pd.DataFrame] | None = None, fields: dict | None = None) -> None:
    """The end of an analysis command: the export recorded in the audit log (``detail`` with the rows
    and the filters), the window and the non-empty ``lines`` (its sentences) on stderr, the window's
    fields (and ``fields``) on each JSON record, ``table`` applied for ``--format table``, then ``df``
    on stdout."""
    audit_rows(args, f, df, detail)
    print(window_text(wh, args, f, with_comparison), file=sys.stderr)
    for line in lines:
        if line:
            print(line, file=sys.stderr)
    if args.format == "json":
        df = df.assign(**window_fields(wh, f, with_comparison), **(fields or {}))
    emit(df, args.format, table)


def audit_rows(args: argparse.Namespace, f: Filters, df: pd.DataFrame, detail: dict) -> None:
    """Record in the audit log that the command hands out ``df``'s rows under filters ``f``: ``detail``,
    then the number of rows and the filters (:func:`audit_export`)."""
    from metrics.access.audit import filters_detail

    audit_export(args, "export", {**detail, "rows": len(df), "filters": filters_detail(f)})


def emit(df: pd.DataFrame, fmt: str, table: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> None:
    """Print a tidy frame as JSON records, CSV or an aligned table (``table`` applied to it first:
    a terminal's rounding and words)."""
    if fmt == "table" and table is not None:
        df = table(df)
    df = df.copy()
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].dt.strftime("%Y-%m-%d")
    if fmt == "json":
        records = json.loads(df.to_json(orient="records", force_ascii=False, double_precision=10))
        print(json.dumps(records, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        sys.stdout.write(safe_frame(df).to_csv(index=False))
    else:  # a terminal: control characters in the data (escape sequences) are shown, never obeyed
        shown = df.map(lambda v: _CONTROL.sub("?", v) if isinstance(v, str) else v)
        print(shown.to_string(index=False) if len(shown) else "(no rows)")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def as_text(values: pd.Series, spec: str) -> pd.Series:
    """A column's numbers as text for ``--format table`` in the format ``spec`` (``.1%``: a share as a
    percentage, ``.1f``: one decimal); blank where a number is missing or not a number."""
    return pd.to_numeric(values, errors="coerce").map(lambda v: "" if np.isnan(v) else format(v, spec))


def open_warehouse(db: str | None) -> Warehouse:
    """The database of ``--db`` (:func:`metrics.backends.connect.resolve_url`), its connection checked."""
    wh = Warehouse.open(resolve_url(db))
    check_connection(wh.engine)
    return wh
