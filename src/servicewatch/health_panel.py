"""The Portfolio page's account health section (issue 18 item 3): a manager's enterprise customers by
health score (lowest first) with each part's weight in its column header, the trend arrow against last
month, what moved it, the missing parts; how well the score ranks departures (AUC with its 95% interval
and n, on a time split) next to it; one customer's health history as a chart. A view: every figure
comes from the engine (:mod:`metrics.analysis.health`); text from the catalogue."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import health as hl
from metrics.analysis import plain
from metrics.present.charts.health import health_history
from metrics.present.formatting import number
from servicewatch import panels, portfolio_panel, ui
from servicewatch.ui import View


def _points(v: object, signed: bool = False) -> str:
    return "—" if v is None or pd.isna(v) else number(float(v), 1 if signed else 0, signed=signed)


def _part_header(view: View, part: str, weights: dict[str, float]) -> str:
    total = sum(weights.values())
    return view.t("page.health.part_header", part=view.t(f"health.part.{part}"),
                  weight=f"{weights.get(part, 0.0) / total:.0%}")


def health(view: View) -> hl.Health | None:
    """The chosen manager's customers by health (the manager in the URL, as the customer list), the
    weights and the back-test's AUC, the list with its audited downloads, and the history chart of the
    customer in the URL (``customer``)."""
    st.caption(view.t("page.health.intro"))
    manager = portfolio_panel.pick_manager(view)
    if manager is None:
        return None
    try:
        cfg = hl.load_weights()
        r = view.call(hl.health, view.filters, cfg, manager, None, False)
    except hl.WeightsError as exc:  # data/health_weights.toml cannot be used: said in one line
        st.error(view.md(exc.key, **exc.params), icon=":material/error:")
        return None
    if not isinstance(r, hl.Health):  # refused (a viewer sees no customer lists): said by view.call
        return None
    for key, params in r.notes:
        st.info(view.md(key, **params), icon=":material/info:")
    df = r.customers
    st.markdown(hl.weights_sentence(r.weights, view.lang))  # catalogue text and numbers only
    # the back-test depends on the filters and scope, not on the manager picked: cached once for all
    bt = view.call(hl.backtest, view.filters, cfg)
    reading = plain.health_reading(bt, view.lang) if isinstance(bt, dict) else None
    if reading:  # the plain line first, the AUC with DeLong's interval behind the expander
        st.markdown(reading)
        with st.expander(view.t("plain.details")):
            st.markdown(hl.auc_sentence(bt, view.lang))
    else:  # no AUC: why, in one line
        st.markdown(hl.auc_sentence(bt, view.lang))
    if df.empty:
        st.info(view.t("health.none"))
        return r
    st.markdown(view.md("health.sentence", n=len(df), day=r.day.isoformat(),
                        down=int((df["trend"] == "down").sum()), up=int((df["trend"] == "up").sum())))
    ckeys = view.keys("customers", df["customer_id"])
    shown = pd.DataFrame({
        view.t("health.col.customer_id"): [ckeys.get(int(c), str(c)) for c in df["customer_id"]],
        view.t("health.col.name"): df["name"].astype(str),
        view.t("health.col.score"): [_points(v) for v in df["score"]],
        view.t("health.col.trend"): [view.t(f"health.trend.{v}") for v in df["trend"]],
        view.t("health.col.change"): [_points(v, signed=True) for v in df["change"]],
        view.t("health.col.moved"): [view.t("health.moved", part=view.t(f"health.part.{m}"),
                                            points=number(float(b), 1, signed=True)) if isinstance(m, str) else "—"
                                     for m, b in zip(df["moved"], df["moved_by"], strict=True)],
        **{_part_header(view, p, r.weights): [_points(v) for v in df[p]] for p in hl.PARTS if r.weights[p] > 0},
        view.t("health.col.missing"): [view.t("plain.list_sep").join(view.t(f"health.part.{p}") for p in v.split(","))
                                       if v else "" for v in df["missing"]],
    })
    panels.listing(view, shown, view.t("page.health.file"), "health_csv", "account_health.csv", pin=2, height=420)
    _history(view, r, ckeys)
    return r


def _history(view: View, r: hl.Health, ckeys: dict) -> None:
    """The health history of the customer chosen (URL ``customer``): score and parts by month."""
    df = r.customers
    ids = [int(c) for c in df["customer_id"]]
    names = dict(zip(ids, df["name"].astype(str), strict=True))
    cid = view.choice("customer", ids, view.t("page.health.pick_customer"), widget="selectbox",
                      to_url=lambda c: str(ckeys.get(c, c)), format_func=lambda c: f"{names[c]} ({ckeys.get(c, c)})")
    h = r.history[r.history["customer_id"] == cid]
    if h.empty:
        return
    parts = {p: _part_header(view, p, r.weights) for p in hl.PARTS if r.weights[p] > 0}
    title = view.t("page.health.chart_title", customer=f"{names[cid]} ({ckeys.get(cid, cid)})")
    fig = health_history(h, parts, view.lang, title, view.subtitle())
    data = h.drop(columns="customer_id").rename(columns={"score": view.t("health.col.score"), **parts})
    ui.chart(view, fig, data, "health_history", metrics=())
