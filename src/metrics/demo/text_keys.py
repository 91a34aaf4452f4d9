"""The demo data keyed as an operator's extracts are keyed (``C00012345-GD``, ``INC…``, ``R…``):
every customer, ticket, survey and region id replaced by the negative id the importer gives a text
key, with the ``source_keys`` rows that name them (:mod:`metrics.model.keys`). For benchmarks and
tests that compare the same data under integer and text keys (``bench/keys.py``, the Spark tests)."""

from __future__ import annotations

import pandas as pd

# entity -> (id columns holding its ids per table, key prefix)
ENTITIES = {
    "customers": ({"customers": "customer_id", "tickets": "customer_id", "surveys": "customer_id",
                   "services": "customer_id", "billing_monthly": "customer_id", "visits": "customer_id",
                   "retention_actions": "customer_id", "queue_records": "customer_id"}, "C"),
    "tickets": ({"tickets": "ticket_id", "surveys": "ticket_id"}, "INC"),
    "surveys": ({"surveys": "survey_id"}, "SV"),
    "regions": ({"regions": "region_id", "customers": "region_id", "account_managers": "region_id",
                 "targets": "region_id", "user_base": "region_id", "outlets": "region_id"}, "R"),
    "outlets": ({"outlets": "outlet_id", "tickets": "outlet_id", "surveys": "outlet_id", "queue_records": "outlet_id",
                 "audits": "outlet_id"}, "H"),
}


def text_keyed(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The frames with the ids of :data:`ENTITIES` made negative as text keys make them, and the
    ``source_keys`` rows (entity, id, key)."""
    out = {k: v.copy() for k, v in frames.items()}
    keys = []
    for entity, (columns, prefix) in ENTITIES.items():
        own = frames[entity][columns[entity]].astype("int64")
        keys.append(pd.DataFrame({"entity": entity, "id": -own - 1,
                                  "key": prefix + own.map("{:08d}".format) + "-GD"}))
        for table, col in columns.items():
            if table in out and col in out[table]:
                out[table][col] = -out[table][col].astype("Int64") - 1
        if entity == "regions":
            out["regions"]["parent_id"] = -out["regions"]["parent_id"].astype("Int64") - 1
    return out, pd.concat(keys, ignore_index=True)
