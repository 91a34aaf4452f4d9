"""``servicewatch regulator --quarter 2026Q3 [--authority miit|ofcom|tio|acma]`` and ``servicewatch
appeal-risk`` (issue 20, :mod:`metrics.analysis.regulator`, :mod:`metrics.analysis.appeal_risk`).

``regulator``: MIIT's 申诉率 per million users by its categories (``--by province|city``: per region),
with the previous quarter's and the year-ago rates and the changes; or the Ofcom, TIO or ACMA reading.
The authority's definition, the base and the count point go to stderr with the sentence, in ``--lang``;
``--from`` / ``--to`` are refused (the quarter is the period).
``appeal-risk``: complaints open past 15 days or passing it within 3, with their owner (the ticket's
handler, else the customer's account manager; ``owner_kind`` says which); an aggregate-only user gets
the counts. Same error conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pandas as pd

from metrics.cli.common import UserError, hand_out, keys_as_given, open_filtered, with_region_names
from metrics.cli.options import add_analysis_arguments, add_db_argument

MIIT_TABLE = ["region_id", "region_name", "regulator_category", "regulator_category_name", "appeals", "users",
              "rate", "lower", "upper", "appeals_prev", "rate_prev", "change_prev", "p_prev", "appeals_year",
              "rate_year", "change_year", "p_year", "in_use_prev", "in_use_year"]
ACMA_TABLE = ["appeals", "users", "rate", "lower", "upper", "resolved", "mean_days", "days_80"]


def quarter_arg(text: str, lang: str):  # noqa: ANN201 - a regulator_quarters.Quarter
    """The quarter the user wrote, or one line saying how to write it."""
    from metrics.analysis.regulator_quarters import parse_quarter
    from metrics.model.i18n import t

    try:
        return parse_quarter(text)
    except ValueError:
        raise UserError(t("regulator.bad_quarter", lang, quarter=text)) from None


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if col.startswith(("rate", "lower", "upper", "change", "mean_days", "days_80")):
            out[col] = pd.to_numeric(out[col], errors="coerce").round(1)
        elif col.startswith(("p_",)):
            out[col] = pd.to_numeric(out[col], errors="coerce").round(3)
        elif col.startswith("users"):
            out[col] = pd.to_numeric(out[col], errors="coerce").round(0)
    return out


def cmd_regulator(args: argparse.Namespace) -> None:
    from metrics.analysis import regulator as rg
    from metrics.analysis import regulator_quarters as rq
    from metrics.model.i18n import t
    from metrics.present import regulator_text as rt

    lang = args.lang
    quarter = quarter_arg(args.quarter, lang)
    if args.start is not None or args.end is not None:  # the quarter is the window: no other one
        raise UserError(t("regulator.bad_window", lang))
    args.start, args.end = quarter.start, quarter.stop - timedelta(days=1)
    wh, f = open_filtered(args)
    f = f.with_(start=args.start, end=args.end)
    if args.authority == "acma":
        from metrics.analysis.regulator_acma import acma

        fig = acma(wh, f, quarter, base=args.base, point=args.point)
        lines = [t("regulator.definition.acma", lang), rt.denominator(fig, lang), *rt.acma_lines(fig, lang)]
        df = fig.table.reindex(columns=ACMA_TABLE)
        top = fig.extra["top_types"]
        extra = {"top_types": ", ".join(f"{c}:{n}" for c, n in zip(top.get("category", []), top.get("n", []),
                                                                   strict=True))}
    else:
        fig = rt.ordered(rg.rates(wh, f, quarter, args.authority, base=args.base, point=args.point, level=args.by))
        lines = [t(f"regulator.definition.{args.authority}", lang), rt.denominator(fig, lang),
                 rt.headline(fig, lang) if not args.by else None, *rt.not_in_use_lines(fig, lang)]
        df = fig.table
        if not df.empty:
            df = df.assign(regulator_category_name=[rt.category_name(c, lang) for c in df["regulator_category"]])
            df = with_region_names(df, wh, lang) if args.by else df
        df = df.reindex(columns=[c for c in MIIT_TABLE if c in df.columns or not c.startswith("region")])
        extra = {}
    if fig.reason:
        lines.append(t(fig.reason, lang))
    fields = {"authority": fig.authority, "quarter": str(quarter), "per": fig.per, "base": fig.base_used,
              "point": fig.point, "months": ",".join(rq.month_end(m).isoformat() for m in fig.months),
              "missing_months": ",".join(rq.month_end(m).isoformat() for m in fig.missing), **extra}
    hand_out(args, wh, f, df, {"what": f"regulator {fig.authority}", "quarter": str(quarter)}, lines,
             table=_rounded, fields=fields)


def cmd_appeal_risk(args: argparse.Namespace) -> None:
    from metrics.analysis.appeal_risk import SOON_DAYS, WAIT_DAYS, appeal_risk
    from metrics.model.i18n import t

    lang = args.lang
    wh, f = open_filtered(args)
    r = appeal_risk(wh, f, as_of=args.as_of)
    lines = [t("regulator.risk.counts", lang, day=r.as_of.isoformat(), past=r.past, soon=r.soon, wait=WAIT_DAYS,
               soon_days=SOON_DAYS)]
    if not r.listed:
        lines.append(t("regulator.risk.viewer", lang))
    elif r.past + r.soon == 0:
        lines.append(t("regulator.risk.none", lang))
    df = r.table.copy()
    if args.format == "table" and len(df):
        df["state"] = [t(f"regulator.risk.state.{s}", lang) for s in df["state"]]
        df["owner_kind"] = [t(f"appeal_owner.{k}", lang) for k in df["owner_kind"]]
    df = keys_as_given(df, wh, {"region_id": "regions"})
    hand_out(args, wh, f, df, {"what": "appeal risk"}, lines, table=_rounded,
             fields={"past": r.past, "soon": r.soon, "day": r.as_of.isoformat()})


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``regulator`` and ``appeal-risk`` on the main parser's subcommands."""
    from metrics.analysis import regulator as rg
    from metrics.analysis import regulator_quarters as rq
    from metrics.model import schema

    p = sub.add_parser("regulator", help="the regulator's figures for a quarter: MIIT 申诉率, Ofcom, TIO, ACMA",
                       description="MIIT's appeal rate per million users by its categories (with --by: per "
                                   "province or city), with the previous quarter's and the year-ago rates; or the "
                                   "Ofcom (per 100,000 customers), TIO (per 10,000 services at the end of the "
                                   "quarter's second month) or ACMA reading (average and 80%% days to resolve, "
                                   "top three types). The definition, base and count point go to stderr.")
    add_db_argument(p)
    p.add_argument("--quarter", required=True, metavar="YYYYQn", help="the quarter, e.g. 2026Q3")
    p.add_argument("--authority", choices=list(rg.AUTHORITIES), default="miit")
    p.add_argument("--by", choices=["province", "city"], help="per region of this level")
    p.add_argument("--base", choices=list(schema.USER_BASES),
                   help="the user_base count to divide by (default: the customers active at the month ends)")
    p.add_argument("--point", choices=list(rq.POINTS),
                   help="the month end(s) the users are counted at (default: the authority's)")
    add_analysis_arguments(p, "language of the sentences and notes", cmd_regulator)

    r = sub.add_parser("appeal-risk", help="complaints open past 15 days (or within 3 days of it), with owners",
                       description="Complaints still open at the as-of date for 15 days or more — the user may "
                                   "appeal to the regulator — and those passing 15 days within 3 days, oldest "
                                   "first, with the owner: the ticket's handler, else the customer's account "
                                   "manager (owner_kind says which); in the user's scope.")
    add_db_argument(r)
    add_analysis_arguments(r, "language of the sentences and notes", cmd_appeal_risk)
