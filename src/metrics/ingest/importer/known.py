"""What the database holds before an import: the keys of the tables the file refers to, the codes of
the open vocabularies, the regions by name (read once per import, :meth:`Known.read`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer import spec
from metrics.ingest.importer.key_sets import KeyIndex
from metrics.ingest.importer.region_names import RegionNames
from metrics.model import schema


@dataclass
class Known:
    """What the database holds before the import: keys of referenced tables, vocabulary values."""

    keys: dict[str, KeyIndex] = field(default_factory=dict)  # "table.column" -> keys in the database
    vocab: dict[str, set[str]] = field(default_factory=dict)
    regions: RegionNames | None = None  # the regions by name (customers files that name them)

    @classmethod
    def read(cls, conn: sa.Connection | None, table: str) -> Known:
        known = cls()
        existing = set(sa.inspect(conn).get_table_names()) if conn is not None else set()
        if table in import_columns.REGION_NAME_TABLES:
            known.regions = RegionNames.read(conn if schema.regions.name in existing else None)
        for target, key in spec.REFS.get(table, {}).values():
            values: list = []
            if target in existing:
                col = import_columns.TABLES[target].c[key]
                values = column_values(conn, sa.select(col).where(col.is_not(None)))
            known.keys[f"{target}.{key}"] = KeyIndex(values)
        for (tbl, _col), vocab in spec.VOCAB.items():
            if tbl != table or vocab in known.vocab:
                continue
            if vocab in spec.STRICT_VOCABS:
                known.vocab[vocab] = set(spec.STRICT_VOCABS[vocab])
            elif vocab == "metric":
                from metrics.model.registry import BY_ID

                known.vocab[vocab] = set(BY_ID)
            else:
                values = set(spec.catalogue_values(vocab))
                for col in spec.VOCAB_COLUMNS.get(vocab, ()):
                    if col.table.name in existing:
                        values |= {v for v in conn.execute(sa.select(col).distinct()).scalars() if v is not None}
                if schema.vocabulary.name in existing:  # codes the data names (labels given earlier)
                    v = schema.vocabulary
                    values |= set(conn.execute(sa.select(v.c.code).where(v.c.dimension == vocab)).scalars())
                known.vocab[vocab] = values
        return known


def column_values(conn: sa.Connection, query: sa.Select) -> np.ndarray | list:
    """One column of a query; through Arrow on DuckDB (a million keys in a few milliseconds)."""
    if conn.dialect.name == "duckdb":
        raw = conn.connection.driver_connection
        return next(iter(raw.execute(str(query.compile(dialect=conn.dialect))).fetchnumpy().values()))
    return conn.execute(query).scalars().all()
