"""``servicewatch outlets``, ``servicewatch queue`` and ``servicewatch stars``: service halls and
outlets (issue 19, :mod:`metrics.analysis.outlets`, :mod:`metrics.analysis.outlet_stars`).

* ``outlets [--by outlet|kind|region] [--target-minutes N] [--show league|vip|failures]``: the league of
  outlets (ranked on the within-target share's lower bound), or the figures by outlet kind or city, or
  the VIP lane per hall, or the checklist items failed in audits in a row;
* ``queue [--outlet KEY] [--by hour|weekday|service_type|tier|hour_weekday]``: the queue pattern;
* ``stars [--rules FILE]``: star ratings under the rules (default ``data/outlet_stars.toml``).

Sentences on stderr in ``--lang``, the tidy table on stdout (JSON/CSV/table); keys as the source wrote
them; the waits' resolution (whole-minute bins; medians and p90 at the bin's midpoint) is said on
stderr and carried as a JSON field. Same error
conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.cli.common import (
    UserError,
    as_text,
    catalogue_refusals,
    hand_out,
    keys_as_given,
    open_filtered,
    with_region_names,
    with_vocabulary_names,
)
from metrics.cli.options import add_analysis_arguments, add_db_argument

KEYS = {"outlet_id": "outlets", "region_id": "regions"}
SHARES = ("within_target", "within_target_lower", "within_target_upper", "abandoned_share", "abandoned_share_lower",
          "abandoned_share_upper", "csat", "csat_lower", "csat_upper", "share")
LEAGUE_TABLE = ["rank", "outlet_id", "name", "kind", "region_id", "stars", "visits", "median_wait_min", "p90_wait_min",
                "within_target", "within_target_lower", "abandoned_share", "csat", "csat_n", "complaints_per_1000",
                "audit_score", "rank_note"]
WAITS = ["visits", "share", "mean_wait_min", "median_wait_min", "p90_wait_min", "within_target", "abandoned_share",
         "mean_service_min"]
VIP_TABLE = ["outlet_id", "name", "n_vip", "n_other", "mean_wait_vip_min", "mean_wait_other_min", "saving_min",
             "saving_lower", "saving_upper", "verdict"]
STARS_TABLE = ["outlet_id", "name", "stars", "computed_stars", "score", "score_waiting", "score_audits",
               "score_satisfaction", "score_complaints", "change", "driver"]


def _words(df: pd.DataFrame, col: str, prefix: str, lang: str) -> pd.DataFrame:
    from metrics.model.i18n import t

    if col in df.columns:
        df[col] = [t(f"{prefix}.{v}", lang) if isinstance(v, str) else v for v in df[col]]
    return df


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    """For a terminal: shares as percentages, minutes and scores to one decimal, gaps blank."""
    out = df.copy()
    for col in out.columns:
        if col in SHARES:
            out[col] = as_text(out[col], ".1%")
        elif col.endswith(("_min", "_lower", "_upper", "_1000")) or col.startswith("score") or col == "audit_score":
            out[col] = as_text(out[col], ".1f")
        elif pd.api.types.is_float_dtype(out[col]):  # counts a viewer's small group blanks: whole, or blank
            out[col] = out[col].map(lambda v: "" if np.isnan(v) else f"{v:.0f}" if float(v).is_integer() else f"{v:g}")
        elif out[col].dtype == object or str(out[col].dtype) in ("Int64", "boolean"):
            out[col] = pd.Series(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in out[col]],
                                 index=out.index, dtype=object)  # Int64's map would make floats of its whole numbers
    return out


def _withheld(df: pd.DataFrame, f, lang: str) -> list[str]:  # noqa: ANN001 - Filters
    """One line when the engine withheld a viewer's small groups (``suppressed``), else none."""
    from metrics.model.i18n import t

    if "suppressed" not in df.columns or not df["suppressed"].fillna(False).astype(bool).any():
        return []
    return [t("outlets.withheld", lang, n=int(df["suppressed"].fillna(False).astype(bool).sum()),
              min=f.scope.min_group_size)]


def _rules(lang: str, path: str | None = None):  # noqa: ANN202 - outlet_stars.Rules
    """The checked rules file (``path``, default ``data/outlet_stars.toml``); one line in ``lang`` when it
    cannot be used."""
    from metrics.analysis import outlet_stars as st

    with catalogue_refusals(lang, st.RulesError):
        return st.load_rules(path)


def _target(args: argparse.Namespace, lang: str, rules) -> float:  # noqa: ANN001 - outlet_stars.Rules
    """``--target-minutes``, or the rules file's ``target_minutes``."""
    from metrics.model.i18n import t

    if args.target_minutes is None:
        return rules.target_minutes
    if not np.isfinite(args.target_minutes) or args.target_minutes <= 0:
        raise UserError(t("outlets.target_bad", lang))
    return float(args.target_minutes)


def _opened(args: argparse.Namespace):  # noqa: ANN202 - (Rules, Warehouse, Filters, float)
    """What ``outlets`` and ``queue`` start from: the rules file, the database and the filters, and the
    wait target in minutes (:func:`_target`)."""
    rules = _rules(args.lang)
    wh, f = open_filtered(args)
    return rules, wh, f, _target(args, args.lang, rules)


def _scoped(call, lang: str):  # noqa: ANN001, ANN202 - a call of the engine and its result
    """The engine's answer; a refused outlet as one line in ``lang``."""
    from metrics.access.users import ScopeError
    from metrics.model.i18n import t

    try:
        return call()
    except ScopeError:
        raise UserError(t("outlets.out_of_scope", lang)) from None


def cmd_outlets(args: argparse.Namespace) -> None:
    from metrics.analysis import outlet_audits
    from metrics.analysis import outlets as ol
    from metrics.model.i18n import label, t

    lang = args.lang
    rules, wh, f, target = _opened(args)
    lines: list[str] = []
    if args.show == "vip":
        df = _scoped(lambda: ol.vip_lane(wh, f, rules=rules), lang)
        tiers = ", ".join(label("tier", c, lang) for c in rules.vip_tiers)
        lines.append(t("outlets.vip", lang, n=len(df), tiers=tiers, min=ol.MIN_LANE_N,
                       works=int((df["verdict"] == "works").sum())))
        cols = VIP_TABLE
    elif args.show == "failures":
        df = outlet_audits.repeated_failures(wh, f, args.min_repeats, rules=rules)
        share = rules.fail_below
        lines.append(t("outlets.failures", lang, min=args.min_repeats, share=f"{share:.0%}", n=len(df)))
        cols = list(df.columns)
    elif args.by == "outlet":
        df = ol.outlet_league(wh, f, target)
        lines.append(t("outlets.league", lang, n=len(df), target=f"{target:g}", min=ol.MIN_RANK_N,
                       resolution=ol.RESOLUTION_MIN) if len(df) else t("outlets.none", lang))
        if f.channels:
            lines.append(t("outlets.channel_ignored", lang))
        df["rank"] = df["rank"].astype("Int64")
        cols = LEAGUE_TABLE
    else:
        df = ol.outlet_groups(wh, f, args.by, target)
        lines.append(t("outlets.groups", lang, by=t(f"outlets.by.{args.by}", lang), n=len(df), target=f"{target:g}",
                       resolution=ol.RESOLUTION_MIN))
        cols = [df.columns[0], "outlets", *[c for c in WAITS if c != "share"]]
    lines += _withheld(df, f, lang)
    if args.format == "table":
        df = _words(_words(df, "verdict", "page.outlets.verdict", lang), "rank_note", "page.outlets.rank_note", lang)
    df = with_region_names(df, wh, lang) if "region_id" in df.columns else df
    if "region_name" in df.columns and "region_id" in cols:
        cols = [*cols[:cols.index("region_id") + 1], "region_name", *cols[cols.index("region_id") + 1:]]
    df = keys_as_given(df, wh, KEYS)
    hand_out(args, wh, f, df.reindex(columns=cols if args.format == "table" else list(df.columns)),
             {"what": f"outlets {args.show}", "by": args.by}, lines, table=_shown,
             fields={"target_minutes": target, "resolution_min": ol.RESOLUTION_MIN})


def cmd_queue(args: argparse.Namespace) -> None:
    from metrics.analysis import outlets as ol
    from metrics.model.i18n import t

    lang = args.lang
    _, wh, f, target = _opened(args)
    outlet = f.outlets[0] if len(f.outlets) == 1 else None  # --outlet: the outlet filter, its outlets named
    df = _scoped(lambda: ol.queue_pattern(wh, f, outlet, args.by, target), lang)
    if f.outlets:
        where = ", ".join(str(_scoped(lambda o=o: ol.check_outlet(wh, f, o), lang)["name"]) for o in f.outlets)
    else:
        where = t("queue.all_outlets", lang)
    lines = [t("queue.pattern", lang, where=where, by=t(f"queue.by.{args.by}", lang), visits=int(df["visits"].sum()),
               resolution=ol.RESOLUTION_MIN, target=f"{target:g}"), *_withheld(df, f, lang)]
    keys = ["weekday", "hour"] if args.by == "hour_weekday" else [args.by]
    if args.format == "table" and "weekday" in keys:
        df["weekday"] = [t(f"page.outlets.weekday.{int(v)}", lang) for v in df["weekday"]]
    if args.by in ("service_type", "tier"):  # the data's names of its codes, in its order
        df = with_vocabulary_names(df, wh, [args.by], lang)
        keys = [args.by, f"{args.by}_name"]
    hand_out(args, wh, f, df.reindex(columns=[*keys, *WAITS]) if args.format == "table" else df,
             {"what": f"queue by {args.by}", "outlet": ",".join(args.outlet)}, lines, table=_shown,
             fields={"target_minutes": target, "resolution_min": ol.RESOLUTION_MIN})


def cmd_stars(args: argparse.Namespace) -> None:
    from metrics.analysis import outlet_stars as st
    from metrics.model.i18n import t

    lang = args.lang
    rules = _rules(lang, args.rules)
    wh, f = open_filtered(args)
    df = st.star_ratings(wh, f, rules)
    counts = df["change"].value_counts()
    from metrics.analysis import outlets as ol

    name = Path(args.rules).name if args.rules else st.RULES_PATH.name
    lines = [t("stars.summary", lang, file=name, n=len(df), gain=int(counts.get("gain", 0)),
               lose=int(counts.get("lose", 0)), same=int(counts.get("same", 0)), min=ol.MIN_RANK_N)]
    if args.format == "table":
        df = _words(_words(df, "change", "page.outlets.change", lang), "driver", "page.outlets.component", lang)
    df = keys_as_given(df, wh, KEYS)
    hand_out(args, wh, f, df.reindex(columns=STARS_TABLE) if args.format == "table" else df,
             {"what": "stars", "rules": name}, lines, table=_shown, fields={"rules": name})


def _common(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    add_analysis_arguments(p, "language of the sentences and notes")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``outlets``, ``queue`` and ``stars`` on the main parser's subcommands."""
    from metrics.analysis import outlets as ol

    p = sub.add_parser("outlets", help="service halls and outlets: the league, by kind or city, VIP lane, audits",
                       description="Per outlet: visits, waiting time (median and 90th percentile at the midpoint of "
                                   "their whole-minute bin, mean), the share called within the target with its 95% "
                                   "interval, abandoned share, CSAT, complaints per 1,000 visits, mystery-shopper "
                                   "audit score, stars; "
                                   "ranked on the lower bound of the within-target share (small outlets unranked).")
    p.add_argument("--by", choices=["outlet", "kind", "region"], default="outlet",
                   help="one row per outlet (default), per outlet kind or per city")
    p.add_argument("--show", choices=["league", "vip", "failures"], default="league",
                   help="league (default), vip (does the VIP room cut waits, Welch 95%% interval) or failures "
                        "(checklist items failed in audits in a row)")
    p.add_argument("--target-minutes", dest="target_minutes", type=float, metavar="N",
                   help="a wait is within target when called in less than N minutes (default: target_minutes "
                        "of data/outlet_stars.toml)")
    p.add_argument("--min-repeats", dest="min_repeats", type=int, default=3, metavar="N",
                   help="--show failures: audits in a row (default %(default)s)")
    _common(p)
    p.set_defaults(func=cmd_outlets)

    p = sub.add_parser("queue", help="the halls' queue by hour, weekday, service type or tier",
                       description="Visits, their share, waiting time (mean; median and 90th percentile at the "
                                   "midpoint of their whole-minute bin), the share within target, abandoned share and "
                                   "service time, by hour of arrival, weekday, service type, customer tier or "
                                   "weekday × hour.")
    p.add_argument("--by", choices=list(ol.PATTERNS), default="hour")
    p.add_argument("--target-minutes", dest="target_minutes", type=float, metavar="N",
                   help="a wait is within target when called in less than N minutes (default: target_minutes "
                        "of data/outlet_stars.toml)")
    _common(p)
    p.set_defaults(func=cmd_queue)

    p = sub.add_parser("stars", help="outlets' star ratings under the rules file",
                       description="Each outlet's score (0-100) from waiting, audits, satisfaction and complaints "
                                   "weighted by the rules, the stars it earns against its current rating, and the "
                                   "component that moved it most.")
    p.add_argument("--rules", metavar="FILE", help="a star rules TOML file (default data/outlet_stars.toml)")
    _common(p)
    p.set_defaults(func=cmd_stars)
