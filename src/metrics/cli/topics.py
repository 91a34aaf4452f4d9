"""``servicewatch topics [--by DIM] [--show topics|top|trend|quotes]``: the voice of the customer (issue 20,
:mod:`metrics.analysis.topics`). ``topics`` (default): each complaint topic's share of the texts in the
period against the comparison period, rising ones flagged (two-proportion z test, Holm-corrected);
``top``: the three most common types; ``trend``: texts per topic and month; ``quotes --topic CODE``: the
newest texts of a topic with personal data masked (none for a viewer, ``--as-user``). Complaints only
unless ``--kind`` says otherwise. Sentences on stderr in ``--lang``, the tidy table on stdout; the same
error conventions as :mod:`metrics.cli.main`."""

from __future__ import annotations

import argparse

import pandas as pd

from metrics.cli.common import UserError, as_text, hand_out, keys_as_given, open_filtered
from metrics.cli.options import add_analysis_arguments, add_db_argument

SHOWS = ("topics", "top", "trend", "quotes")
SHARES = ("share", "lower", "upper", "share_prev", "change")
TOPICS_TABLE = ["topic", "topic_name", "n", "total", "share", "lower", "upper", "n_prev", "share_prev", "change",
                "p_holm", "rising", "sentiment"]


def _shown(df: pd.DataFrame) -> pd.DataFrame:
    """For a terminal: shares as percentages, p-values and sentiment rounded."""
    out = df.copy()
    for col in out.columns:
        if col in SHARES:
            out[col] = as_text(out[col], ".1%")
        elif col in ("p", "p_holm"):
            out[col] = as_text(out[col], ".3g")
        elif col == "sentiment":
            out[col] = pd.to_numeric(out[col], errors="coerce").round(2)
    return out


def _quotes(wh, f, topic: str, n: int, lang: str) -> pd.DataFrame:  # noqa: ANN001 - a warehouse and filters
    """The engine's quotes for the filters' scope; a viewer's refusal as one line in ``lang``."""
    from metrics.access.users import ScopeError
    from metrics.analysis import topics as tp
    from metrics.model.i18n import t

    try:
        return tp.quotes(wh, f, topic, n)
    except ScopeError:
        raise UserError(t("topics.reason.viewer", lang)) from None


def _summary(rising: pd.DataFrame, names: dict[str, str], lang: str) -> str:
    from metrics.model.i18n import t

    flagged = rising.loc[rising["rising"]] if "rising" in rising.columns else rising.iloc[0:0]
    words = [(f"{r.region_id}: " if "region_id" in flagged.columns else "") + names.get(r.topic, r.topic)
             for r in flagged.itertuples()]
    group = [c for c in ("region_id", "tier", "segment", "channel") if c in rising.columns]
    texts = int(rising.drop_duplicates(group)["total"].sum()) if group else int(rising["total"].iloc[0])
    return t("topics.cli_summary", lang, n=texts, topics=rising["topic"].nunique(),
             rising=", ".join(words) if words else t("topics.cli_none", lang))


def cmd_topics(args: argparse.Namespace) -> None:
    from metrics.analysis import topics as tp
    from metrics.model.i18n import t

    lang = args.lang
    wh, f = open_filtered(args)
    if not f.kinds:
        f = f.with_(kinds=("complaint",))
    names = tp.topic_names(wh, lang)
    lines: list[str] = []
    if args.show == "quotes":
        if not args.topic or args.topic not in names:
            raise UserError(t("topics.cli_unknown_topic", lang, topic=args.topic or "", known=", ".join(names)))
        df = _quotes(wh, f, args.topic, args.n, lang)
        lines.append(t("topics.cli_quotes", lang, topic=names[args.topic]))
    elif args.show == "top":
        df = tp.top_types(wh, f, args.n, by=args.by)
    elif args.show == "trend":
        df = tp.topic_trend(wh, f, by=args.by)
    else:
        df = tp.rising_topics(wh, f, by=args.by)
        if len(df):
            lines.append(_summary(df, names, lang))
            lines.append(t("topics.rising_note", lang, min=tp.MIN_TEXTS))
    reason = df.attrs.get("reason")
    if reason and df.empty:
        lines.append(t(reason, lang))
    if "topic" in df.columns:
        df.insert(df.columns.get_loc("topic") + 1, "topic_name", [names.get(c, c) for c in df["topic"]])
    df = keys_as_given(df, wh, {"region_id": "regions"})
    if args.show == "topics" and args.format == "table" and len(df):
        df = df.reindex(columns=[*(["region_id"] if "region_id" in df.columns else []),
                                 *([args.by] if args.by and args.by in df.columns else []), *TOPICS_TABLE])
    hand_out(args, wh, f, df, {"what": f"topics {args.show}", "by": args.by, "topic": args.topic}, lines,
             with_comparison=args.show == "topics", table=_shown)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``topics`` on the main parser's subcommands."""
    from metrics.analysis.topics import BY

    p = sub.add_parser("topics", help="complaint topics from the customers' own words: rising, top three, trend, "
                                      "masked quotes",
                       description="Complaint topics tagged from the customers' descriptions at load time "
                                   "(topic dictionary data/complaint_topics.toml, new topics by TF-IDF + NMF, "
                                   "lexicon sentiment; docs/complaint-text.md). Complaints only unless --kind "
                                   "is given.")
    add_db_argument(p)
    p.add_argument("--by", choices=list(BY), help="cut by a group (region: cities, or the districts of a "
                                                  "chosen city)")
    p.add_argument("--show", choices=list(SHOWS), default="topics",
                   help="topics (default: shares against the comparison period, rising flagged), top, trend, "
                        "quotes (with --topic)")
    p.add_argument("--topic", metavar="CODE", help="a topic code (for --show quotes)")
    p.add_argument("-n", "--n", type=int, default=None, help="how many: top types (3) or quotes (5)")
    add_analysis_arguments(p, "language of the sentences and names", _with_defaults)


def _with_defaults(args: argparse.Namespace) -> None:
    if args.n is None:
        args.n = 5 if args.show == "quotes" else 3
    if args.n < 1:
        from metrics.model.i18n import t

        raise UserError(t("topics.cli_n_min", args.lang))
    cmd_topics(args)
