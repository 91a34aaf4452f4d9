"""``servicewatch drivers csat|nps|ces``: the key drivers of a satisfaction score
(:mod:`metrics.analysis.drivers`): relative importance with bootstrap intervals, the model's R² and
n, each driver's direction, the drivers left out and why; with ``--performance`` the unit's
performance on each driver against the organisation. The sentences and the window go to stderr,
the tidy table to stdout. Same error conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse

import pandas as pd

from metrics.cli.common import UserError, as_text, hand_out, open_filtered
from metrics.cli.options import add_db_argument, add_filter_arguments, add_output_arguments

COLUMNS = ["score", "driver", "driver_name", "rank", "importance", "lower", "upper", "includes_zero", "share",
           "direction", "beta", "beta_lower", "beta_upper", "reason"]
MODEL = ["n", "n_eligible", "sampled", "r2", "r2_lower", "r2_upper", "r2_adjusted", "n_boot", "seed"]


def drivers_frame(r, lang: str) -> pd.DataFrame:  # noqa: ANN001 - a DriversResult
    """One row per driver (in the model, strongest first, then those left out with the reason in
    ``lang``), with the model's figures on every row."""
    from metrics.analysis import drivers_text as tx

    imp = r.importance.copy() if not r.importance.empty else pd.DataFrame(columns=COLUMNS)
    imp["reason"] = None
    left = pd.DataFrame({"driver": r.left_out["driver"],
                         "reason": [tx.reason(row, lang) for _, row in r.left_out.iterrows()]})
    df = pd.concat([imp, left], ignore_index=True) if len(left) else imp
    df["score"] = r.score
    df["driver_name"] = [tx.name(d, lang) for d in df["driver"]]
    model = {"n": r.n, "n_eligible": r.n_eligible, "sampled": r.sampled, "r2": r.r2, "r2_lower": r.r2_lower,
             "r2_upper": r.r2_upper, "r2_adjusted": r.r2_adj, "n_boot": r.n_boot, "seed": r.seed}
    return df.reindex(columns=COLUMNS).assign(**model)


def cmd_drivers(args: argparse.Namespace) -> None:
    from metrics.analysis import drivers as dv
    from metrics.analysis import drivers_text as tx
    from metrics.model.i18n import t

    if args.boot < 20:
        raise UserError(t("drivers.cli.boot_min", args.lang, min=20))
    wh, f = open_filtered(args)
    # with --performance the importance is the organisation's (the unit is compared against it): the
    # same model as the Overview card's, the Satisfaction page's and the meeting pack's
    model_filters = dv.organisation_filters(f) if args.performance else f
    r = dv.key_drivers(wh, model_filters, args.score, n_boot=args.boot, seed=args.seed)
    if r.reason is not None:
        raise UserError(tx.sentences(r, args.lang)[0])
    df = drivers_frame(r, args.lang)
    if args.performance:
        perf = dv.performance(wh, f, args.score)
        df = df.merge(perf, on="driver", how="left")
        for col in ("org_n", "unit_n"):  # counts stay whole numbers beside the drivers without one
            if col in df.columns:
                df[col] = df[col].astype("Int64")
        m = tx.matrix(r, perf)
        df["fix_first"] = df["driver"].isin(m.loc[m["fix_first"], "driver"])
        names = wh.regions().set_index("region_id")
        col = "name_zh" if args.lang == "zh" else "name_en"
        unit = (tx.join_names((str(names.loc[i, col]) for i in f.regions if i in names.index), args.lang)
                if f.regions else None)
        fix = tx.fix_first(m, args.lang, unit)
    else:
        fix = None
    def table(df: pd.DataFrame) -> pd.DataFrame:
        for col in ("importance", "lower", "upper", "share", "r2", "r2_lower", "r2_upper", "r2_adjusted"):
            df[col] = as_text(df[col], ".4f")
        return df

    hand_out(args, wh, f, df, {"drivers": args.score}, [*tx.sentences(r, args.lang), fix,
                                                         tx.method_line(r, args.lang)], table=table)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``drivers`` on the main parser's subcommands."""
    from metrics.analysis import drivers as dv

    p = sub.add_parser("drivers", help="key drivers of CSAT, NPS or CES: relative importance with intervals",
                       description="Which parts of the service experience move a satisfaction score: the "
                                   "Shapley decomposition of R² (LMG) over resolution time, first-contact "
                                   "resolution, reopen, escalation, SLA breach, revisit, contacts in 90 days, "
                                   "channel, tier and ticket kind, on post-interaction surveys, with percentile "
                                   f"bootstrap intervals; above {dv.ROW_CAP:,} surveys a fixed sample.")
    p.add_argument("score", choices=dv.SCORES, help="the score to explain")
    add_db_argument(p)
    add_filter_arguments(p)
    p.add_argument("--performance", action="store_true",
                   help="add each driver's performance (share done well) for the --region against the "
                        "organisation, and the 'fix first' flag; the importance is then the organisation's")
    p.add_argument("--boot", type=int, default=dv.N_BOOT, help="bootstrap resamples (default %(default)s)")
    p.add_argument("--seed", type=int, default=dv.SEED, help="seed of the bootstrap (default %(default)s)")
    add_output_arguments(p, "language of names and sentences", cmd_drivers)
