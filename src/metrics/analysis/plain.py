"""Plain readings of statistical statements: one line a manager reads before the technical detail.

"The model ranks leavers well: 9 in 10 pairs right" for a concordance of 0.9. Pure functions over
numbers; the words come from the catalogue (``plain.*``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from metrics.model.i18n import t

# concordance (= the chance the model gives the leaver of a random leaver/stayer pair the higher
# risk) from which a ranking is called very good, good, fair; below: barely better than chance (0.5)
GRADES = ((0.8, "very_good"), (0.7, "good"), (0.6, "fair"))


def pairs_in_ten(concordance: float | None) -> int | None:
    """Of 10 pairs of one leaver and one stayer, how many the model ranks right (rounded): 0.9 → 9,
    0.74 → 7, 0.75 → 8; None when unknown."""
    if concordance is None or not math.isfinite(float(concordance)):
        return None
    return max(0, min(10, math.floor(10 * float(concordance) + 0.5)))


def grade(concordance: float) -> str:
    """"very_good", "good", "fair" or "weak" (:data:`GRADES`)."""
    return next((name for floor, name in GRADES if concordance >= floor), "weak")


def model_reading(model: Mapping[str, object], lang: str) -> str | None:
    """The churn model's quality in one line, from its holdout concordance (``concordance_cox``);
    None when the model has none."""
    c = model.get("concordance_cox")
    k = pairs_in_ten(c)  # type: ignore[arg-type]
    if k is None:
        return None
    return t("plain.model_ranking", lang, grade=t(f"plain.grade.{grade(float(c))}", lang), k=k)  # type: ignore[arg-type]


# -- league verdicts (Regions, channels): which groups differ clearly from the rest -----------------
def league_reading(table, names: Sequence[str], fmt: Callable[[float], str], metric: str, group: str,
                   lang: str, higher_is_better: bool | None, alpha: float = 0.05) -> str:
    """One line on a league table (:func:`metrics.analysis.league.league`): the groups clearly worse
    (or lower) and clearly better (or higher) than the rest, with their values and the rest's
    (``fmt``: a value in the metric's unit), and how many do not differ clearly; or that none stands
    out, or that the metric is not tested. ``names``: the rows' display names, in order; ``group``:
    the catalogue's word for the groups (``plain.group.<group>``); ``higher_is_better``: the metric's
    direction (None: "higher"/"lower" instead of "better"/"worse"). A group is named only when its
    verdict, its Holm-adjusted p (< ``alpha``) and the side of the rest its value lies on agree."""
    words = {"metric": metric, "groups": t(f"plain.group.{group}", lang)}
    verdict = table["verdict"].astype(str).tolist()
    if not len(table) or all(v == "not_tested" for v in verdict):
        return t("plain.league.not_tested", lang, **words)
    rows = list(zip(names, table["value"], table["rest_value"], table["p_adjusted"], verdict, strict=True))

    def named(wanted: str, side: int) -> list[str]:
        return [t("plain.league.item", lang, name=n, value=fmt(v), rest=fmt(r)) for n, v, r, p, vd in rows
                if vd == wanted and p < alpha and (float(v) - float(r)) * side > 0]

    good, bad = ("higher", "lower") if higher_is_better is None else ("better", "worse")
    sign = -1 if higher_is_better is False else 1  # the side of the rest a good value lies on
    worse, better = named(bad, -sign), named(good, sign)
    if not worse and not better:
        return t("plain.league.none", lang, **words)
    sep = t("plain.list_sep", lang)
    parts = [t(f"plain.league.{bad}", lang, items=sep.join(worse[::-1]), **words)] if worse else []
    if better:
        parts.append(t(f"plain.league.{good}", lang, items=sep.join(better), **words))
    others = sum(v != "not_tested" for v in verdict) - len(worse) - len(better)
    if others:
        parts.append(t("plain.league.others", lang, k=others))
    return t("plain.league.line", lang, metric=metric, parts=t("plain.part_sep", lang).join(parts))


# -- hazard ratios: which factors make customers leave faster or slower ----------------------------
def times_faster(hr: float) -> str:
    """A hazard ratio above 1 as "how many times the risk": one decimal, two when one would read 1.0."""
    return f"{hr:.1f}" if round(hr, 1) != 1.0 else f"{hr:.2f}"


def percent_slower(hr: float) -> str:
    """A hazard ratio below 1 as the percentage lower risk of leaving (0.6 → "40"); one decimal when
    the whole number would read 0."""
    pct = 100 * (1 - hr)
    return f"{pct:.0f}" if round(pct) >= 1 else f"{pct:.1f}"


def hazard_reading(terms, name: Callable[[str], str], lang: str, top: int = 3) -> str:
    """One line on the hazard ratios of the churn model (``terms``: term, hr, hr_lower, hr_upper):
    the ``top`` factors whose 95% interval excludes 1, strongest first (by |log HR|), each as "leave
    2.3 times the risk" (HR > 1) or "40% lower risk" (HR < 1); that none does when every
    interval includes 1. ``name``: a term's display name."""
    rows = [(str(x), float(h)) for x, h, lo, hi in zip(terms["term"], terms["hr"], terms["hr_lower"],
                                                       terms["hr_upper"], strict=True)
            if math.isfinite(float(h)) and (float(lo) > 1 or float(hi) < 1)]
    if not rows:
        return t("plain.hazard.none", lang)
    rows.sort(key=lambda r: -abs(math.log(r[1])))
    items = [t("plain.hazard.faster", lang, term=name(x), x=times_faster(h)) if h > 1 else
             t("plain.hazard.slower", lang, term=name(x), pct=percent_slower(h)) for x, h in rows[:top]]
    more = t("plain.hazard.more", lang, k=len(rows) - top) if len(rows) > top else ""
    return t("plain.hazard.line", lang, items=t("plain.part_sep", lang).join(items), more=more)


# -- retention: which groups keep their customers clearly longer (pairwise log-rank, Holm) ----------
def logrank_reading(logrank, summary, name: Callable[[object], str], lang: str, alpha: float = 0.05,
                    top: int = 3) -> str:
    """One line on the pairwise log-rank tests of retention curves (``logrank``: group_a, group_b, chi2,
    p_holm; ``summary``: group, rmst_24m — the mean months a customer stays within 24): the ``top``
    pairs that differ clearly after Holm's correction (p_holm < ``alpha``), largest chi² first, each
    as "customers stay longer with A than with B (21.3 against 19.8 of 24 months)" — the direction
    from the same summary the table shows, no direction when the two means are equal; that no pair
    differs when none does. ``name``: a group's display name."""
    if not len(logrank):
        return t("plain.logrank.none", lang)
    mean = dict(zip(summary["group"], summary["rmst_24m"], strict=True))
    hits = logrank[logrank["p_holm"] < alpha].sort_values("chi2", ascending=False)
    if hits.empty:
        return t("plain.logrank.none", lang)
    items = []
    for a, b in zip(hits["group_a"].head(top), hits["group_b"].head(top), strict=True):
        ma, mb = float(mean.get(a, math.nan)), float(mean.get(b, math.nan))
        if not (math.isfinite(ma) and math.isfinite(mb)) or round(ma, 1) == round(mb, 1):
            items.append(t("plain.logrank.differ", lang, a=name(a), b=name(b)))
            continue
        (hi, m_hi), (lo, m_lo) = sorted(((a, ma), (b, mb)), key=lambda x: -x[1])
        items.append(t("plain.logrank.longer", lang, a=name(hi), b=name(lo), ma=f"{m_hi:.1f}", mb=f"{m_lo:.1f}"))
    more = t("plain.logrank.more", lang, k=len(hits) - top) if len(hits) > top else ""
    return t("plain.logrank.line", lang, items=t("plain.part_sep", lang).join(items), more=more)


# -- key drivers of satisfaction: what moves the score most, and how much of it the model explains ---
def drivers_reading(importance, r2: float, r2_lower: float, r2_upper: float, n: int, score: str,
                    name: Callable[[str], str], lang: str, top: int = 3) -> str:
    """One line on a key-driver model (``importance``: driver, includes_zero, strongest first): the
    ``top`` drivers whose interval excludes 0, and how much of the score's ups and downs they explain
    together (R² as a percentage, its 95% interval as "between … and …", n surveys); that no driver
    stands out when every interval includes 0. ``score``: the score's name; ``name``: a driver's."""
    pct = lambda v: f"{100 * float(v):.0f}%"  # noqa: E731
    real = [str(d) for d, z in zip(importance["driver"], importance["includes_zero"], strict=True) if not z]
    words = {"score": score, "r2": pct(r2), "lo": pct(r2_lower), "hi": pct(r2_upper), "n": f"{int(n):,}"}
    if not real:
        return t("plain.drivers.none", lang, **words)
    return t("plain.drivers.line", lang, items=t("plain.list_sep", lang).join(name(d) for d in real[:top]), **words)


# -- health score: how well it ranks the customers who left (AUC on a time split) ------------------
def health_reading(bt: Mapping[str, object], lang: str) -> str | None:
    """One line on the health score's back-test (:func:`metrics.analysis.health.backtest`): of 10
    pairs of one customer who left and one who stayed, how many the score puts the leaver lower, with
    the interval as a range of pairs and n; None when there is no AUC (its reason is said instead)."""
    if not bt or bt.get("reason") is not None:
        return None
    k = pairs_in_ten(bt.get("auc"))  # type: ignore[arg-type]
    if k is None:
        return None
    lo, hi = pairs_in_ten(bt.get("auc_lower")), pairs_in_ten(bt.get("auc_upper"))  # type: ignore[arg-type]
    span = t("plain.health.span", lang, lo=lo, hi=hi) if lo is not None and hi is not None and lo != hi else ""
    return t("plain.health.line", lang, grade=t(f"plain.grade.{grade(float(bt['auc']))}", lang), k=k,  # type: ignore[arg-type]
             span=span, n=f"{int(bt['n']):,}", departures=f"{int(bt['departures']):,}", days=bt["horizon_days"])


# -- voice of the customer: the topics whose share of the complaint texts rose ---------------------
def rising_reading(rows: Sequence[Mapping[str, object]], fmt: Callable[[float], str], lang: str) -> list[str]:
    """One line per topic flagged rising (``rows``: group (a name, "" for all), topic (its name),
    share_prev, share, n, total): "X's share of the complaint texts rose from a to b (n of total)";
    one line that none rose when ``rows`` is empty. ``fmt``: a share as a percentage."""
    if not rows:
        return [t("plain.rising.none", lang)]
    return [t("plain.rising.line", lang, group=r["group"], topic=r["topic"], prev=fmt(float(r["share_prev"])),  # type: ignore[arg-type]
              now=fmt(float(r["share"])), n=f"{int(r['n']):,}", total=f"{int(r['total']):,}") for r in rows]  # type: ignore[arg-type]


# -- retention actions: did the customers contacted leave less than the holdout? -------------------
def action_reading(row: Mapping[str, object], group: str, pct: Callable[[float], str], pp: Callable[[float], str],
                   lang: str) -> str | None:
    """One line on an action's effect for one group (``row``: churn_treated, churn_holdout, difference
    = treated − holdout, diff_low, diff_high, nnt, n_treated, n_holdout, withheld, too_small):
    customers contacted left less (the interval below 0), more (above 0), or no difference can be told
    (the interval includes 0), with both rates, the difference's range in percentage points and n;
    how many to contact to keep one when they left less. None when withheld or too small (said
    elsewhere). ``pct``: a rate as a percentage; ``pp``: a difference in percentage points, unsigned."""
    if row.get("withheld") or row.get("too_small"):
        return None
    lo, hi = float(row["diff_low"]), float(row["diff_high"])  # type: ignore[arg-type]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    words = {"group": group, "treated": pct(float(row["churn_treated"])), "holdout": pct(float(row["churn_holdout"])),  # type: ignore[arg-type]
             "n_t": f"{int(row['n_treated']):,}", "n_h": f"{int(row['n_holdout']):,}"}  # type: ignore[arg-type]
    if hi < 0:
        nnt = row.get("nnt")
        keep = (t("plain.action.nnt", lang, k=f"{math.ceil(float(nnt))}")  # type: ignore[arg-type]
                if nnt is not None and math.isfinite(float(nnt)) and float(nnt) > 0 else "")  # type: ignore[arg-type]
        return t("plain.action.less", lang, a=pp(-hi), b=pp(-lo), keep=keep, **words)
    if lo > 0:
        return t("plain.action.more", lang, a=pp(lo), b=pp(hi), **words)
    return t("plain.action.unclear", lang, a=pp(-lo), b=pp(hi), **words)


# -- control charts: is the latest period inside its usual range? -----------------------------------
def control_reading(points, fmt: Callable[[float], str], lang: str, grain: str = "month",
                    min_n: int | None = None) -> str | None:
    """One line on a control chart (``points``: period, value, n, lcl, ucl, signal, sorted by period):
    the latest period's value above, below or inside its usual range (the control limits) with n, and
    how many of the periods shown carry a signal; that the latest period is too small to judge (n <
    ``min_n``) or has no limits. None when there are no points. ``fmt``: a value in the metric's unit."""
    if points is None or not len(points):
        return None
    d = points.sort_values("period")
    last = d.iloc[-1]
    day = str(last["period"])[: 10 if grain == "week" else 7]
    k, s = len(d), int(d["signal"].astype(bool).sum())
    tail = t("plain.control.signals", lang, k=k, s=s) if s else t("plain.control.quiet", lang, k=k)
    value, lo, hi, n = float(last["value"]), float(last["lcl"]), float(last["ucl"]), float(last["n"])
    known = math.isfinite(n)
    words = {"period": day, "value": fmt(value) if math.isfinite(value) else "—",
             "n": f"{int(n):,}" if known else "—", "tail": tail}
    if not known or (min_n is not None and n < min_n) or not (
            math.isfinite(lo) and math.isfinite(hi) and math.isfinite(value)):
        return t("plain.control.unjudged", lang, **words)
    where = "above" if value > hi else "below" if value < lo else "within"
    return t(f"plain.control.{where}", lang, lo=fmt(lo), hi=fmt(hi), **words)
