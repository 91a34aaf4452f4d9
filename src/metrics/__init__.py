"""ServiceWatch's engine: service-quality and churn metrics computed in SQL, with no Streamlit.

The layers, each a sub-package (docs/architecture.md):

* :mod:`metrics.model` — the tables, the metric registry, the filter model, text;
* :mod:`metrics.query` — compiler, dialect hooks and the :class:`Warehouse`;
* :mod:`metrics.analysis`, :mod:`metrics.churn` — answers built on the warehouse;
* :mod:`metrics.ingest`, :mod:`metrics.backends` — data in, and what differs per database;
* :mod:`metrics.access` — users, scope, lockout, audit;
* :mod:`metrics.present`, :mod:`metrics.report` — charts, exports, the meeting pack;
* :mod:`metrics.demo`, :mod:`metrics.cli` — the demo data set and the command line.

The front door (imported on first use, so ``import metrics`` stays cheap)::

    from metrics import Warehouse, Filters, get
    wh = Warehouse.open("duckdb:///data/servicewatch.duckdb")
    wh.metric("csat", Filters(...), by=("tier",))
"""

from __future__ import annotations

import importlib

_FRONT_DOOR = {
    "Warehouse": "metrics.query.warehouse",
    "Filters": "metrics.model.filters",
    "METRICS": "metrics.model.registry",
    "get": "metrics.model.registry",
}
__all__ = sorted(_FRONT_DOOR)


def __getattr__(name: str) -> object:
    if name in _FRONT_DOOR:
        return getattr(importlib.import_module(_FRONT_DOOR[name]), name)
    raise AttributeError(f"module 'metrics' has no attribute {name!r}")
