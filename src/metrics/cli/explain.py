"""``servicewatch explain METRIC [--by DIM]``: what drove a metric's change against the comparison
period (:mod:`metrics.analysis.decompose`): per dimension (all, the one that explains most first, or
``--by``), each group's contribution split into rate and mix effect with its 95% interval, and the
sentence (:mod:`metrics.present.explain_text`) on stderr. Same error conventions as
:mod:`metrics.cli.main` (one line on stderr, non-zero exit)."""

from __future__ import annotations

import argparse

import pandas as pd

from metrics.cli.common import UserError, cli_lang, hand_out, keys_as_given, known_metric, open_filtered
from metrics.cli.options import add_analysis_arguments, add_db_argument
from metrics.model.i18n import metric_label, t

COLUMNS = ("dim", "level", "score", "key", "group", "w_cmp", "w", "value_cmp", "value", "contribution", "lower",
           "upper", "rate_effect", "rate_lower", "rate_upper", "mix_effect", "mix_lower", "mix_upper", "noise",
           "main")


def frame(decompositions: list, lang: str) -> pd.DataFrame:
    """The tidy rows of several decompositions: the dimension, its score, then each group's columns
    (``group``: its name in ``lang``); shares as 0–1, rates per the metric's ``per``."""
    parts = []
    for d in decompositions:
        g = d.groups.rename(columns={"name_zh" if lang == "zh" else "name_en": "group"})
        parts.append(g.assign(dim=d.dim, level=d.level, score=d.score, delta=d.delta, value_total=d.value,
                              value_cmp_total=d.value_cmp, reason=d.reason))
    columns = list(COLUMNS) + ["delta", "value_total", "value_cmp_total", "reason"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def cmd_explain(args: argparse.Namespace) -> None:
    from metrics.analysis import decompose as dc
    from metrics.present.explain_text import explained, reason_text, sentence

    lang = args.lang
    known_metric(args.metric_id, cli_lang(args))
    try:
        m = dc.check(args.metric_id)
    except dc.NotDecomposable as exc:
        raise UserError(reason_text(exc.reason, lang, args.metric_id)) from None
    allowed = tuple(d for d in m.dims if d not in ("month", "week"))
    if args.by is not None and args.by not in allowed:
        raise UserError(t("explain.cli.unknown_dim", lang, dim=args.by, dims=", ".join(allowed)))
    wh, f = open_filtered(args)
    try:
        ds = [dc.decompose(wh, m.id, f, args.by)] if args.by else dc.explain(wh, m.id, f)
    except dc.NotDecomposable as exc:
        raise UserError(reason_text(exc.reason, lang, m.id)) from None
    out = frame(ds, lang)
    for dim, entity in (("region", "regions"), ("outlet", "outlets")):  # ids as the source wrote them
        if dim not in {d.dim for d in ds}:
            continue
        rows = out["dim"] == dim
        ids = out.loc[rows, ["key"]].rename(columns={"key": "id"})
        ids["id"] = pd.Series([int(k) if isinstance(k, (int, float)) and k == k else None for k in ids["id"]],
                              index=ids.index, dtype=object)
        keys = keys_as_given(ids, wh, {"id": entity})
        out["key"] = out["key"].astype(object)
        out.loc[rows, "key"] = pd.Series(list(keys["id"]), index=keys.index, dtype=object)
    lines = [f"{metric_label(m.id, lang)} · {explained(d, lang)}: {sentence(d, lang)}" if d.ok
             else sentence(d, lang) for d in (ds if ds and ds[0].ok else ds[:1])]  # no change to split: once
    hand_out(args, wh, f, out.assign(metric=m.id) if args.format == "json" else out,
             {"metric": m.id, "explain": [d.dim for d in ds]}, lines, with_comparison=True,
             table=lambda df: df.drop(columns=["rate_lower", "rate_upper", "mix_lower", "mix_upper", "value_total",
                                               "value_cmp_total", "reason"]))


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``explain`` on the main parser's subcommands."""
    p = sub.add_parser("explain", help=t("explain.cli.help", "en"),
                       description="Split the change of a share, mean, NPS or rate against the comparison "
                                   "period over one dimension (regions one level down, tier, channel, "
                                   "category) into each group's rate effect and mix effect, adding up "
                                   "exactly to the change, with 95% intervals; contributions within noise "
                                   "are flagged. Without --by, every dimension, the one that explains most "
                                   "first. The sentence goes to stderr.")
    p.add_argument("metric_id", help="metric id (a share, mean, NPS or rate); `servicewatch metrics` lists them")
    p.add_argument("--by", metavar="DIM", help=t("explain.cli.by_help", "en"))
    add_db_argument(p)
    add_analysis_arguments(p, "language of the names and the sentence", cmd_explain)
