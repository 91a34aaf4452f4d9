"""``servicewatch``: the command-line face of the engine.

Every failure a user can cause (bad arguments, unknown metric or region, unreachable database)
ends in one line on stderr and a non-zero exit; never a traceback, never a password.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pandas as pd

from metrics.access import users as access
from metrics.backends.connect import DatabaseError, resolve_url, safe_url
from metrics.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    Interrupted,
    UserError,
    cli_lang,
    emit,
    hand_out,
    keys_as_given,
    known_metric,
    open_filtered,
    open_warehouse,
    with_region_names,
    with_vocabulary_names,
)
from metrics.cli.options import add_db_argument, add_filter_arguments, add_format_argument, add_listing_command
from metrics.model import registry
from metrics.model.i18n import Worded
from metrics.query.compiler import REGION_LEVELS, CompileError


# -- commands ---------------------------------------------------------------------------------
def cmd_metric(args: argparse.Namespace) -> None:
    known_metric(args.metric_id, cli_lang(args))
    by = []
    level = args.level
    for d in args.by:
        if d in REGION_LEVELS:
            by.append("region")
            level = d
        else:
            by.append(d)
    wh, f = open_filtered(args)
    df = wh.compare(args.metric_id, f, tuple(by), level) if args.compare_columns else wh.metric(
        args.metric_id, f, tuple(by), level)
    # the window on stderr in every format (stdout stays parseable), and as fields of each JSON record
    hand_out(args, wh, f, with_vocabulary_names(with_region_names(df, wh, args.lang), wh, by, args.lang),
             {"metric": args.metric_id, "by": by, "level": level}, with_comparison=args.compare_columns)


def cmd_metrics(args: argparse.Namespace) -> None:
    rows = [{"id": m.id, "label_en": m.label_en, "label_zh": m.label_zh, "unit": m.unit,
             "higher_is_better": m.higher_is_better, "dims": " ".join(m.dims)} for m in registry.METRICS]
    emit(pd.DataFrame(rows), args.format)


def cmd_regions(args: argparse.Namespace) -> None:
    wh = open_warehouse(args.db)
    emit(keys_as_given(wh.regions(), wh), args.format)  # region_id and parent_id as the source wrote them


def cmd_demo(args: argparse.Namespace) -> None:
    from metrics.demo import generator as demo
    from metrics.demo import streamed
    from metrics.ingest import load

    if args.customers < 50:
        raise UserError("--customers must be at least 50")
    url = resolve_url(args.db)
    if args.chunk_customers is not None or args.customers > streamed.STREAM_ABOVE:
        rows = _demo_streamed(url, args)
    else:
        frames = demo.generate(customers=args.customers, seed=args.seed)
        load.replace_all(url, frames)
        rows = {k: len(v) for k, v in frames.items()}
    counts = ", ".join(f"{k} {n:,}" for k, n in rows.items())
    print(f"demo data written to {safe_url(url)}: {counts}")
    from sqlalchemy import exc as sa_exc

    from metrics import alerts
    from metrics.demo import alert_rules  # the default rule set: control signals on headline metrics per city
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(url)
    try:
        rules = alert_rules.install(wh)
        print(f"alert rules: {rules}; alerts now: {len(alerts.evaluate(wh))} (servicewatch alerts check)")
    except (DatabaseError, sa_exc.SQLAlchemyError) as exc:  # the data is written; say why the rules are not
        print(f"alert rules not installed: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
    finally:
        wh.engine.dispose()


def _demo_streamed(url: str, args: argparse.Namespace) -> dict[str, int]:
    """A big demo drawn in chunks and written into a DuckDB file as it goes (metrics.demo.streamed); Ctrl-C
    stops it within seconds, the file as it was (one line, exit 130)."""
    import signal
    import time

    from metrics.backends.connect import duckdb_path
    from metrics.demo import streamed
    from metrics.model.i18n import t

    lang = cli_lang(args)
    if duckdb_path(url) is None:
        raise UserError(t("demo_streamed.duckdb_only", lang, limit=f"{streamed.STREAM_ABOVE:,}"))
    chunk = args.chunk_customers or streamed.CHUNK_CUSTOMERS
    if chunk < 1000:
        raise UserError(t("demo_streamed.bad_chunk", lang))
    started = time.perf_counter()

    def progress(k: int, n: int, _figures: object) -> None:
        print(t("demo_streamed.chunk", lang, k=k + 1, n=n, customers=f"{min(chunk, args.customers - k * chunk):,}",
                seconds=time.perf_counter() - started), file=sys.stderr, flush=True)

    interrupted = []

    def on_sigint(signum: int, frame: object) -> None:  # DuckDB turns it into "Query interrupted" mid-query
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)

    try:
        before = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: Ctrl-C is not delivered here
        before = on_sigint
    try:
        return streamed.load_streamed(url, args.customers, seed=args.seed, chunk_customers=chunk,
                                      progress=progress, workers=args.workers or streamed.default_workers()).rows
    except BaseException:
        if interrupted:  # the workers ended, the temporaries removed, the file as it was
            raise Interrupted.said("demo_streamed.interrupted") from None
        raise
    finally:
        if before is not on_sigint:
            signal.signal(signal.SIGINT, before)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (its sub-commands' parsers are of the same class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="servicewatch", description="Service quality and churn metrics.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    m = sub.add_parser("metric", help="compute one metric, optionally grouped")
    m.add_argument("metric_id", help="metric id; `servicewatch metrics` lists them")
    add_db_argument(m)
    m.add_argument("--by", action="append", default=[], metavar="DIM",
                   help="group by: region, province, city, district, tier, segment, sla_level, channel, "
                        "category, kind, priority, survey_kind, month, week")
    m.add_argument("--level", choices=REGION_LEVELS, default="city", help="level for --by region")
    add_filter_arguments(m)
    m.add_argument("--with-comparison", dest="compare_columns", action="store_true",
                   help="add value_cmp, n_cmp, delta, delta_pct for the comparison period")
    add_format_argument(m)
    m.add_argument("--lang", choices=["en", "zh"], default="en",
                   help="language of the names beside the codes (region_name, channel_name, …) and of the "
                        "notes on stderr")
    m.set_defaults(func=cmd_metric)

    add_listing_command(sub, "metrics", "list the metrics", cmd_metrics, db=False)
    add_listing_command(sub, "regions", "list the regions", cmd_regions)

    d = sub.add_parser("demo", help="replace the database content with generated demo data")
    add_db_argument(d)
    d.add_argument("--customers", type=int, default=20_000)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--chunk-customers", type=int, default=None, metavar="N",
                   help="draw and write the demo in chunks of N customers, streamed into a DuckDB file (the "
                        "default above 1,000,000 customers, in chunks of 250,000): memory of one chunk, not of all")
    d.add_argument("--workers", type=int, default=None, choices=range(1, 9), metavar="N",
                   help="processes drawing the chunks of a streamed demo (default: one per core, at most 3)")
    d.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the notes on stderr")
    d.set_defaults(func=cmd_demo)

    from metrics.cli import ingest as cli_ingest  # import, template

    cli_ingest.add_commands(sub)
    from metrics.cli import users as cli_users  # the users file: add, passwd, remove, unlock, list

    cli_users.add_commands(sub)
    from metrics.cli import churn as cli_churn  # survival, churn fit, churn scores

    cli_churn.add_commands(sub)
    from metrics.cli import health as cli_health  # account health score of enterprise customers

    cli_health.add_commands(sub)
    from metrics.cli import coverage as cli_coverage  # which metrics the loaded data supports

    cli_coverage.add_commands(sub)
    from metrics.cli import drivers as cli_drivers  # key drivers of CSAT, NPS, CES

    cli_drivers.add_commands(sub)
    from metrics.cli import alerts as cli_alerts  # alert rules: check, ack, rules, history

    cli_alerts.add_commands(sub)
    from metrics.cli import forecast as cli_forecast  # where a KPI is heading: forecast, chance of the target

    cli_forecast.add_commands(sub)
    from metrics.cli import report as cli_report  # the review-meeting pack

    cli_report.add_commands(sub)
    from metrics.cli import subscription as cli_subscription  # scheduled delivery, the worker

    cli_subscription.add_commands(sub)
    from metrics.cli import spark as cli_spark  # a local Spark cluster to try the spark:// database on

    cli_spark.add_commands(sub)
    from metrics.cli import explain as cli_explain  # what drove a metric's change (rate and mix effects)

    cli_explain.add_commands(sub)
    from metrics.cli import actions as cli_actions  # retention actions: did they work (treated vs holdout), list

    cli_actions.add_commands(sub)
    from metrics.cli import portfolio as cli_portfolio  # account managers' portfolios: league, one manager

    cli_portfolio.add_commands(sub)
    from metrics.cli import topics as cli_topics  # complaint topics from the customers' words (issue 20)

    cli_topics.add_commands(sub)
    from metrics.cli import outlets as cli_outlets  # service halls and outlets: outlets, queue, stars

    cli_outlets.add_commands(sub)
    from metrics.cli import regulator as cli_regulator  # the regulator's figures and the appeal-risk list

    cli_regulator.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (UserError, DatabaseError, CompileError, access.ScopeError, access.UsersFileError) as exc:
        text = exc.text(cli_lang(args)) if isinstance(exc, Worded) else str(exc)
        print(f"servicewatch: error: {text}", file=sys.stderr)
        return EXIT_FAILURE
    except Interrupted as exc:  # a command that says what it left
        print(f"servicewatch: {exc.text(cli_lang(args))}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # any other Ctrl-C: the generic line, never the interrupt's own text
        from metrics.model.i18n import t

        print(f"servicewatch: {t('cli_interrupt.stopped', cli_lang(args))}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - a defect of ours: one line for the user, the detail logged
        print(f"servicewatch: error: {unexpected(exc, args.command)}", file=sys.stderr)
        return EXIT_FAILURE
    return code if isinstance(code, int) else 0


def unexpected(exc: BaseException, command: str) -> str:
    """One line for an unexpected failure, with an id; the traceback goes to the error log
    (``$SERVICEWATCH_ERROR_LOG``, else ``servicewatch-errors.log`` in a private folder of this
    account under the system's temporary folder) under the same id, never to the terminal."""
    import logging
    import os
    import tempfile
    import uuid

    from metrics.present.files import private_folder

    error_id = uuid.uuid4().hex[:8]
    path = os.environ.get("SERVICEWATCH_ERROR_LOG")
    try:
        if not path:
            folder = private_folder(Path(tempfile.gettempdir()) / f"servicewatch-{os.getuid()}")
            path = str(folder / "servicewatch-errors.log")
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return f"unexpected failure in {command} ({type(exc).__name__}, error id {error_id}; no error log written)"
    log = logging.getLogger("servicewatch.cli")
    log.addHandler(handler)
    log.error("error id %s in %s", error_id, command, exc_info=exc)
    handler.close()
    log.removeHandler(handler)
    return f"unexpected failure in {command} (error id {error_id}; the details are in {path})"


if __name__ == "__main__":
    sys.exit(main())
