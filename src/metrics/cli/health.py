"""``servicewatch health [--manager KEY] [--customer KEY] [--as-of DATE] [--weights FILE]``: the account
health score of enterprise customers (issue 18 item 3, :mod:`metrics.analysis.health`). One row per
customer (lowest score first: score, trend against last month, what moved it, the six parts and the
weights used), or with ``--show history`` their monthly history. The weights, the time-split AUC with
its interval and the notes go to stderr in ``--lang``, the tidy table to stdout; keys as the source
wrote them. Same error conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from metrics.cli.common import (
    UserError,
    as_text,
    catalogue_refusals,
    hand_out,
    keys_as_given,
    known_id,
    known_manager,
    open_filtered,
)
from metrics.cli.options import add_analysis_arguments, add_db_argument

TABLE = ["customer_id", "name", "score", "trend", "change", "moved", "sla_compliance", "availability", "complaints",
         "satisfaction", "spend_trend", "churn_risk", "missing"]


def _shown(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """For a terminal: scores to one decimal, the trend as an arrow, what moved it in words."""
    from metrics.model.i18n import t

    out = df.copy()
    for col in out.columns.intersection(["score", "change", "previous", "sla_compliance", "availability",
                                         "complaints", "satisfaction", "spend_trend", "churn_risk"]):
        out[col] = as_text(out[col], ".1f")
    if "trend" in out:
        out["trend"] = [t(f"health.trend.{v}", lang) for v in out["trend"]]
    if "moved" in out:
        out["moved"] = [t("health.moved", lang, part=t(f"health.part.{m}", lang), points=f"{b:+.1f}")
                        if isinstance(m, str) else "" for m, b in zip(df["moved"], df["moved_by"], strict=True)]
    if "missing" in out:
        out["missing"] = [t("plain.list_sep", lang).join(t(f"health.part.{p}", lang) for p in v.split(",")) if v else ""
                          for v in out["missing"]]
    return out


def cmd_health(args: argparse.Namespace) -> None:
    from metrics.analysis import health as hl
    from metrics.model.i18n import t

    lang = args.lang
    with catalogue_refusals(lang, hl.WeightsError):
        cfg = hl.load_weights(args.weights)
    wh, f = open_filtered(args)
    manager = known_manager(wh, args.manager, lang)
    customer = (known_id(wh, "customers", args.customer, "health.unknown_customer", lang, customer=args.customer)
                if args.customer else None)
    r = hl.health(wh, f, cfg, manager, customer)
    if customer is not None and r.customers.empty:
        raise UserError(t("health.unknown_customer", lang, customer=args.customer))
    df = r.customers
    lines = [t("health.none", lang)] if df.empty else [
        t("health.sentence", lang, n=len(df), day=r.day.isoformat(), down=int((df["trend"] == "down").sum()),
          up=int((df["trend"] == "up").sum()))]
    lines += [hl.weights_sentence(r.weights, lang), hl.auc_sentence(r.backtest, lang),
              *(t(k, lang, **p) for k, p in r.notes)]
    bt = r.backtest
    fields = {"day": r.day.isoformat(), **{f"weight_{p}": w for p, w in r.weights.items()},
              **{f"auc{k[3:]}": (None if not np.isfinite(bt[k]) else bt[k]) for k in ("auc", "auc_lower", "auc_upper")},
              "auc_n": bt["n"], "auc_departures": bt["departures"], "auc_cutoff": bt["cutoff"].isoformat()}
    if args.show == "history":
        out = keys_as_given(r.history, wh, {"customer_id": "customers"}).assign(day=lambda d: d["day"].astype(str))
        cols = list(out.columns)
    else:
        out = keys_as_given(df, wh, {"customer_id": "customers", "manager_id": "account_managers"})
        cols = TABLE if args.format == "table" else list(out.columns)
        if args.format == "table":  # words and arrows for a terminal; codes for scripts
            out = _shown(out, lang)
    hand_out(args, wh, f, out.reindex(columns=cols),
             {"what": f"health {args.show}", "manager": args.manager, "customer": args.customer}, lines, fields=fields)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``health`` on the main parser's subcommands."""
    p = sub.add_parser("health", help="account health score of enterprise customers",
                       description="Per enterprise customer: a 0-100 health score made of SLA compliance, "
                                   "availability, complaints, satisfaction, the six-month spend trend and churn "
                                   "risk (weights from data/health_weights.toml or --weights), the trend against "
                                   "last month and what moved it; how well it ranks departures (AUC with a 95% "
                                   "interval on a time split) on stderr.")
    add_db_argument(p)
    p.add_argument("--manager", metavar="KEY", help="an account manager's key: their customers only")
    p.add_argument("--customer", metavar="KEY", help="one customer's key")
    p.add_argument("--weights", metavar="FILE", help="a weights file (TOML) instead of data/health_weights.toml")
    p.add_argument("--show", choices=["customers", "history"], default="customers",
                   help="customers (default: one row each) or history (a row per customer and month)")
    add_analysis_arguments(p, "language of the sentences and notes", cmd_health)
