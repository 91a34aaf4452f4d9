"""How survey answers spread over the score scale, for the same filters as the metrics.

The counts use exactly the conditions of the metric compiler for survey metrics (answered in the
window, survey kinds, the customer's region/tier/segment/SLA level, the survey channel), so the
bars of a distribution add up to the ``n`` of ``csat`` / ``nps`` / ``ces_mean`` for the filters.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import withheld
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.compiler import Window
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions, timestamp_literal

SCORES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


def score_distribution(wh: Warehouse, f: Filters, score: str, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Answers per score value: columns ``by`` (only ``survey_kind`` or ``channel``), ``score``, ``n``.

    Every value of the scale appears (count 0 when nobody gave it), unless there are no answers
    at all, in which case the frame is empty.
    """
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; use one of {', '.join(SCORES)}")
    bad = [d for d in by if d not in ("survey_kind", "channel")]
    if bad:
        raise ValueError(f"score distribution cannot be cut by {', '.join(bad)}")
    window = Window.of(f, wh.resolve_as_of(f))
    sv, c = s.surveys, s.customers
    col = sv.c[score]
    dims = {"survey_kind": sv.c.kind.label("survey_kind"), "channel": sv.c.channel.label("channel")}
    keys = [dims[d] for d in by]
    conds = [sv.c.answered_at >= timestamp_literal(window.start_ts),
             sv.c.answered_at < timestamp_literal(window.stop_ts), col.isnot(None)]
    if f.survey_kinds:
        conds.append(sv.c.kind.in_(f.survey_kinds))
    conds += slice_conditions(f, c, sv.c.channel)
    stmt = (sa.select(*keys, col.label(score), sa.func.count().label("n"))
            .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id))
            .where(*conds).group_by(*[k.element for k in keys], col))
    raw = wh.read(stmt)
    cols = list(by) + [score, "n"]
    if f.scope is not None and f.scope.aggregates_only and not raw.empty:  # a viewer: small groups withheld
        who = wh.read(sa.select(*keys, sa.func.count(sa.distinct(sv.c.customer_id)).label("customers"))
                      .select_from(sv.join(c, c.c.customer_id == sv.c.customer_id))
                      .where(*conds).group_by(*[k.element for k in keys]))
        small = who[[withheld(f.scope, int(n)) for n in who["customers"]]]
        if by:
            raw = raw.merge(small[list(by)], on=list(by), how="left", indicator=True)
            raw = raw[raw["_merge"] == "left_only"].drop(columns="_merge")
        elif len(small):
            raw = raw.iloc[0:0]
    if raw.empty:
        return pd.DataFrame(columns=cols)
    raw[score] = raw[score].astype(int)
    raw["n"] = raw["n"].astype(int)
    lo, hi = SCORES[score]
    groups = raw[list(by)].drop_duplicates() if by else pd.DataFrame(index=[0])
    scale = pd.DataFrame({score: range(lo, hi + 1)})
    full = groups.merge(scale, how="cross") if by else scale
    out = full.merge(raw, on=list(by) + [score], how="left").fillna({"n": 0})
    out["n"] = out["n"].astype(int)
    return out[cols].sort_values(list(by) + [score]).reset_index(drop=True)
