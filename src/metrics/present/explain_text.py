"""The words of a decomposition (:mod:`metrics.analysis.decompose`), in Chinese and English.

"投诉率上升 5.3‰（32.1 → 37.4）；其中 5.5 来自东江市（自身变化），2.7 来自西樵市（自身变化）；其余 5 个地市的
贡献在随机波动范围内。" — for the meeting pack, the digest, the CLI and the Overview; and the one line of a
KPI card ("主要来自东江市（自身变化）"). Only contributions distinguishable from noise are named; a
change that is itself within noise says so. Words from the catalogue (``explain.*``), numbers from
:mod:`metrics.present.formatting`. No Streamlit.
"""

from __future__ import annotations

import math

from metrics.analysis.decompose import UNASSIGNED, Decomposition
from metrics.model.i18n import metric_label, t
from metrics.model.registry import get
from metrics.present.formatting import PERCENT_UNITS, decimals, fmt_metric, number

NAMED = 3  # contributions named in a sentence at most


def amount(x: float, metric_id: str, lang: str, unit: bool = True, signed: bool = False) -> str:
    """A change or contribution in the metric's unit as a change reads: "5.3‰", "1.2 个百分点" /
    "1.2 pp", "0.09 分"; shares in percentage points; "—" when missing; unsigned unless ``signed``."""
    if x is None or not math.isfinite(float(x)):
        return "—"
    m = get(metric_id)
    x = float(x) * (100 if m.unit in PERCENT_UNITS else 1)
    digits = decimals(m.unit, m)
    text = number(x if signed else abs(x), digits, signed=signed)
    if text.strip("+-0.,") == "":  # rounds to 0: no sign
        text = number(0.0, digits)
    key = f"explain.unit.{m.unit}"
    return text + (t(key, lang) if unit and key != t(key, lang) else "")


def dim_word(d: Decomposition, lang: str, plural: bool = False) -> str:
    """The dimension's word: the region level's for regions ("地市", "cities")."""
    name = d.level if d.dim == "region" else d.dim
    return t(f"explain.{'groups' if plural else 'dim'}.{name}", lang)


def group_name(row, lang: str) -> str:  # noqa: ANN001 - a row of Decomposition.groups
    """A group's display name (the data's names; "not in any group" for the remainder)."""
    return str(row["name_zh"] if lang == "zh" else row["name_en"])


def reason_text(reason: str, lang: str, metric_id: str = "", **fmt: object) -> str:
    """Why there is no change to split, in a sentence."""
    return t(f"explain.reason.{reason}", lang, metric=metric_label(metric_id, lang) if metric_id else "", **fmt)


def _named(d: Decomposition):  # noqa: ANN202 - the rows named in a sentence
    g = d.groups
    return g[(~g["noise"]) & (g["key"] != UNASSIGNED)].head(NAMED)


def sentence(d: Decomposition, lang: str = "zh") -> str:
    """The change and what drove it, in one or two sentences (see the module docstring)."""
    label = metric_label(d.metric_id, lang)
    if not d.ok:
        return reason_text(d.reason or "no_data", lang, d.metric_id)
    after, before = fmt_metric(d.value, d.metric_id, lang), fmt_metric(d.value_cmp, d.metric_id, lang)
    if amount(d.delta, d.metric_id, lang, unit=False) == amount(0.0, d.metric_id, lang, unit=False):
        head = t("explain.unchanged", lang, metric=label, after=after)
    else:
        head = t("explain.headline", lang, metric=label, verb=t(f"explain.{'rose' if d.delta > 0 else 'fell'}", lang),
                 amount=amount(d.delta, d.metric_id, lang), before=before, after=after)
    parts = [head]
    named = _named(d)
    if named.empty:
        parts.append(t("explain.all_noise", lang, dim=dim_word(d, lang), groups=dim_word(d, lang, plural=True)))
    else:
        items = []
        for i, (_, row) in enumerate(named.iterrows()):
            effect = t(f"explain.effect.{row['main']}", lang)
            words = {"amount": amount(row["contribution"], d.metric_id, lang, unit=False),
                     "name": group_name(row, lang), "effect": effect}
            same = (row["contribution"] > 0) == (d.delta > 0)
            items.append(t("explain.item_first" if i == 0 and same else "explain.item" if same else
                           "explain.item_against", lang, **words))
        parts.append(t("explain.list_sep", lang).join(items))
        rest = int((d.groups["key"] != UNASSIGNED).sum()) - len(named)
        if rest == 1 and d.groups["noise"].any():
            parts.append(t("explain.rest_noise_one", lang, group=dim_word(d, lang)))
        elif rest > 1 and d.groups["noise"].any():
            parts.append(t("explain.rest_noise", lang, k=rest, groups=dim_word(d, lang, plural=True)))
    if d.delta_lower <= 0 <= d.delta_upper:
        parts.append(t("explain.change_noise", lang, lower=amount(d.delta_lower, d.metric_id, lang, signed=True),
                       upper=amount(d.delta_upper, d.metric_id, lang, signed=True)))
    return t("explain.part_sep", lang).join(parts) + t("explain.end", lang)


def card_sentence(d: Decomposition | None, lang: str = "zh") -> str | None:
    """The one line of a KPI card: "主要来自东江市（自身变化）" / "mostly Dongjiang (rate effect)" for the
    largest contribution distinguishable from noise that goes the way of the change; "within noise" when
    none is; None when there is no change to split (the card already says why)."""
    if d is None or not d.ok:
        return None
    named = _named(d)
    named = named[(named["contribution"] > 0) == (d.delta > 0)]
    if named.empty:
        return t("explain.card_noise", lang)
    row = named.iloc[0]
    return t("explain.card", lang, name=group_name(row, lang), effect=t(f"explain.effect.{row['main']}", lang))


def explained(d: Decomposition, lang: str = "zh") -> str:
    """"按地市可解释 50%" / "city explains 50%": the decomposition's score (see decompose)."""
    return t("explain.explains", lang, dim=dim_word(d, lang), pct=f"{round(100 * d.score)}%")
