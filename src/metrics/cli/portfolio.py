"""``servicewatch portfolio [--manager KEY]``: account managers' portfolios (issue 18 item 6,
:mod:`metrics.analysis.portfolio`). Without ``--manager``, the league of managers (one row each, ranked
on ``--rank-by`` by its interval's bound); with it, that manager's active customers with the six-month
spend trend flag, last visit, open complaints and risk. ``--show tiers``: customers and revenue by tier.
Sentences and notes go to stderr in ``--lang``, the tidy table to stdout; keys as the source wrote them.
Same error conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse

import pandas as pd
import sqlalchemy as sa

from metrics.cli.common import as_text, hand_out, keys_as_given, known_manager, open_filtered
from metrics.cli.options import add_analysis_arguments, add_db_argument

LEAGUE_TABLE = ["rank", "manager_id", "manager_name", "customers", "revenue", "coverage_30d", "coverage_90d",
                "complaints", "open_complaints", "sla_breaches", "sla_compliance", "csat", "csat_lower", "csat_upper",
                "churned", "revenue_lost", "revenue_at_risk", "verdict", "rank_note"]
CUSTOMER_TABLE = ["customer_id", "name", "tier", "monthly_revenue", "spend_prev3", "spend_last3", "spend_change",
                  "spend_falling", "spend_note", "last_visit", "open_complaints", "complaints",
                  "churn_probability_90d", "revenue_at_risk"]
SHARES = ("coverage_30d", "coverage_90d", "sla_compliance", "csat", "csat_lower", "csat_upper", "churn_share",
          "spend_change", "churn_probability_90d")


def _texts(df: pd.DataFrame, col: str, prefix: str, lang: str) -> pd.DataFrame:
    from metrics.model.i18n import t

    df[col] = [t(f"{prefix}.{v}", lang) if isinstance(v, str) else None for v in df[col]]
    return df


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    """For a terminal: shares as percentages, amounts rounded."""
    out = df.copy()
    for col in ("rank", "rank_note", "spend_note", "last_visit", "days_since_visit"):
        if col in out.columns:
            out[col] = out[col].map(lambda v: "" if v is None or pd.isna(v) else v)
    for col in out.columns:
        if col in SHARES:
            out[col] = as_text(out[col], ".1%")
        elif col in ("revenue", "revenue_lost", "revenue_at_risk", "monthly_revenue", "spend_prev3", "spend_last3"):
            out[col] = pd.to_numeric(out[col], errors="coerce").round(0)
    return out


def cmd_portfolio(args: argparse.Namespace) -> None:
    from metrics.analysis import portfolio as pf
    from metrics.model.i18n import t

    lang = args.lang
    wh, f = open_filtered(args)
    manager = known_manager(wh, args.manager, lang)
    lines: list[str] = []  # the sentences, on stderr after the window
    if manager is not None and args.show == "league":
        df, notes = pf.customers(wh, f, manager)
        day = pf.look_day(wh, f)
        if df.empty:
            lines.append(t("portfolio.none", lang))
        else:
            unvisited = int(df["days_since_visit"].isna().sum() + (df["days_since_visit"] > 90).sum())
            name = wh.read(sa.select(pf.q.s.account_managers.c.name)
                           .where(pf.q.s.account_managers.c.manager_id == manager)).iloc[0, 0]
            key = "portfolio.customers" if pf.NOTE_NO_VISITS not in notes else "portfolio.customers_no_visits"
            lines.append(t(key, lang, manager=name, n=len(df), falling=int(df["spend_falling"].sum()),
                           threshold=f"{pf.SPEND_DROP:.0%}", unvisited=unvisited, day=day))
        df = _texts(df, "spend_note", "portfolio.spend_note", lang)
        df = keys_as_given(df, wh, {"customer_id": "customers", "region_id": "regions"})
        cols = CUSTOMER_TABLE if args.format == "table" else list(df.columns)
        what = "portfolio customers"
    else:
        r = pf.league(wh, f, args.rank_by, manager)
        notes, day = r.notes, r.day
        if args.show == "tiers":
            df, cols = r.tiers, list(r.tiers.columns)
        else:
            df = r.managers
            if df.empty:
                lines.append(t("portfolio.no_managers", lang))
            bound = "bound_upper" if not pf.RATES[args.rank_by][2] else "bound_lower"
            lines.append(t("portfolio.league", lang, n=len(df), rate=t(f"portfolio.rate.{args.rank_by}", lang),
                           bound=t(f"portfolio.{bound}", lang), min=pf.MIN_RANK_N, day=day))
            df = _texts(df, "rank_note", "portfolio.rank_note", lang)
            df["rank"] = df["rank"].astype("Int64")
            if args.format == "table":  # the verdict in words for a terminal; its code for scripts
                df = _texts(df, "verdict", "page.regions.verdict", lang)
            cols = LEAGUE_TABLE if args.format == "table" else list(df.columns)
        df = keys_as_given(df, wh, {"manager_id": "account_managers"})
        what = f"portfolio {args.show}"
    hand_out(args, wh, f, df.reindex(columns=cols), {"what": what, "manager": args.manager},
             [*lines, *(t(note, lang) for note in notes)], table=_shown,
             fields={"day": day.isoformat()})


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``portfolio`` on the main parser's subcommands."""
    from metrics.analysis import portfolio as pf

    p = sub.add_parser("portfolio", help="account managers' portfolios: the league, or one manager's customers",
                       description="Per account manager: customers and revenue by tier, visit coverage (30/90 "
                                   "days), complaints, SLA breaches, CSAT, churn and revenue lost, revenue at "
                                   "risk; ranked by the bound of a rate's 95% interval. With --manager: that "
                                   "manager's customers with the six-month spend trend (flagged when the last "
                                   f"three months fall more than {pf.SPEND_DROP:.0%} below the three before), "
                                   "last visit, open complaints and churn risk.")
    add_db_argument(p)
    p.add_argument("--manager", metavar="KEY", help="an account manager's key as the source wrote it")
    p.add_argument("--rank-by", dest="rank_by", choices=list(pf.RATES), default="csat",
                   help="the rate the league ranks on (default %(default)s)")
    p.add_argument("--show", choices=["league", "tiers"], default="league",
                   help="league (default; with --manager: the customers) or tiers (customers and revenue by tier)")
    add_analysis_arguments(p, "language of the sentences and notes", cmd_portfolio)
