"""A user's mapping file (YAML): header renames, value renames, defaults, date formats, display
names of codes and the customers a file creates; read by :func:`load_mapping` and checked against a
table by :func:`check_mapping`. Also importable from :mod:`metrics.ingest.importer.spec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from metrics.ingest.importer.columns import (
    CREATE_TABLES,
    CREATED_CUSTOMER_COLUMNS,
    TABLES,
    extra_columns,
    key_columns,
)
from metrics.model import vocabulary

MAPPING_KEYS = ("columns", "values", "defaults", "formats", "labels", "create")


@dataclass(frozen=True)
class Mapping:
    """A user's mapping file: header renames, value renames (per data-model column), constants for
    columns the file lacks or cells left empty, and date/time formats (strftime codes)."""

    columns: dict[str, str] = field(default_factory=dict)  # file header -> data-model column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {file value: value}
    defaults: dict[str, str] = field(default_factory=dict)  # column -> constant (as text in a file)
    formats: dict[str, str] = field(default_factory=dict)  # date/time column -> strftime format
    # dimension -> code -> {"zh": name, "en": name, "order": int} (metrics.model.vocabulary)
    labels: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    name: str = "mapping file"  # how messages name it
    # file header -> further data-model columns it fills (``Ticket ID: [survey_id, ticket_id]``)
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)
    create: tuple[str, ...] = ()  # tables whose rows the file creates (``create: customers``)

    def customer_defaults(self) -> dict[str, str]:
        """The defaults that are for created customers (columns of customers only)."""
        return {c: v for c, v in self.defaults.items() if c in CREATED_CUSTOMER_COLUMNS}


class MappingError(ValueError):
    """The mapping file cannot be used; one line for users."""


def load_mapping(path: str | Path | None, table: str | None = None) -> Mapping:
    """Read a YAML mapping file (checked against ``table`` when given, see :func:`check_mapping`)::

        columns:            # file header: data-model column (or a list of columns it fills)
          Kunden-Nr: customer_id
          Ticket ID: [survey_id, ticket_id]
        values:             # data-model column: {value in the file: value in the data model}
          channel: {"10086热线": hotline}
        defaults:           # data-model column: constant for a missing column or an empty cell
          kind: complaint
        formats:            # date/time column: strftime format of the file's values
          opened_at: "%d-%m-%y %I:%M:%S %p"
        labels:             # dimension: {code: {zh: name, en: name, order: n}}
          priority: {Critical: {zh: 紧急, en: Critical, order: 1}}
        create: customers   # a tickets or surveys file creates the customers it names
    """
    if path is None:
        return Mapping()
    import yaml

    name = f"mapping file {path}"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MappingError(f"cannot read {name}: {first}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{name}: expected the keys {', '.join(MAPPING_KEYS)}")
    for key in data:
        if key not in MAPPING_KEYS:
            raise MappingError(f"{name}: unknown key '{key}' (expected {', '.join(MAPPING_KEYS)})")
    create = data.get("create") or ()
    create = (create,) if isinstance(create, str) else create
    if not isinstance(create, list | tuple) or any(c != "customers" for c in create):
        raise MappingError(f"{name}: create: only 'customers' can be created")
    parts = {k: data.get(k) or {} for k in MAPPING_KEYS if k != "create"}
    for key, part in parts.items():
        if not isinstance(part, dict):
            raise MappingError(f"{name}: '{key}' must be a map (name: value)")
    for col, m in parts["values"].items():
        if not isinstance(m, dict):
            raise MappingError(f"{name}: values: '{col}' must map values in the file to values")
    for key in ("columns", "defaults", "formats"):
        for k, v in parts[key].items():
            several = key == "columns" and isinstance(v, list) and v and all(isinstance(x, str) for x in v)
            if v is None or isinstance(v, dict) or (isinstance(v, list) and not several):
                raise MappingError(f"{name}: {key}: '{k}' must be a single value"
                                   + (" or a list of columns" if key == "columns" else ""))
    columns = {str(k): (list(v) if isinstance(v, list) else [v]) for k, v in parts["columns"].items()}
    mapping = Mapping({k: str(v[0]) for k, v in columns.items()},
                      {str(c): {_text(k): _text(v) for k, v in m.items()} for c, m in parts["values"].items()},
                      {str(k): _text(v) for k, v in parts["defaults"].items()},
                      {str(k): str(v) for k, v in parts["formats"].items()},
                      _labels(parts["labels"], name), name,
                      {k: tuple(str(x) for x in v[1:]) for k, v in columns.items() if len(v) > 1},
                      tuple(dict.fromkeys(create)))
    if table is not None:
        check_mapping(mapping, table)
    return mapping


def _labels(part: dict, name: str) -> dict[str, dict[str, dict[str, object]]]:
    """The ``labels:`` section checked: known dimensions, each code a map of zh / en / order."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for dim, codes in part.items():
        if str(dim) not in vocabulary.DIMENSIONS:
            raise MappingError(f"{name}: labels: '{dim}' is not a vocabulary "
                               f"(expected {', '.join(vocabulary.DIMENSIONS)})")
        if not isinstance(codes, dict):
            raise MappingError(f"{name}: labels: '{dim}' must map codes to {{zh, en, order}}")
        for code, given in codes.items():
            if not isinstance(given, dict) or not given or set(map(str, given)) - set(vocabulary.LABEL_KEYS):
                raise MappingError(f"{name}: labels: {dim}: '{code}' must be a map of "
                                   f"{', '.join(vocabulary.LABEL_KEYS)}")
            order = given.get("order")
            if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
                raise MappingError(f"{name}: labels: {dim}: '{code}': order must be a whole number")
            for key in ("zh", "en"):
                if given.get(key) is not None and (isinstance(given[key], dict | list) or len(str(given[key])) > 80):
                    raise MappingError(f"{name}: labels: {dim}: '{code}': {key} must be a name "
                                       "of at most 80 characters")
            out.setdefault(str(dim), {})[_text(code)] = {str(k): v for k, v in given.items()}
    return out


def _text(v: object) -> str:
    """A YAML scalar as the text a file would hold (YAML reads yes/no as booleans)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def check_mapping(mapping: Mapping, table: str, snapshot: bool = False) -> None:
    """Raise :class:`MappingError` (one line naming the key) for anything in ``mapping`` that does
    not fit ``table``: renames to unknown columns, values/defaults/formats of unknown columns,
    defaults that are not of the column's type, formats of non-date columns or with unknown codes."""
    import pyarrow as pa

    from metrics.ingest.importer.parse import format_problem, kind_of, parse

    cols = {c.name: c for c in TABLES[table].columns}
    name = mapping.name
    if mapping.create and table not in CREATE_TABLES:
        raise MappingError(f"{name}: create: customers works for {' and '.join(CREATE_TABLES)} files, not {table}")
    targets = set(cols) | set(extra_columns(table, snapshot, bool(mapping.create)))
    customer_cols = {c: TABLES["customers"].c[c] for c in CREATED_CUSTOMER_COLUMNS} if mapping.create else {}
    for header, col in mapping.columns.items():
        for one in (col, *mapping.also.get(header, ())):
            if one not in targets:
                raise MappingError(f"{name}: columns: '{header}' → '{one}' is not a column of {table}")
    for key in ("values", "defaults", "formats"):
        for col in getattr(mapping, key):
            if col not in targets and not (key != "formats" and col in customer_cols):
                raise MappingError(f"{name}: {key}: '{col}' is not a column of {table}")
    for col, value in mapping.defaults.items():
        if col not in cols and col in customer_cols:  # for the customers the file creates
            kind = kind_of(customer_cols[col])
            if kind != "str" and col != "region_id":
                _, bad = parse(pa.array([value], pa.string()), kind)
                if bad.any():
                    raise MappingError(f"{name}: defaults: '{col}': '{value}' is not a {kind} value")
        elif col in cols and col not in key_columns(table):
            kind = kind_of(cols[col])
            if kind != "str" and col not in mapping.formats:
                _, bad = parse(pa.array([value], pa.string()), kind)
                if bad.any():
                    raise MappingError(f"{name}: defaults: '{col}': '{value}' is not a {kind} value")
        elif col in cols:
            raise MappingError(f"{name}: defaults: '{col}' is a key; a key cannot have a default")
    for col, fmt in mapping.formats.items():
        kind = kind_of(cols[col]) if col in cols else kind_of(customer_cols[col]) if col in customer_cols else "str"
        if kind not in ("date", "datetime"):
            raise MappingError(f"{name}: formats: '{col}' is not a date or date/time column")
        problem = format_problem(fmt, kind)
        if problem:
            raise MappingError(f"{name}: formats: '{col}': '{fmt}' {problem}")
