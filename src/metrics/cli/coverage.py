"""``servicewatch coverage``: per metric of the registry, whether the loaded data supports it — rows
with the needed columns known out of all, and what is missing (:mod:`metrics.analysis.coverage`).
Same error conventions as :mod:`metrics.cli.main` (one line on stderr, non-zero exit)."""

from __future__ import annotations

import argparse

from metrics.cli.common import as_text, emit, open_warehouse
from metrics.cli.options import add_db_argument, add_output_arguments


def cmd_coverage(args: argparse.Namespace) -> None:
    from metrics.analysis import coverage

    wh = open_warehouse(args.db)
    df = coverage.coverage(wh.engine, args.lang)
    emit(df, args.format, table=lambda d: d.assign(share=as_text(d["share"], ".1%")))


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``coverage`` on the main parser's subcommands."""
    p = sub.add_parser("coverage", help="which metrics the loaded data supports, and what is missing",
                       description="Per metric: the rows it reads, how many have every column it needs "
                                   "known (not NULL), whether it is supported, and what is missing "
                                   "(a table empty, a column unknown on every row).")
    add_db_argument(p)
    add_output_arguments(p, "language of labels and notes", cmd_coverage)
