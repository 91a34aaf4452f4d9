"""``servicewatch actions effect|list``: did the retention actions work (treated against the random
holdout, :mod:`metrics.churn.action_effect`), and the actions themselves, inside the user's scope.
The tidy table goes to stdout, the sentences (too small to tell, the method) to stderr. Same error
conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from metrics.cli.common import (
    UserError,
    as_text,
    build_filters,
    hand_out,
    keys_as_given,
    known_id,
    open_warehouse,
    user_of,
)
from metrics.cli.options import add_analysis_arguments, add_db_argument, add_format_argument, add_lang_argument
from metrics.model.i18n import label, t


def cmd_effect(args: argparse.Namespace) -> None:
    from metrics.churn import action_effect as ae

    wh = open_warehouse(args.db)
    if not ae.has_actions(wh):
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
            out[col] = as_text(out[col], ".4f")
        return out

    hand_out(args, wh, f, df, {"actions_effect": by}, lines, table=table)


def cmd_list(args: argparse.Namespace) -> None:
    from metrics.access.users import require_rows
    from metrics.churn import action_effect as ae
    from metrics.churn.actions_store import action_list

    wh = open_warehouse(args.db)
    if not ae.has_actions(wh):
        raise UserError(t("actions.no_table", args.lang))
    f = build_filters(wh, args)
    require_rows(f.scope, "action_lists")  # a viewer: ScopeError, one line in --lang (main's handler)
    owner = _owner_id(wh, args)
    df = action_list(wh, f, args.status, owner, args.overdue)
    df.insert(3, "action_type_name", [label("action_type", v, args.lang) for v in df["action_type"]])
    df["status_name"] = [label("action_status", v, args.lang) for v in df["status"]]
    df["arm_name"] = [label("action_arm", v, args.lang) for v in df["arm"]]
    hand_out(args, wh, f, keys_as_given(df, wh, {"customer_id": "customers", "action_id": "retention_actions",
                                     "owner": "account_managers"}),
             {"actions_list": len(df)})


def _owner_id(wh, args: argparse.Namespace) -> int | None:  # noqa: ANN001 - a Warehouse
    """The id of the account manager ``--owner`` names by the source's key (None without one); a key
    the data does not hold — a plain number without its row too — is one line in ``--lang``."""
    if args.owner is None:
        return None
    return known_id(wh, "account_managers", args.owner, "actions_write.bad_owner", args.lang, name=args.owner)


def _writer(args: argparse.Namespace):  # noqa: ANN202 - (Warehouse, url, user, scope)
    """The data database opened for writing, its URL, the audit user and the ``--as-user`` scope."""
    from metrics.access import audit
    from metrics.access import scope as access_scope
    from metrics.backends.connect import resolve_url
    from metrics.query.warehouse import Warehouse

    url = resolve_url(args.db)
    try:
        wh = Warehouse.open(url, read_only=False)
        with wh.engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - a DuckDB file held by the dashboard, a read-only database
        raise UserError(t("actions_write.busy", args.lang, reason=type(exc).__name__)) from None
    scope = None
    if args.as_user:
        try:
            scope = access_scope.scope_for(user_of(args.as_user, args.lang), key_ids=wh.key_ids)
        except UserError:
            wh.engine.dispose()
            raise
    return wh, url, audit.cli_user(args.as_user), scope


def _write(fn, args: argparse.Namespace, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
    """Call an actions_store writer: its refusals and database failures in one line."""
    from metrics.churn import actions_store as st

    try:
        return fn(*a, lang=args.lang, **kw)
    except st.ActionError as exc:
        raise UserError(str(exc)) from None
    except sa.exc.SQLAlchemyError as exc:
        raise UserError(t("actions_write.busy", args.lang, reason=type(exc).__name__)) from None


def _emit_rows(args: argparse.Namespace, wh, df: pd.DataFrame) -> None:  # noqa: ANN001
    from metrics.cli.common import emit

    cols = {"customer_id": "customers", "action_id": "retention_actions", "owner": "account_managers"}
    emit(keys_as_given(df, wh, {k: v for k, v in cols.items() if k in df.columns}), args.format)


def _with_writer(args: argparse.Namespace, write: Callable[..., None]) -> None:
    """Run ``write(args, wh, url, user, scope)`` on the database opened for writing (:func:`_writer`),
    released at once after: a DuckDB file opened read-write blocks every reader meanwhile."""
    wh, url, user, scope = _writer(args)
    try:
        write(args, wh, url, user, scope)
    finally:
        wh.engine.dispose()


def cmd_add(args: argparse.Namespace) -> None:
    _with_writer(args, _add)


def _add(args: argparse.Namespace, wh, url: str, user: str, scope) -> None:  # noqa: ANN001
    from metrics.churn import actions_store as st

    found = wh.key_ids("customers", args.customer)
    unknown = [k for k in args.customer if k.strip() not in found]
    if unknown:
        raise UserError(t("actions_write.bad_customer", args.lang, keys=", ".join(unknown[:5])))
    owner = _owner_id(wh, args)
    df, seed = _write(st.assign, args, wh.engine, url, user, [found[k.strip()] for k in args.customer],
                      args.type, owner, args.due, created=args.created, note=args.note, holdout=args.holdout,
                      seed=args.seed, scope=scope)
    print(t("actions_write.written", args.lang, n=len(df), held=int((df["arm"] == "holdout").sum()), seed=seed),
          file=sys.stderr)
    df["seed"] = seed
    df["action_type_name"] = [label("action_type", v, args.lang) for v in df["action_type"]]
    df["arm_name"] = [label("action_arm", v, args.lang) for v in df["arm"]]
    _emit_rows(args, wh, df)


def cmd_close(args: argparse.Namespace) -> None:
    _with_writer(args, _close)


def _close(args: argparse.Namespace, wh, url: str, user: str, scope) -> None:  # noqa: ANN001
    from metrics.churn import actions_store as st

    got = wh.key_ids("retention_actions", [args.action_id])
    if args.action_id.strip() not in got:
        raise UserError(t("actions_write.bad_action", args.lang, name=args.action_id))
    aid = got[args.action_id.strip()]
    read = st.read_action(wh.engine, aid)
    if read is None:
        raise UserError(t("actions_write.unknown_action", args.lang, id=args.action_id))
    row = _write(st.close, args, wh.engine, url, user, aid, args.outcome, read, status=args.status, scope=scope)
    print(t("actions_write.closed", args.lang, id=args.action_id, status=label("action_status", args.status,
                                                                               args.lang)), file=sys.stderr)
    _emit_rows(args, wh, pd.DataFrame([row]))


def _add_write_commands(asub: argparse._SubParsersAction) -> None:
    """``actions add`` and ``actions close`` (metrics.churn.actions_store)."""
    from metrics.churn import actions_store as st
    from metrics.cli.options import date_arg

    a = asub.add_parser("add", help="assign a retention action to customers, a random share held out",
                        description="Writes into the data database (one transaction, audited): the customers "
                                    "named, a random share of each risk decile held out (arm holdout, recorded "
                                    "with its seed) so that the effect can be measured.")
    a.add_argument("--customer", action="append", required=True, metavar="KEY",
                   help="customer key as the source wrote it (repeatable)")
    a.add_argument("--type", required=True, metavar="TYPE",
                   help="action type: a code the data knows (without any: " + ", ".join(st.ACTION_TYPES) + ")")
    a.add_argument("--owner", metavar="MANAGER_KEY",
                   help="the account manager responsible (key as the source wrote it)")
    a.add_argument("--due", required=True, type=date_arg, help="due date (YYYY-MM-DD)")
    a.add_argument("--created", type=date_arg, help="creation date (default: today, the server's local date)")
    a.add_argument("--note", help="playbook text / note (audited)")
    a.add_argument("--holdout", type=float, default=st.DEFAULT_HOLDOUT,
                   help="share of each risk decile held out at random (default 0.1)")
    a.add_argument("--seed", type=int, help="seed of the holdout draw (default: a random one, recorded)")
    a.set_defaults(func=cmd_add)
    c = asub.add_parser("close", help="close an action with its outcome (refused if changed since read)")
    c.add_argument("action_id", metavar="ACTION_ID")
    c.add_argument("--outcome", required=True)
    c.add_argument("--status", choices=["done", "cancelled"], default="done")
    c.set_defaults(func=cmd_close)
    for q in (a, c):
        add_db_argument(q)
        add_format_argument(q)
        q.add_argument("--as-user", dest="as_user", metavar="NAME",
                       help="act for a user of $SERVICEWATCH_USERS: only that user's customers")
        add_lang_argument(q, "language of names and sentences")


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
    add_db_argument(e)
    add_analysis_arguments(e, "language of names and sentences", cmd_effect)
    L = asub.add_parser("list", help="the retention actions in scope, with overdue ones flagged")
    L.add_argument("--status", action="append", default=[], choices=["open", "done", "cancelled"])
    L.add_argument("--owner", metavar="MANAGER_KEY",
                   help="only this account manager's actions (key as the source wrote it)")
    L.add_argument("--overdue", action="store_true", help="only open actions past their due date (at the as-of date)")
    add_db_argument(L)
    add_analysis_arguments(L, "language of names", cmd_list)
    _add_write_commands(asub)
