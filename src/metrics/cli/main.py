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
    EXIT_REJECTS,
    EXIT_USAGE,
    UserError,
    add_db_argument,
    add_filter_arguments,
    audit_export,
    build_filters,
    emit,
    keys_as_given,
    open_warehouse,
    window_fields,
    window_text,
    with_region_names,
    with_vocabulary_names,
)
from metrics.model import registry
from metrics.model.i18n import t
from metrics.present import files as outputs
from metrics.present.files import OutputRefused
from metrics.query.compiler import REGION_LEVELS, CompileError


# -- commands ---------------------------------------------------------------------------------
def cmd_metric(args: argparse.Namespace) -> None:
    try:
        registry.get(args.metric_id)
    except registry.UnknownMetric:
        raise UserError(f"unknown metric {args.metric_id!r}; known: {', '.join(registry.BY_ID)}") from None
    by = []
    level = args.level
    for d in args.by:
        if d in REGION_LEVELS:
            by.append("region")
            level = d
        else:
            by.append(d)
    wh = open_warehouse(args.db)
    f = build_filters(wh, args)
    df = wh.compare(args.metric_id, f, tuple(by), level) if args.compare_columns else wh.metric(
        args.metric_id, f, tuple(by), level)
    from metrics.access.audit import filters_detail

    audit_export(args, "export", {"metric": args.metric_id, "by": by, "level": level, "rows": len(df),
                                  "filters": filters_detail(f)})
    # the window on stderr in every format (stdout stays parseable), and as fields of each JSON record
    print(window_text(wh, args, f, args.compare_columns), file=sys.stderr)
    df = with_vocabulary_names(with_region_names(df, wh, args.lang), wh, by, args.lang)
    if args.format == "json":
        df = df.assign(**window_fields(wh, f, args.compare_columns))
    emit(df, args.format)


def cmd_metrics(args: argparse.Namespace) -> None:
    rows = [{"id": m.id, "label_en": m.label_en, "label_zh": m.label_zh, "unit": m.unit,
             "higher_is_better": m.higher_is_better, "dims": " ".join(m.dims)} for m in registry.METRICS]
    emit(pd.DataFrame(rows), args.format)


def cmd_regions(args: argparse.Namespace) -> None:
    wh = open_warehouse(args.db)
    emit(keys_as_given(wh.regions(), wh), args.format)  # region_id and parent_id as the source wrote them


def cmd_demo(args: argparse.Namespace) -> None:
    from metrics.demo import generator as demo
    from metrics.ingest import load

    if args.customers < 50:
        raise UserError("--customers must be at least 50")
    url = resolve_url(args.db)
    frames = demo.generate(customers=args.customers, seed=args.seed)
    load.replace_all(url, frames)
    counts = ", ".join(f"{k} {len(v):,}" for k, v in frames.items())
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


def cmd_import(args: argparse.Namespace) -> int:
    """Exit 0 when every row loaded, EXIT_REJECTS when some were rejected (the rest loaded)."""
    from metrics.ingest.importer import ImportFailed, MappingError, import_file, import_query

    if (args.file is None) == (args.from_sql is None):
        print("servicewatch import: error: give either FILE or --from-sql QUERY (with --source-db URL)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.from_sql is not None and not args.source_db:
        print("servicewatch import: error: --from-sql needs --source-db URL", file=sys.stderr)
        return EXIT_USAGE
    if args.as_user:  # acting for a user: imports are for admins
        try:
            user = access.get_user(args.as_user)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if user.role != "admin":
            raise access.ScopeError(f"user {user.name} ({user.role}) may not import; imports are for admins")
    who = args.as_user or None
    snapshot = None
    if args.snapshot_date:
        import datetime as dt

        try:
            snapshot = dt.date.fromisoformat(args.snapshot_date)
        except ValueError:
            raise UserError(f"--snapshot-date: '{args.snapshot_date}' is not a date (YYYY-MM-DD)") from None
    try:
        rejects = _rejects_option(args)
        if args.from_sql is not None:
            result = import_query(resolve_url(args.db), args.table, args.from_sql, args.source_db, user=who,
                                  mapping=args.mapping, dry_run=args.dry_run, lang=args.lang, rejects=rejects,
                                  snapshot_date=snapshot)
        else:
            result = import_file(resolve_url(args.db), args.table, args.file, mapping=args.mapping, user=who,
                                 dry_run=args.dry_run, encoding=args.encoding, lang=args.lang, rejects=rejects,
                                 snapshot_date=snapshot)
    except (ImportFailed, MappingError, OutputRefused) as exc:
        raise UserError(str(exc)) from None
    from metrics.access.audit import import_detail

    if not args.dry_run:  # done: recorded (a failure to record is reported, the import stands)
        try:
            audit_export(args, "import", import_detail(result))
        except UserError:
            print("servicewatch: warning: the import is done but could not be written to the audit log",
                  file=sys.stderr)
    print("\n".join(result.summary(args.lang)))
    if not args.dry_run:
        from metrics.cli.alerts import after_change  # the alert rules on the new data

        after_change(resolve_url(args.db), args.lang)
    if args.dry_run and result.rows_rejected:
        _print_first_problems(result, args.lang)
    return EXIT_REJECTS if result.rows_rejected else 0


def _rejects_option(args: argparse.Namespace) -> bool | str:
    """``--rejects`` checked against every input of the command (file, mapping file, both databases)
    like a real run would check it (:func:`metrics.present.files.check`); a dry run writes no rejects file
    and deletes none (False), a real run writes the named file or the default one (True)."""
    if args.rejects:
        outputs.check(args.rejects, outputs.REJECTS, option="--rejects", lang=args.lang,
                      db_urls=[resolve_url(args.db), args.source_db], inputs=[args.file, args.mapping])
    return False if args.dry_run else (args.rejects or True)


def _print_first_problems(result: object, lang: str, n: int = 10) -> None:
    """The first problems of a dry run on screen (it writes no rejects file); control characters shown as ?."""
    def shown(v: object) -> str:
        text = "".join(c if c.isprintable() else "?" for c in str(v))
        return text if len(text) <= 60 else text[:59] + "…"

    rows = result.problems_text(lang).head(n)
    print(t("output.dry_run_problems", lang, n=len(rows)))
    for r in rows.itertuples(index=False):
        print(t("output.problem", lang, row=r.row, column=shown(r.column), value=shown(r.value),
                reason=shown(r.reason)))


def cmd_template(args: argparse.Namespace) -> None:
    """An example CSV of TABLE: its headers and two rows that import cleanly."""
    from metrics.ingest.importer import template_csv
    from metrics.ingest.importer.spec import TABLES

    if args.table not in TABLES:
        raise UserError(f"unknown table {args.table!r}; known: {', '.join(TABLES)}")
    data = template_csv(args.table, args.lang)
    if args.out in (None, "-"):
        sys.stdout.write(data.decode("utf-8-sig"))
        return
    try:  # never the database, a link, a folder or a file that is not a template of ours
        path = outputs.check(args.out, outputs.TEMPLATE, option="--out", lang=args.lang, db_urls=[resolve_url(None)])
        outputs.write_bytes(path, data)  # a temporary file renamed into place: old file or new one
    except OutputRefused as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(t("output.cannot_write", args.lang, option="--out", path=args.out,
                          detail=exc.strerror or type(exc).__name__)) from None
    print(f"template for {args.table} written to {args.out}", file=sys.stderr)


def _read_password(args: argparse.Namespace) -> str:
    """The password from standard input (first line); prompted without echo on a terminal."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UserError("the passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise UserError("no password on standard input")
    return line


def _local_time(epoch: float | None) -> str:
    """A lock's end as local ISO time to the second; empty when not locked."""
    from datetime import datetime

    return "" if epoch is None else datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def cmd_user(args: argparse.Namespace) -> None:
    try:
        if args.user_command == "add":
            user = access.User(args.name, args.role, tuple(args.regions), args.manager, args.email, args.user_lang)
            access.add_user(user, None if args.no_password else _read_password(args))
            print(f"user {user.name} added ({user.role})" + (", OpenID Connect only" if args.no_password else ""))
        elif args.user_command == "passwd":
            access.set_password(args.name, _read_password(args))
            print(f"password of {args.name} changed")
        elif args.user_command == "remove":
            access.remove_user(args.name)
            print(f"user {args.name} removed")
        elif args.user_command == "unlock":
            was = access.unlock(args.name)
            print(f"user {args.name} unlocked" if was else f"user {args.name} was not locked; failed sign-ins cleared")
        else:
            locks = access.lock_states()
            rows = [{"name": u.name, "role": u.role, "regions": " ".join(map(str, u.regions)),
                     "manager_id": u.manager_id, "email": u.email or "", "lang": u.lang,
                     "locked_until": _local_time(locks.get(u.name))}
                    for u in access.list_users()]
            emit(pd.DataFrame(rows, columns=["name", "role", "regions", "manager_id", "email", "lang", "locked_until"]),
                 args.format)
    except ValueError as exc:
        raise UserError(str(exc)) from None


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
    m.add_argument("--format", choices=["json", "csv", "table"], default="table")
    m.add_argument("--lang", choices=["en", "zh"], default="en",
                   help="language of the names beside the codes (region_name, channel_name, …) and of the "
                        "notes on stderr")
    m.set_defaults(func=cmd_metric)

    ms = sub.add_parser("metrics", help="list the metrics")
    ms.add_argument("--format", choices=["json", "csv", "table"], default="table")
    ms.set_defaults(func=cmd_metrics)

    r = sub.add_parser("regions", help="list the regions")
    add_db_argument(r)
    r.add_argument("--format", choices=["json", "csv", "table"], default="table")
    r.set_defaults(func=cmd_regions)

    d = sub.add_parser("demo", help="replace the database content with generated demo data")
    add_db_argument(d)
    d.add_argument("--customers", type=int, default=20_000)
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)

    i = sub.add_parser("import", help="validate a CSV/Excel/Parquet file and upsert it into a table",
                       description="Exit codes: 0 all rows loaded, 3 some rows rejected (the others loaded; "
                                   "see the rejects file), 1 nothing imported (unreadable file, missing columns, "
                                   "database error), 2 bad arguments. See docs/import.md.")
    i.add_argument("table", help="table of the data model: regions, customers, tickets, surveys, …")
    i.add_argument("file", nargs="?", help=".csv, .xlsx or .parquet (or use --from-sql)")
    add_db_argument(i)
    i.add_argument("--from-sql", dest="from_sql", metavar="QUERY",
                   help="read the rows of this SELECT, run on --source-db, instead of a file")
    i.add_argument("--source-db", dest="source_db", metavar="URL", help="SQLAlchemy URL of the database "
                   "--from-sql reads (DuckDB files are opened read-only)")
    i.add_argument("--rejects", metavar="FILE", help="where to write the rejected rows (default: FILE.rejects.csv "
                   "next to the input; TABLE-from-sql.rejects.csv in the current directory for --from-sql)")
    i.add_argument("--mapping", metavar="MAPPING.yaml",
                   help="header and value renames, defaults, date formats (docs/import.md)")
    i.add_argument("--snapshot-date", dest="snapshot_date", metavar="DATE",
                   help="customers snapshot: start_date = DATE - tenure_months/tenure_days, end_date = DATE "
                   "for churned customers (docs/import.md)")
    i.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    i.add_argument("--encoding", metavar="ENC", help="CSV encoding (default: detect UTF-8, UTF-8-BOM, GBK/GB18030)")
    i.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the report and rejects file")
    i.add_argument("--as-user", dest="as_user", metavar="NAME",
                   help="act for a user of $SERVICEWATCH_USERS (must be an admin); recorded in the audit log")
    i.set_defaults(func=cmd_import)

    tp = sub.add_parser("template", help="write an example CSV for a table: headers and two valid rows",
                        description="The example rows import cleanly (into an empty database too) when the "
                                    "templates are imported in the order of docs/import.md. See docs/import.md.")
    tp.add_argument("table", help="table of the data model: regions, customers, tickets, surveys, …")
    tp.add_argument("--out", metavar="FILE", help="file to write (default: standard output)")
    tp.add_argument("--lang", choices=["en", "zh"], default="en",
                    help="headers: data-model names (en) or the Chinese names the importer recognises (zh)")
    tp.set_defaults(func=cmd_template)

    u = sub.add_parser("user", help="manage the users file ($SERVICEWATCH_USERS); passwords from stdin")
    usub = u.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    ua = usub.add_parser("add", help="add a user (password: first line of standard input)")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=access.ROLES)
    ua.add_argument("--regions", nargs="+", default=[], metavar="KEY",
                    help="regions a manager (or viewer) sees, their districts included, by their keys as the "
                         "source wrote them (GD-SZ, 0755, 440300)")
    ua.add_argument("--manager", metavar="KEY",
                    help="the account manager (account_managers.manager_id as the source wrote it, e.g. AM-001) "
                         "of an account manager")
    ua.add_argument("--email", metavar="ADDRESS", help="where subscriptions are delivered (servicewatch subscription)")
    ua.add_argument("--lang", dest="user_lang", choices=["zh", "en"], default="zh",
                    help="language of what is delivered to the user (default zh)")
    ua.add_argument("--no-password", dest="no_password", action="store_true",
                    help="no password: the user signs in through OpenID Connect only (NAME = e-mail or subject)")
    usub.add_parser("passwd", help="set a new password (from standard input)").add_argument("name")
    usub.add_parser("remove", help="remove a user").add_argument("name")
    usub.add_parser("unlock", help="clear a user's sign-in lockout (too many failed sign-ins)").add_argument("name")
    ul = usub.add_parser("list", help="list the users (no hashes) and when a lockout ends")
    ul.add_argument("--format", choices=["json", "csv", "table"], default="table")
    u.set_defaults(func=cmd_user)

    from metrics.cli import churn as cli_churn  # survival, churn fit, churn scores

    cli_churn.add_commands(sub)
    from metrics.cli import coverage as cli_coverage  # which metrics the loaded data supports

    cli_coverage.add_commands(sub)
    from metrics.cli import alerts as cli_alerts  # alert rules: check, ack, rules, history

    cli_alerts.add_commands(sub)
    from metrics.cli import report as cli_report  # the review-meeting pack

    cli_report.add_commands(sub)
    from metrics.cli import subscription as cli_subscription  # scheduled delivery, the worker

    cli_subscription.add_commands(sub)
    from metrics.cli import spark as cli_spark  # a local Spark cluster to try the spark:// database on

    cli_spark.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except (UserError, DatabaseError, CompileError, access.ScopeError, access.UsersFileError) as exc:
        print(f"servicewatch: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("servicewatch: interrupted", file=sys.stderr)
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
