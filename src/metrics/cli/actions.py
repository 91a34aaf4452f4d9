"""``servicewatch actions effect|list``: did the retention actions work (treated against the random
holdout, :mod:`metrics.churn.action_effect`), and the actions themselves, inside the user's scope.
The tidy table goes to stdout, the sentences (too small to tell, the method) to stderr. Same error
conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.cli.common import (
    UserError,
    add_db_argument,
    add_filter_arguments,
    add_format_argument,
    build_filters,
    hand_out,
    keys_as_given,
    open_warehouse,
)
from metrics.model.i18n import label, t

LIST_COLUMNS = ("action_id", "customer_id", "action_type", "owner", "created_date", "due_date", "status",
                "outcome", "cost", "arm", "risk_decile")


def _has_actions(wh) -> bool:  # noqa: ANN001 - a Warehouse
    with wh.engine.connect() as conn:
        return sa.inspect(conn).has_table("retention_actions")


def cmd_effect(args: argparse.Namespace) -> None:
    from metrics.churn import action_effect as ae

    wh = open_warehouse(args.db)
    if not _has_actions(wh):
        raise UserError(t("actions.no_table", args.lang))
    f = build_filters(wh, args)
    by = list(dict.fromkeys(args.by)) if args.by else list(ae.BY_CHOICES)
    if args.curves:
        cv = ae.curves_by(ae.action_rows(wh, f), by, f)
        if cv.empty:
            raise UserError(t("actions.none", args.lang))
        hand_out(args, wh, f, cv, {"actions_curves": by})
        return
    df = ae.action_effect(wh, f, by)
    if df.empty:
        raise UserError(t("actions.none", args.lang))
    for col in by:
        dim = "action_type" if col == "action_type" else "risk_band"
        df.insert(df.columns.get_loc(col) + 1, f"{col}_name", [label(dim, v, args.lang) for v in df[col]])
    df["nnt_note"] = [t("actions.cannot_tell", args.lang) if pd.isna(n) and not w else None
                      for n, w in zip(df["nnt"], df["withheld"], strict=True)]
    lines = []
    for _, r in df.iterrows():
        name = " · ".join(str(r[f"{c}_name"]) for c in by)
        if r["withheld"]:
            lines.append(t("actions.withheld", args.lang, group=name))
        elif r["too_small"]:
            lines.append(t("actions.too_small", args.lang, group=name, n=int(r["n_holdout"] or 0),
                           min=ae.MIN_HOLDOUT))
    lines.append(t("actions.method", args.lang, days=ae.HORIZON_DAYS, months=ae.REVENUE_MONTHS))

    def table(out: pd.DataFrame) -> pd.DataFrame:
        for col in ("churn_treated", "churn_holdout", "difference", "diff_low", "diff_high", "mde"):
            out[col] = pd.to_numeric(out[col], errors="coerce").map(lambda v: "" if np.isnan(v) else f"{v:.4f}")
        return out

    hand_out(args, wh, f, df, {"actions_effect": by}, lines, table=table)


def cmd_list(args: argparse.Namespace) -> None:
    from metrics.access.users import require_rows
    from metrics.churn.features import read_frame
    from metrics.model import schema as s
    from metrics.query.where import slice_conditions

    wh = open_warehouse(args.db)
    if not _has_actions(wh):
        raise UserError(t("actions.no_table", args.lang))
    f = build_filters(wh, args)
    try:
        require_rows(f.scope, "action lists")
    except PermissionError as exc:
        raise UserError(str(exc)) from None
    a, c = s.retention_actions, s.customers
    stmt = (sa.select(*[a.c[n] for n in LIST_COLUMNS])
            .select_from(a.join(c, c.c.customer_id == a.c.customer_id))
            .where(*slice_conditions(f, c, c.c.acquisition_channel)).order_by(a.c.action_id))
    if args.status:
        stmt = stmt.where(a.c.status.in_(args.status))
    if args.owner is not None:
        stmt = stmt.where(a.c.owner == args.owner)
    df = read_frame(wh, stmt)
    as_of = pd.Timestamp(f.as_of or wh.as_of())
    df["owner"] = pd.array(df["owner"], dtype="Float64").astype("Int64")
    df["overdue"] = (df["status"] == "open") & pd.to_datetime(df["due_date"]).lt(as_of)
    df.insert(3, "action_type_name", [label("action_type", v, args.lang) for v in df["action_type"]])
    df["status_name"] = [label("action_status", v, args.lang) for v in df["status"]]
    df["arm_name"] = [label("action_arm", v, args.lang) for v in df["arm"]]
    hand_out(args, wh, f, keys_as_given(df, wh, {"customer_id": "customers", "action_id": "retention_actions"}),
             {"actions_list": len(df)})


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``actions effect`` and ``actions list`` on the main parser's subcommands."""
    from metrics.churn import action_effect as ae

    p = sub.add_parser("actions", help="retention actions: did they work (treated vs holdout), the list")
    asub = p.add_subparsers(dest="actions_command", required=True)
    e = asub.add_parser("effect", help="treated against the random holdout: 90-day churn, KM log-rank, "
                                       "customers needed to treat, revenue kept against cost",
                        description="Per action type and risk band: the difference in 90-day churn between "
                                    "treated and held-out customers (Newcombe 95% interval), the log-rank p, "
                                    "customers needed to treat per customer kept, and a year's revenue of "
                                    "the customers kept against the actions' cost; a group whose holdout is "
                                    f"under {ae.MIN_HOLDOUT} or whose minimum detectable difference exceeds "
                                    "the observed one is flagged too small to tell.")
    e.add_argument("--by", action="append", choices=ae.BY_CHOICES, default=[],
                   help="group by action type and/or risk band (repeatable; default both)")
    e.add_argument("--curves", action="store_true",
                   help="print the Kaplan-Meier curves of treated and holdout per group instead "
                        "(days since the action was created, survival with 95%% bands)")
    for q in (e,):
        add_db_argument(q)
        add_filter_arguments(q)
        add_format_argument(q)
        q.add_argument("--lang", choices=["zh", "en"], default="en", help="language of names and sentences")
    e.set_defaults(func=cmd_effect)
    L = asub.add_parser("list", help="the retention actions in scope, with overdue ones flagged")
    L.add_argument("--status", action="append", default=[], choices=["open", "done", "cancelled"])
    L.add_argument("--owner", type=int, help="only this account manager's actions (manager id)")
    add_db_argument(L)
    add_filter_arguments(L)
    add_format_argument(L)
    L.add_argument("--lang", choices=["zh", "en"], default="en", help="language of names")
    L.set_defaults(func=cmd_list)
