"""``servicewatch user add|passwd|remove|unlock|list``: the users file (``$SERVICEWATCH_USERS``),
passwords from standard input (:mod:`metrics.access.users`). Same error conventions as
:mod:`metrics.cli.main` (one line on stderr, non-zero exit)."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from metrics.access import users as access
from metrics.cli.common import UserError, emit
from metrics.cli.options import add_format_argument


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
    """Run one ``user`` action; a bad name, role or users file ends in :class:`UserError`."""
    try:
        if args.user_command == "add":
            user = access.User(args.name, args.role, tuple(args.regions), args.manager, args.email, args.user_lang,
                               tuple(args.outlets))
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
                     "manager_id": u.manager_id, "outlets": " ".join(map(str, u.outlets)), "email": u.email or "",
                     "lang": u.lang, "locked_until": _local_time(locks.get(u.name))}
                    for u in access.list_users()]
            emit(pd.DataFrame(rows, columns=["name", "role", "regions", "manager_id", "outlets", "email", "lang",
                                             "locked_until"]), args.format)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``user add|passwd|remove|unlock|list`` on the main parser's subcommands."""
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
    ua.add_argument("--outlets", nargs="+", default=[], metavar="KEY",
                    help="the outlets a hall manager (营业厅主任) sees, by their keys as the source wrote them: "
                         "their tickets, surveys, queues and audits only, no figure about customers")
    ua.add_argument("--email", metavar="ADDRESS", help="where subscriptions are delivered (servicewatch subscription)")
    ua.add_argument("--lang", dest="user_lang", choices=["zh", "en"], default="zh",
                    help="language of what is delivered to the user (default zh)")
    ua.add_argument("--no-password", dest="no_password", action="store_true",
                    help="no password: the user signs in through OpenID Connect only (NAME = e-mail or subject)")
    usub.add_parser("passwd", help="set a new password (from standard input)").add_argument("name")
    usub.add_parser("remove", help="remove a user").add_argument("name")
    usub.add_parser("unlock", help="clear a user's sign-in lockout (too many failed sign-ins)").add_argument("name")
    ul = usub.add_parser("list", help="list the users (no hashes) and when a lockout ends")
    add_format_argument(ul)
    u.set_defaults(func=cmd_user)
