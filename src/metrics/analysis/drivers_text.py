"""Sentences about key drivers (:mod:`metrics.analysis.drivers`) in Chinese and English from the
catalogue (``drivers.*``): the headline, the drivers indistinguishable from no effect, those left
out and why, the method line and "fix first". Pure functions over the result frames."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from metrics.analysis import drivers as dv
from metrics.model.i18n import t

TOP = 3  # drivers named in the headline


def pct(v: float, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage ("7.2%"); "–" when unknown."""
    return "–" if v is None or not math.isfinite(float(v)) else f"{100 * float(v):.{digits}f}%"


def name(driver: str, lang: str) -> str:
    """The driver's name in ``lang``."""
    return t(f"drivers.name.{driver}", lang)


def _sep(lang: str) -> str:
    return t("plain.list_sep", lang)


def join_names(names: Iterable[str], lang: str) -> str:
    """``names`` as one list in ``lang`` ("A、B" in Chinese, "A, B" in English; the catalogue's separator)."""
    return _sep(lang).join(names)


def reason(row: pd.Series | dict, lang: str) -> str:
    """Why a driver was left out, in ``lang``."""
    return t(f"drivers.reason.{row['reason']}", lang, known=pct(row.get("known", float("nan")), 0))


def method_line(r: dv.DriversResult, lang: str) -> str:
    """How the model was made: rows, sample, bootstrap, R² with its interval."""
    sample = (t("drivers.sample_cap", lang, n=f"{r.n:,}", eligible=f"{r.n_eligible:,}", cap=f"{r.cap:,}")
              if r.sampled else t("drivers.sample_all", lang))
    return t("drivers.method", lang, n=f"{r.n:,}", sample=sample, n_boot=r.n_boot, seed=r.seed,
             r2=f"{r.r2:.3f}", lo=f"{r.r2_lower:.3f}", hi=f"{r.r2_upper:.3f}", r2_adj=f"{r.r2_adj:.3f}")


def card_line(r: dv.DriversResult, lang: str, top: int = 3) -> str | None:
    """The short line for a KPI card: the ``top`` strongest drivers whose interval excludes 0, by
    name, strongest first; None when the model has no answer or no driver stands out."""
    if r.reason is not None:
        return None
    real = r.importance[~r.importance["includes_zero"]].head(top)
    if real.empty:
        return None
    return t("drivers.sentence.card", lang, items=_sep(lang).join(name(d, lang) for d in real["driver"]))


def sentences(r: dv.DriversResult, lang: str) -> list[str]:
    """The lines a manager reads: the headline (strongest drivers whose interval excludes 0, with the
    model's R² and n), the drivers indistinguishable from no effect, those left out."""
    if r.reason is not None:
        return [t("drivers.none", lang, reason=t(f"drivers.reason.{r.reason}", lang, n=r.n, min=dv.MIN_ROWS))]
    imp = r.importance
    real = imp[~imp["includes_zero"]].head(TOP)
    items = _sep(lang).join(
        t("drivers.sentence.item", lang, name=name(row.driver, lang), share=pct(row.importance),
          lo=pct(row.lower), hi=pct(row.upper), direction=t(f"drivers.direction.{row.direction}", lang))
        for row in real.itertuples())
    out = []
    if items:
        out.append(t("drivers.sentence.top", lang, score=t(f"drivers.score.{r.score}", lang), items=items,
                     r2=pct(r.r2), lo=pct(r.r2_lower), hi=pct(r.r2_upper), n=f"{r.n:,}"))
    zero = imp[imp["includes_zero"]]
    if len(zero):
        out.append(t("drivers.sentence.zero", lang, items=_sep(lang).join(name(d, lang) for d in zero["driver"])))
    if len(r.left_out):
        out.append(t("drivers.sentence.left_out", lang, items=_sep(lang).join(
            t("drivers.sentence.left_item", lang, name=name(row["driver"], lang), reason=reason(row, lang))
            for _, row in r.left_out.iterrows())))
    return out


def matrix(r: dv.DriversResult, perf: pd.DataFrame) -> pd.DataFrame:
    """Importance joined with performance for the outcome drivers: driver, importance, lower, upper,
    includes_zero, value (the unit's share done well, else the organisation's), org_value, gap,
    worse, fix_first. "Fix first": importance above the drivers' mean, interval excluding 0, and
    performance clearly worse than the organisation (a unit) or below the drivers' median (the
    organisation)."""
    if r.reason is not None or perf.empty:
        return pd.DataFrame(columns=["driver", "importance", "lower", "upper", "includes_zero", "value",
                                     "org_value", "gap", "worse", "fix_first"])
    unit = "unit_value" in perf.columns
    m = r.importance[["driver", "importance", "lower", "upper", "includes_zero"]].merge(perf, on="driver")
    m["value"] = m["unit_value"] if unit else m["org_value"]
    if not unit:
        m["gap"] = float("nan")
        m["worse"] = m["value"] < m["value"].median()
    important = (m["importance"] >= m["importance"].mean()) & ~m["includes_zero"]
    m["fix_first"] = important & m["worse"].astype(bool)
    return m.sort_values("importance", ascending=False).reset_index(drop=True)


def fix_first(m: pd.DataFrame, lang: str, unit: str | None) -> str | None:
    """The "fix first" line from :func:`matrix` (``unit``: the unit's name; None for the
    organisation); None when there is nothing to compare."""
    if m.empty:
        return None
    first = m[m["fix_first"]]
    if unit is None:
        if first.empty:
            return None
        items = _sep(lang).join(t("drivers.sentence.fix_item_org", lang, name=name(d, lang), value=pct(v))
                                for d, v in zip(first["driver"], first["value"], strict=True))
        return t("drivers.sentence.fix_first_org", lang, items=items)
    if first.empty:
        return t("drivers.sentence.no_fix", lang, unit=unit)
    items = _sep(lang).join(
        t("drivers.sentence.fix_item", lang, name=name(d, lang), unit_value=pct(u), org_value=pct(o))
        for d, u, o in zip(first["driver"], first["unit_value"], first["org_value"], strict=True))
    return t("drivers.sentence.fix_first", lang, items=items, unit=unit)
