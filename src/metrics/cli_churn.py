"""``servicewatch survival`` and ``servicewatch churn fit|scores``: retention and churn risk from the
command line. Same filter options and error conventions as :mod:`metrics.cli` (one line on stderr,
non-zero exit, never a traceback)."""

from __future__ import annotations

import argparse

from .cli import REGION_LEVELS, UserError, add_db_argument, add_filter_arguments, build_filters, emit, open_warehouse

SURVIVAL_DIMS = ("tier", "segment", "channel", "sla_level", "region", *REGION_LEVELS)


def cmd_survival(args: argparse.Namespace) -> None:
    from . import survival

    by, level = args.by, args.level
    if by in REGION_LEVELS:
        by, level = "region", by
    if args.step < 1:
        raise UserError("--step must be at least 1 (days)")
    wh = open_warehouse(args.db)
    f = build_filters(wh, args)
    r = survival.retention(wh, f, None if by == "all" else by, level, args.step)
    if args.what == "summary":
        emit(r.summary, args.format)
    elif args.what == "logrank":
        emit(r.logrank, args.format)
    elif args.what == "at_risk":
        emit(r.at_risk, args.format)
    else:
        emit(r.curves, args.format)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the retention and churn commands on the main parser's subcommands."""
    sv = sub.add_parser("survival", help="Kaplan–Meier retention curves by a dimension",
                        description="Retention (Kaplan–Meier) on tenure in days; customers still active are "
                                    "censored at the as-of date. The period options do not restrict the cohort.")
    add_db_argument(sv)
    sv.add_argument("--by", default="all", choices=("all", *SURVIVAL_DIMS),
                    help="group the curves by this dimension (channel = acquisition channel); default: all")
    sv.add_argument("--level", choices=REGION_LEVELS, default="city", help="level for --by region")
    sv.add_argument("--step", type=int, default=7,
                    help="time step in days; durations are rounded up to it (1 = exact, default 7)")
    sv.add_argument("--show", dest="what", choices=("curves", "summary", "logrank", "at_risk"), default="curves",
                    help="curves (default), summary (median, RMST 12/24 months), pairwise log-rank, at_risk")
    add_filter_arguments(sv)
    sv.add_argument("--format", choices=["json", "csv", "table"], default="table")
    sv.set_defaults(func=cmd_survival)
