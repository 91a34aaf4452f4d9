"""What drove the change (变化原因), on the Overview: a metric chosen in the URL (``explain=``), the
waterfall of the dimension that explains most (metrics.analysis.decompose), the others behind tabs
in an expander that builds them only once opened,
the sentence (metrics.present.explain_text); and the one line a KPI card can carry
(:func:`card_sentence`)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from metrics.analysis import decompose
from metrics.analysis.decompose import Decomposition
from metrics.model.filters import Filters
from metrics.present import explain_text
from metrics.present.charts.waterfall import waterfall
from servicewatch.ui import View, chart

METRICS = ("complaint_rate", "csat", "nps", "sla_resolution_compliance", "fcr_rate", "churn_rate")


def explanations(view: View, metric_id: str, f: Filters | None = None) -> list[Decomposition]:
    """The decompositions of ``metric_id`` under ``f`` (default: the page's filters), best first
    (cached by them and the data version); [] when the request is refused (outside the user's scope:
    said on the page)."""
    out = view.call(decompose.explain, metric_id, view.filters if f is None else f)
    return out if isinstance(out, list) else []


def card_sentence(view: View, metric_id: str, f: Filters | None = None) -> str | None:
    """"主要来自东江市（自身变化）" / "mostly Dongjiang (rate effect)" for a KPI card of ``metric_id``: the
    largest contribution beyond noise of the dimension that explains most; "within noise" when none;
    None when the metric is not decomposable or there is no change to split (the card says why).
    ``f``: the card's filters (default: the page's)."""
    try:
        decompose.check(metric_id)
    except decompose.NotDecomposable:
        return None
    ds = explanations(view, metric_id, f)
    return explain_text.card_sentence(ds[0], view.lang) if ds else None


def _table(d: Decomposition, lang: str) -> pd.DataFrame:
    """The data behind a waterfall for its downloads: the group, its contribution with its interval,
    its rate and mix effects, whether it is within noise."""
    cols = ["name_zh" if lang == "zh" else "name_en", "contribution", "lower", "upper", "rate_effect",
            "mix_effect", "noise"]
    return d.groups[cols].rename(columns={cols[0]: "group"}) if len(d.groups) else pd.DataFrame(columns=cols)


def _show(view: View, d: Decomposition, key: str) -> None:
    st.markdown(view.md("explain.page.sentence", text=explain_text.sentence(d, view.lang)))
    if not d.ok:
        return
    fig = waterfall(d, view.lang, view.subtitle(with_comparison=True))
    chart(view, fig, _table(d, view.lang), key, metrics=d.metric_id)


def explain_section(view: View, metrics: Sequence[str] = METRICS) -> None:
    """The section: heading, metric choice, the best dimension's sentence and waterfall, the other
    dimensions in tabs (each titled with what it explains)."""
    st.subheader(view.t("explain.title"))
    metric_id = view.choice("explain", tuple(metrics), view.t("explain.page.metric"), widget="selectbox",
                            format_func=view.metric_label)
    ds = explanations(view, metric_id)
    if not ds:
        st.info(view.t("explain.page.none"))
        return
    best, others = ds[0], ds[1:]
    if not best.ok:  # no change to split: the same reason for every dimension, said once
        st.info(explain_text.sentence(best, view.lang))
        return
    st.caption(explain_text.explained(best, view.lang))
    _show(view, best, f"explain_{best.dim}")
    if others:  # built and sent only once opened (a first load draws one waterfall, not four)
        box = st.expander(view.t("explain.page.other_dims"), key="explain_others_open", on_change="rerun")
        if not box.open:
            return
        with box:
            tabs = st.tabs([explain_text.explained(d, view.lang) for d in others])
            for tab, d in zip(tabs, others, strict=True):
                with tab:
                    _show(view, d, f"explain_{d.dim}")
