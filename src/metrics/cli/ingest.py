"""``servicewatch import`` (validate a file or a query's rows and upsert them into a table) and
``servicewatch template`` (an example CSV of a table) (:mod:`metrics.ingest.importer`, docs/import.md).
Same error conventions as :mod:`metrics.cli.main` (one line on stderr, non-zero exit)."""

from __future__ import annotations

import argparse
import sys

from metrics.access import users as access
from metrics.backends.connect import resolve_url
from metrics.cli.common import EXIT_REJECTS, EXIT_USAGE, UserError, audit_export, cli_lang, user_of
from metrics.cli.options import add_db_argument
from metrics.model.i18n import t
from metrics.present import files as outputs
from metrics.present.files import OutputRefused


def cmd_import(args: argparse.Namespace) -> int:
    """Exit 0 when every row loaded, EXIT_REJECTS when some were rejected (the rest loaded)."""
    from metrics.ingest.importer import ImportFailed, MappingError, import_file, import_query

    if (args.file is None) == (args.from_sql is None):
        print(f"servicewatch: error: {t('cli_usage.import.file_or_sql', cli_lang(args))}", file=sys.stderr)
        return EXIT_USAGE
    if args.from_sql is not None and not args.source_db:
        print(f"servicewatch: error: {t('cli_usage.import.sql_needs_source', cli_lang(args))}",
              file=sys.stderr)
        return EXIT_USAGE
    if args.as_user:  # acting for a user: imports are for admins
        user = user_of(args.as_user, cli_lang(args))
        if user.role != "admin":
            raise access.ScopeError.said("scope_refusal.import_admins", user=user.name)
    who = args.as_user or None
    snapshot = None
    if args.snapshot_date:
        import datetime as dt

        try:
            snapshot = dt.date.fromisoformat(args.snapshot_date)
        except ValueError:
            raise UserError(t("cli_usage.import.bad_snapshot_date", cli_lang(args), value=args.snapshot_date)) from None
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
    from metrics.ingest.importer.columns import TABLES

    if args.table not in TABLES:
        raise UserError(t("cli_usage.import.unknown_table", cli_lang(args), table=repr(args.table),
                          known=", ".join(TABLES)))
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
    print(t("cli_usage.import.template_written", cli_lang(args), table=args.table, out=args.out), file=sys.stderr)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``import`` and ``template`` on the main parser's subcommands."""
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
