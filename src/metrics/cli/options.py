"""The options of the ``servicewatch`` commands: dates, ``--db``, ``--format``, ``--lang``, the filter
options, and how a listing or an analysis command registers them (help texts and defaults are what
scripts and ``--help`` show: change them here once for every command)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date

from metrics.model import dimensions
from metrics.model.links import date_range, parse_date


def date_arg(text: str) -> date:
    """An option's date: YYYY-MM-DD within the plausible range (:func:`metrics.model.links.parse_date`)."""
    try:
        return parse_date(text, date_range())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_db_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy database URL (default: $SERVICEWATCH_DB, "
                   ".streamlit/secrets.toml, then data/servicewatch.duckdb)")


def add_format_argument(p: argparse.ArgumentParser) -> None:
    """``--format json|csv|table`` (default table): how a command prints its tidy frame (:func:`emit`)."""
    p.add_argument("--format", choices=["json", "csv", "table"], default="table")


def add_lang_argument(p: argparse.ArgumentParser, lang_help: str, default: str = "en") -> None:
    """``--lang zh|en`` (default ``default``); ``lang_help`` says what it translates."""
    p.add_argument("--lang", choices=["zh", "en"], default=default, help=lang_help)


def add_output_arguments(p: argparse.ArgumentParser, lang_help: str, func: Callable | None = None) -> None:
    """``--format json|csv|table`` and ``--lang zh|en`` (default en; ``lang_help`` says what it
    translates), and the command's function when ``func`` is given: how an analysis command ends."""
    add_format_argument(p)
    add_lang_argument(p, lang_help)
    if func is not None:
        p.set_defaults(func=func)


def add_listing_command(sub: argparse._SubParsersAction, name: str, help_text: str, func: Callable,
                        db: bool = True) -> argparse.ArgumentParser:
    """A command that lists what is stored (metrics, regions, subscriptions) as a tidy frame: ``--db``
    (unless ``db`` is False) and ``--format`` (:func:`emit`), and its function."""
    p = sub.add_parser(name, help=help_text)
    if db:
        add_db_argument(p)
    add_format_argument(p)
    p.set_defaults(func=func)
    return p


def add_analysis_arguments(p: argparse.ArgumentParser, lang_help: str, func: Callable | None = None) -> None:
    """The options an analysis command ends with: the filters (:func:`add_filter_arguments`), then
    ``--format`` and ``--lang`` (:func:`add_output_arguments`), and the command's function."""
    add_filter_arguments(p)
    add_output_arguments(p, lang_help, func)


def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    """The filter options shared by every command that computes figures."""
    p.add_argument("--from", dest="start", type=date_arg, help="first day of the period (inclusive)")
    p.add_argument("--to", dest="end", type=date_arg, help="last day of the period (inclusive)")
    p.add_argument("--period", choices=["last_month", "last_quarter", "ytd", "last_12_months"],
                   help="a named period relative to the as-of date (default: the last 12 complete months, "
                        "or all the data when they begin before it)")
    p.add_argument("--as-of", dest="as_of", type=date_arg, help="day up to which events are known")
    p.add_argument("--compare", choices=["previous", "year_ago", "none"], default="previous")
    p.add_argument("--region", action="append", default=[], metavar="KEY",
                   help="region key as the source wrote it (GD-SZ, 0755, 440300) or name (English or "
                        "Chinese); includes its districts")
    for d in dimensions.VALUE_FILTERS:  # --tier, --segment, --sla-level, --channel, …
        p.add_argument(d.cli_flag, dest=d.name, action="append", default=[], metavar=d.name.upper())
    p.add_argument("--outlet", action="append", default=[], metavar="KEY",
                   help="outlet key as the source wrote it, or its name: only the tickets, surveys, queues and "
                        "audits of that outlet (figures about customers are not cut by outlet)")
    p.add_argument("--as-user", dest="as_user", metavar="NAME",
                   help="act for a user of $SERVICEWATCH_USERS: only that user's scope of the data")
