"""At-risk customers: the stored churn scores ranked by revenue at risk within the filters and the
user's scope, with the model's quality, a CSV download, the open retention actions, and one
customer's card (tickets, surveys, monthly spend, visits, actions) from which actions are assigned
and closed. A view: numbers come from the engine (``metrics.churn.store``,
``metrics.analysis.customer_history``), writes from ``metrics.churn.actions_store``."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import customer_history
from metrics.churn import store as churn_store
from metrics.present.charts import churn as charts_churn
from servicewatch import actions_panel, churn_panels, panels, ui, url_state
from servicewatch.tables import localise

LIST_LIMIT = 200

view = ui.page("page.at_risk.title")
f, lang = view.filters, view.lang
st.caption(view.t("page.at_risk.intro"))

# -- the model and its quality: never a score without it --------------------------------------
model = view.call(churn_store.latest_model)
if model is None:
    st.info(view.t("churn.no_model"), icon=":material/model_training:")
    st.stop()
if view.call(churn_store.is_stale):
    st.warning(view.t("churn.scores_stale"), icon=":material/update:")
churn_panels.model_quality(model, view)

# -- the ranked list --------------------------------------------------------------------------
at_risk = view.call(churn_store.scores, f, LIST_LIMIT, lang)
if at_risk.empty:
    ui.empty_state(view)
    st.stop()
st.caption(view.t("page.at_risk.list_caption", limit=LIST_LIMIT))
event = panels.listing(view, churn_panels.at_risk_table(at_risk, view), view.t("page.at_risk.file"), "at_risk_csv",
                       "at_risk_customers.csv", pin=2, height=420, key="at_risk_table", on_select="rerun",
                       selection_mode="single-row", export=churn_panels.at_risk_export(view))

# -- the open actions of the scope (an account manager: their own), overdue first --------------
actions_panel.open_actions(view)

# -- one customer's history -------------------------------------------------------------------
st.header(view.t("page.at_risk.history_header"))
ids = [int(x) for x in at_risk["customer_id"]]
names = dict(zip(ids, at_risk["name"], strict=True))
keys = view.keys("customers", ids)  # each customer as the source wrote it
selection = getattr(event, "selection", None)
rows = list(getattr(selection, "rows", None) or []) if selection is not None else []
picked_row = rows[0] if rows else None
if picked_row is not None and picked_row < len(ids) and st.session_state.get("_at_risk_row") != picked_row:
    st.session_state[url_state.widget_key("customer")] = ids[picked_row]  # a click in the table drives the box
st.session_state["_at_risk_row"] = picked_row
customer_id = view.choice("customer", ids, view.t("page.at_risk.pick"), widget="selectbox",
                          to_url=lambda c: str(keys.get(c, c)), format_func=lambda c: f"{names[c]} ({keys.get(c, c)})",
                          help=view.t("page.at_risk.pick_hint"))

profile = view.call(customer_history.profile, f, customer_id)
if not isinstance(profile, dict) or not profile:  # outside the scope: said by view.call
    st.stop()
st.markdown(view.md("page.at_risk.profile", name=profile["name"], id=profile.get("customer_key", customer_id),
                   tier=view.label("tier", profile["tier"]), start=str(profile["start_date"])[:10],
                   manager=profile.get("account_manager") or view.t("common.none"),
                   revenue=f"{profile['monthly_revenue']:,.0f}"))

spend = view.call(customer_history.spend, f, customer_id)
if spend.empty:
    st.info(view.t("page.at_risk.none"))
else:
    fig = charts_churn.monthly_spend(spend, lang, view.t("page.at_risk.spend_title", name=profile["name"]),
                                     view.t("app.as_of", date=view.as_of.isoformat()))
    ui.chart(view, fig, spend, "at_risk_spend", metrics="revenue")

left, right = st.columns(2)
tickets = view.call(customer_history.tickets, f, customer_id)
panels.headed_table(left, view.t("page.at_risk.tickets_header", n=len(tickets)), tickets,
                    lambda rows: localise(rows, lang), view.t("page.at_risk.none"))
surveys = view.call(customer_history.surveys, f, customer_id)
panels.headed_table(right, view.t("page.at_risk.surveys_header", n=len(surveys)), surveys,
                    lambda rows: churn_panels.survey_table(rows, view), view.t("page.at_risk.none"))

acts = view.call(customer_history.actions, f, customer_id)
visits = view.call(customer_history.visits, f, customer_id)
actions_panel.customer_actions(view, visits, acts)
owner = profile.get("account_manager_id")
owner = None if owner is None or owner != owner else int(owner)  # NaN: no account manager


def shown(c: int) -> str:
    return f"{names[c]} ({keys.get(c, c)})"


if acts is not None:  # assign to this customer (or others of the list); close one of theirs
    actions_panel.assign_form(view, {c: shown(c) for c in ids}, [customer_id], owner, "assign_action")
    actions_panel.close_form(view, acts, "close_action")
if visits is not None:  # record a visit or call to this customer
    actions_panel.visit_form(view, customer_id, shown(customer_id), owner, "record_visit")
