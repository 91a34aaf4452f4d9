"""The Data page's mapping form: the mapping file of ``servicewatch import --mapping`` as widgets.

For each header of the uploaded file the data-model column it fills (pre-filled with what the
importer matches by name, or with an uploaded mapping file), a default for each required column the
file lacks, a strftime format for date/time columns, and the code each unknown vocabulary value of
the file maps to. The result is one :class:`~metrics.ingest.importer.mapping.Mapping`: the page previews
the first rows with it, offers it as a YAML file the command line accepts unchanged, and imports
with it.

The pure parts (:class:`FormState`, :func:`build_mapping`, :func:`form_problem`, :func:`mapping_yaml`,
:func:`unknown_values`) are tested without Streamlit; :func:`mapping_form` only lays them out. Data
text (headers, values) reaches Markdown only through :func:`metrics.present.markup.md`; previews are
dataframes (text, never markup).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from metrics.backends.connect import DatabaseError, duckdb_path, make_engine
from metrics.ingest.importer import ImportFailed
from metrics.ingest.importer.columns import (
    ALIASES,
    CREATE_TABLES,
    TABLES,
    extra_columns,
    importable_columns,
    required_columns,
)
from metrics.ingest.importer.headers import resolve_headers
from metrics.ingest.importer.known import Known
from metrics.ingest.importer.mapping import Mapping, MappingError, check_mapping
from metrics.ingest.importer.parse import kind_of
from metrics.ingest.importer.read import ReadError, open_source
from metrics.ingest.importer.run import preview
from metrics.ingest.importer.spec import VOCAB, value_aliases
from metrics.model.i18n import label, t
from metrics.present.markup import md
from servicewatch.import_words import column_name, page_problems
from servicewatch.tables import MISSING

IGNORE = ""  # the column choice "ignore this header"
KEEP = ""  # the value choice "keep the value as written"
PREVIEW_ROWS = 20
MAX_VALUES = 40  # unknown values shown per column; more are mapped in the YAML file
SCAN_VALUES = 1000  # distinct values read per column
FORMAT_EXAMPLE = "%d-%m-%y %I:%M:%S %p"
FORMAT_EXAMPLE_ZH = "%Y/%m/%d %H:%M"


# -- pure parts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FormState:
    """What the form's widgets hold. ``base``: the uploaded mapping file (its labels, multi-column
    headers, ``create`` and the values/defaults/formats the form does not show are kept as they are)."""

    table: str
    headers: tuple[str, ...]
    choices: dict[str, str]  # file header -> data-model column, IGNORE for none
    defaults: dict[str, str] = field(default_factory=dict)  # column -> constant ("" for none)
    formats: dict[str, str] = field(default_factory=dict)  # date/time column -> strftime ("" for none)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {file value: code or KEEP}
    base: Mapping = field(default_factory=Mapping)


def targets(table: str, create: bool = False) -> list[str]:
    """The columns a header may fill: the table's importable columns, then the extra ones (region
    names of a customers file or of a file that creates its customers)."""
    return [str(c.name) for c in importable_columns(table)] + list(extra_columns(table, False, create))


def automatic(table: str, headers: list[str] | tuple[str, ...], base: Mapping | None = None) -> dict[str, str]:
    """Header -> column as the importer matches it with ``base`` (by name alone when None)."""
    return resolve_headers(table, list(headers), base or Mapping())[0]


def date_columns(table: str, chosen: list[str]) -> list[str]:
    cols = TABLES[table].c
    return [c for c in chosen if c in cols and kind_of(cols[c]) in ("date", "datetime")]


def vocab_columns(table: str, choices: dict[str, str]) -> dict[str, str]:
    """Data-model column -> file header, for the chosen columns whose values come from a vocabulary."""
    return {c: h for h, c in choices.items() if (table, c) in VOCAB}


def default_columns(table: str, choices: dict[str, str], base: Mapping) -> list[str]:
    """Columns that get a default input: the required ones no header fills, what a created customer
    needs (``create: customers``), and every column the uploaded mapping gives a default."""
    given = {c for c in choices.values() if c}
    bare = Mapping(create=base.create)
    out = [c for c in required_columns(table, bare, given) if c not in given]
    if base.create and table in CREATE_TABLES:
        out += [c for c in required_columns("customers", bare) if c not in ("customer_id", "name", "start_date")
                and c not in given and c not in out
                and not (c == "region_id" and given & set(extra_columns("customers")))]
    out += [c for c in base.defaults if c not in out]
    return out


def unknown_values(values: list[str], known: set[str] | list[str], aliases: dict[str, str]) -> list[str]:
    """The file's values the importer would not recognise as a code (any case) or a display name."""
    codes = {str(k).lower() for k in known}
    return [v for v in values if v.lower() not in codes and v not in aliases and v.lower() not in aliases]


def build_mapping(state: FormState, name: str = Mapping.name) -> Mapping:
    """The form as a mapping: renames only where the choice differs from the match by name (or where a
    header fills several columns), the defaults and formats given, value maps merged into the
    uploaded ones (a value the form shows and leaves as written is dropped from them)."""
    base = state.base
    auto = automatic(state.table, state.headers, Mapping(create=base.create))
    columns = {str(h): str(c) for h, c in state.choices.items() if c and (c != auto.get(h) or h in base.also)}
    also = {h: cols for h, cols in base.also.items() if state.choices.get(h)}
    defaults = {c: v.strip() for c, v in state.defaults.items() if v.strip()}
    defaults.update({c: v for c, v in base.defaults.items() if c not in state.defaults})
    formats = {c: v.strip() for c, v in state.formats.items() if v.strip()}
    formats.update({c: v for c, v in base.formats.items() if c not in state.formats})
    values: dict[str, dict[str, str]] = {}
    for col in dict.fromkeys([*base.values, *state.values]):
        shown = state.values.get(col, {})
        merged = {v: code for v, code in base.values.get(col, {}).items() if v not in shown}
        merged.update({v: code.strip() for v, code in shown.items() if code.strip()})
        if merged:
            values[col] = merged
    return Mapping(columns, values, defaults, formats, dict(base.labels), name, also, tuple(base.create))


def form_problem(state: FormState, mapping: Mapping) -> tuple[str, dict[str, str]] | None:
    """What keeps the form's mapping from doing what the form shows, as (catalogue key, parameters),
    or None: a column chosen for two headers, a header the importer recognises by name that a
    mapping file cannot ignore, or anything :func:`~metrics.ingest.importer.mapping.check_mapping` refuses."""
    seen: dict[str, str] = {}
    for h in state.headers:
        c = state.choices.get(h, IGNORE)
        if c and c in seen:
            return "page.data.mapping.twice", {"column": c, "first": seen[c], "second": h}
        if c:
            seen[c] = h
    try:
        check_mapping(mapping, state.table)
    except MappingError as exc:
        return "page.data.mapping.invalid", {"error": str(exc)}
    resolved = automatic(state.table, state.headers, mapping)
    for h in state.headers:
        wanted = state.choices.get(h) or None
        if resolved.get(h) != wanted:
            if wanted is None:
                return "page.data.mapping.cannot_ignore", {"header": h, "column": resolved[h]}
            return "page.data.mapping.not_applied", {"header": h, "column": wanted}
    return None


def mapping_yaml(mapping: Mapping) -> str:
    """``mapping`` as a mapping file that ``servicewatch import TABLE FILE --mapping`` reads back to
    the same :class:`Mapping` (see :func:`metrics.ingest.importer.mapping.load_mapping`)."""
    import yaml

    data: dict[str, object] = {}
    if mapping.create:
        data["create"] = list(mapping.create) if len(mapping.create) > 1 else mapping.create[0]
    if mapping.columns:
        data["columns"] = {h: [c, *mapping.also[h]] if mapping.also.get(h) else c for h, c in mapping.columns.items()}
    for key in ("values", "defaults", "formats", "labels"):
        part = getattr(mapping, key)
        if part:
            data[key] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in part.items()}
    return yaml.safe_dump(_plain(data), allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)


def _plain(value: object) -> object:
    """Built-in types only (SQLAlchemy's column names are a ``str`` subclass YAML will not write)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def yaml_name(file_name: str, table: str) -> str:
    return f"{Path(file_name).stem}_{table}.yaml"


# -- reading the file and the database (cached) --------------------------------------------
def file_headers(path: Path) -> list[str] | None:
    try:
        return list(open_source(path).headers)
    except ReadError:
        return None  # the check (dry run) says why, in the page's language


@st.cache_data(show_spinner=False, max_entries=8)
def file_values(path: str, headers: tuple[str, ...]) -> dict[str, list[str]]:
    """The distinct non-empty values (trimmed, in order of appearance) of the named headers; at most
    :data:`SCAN_VALUES` each. ``path`` names the upload by content, so it is a sound cache key."""
    source = open_source(Path(path))
    index = {h: source.headers.index(h) for h in headers if h in source.headers}
    out: dict[str, dict[str, None]] = {h: {} for h in index}
    for chunk in source.chunks():
        for h, i in index.items():
            if len(out[h]) >= SCAN_VALUES:
                continue
            for v in chunk.data.column(i).unique().to_pylist():
                v = v.strip() if isinstance(v, str) else v
                if v:
                    out[h].setdefault(v)
    return {h: list(v)[:SCAN_VALUES] for h, v in out.items()}


@st.cache_data(show_spinner=False, ttl=300, max_entries=16)
def known_codes(url: str, table: str) -> dict[str, list[str]]:
    """Vocabulary -> the codes the importer knows for ``table`` (catalogue, database, labels)."""
    path = duckdb_path(url)
    if path is not None and not path.is_file():
        return {k: sorted(v) for k, v in Known.read(None, table).vocab.items()}
    engine = make_engine(url, read_only=path is not None)
    try:
        with engine.connect() as conn:
            return {k: sorted(v) for k, v in Known.read(conn, table).vocab.items()}
    finally:
        engine.dispose()


# -- the form --------------------------------------------------------------------------------
def mapping_form(lang: str, url: str, table: str, name: str, path: Path, base: Mapping) -> Mapping | None:
    """Draw the form for the uploaded file at ``path`` (``name``: as the user knows it); return its
    mapping, or None when the form holds a problem (shown) or the file cannot be read."""
    headers = file_headers(path)
    if headers is None:
        return Mapping(name=t("page.data.mapping.name", lang))
    digest = hashlib.sha256(repr((table, path.name, base)).encode()).hexdigest()[:10]
    key = f"sw_map_{digest}_"
    st.subheader(t("page.data.mapping.header", lang))
    st.caption(t("page.data.import_panel.mapping_caption", lang))

    # columns
    options = [IGNORE, *targets(table, bool(base.create))]
    initial = automatic(table, headers, base)
    aliases = {c: names[0] for c, names in ALIASES.get(table, {}).items() if names}

    def named(c: str) -> str:
        return column_name(table, c, lang)

    def column_label(c: str) -> str:
        if c == IGNORE:
            return t("page.data.mapping.ignore", lang)
        if lang == "zh":  # the Chinese header the importer recognises, not the data-model name
            return column_name(table, c, lang)
        return f"{c} · {aliases[c]}" if c in aliases else c

    st.markdown(f"**{t('page.data.mapping.columns', lang)}**")
    choices: dict[str, str] = {}
    grid = st.columns(3)
    for i, h in enumerate(headers):
        pick = initial.get(h, IGNORE)
        choices[h] = grid[i % 3].selectbox(md(h) or t("page.data.mapping.blank_header", lang, n=i + 1), options,
                                           index=options.index(pick) if pick in options else 0,
                                           format_func=column_label, key=f"{key}col_{i}")
    if base.also:
        st.caption(t("page.data.mapping.also", lang, pairs=md("; ".join(
            f"{h} → {', '.join(c)}" for h, c in base.also.items()))))

    # defaults
    defaults: dict[str, str] = {}
    wanted = default_columns(table, choices, base)
    if wanted:
        st.markdown(f"**{t('page.data.mapping.defaults', lang)}**")
        grid = st.columns(3)
        for i, c in enumerate(wanted):
            defaults[c] = grid[i % 3].text_input(t("page.data.mapping.default_for", lang, column=named(c)),
                                                 value=base.defaults.get(c, ""), key=f"{key}def_{c}")

    # formats
    formats: dict[str, str] = {}
    dated = date_columns(table, [c for c in choices.values() if c])
    if dated:
        st.markdown(f"**{t('page.data.mapping.formats', lang)}**")
        st.caption(t("page.data.import_panel.formats_caption", lang))
        grid = st.columns(3)
        for i, c in enumerate(dated):
            formats[c] = grid[i % 3].text_input(t("page.data.mapping.format_for", lang, column=named(c)),
                                                value=base.formats.get(c, ""),
                                                placeholder=FORMAT_EXAMPLE_ZH if lang == "zh" else FORMAT_EXAMPLE,
                                                key=f"{key}fmt_{c}")

    # values
    values: dict[str, dict[str, str]] = {}
    by_column = vocab_columns(table, choices)
    if by_column:
        try:
            found = file_values(str(path), tuple(by_column.values()))
            known = known_codes(url, table)
        except (ReadError, DatabaseError):
            found, known = {}, {}
        for col, h in by_column.items():
            vocab = VOCAB[(table, col)]
            codes = known.get(vocab, [])
            label_aliases = {str(x.get(k)).lower(): c for c, x in base.labels.get(vocab, {}).items()
                             for k in ("zh", "en") if x.get(k) is not None}
            odd = unknown_values(found.get(h, []), [*codes, *base.labels.get(vocab, {})],
                                 {**value_aliases(vocab), **label_aliases})
            if not odd:
                continue
            st.markdown(f"**{t('page.data.import_panel.values', lang, column=md(named(col)), header=md(h))}**")
            mapped = base.values.get(col, {})
            choice_list = [KEEP, *codes, *sorted({v for v in mapped.values() if v not in codes})]

            def value_label(c: str, vocab: str = vocab) -> str:
                if c == KEEP:
                    return t("page.data.mapping.keep", lang)
                shown = label(vocab, c, lang)
                if lang == "zh":  # the display name; the code goes into the mapping file (see the help)
                    return shown
                return f"{c} · {shown}" if shown != c else c

            values[col] = {}
            grid = st.columns(3)
            for j, v in enumerate(odd[:MAX_VALUES]):
                pick = mapped.get(v, KEEP)
                values[col][v] = grid[j % 3].selectbox(
                    md(v), choice_list, index=choice_list.index(pick) if pick in choice_list else 0,
                    format_func=value_label, accept_new_options=True, key=f"{key}val_{col}_{j}",
                    help=t("page.data.import_panel.value_help", lang)) or KEEP
            if len(odd) > MAX_VALUES:
                st.caption(t("page.data.mapping.more_values", lang, n=len(odd) - MAX_VALUES))

    state = FormState(table, tuple(headers), choices, defaults, formats, values, base)
    mapping = build_mapping(state, t("page.data.mapping.name", lang))
    problem = form_problem(state, mapping)
    if problem is not None:
        k, params = problem
        st.error(t(k, lang, **{p: md(column_name(table, v, lang) if p == "column" else v) for p, v in params.items()}))
        return None

    cols = st.columns(2)
    cols[0].download_button(t("page.data.mapping.download", lang), mapping_yaml(mapping).encode("utf-8"),
                            yaml_name(name, table), "application/x-yaml", key=f"{key}yaml", on_click="ignore",
                            icon=":material/download:")
    if cols[1].button(t("page.data.mapping.preview", lang, n=PREVIEW_ROWS), key=f"{key}preview_button"):
        st.session_state[f"{key}preview"] = True
    if st.session_state.get(f"{key}preview"):
        show_preview(lang, url, table, name, path, mapping)
    return mapping


def preview_frames(frame: pd.DataFrame, problems: pd.DataFrame, lang: str, table: str = ""
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The preview's rows and problems with translated headers; with ``table`` on the Chinese page the
    data-model columns by their Chinese headers and vocabulary codes by their display names."""
    rows = frame.rename(columns={"row": t("page.data.import.col_row", lang)})
    if table and lang == "zh":
        rows = rows.assign(**{c: rows[c].map(lambda v, vocab=VOCAB[(table, c)]: v if v is None or v != v
                                             else label(vocab, v, lang))
                              for c in rows.columns if (table, c) in VOCAB})
        rows = rows.rename(columns={c: column_name(table, c, lang) for c in rows.columns})
    shown = problems.rename(columns={
        "row": t("page.data.import.col_row", lang), "column": t("page.data.import.col_column", lang),
        "value": t("page.data.import.col_value", lang), "reason": t("page.data.import.col_reason", lang)})
    return rows, shown


def shown_errors(lang: str, call: Callable[[], object]) -> object | None:
    """``call()``, or None once the page has said why it failed: a mapping the importer refuses, or an
    import that cannot run (the file, the database)."""
    try:
        return call()
    except MappingError as exc:
        st.error(t("page.data.mapping.invalid", lang, error=md(exc)))
    except (ImportFailed, DatabaseError) as exc:
        st.error(t("page.data.import.failed", lang, error=md(exc)))
    return None


def show_preview(lang: str, url: str, table: str, name: str, path: Path, mapping: Mapping) -> None:
    """The first rows as they will load, and the problems of those rows (dataframes: text)."""
    shown = shown_errors(lang, lambda: preview(url, table, path, mapping=mapping, rows=PREVIEW_ROWS, lang=lang,
                                               display_name=name))
    if shown is None:
        return
    frame, result = shown
    rows, problems = preview_frames(frame, page_problems(result, lang), lang, table)
    st.markdown(f"**{t('page.data.mapping.preview_header', lang, n=result.rows_read, ok=result.rows_loaded)}**")
    st.dataframe(rows, hide_index=True, width="stretch", placeholder=MISSING)
    if len(problems):
        st.markdown(f"**{t('page.data.mapping.preview_problems', lang, n=result.rows_rejected)}**")
        st.dataframe(problems, hide_index=True, width="stretch", placeholder=MISSING)
