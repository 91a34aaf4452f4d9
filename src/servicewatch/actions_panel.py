"""The action loop in the app (issue 18, item 4): assign retention actions from the at-risk list or
a customer card, close them with an outcome, record a visit or call, and the open (overdue first)
actions of the user's scope.

The writes are :mod:`metrics.churn.actions_store`'s — the same validation, scope, random holdout and
audit as ``servicewatch actions add|close`` — on the database opened for writing by
:func:`metrics.backends.swap.writable` (the DuckDB file the dashboard holds read-only is written on a
copy swapped in, as an import from the Data page is). A close is optimistic: it names the status and
outcome the user saw, and is refused when someone changed the action since.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from metrics.backends.connect import DatabaseError, resolve_url
from metrics.backends.swap import writable
from metrics.churn import actions_store as store
from metrics.churn.action_effect import has_actions
from metrics.present.markup import md
from servicewatch import panels, ui
from servicewatch.tables import localise

DUE_IN_DAYS = 14  # the form's default due date: two weeks from today


def _can_write(view: ui.View) -> bool:
    scope = view.filters.scope
    return not (scope is not None and scope.aggregates_only)


def _user(view: ui.View) -> str:
    return view.user.name if view.user is not None else "dashboard"


def _write(view: ui.View, key: str, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """``fn(engine, url, user, *args, **kwargs)`` on the database opened for writing; a refusal or a
    database failure becomes the form's message (one line, nothing written) and None is returned.
    Called from a form's submit callback, so that it acts on what the user saw and submitted."""
    url = resolve_url()
    try:
        with writable(url) as engine:
            out = fn(engine, url, _user(view), *args, scope=view.filters.scope, lang=view.lang, **kwargs)
    except store.ActionError as exc:
        st.session_state[f"{key}_msg"] = ("error", md(exc))
        return None
    except (DatabaseError, sa.exc.SQLAlchemyError) as exc:  # a busy file, a lost server: one line
        st.session_state[f"{key}_msg"] = ("error", view.md("actions_write.busy", reason=type(exc).__name__))
        return None
    st.cache_data.clear()  # the new data version: every cached view computes again
    return out


def _owners(view: ui.View) -> tuple[list[int], dict[int, str], int | None]:
    """Who may own an action or record a visit here: the ids offered, their names, and the user's own
    manager id when they are an account manager (then the only choice)."""
    owners = view.call(store.owners, view.filters)
    own = view.filters.scope.manager_id if view.filters.scope is not None else None
    names = dict(zip(owners["manager_id"].astype(int), owners["name"], strict=True)) if len(owners) else {}
    return ([own] if own is not None else list(names)), names, own


def _message(key: str) -> None:
    """The message the last submit of form ``key`` left (success or error), shown once."""
    kind, text = st.session_state.pop(f"{key}_msg", (None, None))
    if kind == "success":
        st.success(text, icon=":material/task_alt:")
    elif kind == "error":
        st.error(text, icon=":material/block:")


def _assign(view: ui.View, key: str, owner_fixed: int | None) -> None:
    """The assign form's submit: its values as submitted."""
    state = st.session_state
    customers = list(state.get(f"{key}_customers") or [])
    if not customers:
        state[f"{key}_msg"] = ("error", view.t("actions_app.no_customers"))
        return
    owner = owner_fixed if owner_fixed is not None else state.get(f"{key}_owner")
    note = (state.get(f"{key}_note") or "").strip() or None
    out = _write(view, key, store.assign, customers, state[f"{key}_type"], owner, state[f"{key}_due"],
                 note=note, holdout=state[f"{key}_holdout"] / 100)
    if out is not None:
        rows, seed = out
        held = int((rows["arm"] == "holdout").sum())
        state[f"{key}_msg"] = ("success", view.t("actions_write.written", n=len(rows), held=held, seed=seed))


def assign_form(view: ui.View, choices: dict[int, str], picked: list[int], default_owner: int | None,
                key: str) -> None:
    """A form that assigns one action type to the customers chosen among ``choices`` (id → label,
    ``picked`` preselected), owned by an account manager, with a due date, a holdout share and a
    playbook note; the result (actions written, held out, the seed) said above the form."""
    if not _can_write(view) or not choices:
        return
    types = view.call(store.known_types)
    owner_ids, names, own = _owners(view)
    _message(key)
    if st.session_state.get(f"{key}_for") != picked:  # another customer's card: start from them
        st.session_state[f"{key}_for"] = picked
        st.session_state[f"{key}_customers"] = [c for c in picked if c in choices]
    with st.form(key, border=True):
        st.subheader(view.t("actions_app.assign_header"))
        st.multiselect(view.t("actions_app.customers"), list(choices),
                       format_func=lambda c: choices[c], key=f"{key}_customers")
        left, mid, right = st.columns(3)
        left.selectbox(view.t("actions_app.type"), types, key=f"{key}_type",
                       format_func=lambda c: view.label("action_type", c))
        index = owner_ids.index(default_owner) if default_owner in owner_ids else 0
        mid.selectbox(view.t("actions_app.owner"), owner_ids, index=index if owner_ids else None,
                      format_func=lambda m: names.get(m, str(m)), key=f"{key}_owner", disabled=own is not None)
        right.date_input(view.t("actions_app.due"), store.today() + dt.timedelta(days=DUE_IN_DAYS),
                         key=f"{key}_due")
        st.slider(view.t("actions_app.holdout"), 0, 50, round(100 * store.DEFAULT_HOLDOUT), step=5,
                  format="%d%%", help=view.t("actions_app.holdout_help"), key=f"{key}_holdout")
        st.text_area(view.t("actions_app.note"), max_chars=200, key=f"{key}_note",
                     placeholder=view.t("actions_app.note_hint"))
        st.form_submit_button(view.t("actions_app.assign"), type="primary", on_click=_assign,
                              args=(view, key, own))


def _record(view: ui.View, key: str, customer: int, label: str, manager_fixed: int | None) -> None:
    """The visit form's submit: its values as submitted."""
    state = st.session_state
    manager = manager_fixed if manager_fixed is not None else state.get(f"{key}_manager")
    kind = state[f"{key}_kind"]
    row = _write(view, key, store.record_visit, customer, manager, state[f"{key}_day"], kind,
                 state.get(f"{key}_purpose") or "", state.get(f"{key}_outcome") or "", state.get(f"{key}_next"))
    if row is not None:
        state[f"{key}_msg"] = ("success", view.md("visits_write.recorded", day=str(row["visit_date"]), customer=label,
                                                  kind=view.label("visit_kind", kind)))


def visit_form(view: ui.View, customer: int, label: str, default_manager: int | None, key: str) -> None:
    """A form that records an account manager's visit or call to ``customer`` (``label`` as shown):
    manager (an account manager: themselves), date, kind, purpose, outcome, next step."""
    if not _can_write(view):
        return
    manager_ids, names, own = _owners(view)
    _message(key)
    with st.form(key, border=True, clear_on_submit=True):
        st.subheader(view.t("visits_app.header"))
        left, mid, right = st.columns(3)
        index = manager_ids.index(default_manager) if default_manager in manager_ids else 0
        left.selectbox(view.t("visits_app.manager"), manager_ids, index=index if manager_ids else None,
                       format_func=lambda m: names.get(m, str(m)), key=f"{key}_manager", disabled=own is not None)
        mid.date_input(view.t("visits_app.day"), store.today(), max_value=store.today(), key=f"{key}_day")
        right.selectbox(view.t("visits_app.kind"), view.call(store.known_visit_kinds), key=f"{key}_kind",
                        format_func=lambda c: view.label("visit_kind", c))
        st.text_input(view.t("visits_app.purpose"), max_chars=200, key=f"{key}_purpose")
        st.text_input(view.t("visits_app.outcome"), max_chars=200, key=f"{key}_outcome")
        st.text_input(view.t("visits_app.next_step"), max_chars=200, key=f"{key}_next")
        st.form_submit_button(view.t("visits_app.record"), on_click=_record,
                              args=(view, key, customer, label, own))


def _actions_shown(df: pd.DataFrame, view: ui.View) -> pd.DataFrame:
    out = pd.DataFrame({
        view.t("actions_app.col.action"): df["action_key"] if "action_key" in df else df["action_id"],
        view.t("actions_app.col.created"): df["created_date"].astype(str).str[:10],
        view.t("actions_app.col.type"): [view.label("action_type", v) for v in df["action_type"]],
        view.t("actions_app.col.owner"): df["owner_name"].fillna(view.t("common.none")) if "owner_name" in df
        else df["owner"].astype("string").fillna(view.t("common.none")),
        view.t("actions_app.col.due"): df["due_date"].astype(str).str[:10],
        view.t("actions_app.col.status"): [view.label("action_status", v) for v in df["status"]],
        view.t("actions_app.col.overdue"): [view.t("actions_app.overdue_yes") if v else "" for v in df["overdue"]],
        view.t("actions_app.col.arm"): [view.label("action_arm", v) for v in df["arm"]],
        view.t("actions_app.col.outcome"): df["outcome"].fillna(""),
    })
    return out


def _close(view: ui.View, key: str) -> None:
    """The close form's submit: the action and outcome submitted, checked against the status and
    outcome the user saw when the form was shown (``{key}_seen``), not against a fresh read."""
    state = st.session_state
    action_id = state.get(f"{key}_action")
    seen = state.get(f"{key}_seen", {})
    if action_id is None or action_id not in seen:
        return
    status = state.get(f"{key}_status", "done")
    out = _write(view, key, store.close, int(action_id), state.get(f"{key}_outcome") or "", seen[action_id],
                 status=status)
    if out is not None:
        shown = str(state.get(f"{key}_labels", {}).get(action_id, action_id))  # the action's key: data text
        state[f"{key}_msg"] = ("success", view.md("actions_write.closed", id=shown,
                                                  status=view.label("action_status", status)))


def close_form(view: ui.View, actions: pd.DataFrame, key: str) -> None:
    """A form that closes one of the open treated ``actions`` (done or cancelled) with an outcome,
    refused when someone changed it since it was shown here."""
    if not _can_write(view):
        return
    _message(key)
    open_ = actions[(actions["status"] == "open") & (actions["arm"] == "treated")]
    if open_.empty:
        return
    seen = {int(r.action_id): store.Read(r.status, None if pd.isna(r.outcome) else r.outcome)
            for r in open_.itertuples()}
    labels = {int(r.action_id): f"{r.action_key if 'action_key' in open_ else r.action_id} · "
                                f"{view.label('action_type', r.action_type)} · {str(r.due_date)[:10]}"
              for r in open_.itertuples()}
    st.session_state[f"{key}_seen"], st.session_state[f"{key}_labels"] = seen, labels
    with st.form(key, border=True):
        st.subheader(view.t("actions_app.close_header"))
        left, right = st.columns([2, 1])
        left.selectbox(view.t("actions_app.col.action"), list(seen), format_func=labels.get, key=f"{key}_action")
        right.radio(view.t("actions_app.col.status"), ("done", "cancelled"), horizontal=True,
                    format_func=lambda s: view.label("action_status", s), key=f"{key}_status")
        st.text_input(view.t("actions_app.col.outcome"), max_chars=200, key=f"{key}_outcome")
        st.form_submit_button(view.t("actions_app.close"), on_click=_close, args=(view, key))


def customer_actions(view: ui.View, visits: pd.DataFrame | None, actions: pd.DataFrame | None) -> None:
    """The customer card's visits and actions (newest first), each with its heading, or what the data
    lacks."""
    left, right = st.columns(2)
    if visits is None:
        left.caption(view.t("actions_app.no_visits_table"))
    else:
        panels.headed_table(left, view.t("actions_app.visits_header", n=len(visits)), visits,
                            lambda rows: _visits_shown(rows, view), view.t("page.at_risk.none"))
    if actions is None:
        right.caption(view.t("actions_app.no_actions_table"))
    else:
        panels.headed_table(right, view.t("actions_app.actions_header", n=len(actions)), actions,
                            lambda rows: _actions_shown(rows, view), view.t("page.at_risk.none"))


def _visits_shown(df: pd.DataFrame, view: ui.View) -> pd.DataFrame:
    out = df.drop(columns=["manager_id"]).copy()
    out["visit_date"] = out["visit_date"].astype(str).str[:10]
    out["kind"] = [view.label("visit_kind", v) for v in out["kind"]]
    return localise(out.rename(columns={c: view.t(f"actions_app.visit.{c}") for c in out.columns}), view.lang)


def open_actions(view: ui.View) -> pd.DataFrame | None:
    """The open treated actions of the user's scope (an account manager: their own), overdue first, as
    a list with its downloads; returns them (None without an actions table)."""
    own = view.filters.scope.manager_id if view.filters.scope is not None else None
    if not view.call(has_actions):
        return None
    df = view.call(store.action_list, view.filters.scope_only(), ("open",), own)
    df = df[df["arm"] == "treated"].sort_values(["overdue", "due_date"], ascending=[False, True])
    st.subheader(view.t("actions_app.open_header", n=len(df), overdue=int(df["overdue"].sum())))
    if df.empty:
        st.caption(view.t("actions_app.none_open"))
        return df
    names = view.call(store.owners, view.filters)
    shown = df.merge(names.rename(columns={"manager_id": "owner", "name": "owner_name"}), on="owner", how="left")
    keys = view.keys("retention_actions", shown["action_id"])
    shown["action_key"] = [keys.get(int(a), str(a)) for a in shown["action_id"]]
    panels.listing(view, _actions_shown(shown, view), view.t("actions_app.file"), "open_actions_csv",
                   "open_actions.csv", pin=1, height=280)
    return shown
