"""The regulator's figures in words and as a shown table (zh, en), shared by ``servicewatch regulator``,
the Regulator page and the pack's section (:mod:`metrics.analysis.regulator`). Every figure's sentence
names its base and count point (:func:`denominator`)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from metrics.analysis import regulator as rg
from metrics.analysis import regulator_quarters as rq
from metrics.model.i18n import label, t
from metrics.present.formatting import fmt_count, fmt_percent, number

RATE_DIGITS = 1


def category_name(code: str, lang: str) -> str:
    """A regulator category code's name (the data's, else the catalogue's, else the code); ``all`` is
    the total."""
    if code == rg.ALL:
        return t("regulator.col.total", lang)
    return label("regulator_category", code, lang)


def base_name(base: str, lang: str) -> str:
    return t(f"user_base_kind.{base}", lang)


def rate_text(value: object) -> str:
    """A rate with one decimal; — when it cannot be computed."""
    return "—" if value is None or pd.isna(value) else number(float(value), RATE_DIGITS)


def denominator(fig: rg.Figures, lang: str) -> str:
    """Which base and which count point the figures use, with the month ends the base covers; when the
    base has no count for some of the point's month ends (a quarter in progress), which."""
    ends = "、" if lang == "zh" else ", "
    months = ends.join(rq.month_end(m).isoformat() for m in fig.months)
    out = t("regulator.denominator", lang, base=base_name(fig.base_used, lang),
            point=t(f"regulator.point.{fig.point}", lang), months=months)
    if fig.missing:
        out += " " + t("regulator.denominator_missing", lang, months=months,
                       missing=ends.join(rq.month_end(m).isoformat() for m in fig.missing))
    return out


def not_in_use_lines(fig: rg.Figures, lang: str) -> list[str]:
    """One line per comparison quarter whose category version lacked some of the table's categories."""
    out = []
    for tag, shift in (("prev", -1), ("year", -4)):
        col = f"in_use_{tag}"
        if fig.table.empty or col not in fig.table.columns:
            continue
        codes = list(dict.fromkeys(fig.table.loc[~fig.table[col].astype(bool), "regulator_category"]))
        if codes:
            out.append(t("regulator.not_in_use_line", lang, quarter=str(fig.quarter.shifted(shift)),
                         when=t(f"regulator.when_{tag}", lang),
                         categories=t("regulator.list_sep", lang).join(category_name(c, lang) for c in codes)))
    return out


def headline(fig: rg.Figures, lang: str) -> str | None:
    """The total's sentence: appeals, rate and interval, the previous quarter's and a year before's."""
    if fig.table.empty or fig.reason:
        return None
    total = fig.table[fig.table["regulator_category"] == rg.ALL]
    if len(total) != 1:
        return None
    r = total.iloc[0]
    return t("regulator.headline", lang, quarter=str(fig.quarter), authority=t(f"authority.{fig.authority}", lang),
             appeals=fmt_count(r["appeals"]), rate=rate_text(r["rate"]),
             unit=t(f"regulator.unit.{fig.authority}", lang),
             lower=rate_text(r["lower"]), upper=rate_text(r["upper"]),
             rate_prev=_or_none(r.get("rate_prev"), lang), rate_year=_or_none(r.get("rate_year"), lang))


def _or_none(value: object, lang: str) -> str:
    return t("regulator.no_previous", lang) if value is None or pd.isna(value) else rate_text(value)


def acma_lines(fig: rg.Figures, lang: str) -> list[str]:
    """ACMA's days to resolve and top three types in words."""
    r = fig.table.iloc[0]
    out = []
    if int(r["resolved"]) == 0:
        out.append(t("regulator.acma_none", lang, quarter=str(fig.quarter)))
    elif pd.isna(r["mean_days"]):  # a viewer: too few resolved to show
        out.append(t("regulator.acma_withheld", lang, quarter=str(fig.quarter), least=fig.extra.get("least", "")))
    else:
        out.append(t("regulator.acma_days", lang, quarter=str(fig.quarter), n=fmt_count(r["resolved"]),
                     mean=number(float(r["mean_days"]), 1), days80=number(float(r["days_80"]), 1)))
    top = fig.extra.get("top_types", pd.DataFrame())
    if len(top):
        items = [t("regulator.acma_type", lang, name=label("category", x.category, lang), n=fmt_count(x.n),
                   share=fmt_percent(x.share), lower=fmt_percent(x.share_lower), upper=fmt_percent(x.share_upper))
                 for x in top.itertuples()]
        out.append(t("regulator.acma_top", lang, types=t("regulator.list_sep", lang).join(items)))
    return out


def shown_table(fig: rg.Figures, lang: str, region_names: Mapping[int, str] | None = None) -> pd.DataFrame:
    """The MIIT-style table for people: region (when cut by one), category, appeals, users, rate with its
    interval, the previous quarter's and the year-ago rates and the changes; headers in ``lang``."""
    df = fig.table
    col = lambda k: t(f"regulator.col.{k}", lang)  # noqa: E731
    out = {}
    if "region_id" in df.columns:
        out[col("region")] = [(region_names or {}).get(int(v), str(v)) for v in df["region_id"]]
    out[col("regulator_category")] = [category_name(c, lang) for c in df["regulator_category"]]
    out[col("appeals")] = [fmt_count(v) for v in df["appeals"]]
    out[col("users")] = [number(float(v), 0) if pd.notna(v) else "—" for v in df["users"]]
    out[col("rate")] = [rate_text(v) for v in df["rate"]]
    out[col("interval")] = [f"{rate_text(lo)}–{rate_text(hi)}" if pd.notna(hi) else "—"
                            for lo, hi in zip(df["lower"], df["upper"], strict=True)]
    for tag in ("prev", "year"):
        used = df[f"in_use_{tag}"].astype(bool) if f"in_use_{tag}" in df.columns else pd.Series(True, df.index)
        gone = t("regulator.not_in_use", lang)
        out[col(f"rate_{tag}")] = [rate_text(v) if ok else gone for v, ok in zip(df[f"rate_{tag}"], used, strict=True)]
        out[col(f"change_{tag}")] = ["—" if pd.isna(v) else number(float(v), RATE_DIGITS, signed=True)
                                     for v in df[f"change_{tag}"]]
    return pd.DataFrame(out)


def ordered(fig: rg.Figures) -> rg.Figures:
    """The table with the total last in each region, categories in the mapping's order of codes."""
    df = fig.table.copy()
    if df.empty:
        return fig
    df["_total"] = df["regulator_category"] == rg.ALL
    keys = (["region_id"] if "region_id" in df.columns else []) + ["_total", "regulator_category"]
    fig.table = df.sort_values(keys, kind="stable").drop(columns="_total").reset_index(drop=True)
    return fig
