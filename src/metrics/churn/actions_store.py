"""Write side of the action loop (issue 18, item 4): assign retention actions with a random holdout,
close them with an outcome, and record account managers' visits and calls (:func:`record_visit`, into
``visits``, under the same rules). The read side (the list of actions, the overdue count) is
:mod:`metrics.churn.action_list`, whose names this module re-exports.

Where the rows go — one rule: **into the data database's own ``retention_actions`` table**, the one
``actions list`` and ``actions effect`` read, so there is nothing to merge. The caller opens the
database for writing (PostgreSQL, MariaDB, or a DuckDB file opened read-write); a DuckDB file that
another process holds (the dashboard) refuses the write with one line (:class:`ActionError`) and
nothing is written. The audit row goes where every audit row goes (:func:`metrics.access.audit.record`:
an SQLite file beside a DuckDB file); it is written inside the data transaction, so a failure to
audit rolls the actions back.

Validation uses the importer's declarations for this table (:mod:`metrics.ingest.importer.spec`:
allowed values, ranges, the order of dates, references, text lengths from the schema). Scope: the
customers must satisfy the user's scope (:func:`metrics.access.users.scope_conditions`); an account
manager may also only name themselves as owner; a viewer may not write.

Holdout: of the customers in one :func:`assign` call, a share ``holdout`` (default 10%) of each risk
decile is drawn at random (``numpy.random.default_rng(seed)``; the seed is returned and audited) and
written with ``arm = 'holdout'``, status ``cancelled``, as the demo does (:mod:`metrics.demo.retention`).
Risk at assignment: the customer's ``churn_probability_90d`` in ``churn_scores`` and its decile among
all scored customers; customers without a score form one stratum of their own (decile NULL).

Concurrency: :func:`close` is an optimistic update — ``UPDATE … WHERE action_id = ? AND status = ?
AND outcome IS [NOT DISTINCT FROM] ?`` with the status and outcome the caller read; when no row
matches, someone else changed it and the call is refused (:class:`ChangedError`), nothing lost.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.access.users import Scope, scope_conditions
from metrics.churn.action_list import LIST_COLUMNS, action_list, overdue_count  # noqa: F401 - the read side, re-exported
from metrics.ingest.importer import spec
from metrics.model import schema
from metrics.model.i18n import t

TABLE = "retention_actions"
ACTION_TYPES = ("care_visit", "call", "tailored_offer", "service_fix")  # when the data names none
DEFAULT_HOLDOUT = 0.10
VISIT_KINDS = ("visit", "call")  # when the data names none


class ActionError(ValueError):
    """Input refused (one line, in the caller's language): nothing was written."""


class ChangedError(ActionError):
    """The action changed since the caller read it: nothing was written."""


@dataclass(frozen=True)
class Read:
    """What the caller read of an action before changing it (the optimistic check)."""

    status: str
    outcome: str | None


def holdout_mask(deciles: Sequence[object], share: float, seed: int) -> np.ndarray:
    """Which customers are held out: in each decile stratum (missing deciles are one stratum) of
    ``n`` customers, ``floor(share·n + u)`` (``u`` uniform from the seeded generator, so the expected
    count is exactly ``share·n``) drawn without replacement. Boolean array in the input's order."""
    if not 0 <= share < 1:
        raise ValueError("holdout share must be in [0, 1)")
    rng = np.random.default_rng(seed)
    keys = pd.Series(list(deciles), dtype="Float64").fillna(-1).to_numpy(dtype=float)
    out = np.zeros(len(keys), dtype=bool)
    for k in np.unique(keys):
        idx = np.flatnonzero(keys == k)
        m = int(np.floor(share * len(idx) + rng.random()))
        out[rng.choice(idx, size=min(m, len(idx)), replace=False)] = True
    return out


def _check(value: object, column: str, lang: str, table: sa.Table = schema.retention_actions) -> None:
    """One column's value against the importer's declarations for ``table``."""
    col = table.c[column]
    if value is None:
        if not col.nullable:
            raise ActionError(t("actions_write.required", lang, column=column))
        return
    vocab = spec.VOCAB.get((table.name, column))
    allowed = spec.STRICT_VOCABS.get(vocab) if vocab else None
    if allowed is not None and value not in allowed:
        raise ActionError(t("actions_write.not_allowed", lang, column=column, value=value,
                            allowed=", ".join(allowed)))
    lo, hi = spec.RANGES.get((table.name, column), (None, None))
    if isinstance(value, int | float) and ((lo is not None and value < lo) or (hi is not None and value > hi)):
        raise ActionError(t("actions_write.out_of_range", lang, column=column, value=value))
    length = getattr(col.type, "length", None)
    if isinstance(value, str) and length is not None and len(value) > length:
        raise ActionError(t("actions_write.too_long", lang, column=column, n=length))


def _in_scope(conn: sa.Connection, ids: list[int], scope: Scope | None) -> set[int]:
    c = schema.customers
    rows = conn.execute(sa.select(c.c.customer_id).where(c.c.customer_id.in_(ids), *scope_conditions(scope, c)))
    return {int(r[0]) for r in rows}


def _risk(conn: sa.Connection, ids: list[int]) -> pd.DataFrame:
    """customer_id, risk_score, risk_decile (decile among all scored customers; NULL unscored)."""
    out = pd.DataFrame({"customer_id": ids, "risk_score": np.nan, "risk_decile": pd.NA})
    if not sa.inspect(conn).has_table("churn_scores"):
        return out
    from metrics.churn.store import churn_scores as cs

    all_ = pd.DataFrame(conn.execute(sa.select(cs.c.customer_id, cs.c.churn_probability_90d)).fetchall(),
                        columns=["customer_id", "p"])
    if all_.empty:
        return out
    all_["decile"] = np.minimum(10, np.ceil(all_["p"].rank(pct=True, method="first") * 10)).astype(int)
    m = out[["customer_id"]].merge(all_, how="left", on="customer_id")
    out["risk_score"] = m["p"].round(4).to_numpy()
    out["risk_decile"] = pd.array(m["decile"], dtype="Float64").astype("Int64")
    return out


def _codes(conn: sa.Connection, dimension: str, column: sa.Column, default: tuple[str, ...]) -> tuple[str, ...]:
    """The codes of ``dimension`` the data knows — its ``vocabulary`` rows in their order, then the
    values of ``column`` already recorded — or ``default`` when it names none."""
    v = schema.vocabulary
    found: list[str] = []
    insp = sa.inspect(conn)
    if insp.has_table(v.name):
        found += [r[0] for r in conn.execute(sa.select(v.c.code).where(v.c.dimension == dimension)
                                             .order_by(v.c.sort_order, v.c.code))]
    if insp.has_table(column.table.name):
        found += [r[0] for r in conn.execute(sa.select(column).distinct().order_by(column))]
    return tuple(dict.fromkeys(found)) or default


def action_types(conn: sa.Connection) -> tuple[str, ...]:
    """The action types the data knows, or :data:`ACTION_TYPES` when it names none."""
    return _codes(conn, "action_type", schema.retention_actions.c.action_type, ACTION_TYPES)


def visit_kinds(conn: sa.Connection) -> tuple[str, ...]:
    """The kinds of visit the data knows, or :data:`VISIT_KINDS` when it names none."""
    return _codes(conn, "visit_kind", schema.visits.c.kind, VISIT_KINDS)


def known_visit_kinds(wh) -> tuple[str, ...]:  # noqa: ANN001 - a Warehouse
    """:func:`visit_kinds` of the warehouse's database (for a form's choices)."""
    with wh.engine.connect() as conn:
        return visit_kinds(conn)


def known_types(wh) -> tuple[str, ...]:  # noqa: ANN001 - a Warehouse
    """:func:`action_types` of the warehouse's database (for a form's choices)."""
    with wh.engine.connect() as conn:
        return action_types(conn)


def owners(wh, f) -> pd.DataFrame:  # noqa: ANN001 - a Warehouse and Filters
    """The account managers who may own an action on the customers of ``f``'s scope: those of the
    scope's customers (an account manager: themselves), ``manager_id`` and ``name``, by name."""
    from metrics.query.where import slice_conditions

    c, am = schema.customers, schema.account_managers
    scoped = sa.select(c.c.account_manager_id).where(*slice_conditions(f.scope_only(), c)).distinct().subquery()
    return wh.read(sa.select(am.c.manager_id, am.c.name).where(am.c.manager_id.in_(sa.select(scoped.c[0])))
                   .order_by(am.c.name, am.c.manager_id))


def _writable(conn: sa.Connection, lang: str) -> None:
    if not sa.inspect(conn).has_table(TABLE):
        raise ActionError(t("actions.no_table", lang))


def today() -> dt.date:
    """Today on the server's clock (its local date: the day the managers live in, as the app's date
    boxes show it) — one 'today' for the default creation date and the check of a visit's date."""
    return dt.date.today()


def _new_version(conn: sa.Connection) -> None:
    """A new data version in the write's transaction: dashboards on a server database see the change."""
    if sa.inspect(conn).has_table(schema.meta.name):
        schema.bump_data_version(conn)


def _audit(data_url: str, user: str, detail: dict) -> None:
    from metrics.access import audit

    audit.record(data_url, user, "action", detail)


def assign(engine: sa.Engine, data_url: str, user: str, customers: Sequence[int], action_type: str,
           owner: int | None, due: dt.date, *, note: str | None = None, created: dt.date | None = None,
           holdout: float = DEFAULT_HOLDOUT, seed: int | None = None, scope: Scope | None = None,
           lang: str = "en") -> tuple[pd.DataFrame, int]:
    """Assign ``action_type`` to ``customers`` (ids), owned by account manager ``owner``, due ``due``
    (created ``created``, default :func:`today`); a random share ``holdout`` per risk decile is written as
    held out. One transaction, audited. Returns the rows written (table columns plus ``note``) and the
    seed used. Raises :class:`ActionError` (nothing written) for bad input, out-of-scope customers or
    customers who had already left (``end_date``) before ``created``."""
    created = created or today()
    ids = list(dict.fromkeys(int(c) for c in customers))
    if not ids:
        raise ActionError(t("actions_write.no_customers", lang))
    if not 0 <= holdout < 1:
        raise ActionError(t("actions_write.bad_holdout", lang, value=holdout))
    if due < created:
        raise ActionError(t("actions_write.due_before", lang, due=due, created=created))
    if scope is not None and scope.aggregates_only:
        raise ActionError(t("actions_write.viewer", lang))
    if scope is not None and scope.manager_id is not None and owner != scope.manager_id:
        raise ActionError(t("actions_write.own_only", lang))
    _check(note, "outcome", lang)
    seed = int(seed) if seed is not None else secrets.randbelow(2**31)
    with engine.begin() as conn:
        _writable(conn, lang)
        allowed_types = action_types(conn)
        if action_type not in allowed_types:
            raise ActionError(t("actions_write.not_allowed", lang, column="action_type", value=action_type,
                                allowed=", ".join(allowed_types)))
        c, am, a = schema.customers, schema.account_managers, schema.retention_actions
        known = {int(r[0]) for r in conn.execute(sa.select(c.c.customer_id).where(c.c.customer_id.in_(ids)))}
        missing = [i for i in ids if i not in known]
        if missing:
            raise ActionError(t("actions_write.unknown_customer", lang, keys=", ".join(map(str, missing[:5]))))
        allowed = _in_scope(conn, ids, scope)  # one query for all the ids
        outside = [i for i in ids if i not in allowed]
        if outside:
            raise ActionError(t("actions_write.out_of_scope", lang, keys=", ".join(map(str, outside[:5]))))
        gone = [int(r[0]) for r in conn.execute(sa.select(c.c.customer_id).where(
            c.c.customer_id.in_(ids), c.c.end_date.is_not(None), c.c.end_date < created)
            .order_by(c.c.customer_id))]
        if gone:
            raise ActionError(t("actions_write.already_left", lang, keys=", ".join(map(str, gone[:5])),
                                created=created))
        has_owner = conn.execute(sa.select(am.c.manager_id).where(am.c.manager_id == owner)).first()
        if owner is not None and has_owner is None:
            raise ActionError(t("actions_write.unknown_owner", lang, owner=owner))
        risk = _risk(conn, ids)
        held = holdout_mask(risk["risk_decile"].tolist(), holdout, seed)
        start = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(a.c.action_id), 0))).scalar_one()) + 1
        df = pd.DataFrame({
            "action_id": np.arange(start, start + len(ids), dtype=np.int64), "customer_id": ids,
            "action_type": action_type, "owner": owner, "created_date": created, "due_date": due,
            "status": np.where(held, "cancelled", "open"), "outcome": None, "cost": None,
            "arm": np.where(held, "holdout", "treated"),
            "risk_score": risk["risk_score"].to_numpy(), "risk_decile": risk["risk_decile"].to_numpy()})
        rows = [{k: (None if v is pd.NA or (isinstance(v, float) and np.isnan(v)) else
                     (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
                for r in df.to_dict("records")]
        for r in rows:
            for col in ("status", "arm", "risk_score", "risk_decile"):
                _check(r[col], col, lang)
        try:
            conn.execute(a.insert(), rows)
        except sa.exc.IntegrityError:  # another call took the same action ids at the same moment
            raise ActionError(t("actions_write.ids_taken", lang)) from None
        _new_version(conn)
        _audit(data_url, user, {"op": "assign", "action_ids": [start, start + len(ids) - 1],
                                "customers": len(ids), "holdout": int(held.sum()), "holdout_share": holdout,
                                "seed": seed, "action_type": action_type, "owner": owner, "due": str(due),
                                "note": note, "scope_user": scope.user if scope else None})
    df["note"] = note
    return df, seed


def read_action(engine: sa.Engine, action_id: int) -> Read | None:
    """The status and outcome of ``action_id`` now (None: no such action)."""
    a = schema.retention_actions
    with engine.connect() as conn:
        r = conn.execute(sa.select(a.c.status, a.c.outcome).where(a.c.action_id == action_id)).first()
    return None if r is None else Read(r[0], r[1])


def close(engine: sa.Engine | sa.Connection, data_url: str, user: str, action_id: int, outcome: str,
          read: Read, *, status: str = "done", scope: Scope | None = None, lang: str = "en") -> dict:
    """Close ``action_id`` with ``outcome`` and ``status`` (done | cancelled) if it is still as the
    caller ``read`` it; one transaction, audited. Returns the row written. Raises :class:`ChangedError`
    when someone else changed it since, :class:`ActionError` for bad input or out of scope."""
    if status not in ("done", "cancelled"):
        raise ActionError(t("actions_write.not_allowed", lang, column="status", value=status,
                            allowed="done, cancelled"))
    if not outcome or not outcome.strip():
        raise ActionError(t("actions_write.required", lang, column="outcome"))
    _check(outcome, "outcome", lang)
    if scope is not None and scope.aggregates_only:
        raise ActionError(t("actions_write.viewer", lang))
    if isinstance(engine, sa.Engine):
        with engine.begin() as conn:
            return _close(conn, data_url, user, action_id, outcome.strip(), read, status, scope, lang)
    with engine.begin():
        return _close(engine, data_url, user, action_id, outcome.strip(), read, status, scope, lang)


def _close(conn: sa.Connection, data_url: str, user: str, action_id: int, outcome: str, read: Read,
           status: str, scope: Scope | None, lang: str) -> dict:
    a = schema.retention_actions
    _writable(conn, lang)
    row = conn.execute(sa.select(a.c.customer_id, a.c.arm).where(a.c.action_id == action_id)).first()
    if row is None:
        raise ActionError(t("actions_write.unknown_action", lang, id=action_id))
    if not _in_scope(conn, [int(row[0])], scope):
        raise ActionError(t("actions_write.out_of_scope", lang, keys=str(action_id)))
    if row[1] == "holdout":
        raise ActionError(t("actions_write.holdout_closed", lang, id=action_id))
    same_outcome = a.c.outcome.is_(None) if read.outcome is None else a.c.outcome == read.outcome
    res = conn.execute(a.update().where(a.c.action_id == action_id, a.c.status == read.status, same_outcome)
                       .values(status=status, outcome=outcome))
    if res.rowcount != 1:
        raise ChangedError(t("actions_write.changed", lang, id=action_id))
    _new_version(conn)
    _audit(data_url, user, {"op": "close", "action_id": action_id, "status": status, "outcome": outcome,
                            "was": {"status": read.status, "outcome": read.outcome},
                            "scope_user": scope.user if scope else None})
    return {"action_id": action_id, "customer_id": int(row[0]), "status": status, "outcome": outcome,
            "was_status": read.status, "was_outcome": read.outcome}


def record_visit(engine: sa.Engine, data_url: str, user: str, customer: int, manager: int, day: dt.date,
                 kind: str, purpose: str, outcome: str, next_step: str | None = None, *,
                 scope: Scope | None = None, lang: str = "en") -> dict:
    """Record account manager ``manager``'s visit or call (``kind``) to ``customer`` on ``day``, with
    its purpose, outcome and next step: one transaction, validated as the importer validates a visit,
    scoped (an account manager records only their own visits), audited. Returns the row written.
    Raises :class:`ActionError` (nothing written) otherwise."""
    if scope is not None and scope.aggregates_only:
        raise ActionError(t("actions_write.viewer", lang))
    if scope is not None and scope.manager_id is not None and manager != scope.manager_id:
        raise ActionError(t("actions_write.own_only", lang))
    if day > today():
        raise ActionError(t("visits_write.future", lang, day=day))
    row = {"customer_id": int(customer), "manager_id": int(manager), "visit_date": day, "kind": kind,
           "purpose": (purpose or "").strip() or None, "outcome": (outcome or "").strip() or None,
           "next_step": (next_step or "").strip() or None}
    for column in ("purpose", "outcome", "next_step"):
        _check(row[column], column, lang, schema.visits)
    v, am = schema.visits, schema.account_managers
    with engine.begin() as conn:
        if not sa.inspect(conn).has_table(v.name):
            raise ActionError(t("visits_write.no_table", lang))
        kinds = visit_kinds(conn)
        if kind not in kinds:
            raise ActionError(t("actions_write.not_allowed", lang, column="kind", value=kind, allowed=", ".join(kinds)))
        if not _in_scope(conn, [row["customer_id"]], scope):
            raise ActionError(t("actions_write.out_of_scope", lang, keys=str(customer)))
        if conn.execute(sa.select(am.c.manager_id).where(am.c.manager_id == row["manager_id"])).first() is None:
            raise ActionError(t("actions_write.unknown_owner", lang, owner=manager))
        row["visit_id"] = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(v.c.visit_id), 0))).scalar_one()) + 1
        try:
            conn.execute(v.insert(), [row])
        except sa.exc.IntegrityError:  # another call took the same id at the same moment
            raise ActionError(t("actions_write.ids_taken", lang)) from None
        _new_version(conn)
        _audit(data_url, user, {"op": "record_visit", "visit_id": row["visit_id"], "customer": row["customer_id"],
                                "manager": row["manager_id"], "day": str(day), "kind": kind,
                                "scope_user": scope.user if scope else None})
    return row
