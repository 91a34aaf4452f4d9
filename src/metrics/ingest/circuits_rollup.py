"""The circuits with their customer's columns: what availability other than by month reads.

Availability over a period is not a sum of months (the period counts distinct circuits and clips an
outage to the period, the months clip it to the circuit's months in service), so ``rollup_services``
answers it by month only. What the raw period query costs is the join of the circuits with every
customer; ``rollup_circuits`` is that join done once per refresh: per circuit its ``service_id``,
``customer_id``, ``start_date``, ``end_date`` and the customer's region_id, tier, segment, sla_level
and account_manager_id (every dimension, filter and scope availability is cut by). Nothing in it
depends on the as-of or the period, so the raw query over it
(:func:`metrics.query.compiler.compile_over_circuits`: the same declaration, the outages joined as
before) returns the raw figures exactly for any period, dimension and as-of. Rebuilt with one
``INSERT … SELECT`` by :func:`metrics.ingest.rollups.refresh`, listed as ``circuits`` in
``sw_meta.rollup_sources``.
"""

from __future__ import annotations

import sqlalchemy as sa

from metrics.model import dimensions
from metrics.model import schema as s

SOURCE = "circuits"  # its name in sw_meta.rollup_sources
DIMS = dimensions.CUSTOMER_DIMS + ("month", "week")
_sv, _c = s.services.c, s.customers.c
_CUSTOMER = ("region_id", "tier", "segment", "sla_level", "account_manager_id")

metadata = sa.MetaData()
rollup_circuits = sa.Table(
    "rollup_circuits", metadata,
    sa.Column("service_id", _sv.service_id.type), sa.Column("customer_id", _sv.customer_id.type),
    sa.Column("start_date", _sv.start_date.type), sa.Column("end_date", _sv.end_date.type),
    *[sa.Column(name, _c[name].type) for name in _CUSTOMER],
)


def build_select() -> sa.Select:
    """Every circuit joined to its customer (the raw query's inner join)."""
    sv, c = s.services, s.customers
    return (sa.select(sv.c.service_id, sv.c.customer_id, sv.c.start_date, sv.c.end_date,
                      *[c.c[name] for name in _CUSTOMER])
            .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id)).order_by(sv.c.service_id))


def drop(engine: sa.Engine) -> None:
    """Remove the table (before its rows could disagree with new data)."""
    metadata.drop_all(engine)


__all__ = ["DIMS", "SOURCE", "build_select", "drop", "rollup_circuits"]
