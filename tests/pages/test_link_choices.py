"""A link is the view (issue 15 item 1), in AppTest: every page opens on the choices its link names
(``metric=nps``, ``dim=tier`` …), drops an invalid one with the link notice, writes a change to the URL
once, and keeps its choices over a page switch. The figures are checked against the engine."""

from __future__ import annotations

import json

import pytest
from page_helpers import chart_titles, default_filters, open_page

from metrics.model.i18n import metric_label, t
from metrics.model.registry import get
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse
from servicewatch.url_state import widget_key

# page, its section holding the choice (None: outside sections), choice key, a non-default valid value
CASES = [
    ("app.py", None, "metric", "nps"),
    ("app.py", None, "dim", "tier"),
    ("pages/1_Satisfaction.py", None, "metric", "nps"),
    ("pages/1_Satisfaction.py", None, "survey", "relationship"),
    ("pages/2_Complaints.py", "rate", "dim", "category"),
    ("pages/2_Complaints.py", "handling", "handling", "reopen_rate"),
    ("pages/2_Complaints.py", "handling", "handling_dim", "channel"),
    ("pages/2_Complaints.py", "voc", "voc_dim", "tier"),  # voice of the customer (issue 20)
    ("pages/2_Complaints.py", "voc", "voc_topic", "tariff"),
    ("pages/3_SLA.py", "compliance", "cut", "priority"),
    ("pages/4_Churn.py", "retention", "dim", "segment"),
    ("pages/5_Regions.py", None, "metric", "complaint_rate"),
]
IDS = [f"{p.split('/')[-1].removesuffix('.py')}-{k}" for p, _, k, _ in CASES]


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def _widget(at, key: str):
    found = [w for kind in ("radio", "selectbox", "segmented_control") for w in at.get(kind)
             if getattr(w, "key", None) == widget_key(key)]
    assert len(found) == 1, (key, [getattr(w, "key", None) for w in at.get("radio")])
    return found[0]


def _query(section: str | None, **choices: str) -> dict[str, str]:
    return {**({"section": section} if section else {}), **choices}


def _notices(at) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.parametrize(("path", "section", "key", "value"), CASES, ids=IDS)
def test_a_link_opens_on_its_choice(path: str, section: str | None, key: str, value: str) -> None:
    at = open_page(path, _query(section, **{key: value}))
    assert _widget(at, key).value == value
    assert at.query_params[key] in (value, [value])  # kept in the URL
    assert not any(f"{key}=" in n for n in _notices(at))


@pytest.mark.parametrize(("path", "section", "key", "value"), CASES, ids=IDS)
def test_an_invalid_choice_is_dropped_with_the_notice(path: str, section: str | None, key: str, value: str) -> None:
    at = open_page(path, _query(section, **{key: value.upper() + "x"}))
    notice = t("query.ignored", "zh", items="")
    assert any(n.startswith(notice) and f"{key}='{value.upper()}x'" in n.replace("\\", "") for n in _notices(at))
    default = _widget(at, key).value
    assert default != value.upper() + "x"
    assert key not in at.query_params  # the page's default: not written


@pytest.mark.parametrize(("path", "section", "key", "value"), CASES, ids=IDS)
def test_a_change_reaches_the_url_and_survives_a_page_switch(path: str, section: str | None, key: str,
                                                             value: str) -> None:
    at = open_page(path, _query(section))
    assert key not in at.query_params
    _widget(at, key).set_value(value).run()
    assert not at.exception
    assert at.query_params[key] in (value, [value])
    other = "pages/5_Regions.py" if path != "pages/5_Regions.py" else "pages/1_Satisfaction.py"
    at.switch_page(other).run()
    assert key not in at.query_params or other == "pages/1_Satisfaction.py" and key == "metric" \
        and at.query_params[key] != value  # another page's choices are not this page's
    at.switch_page(path).run()
    assert _widget(at, key).value == value
    assert at.query_params[key] in (value, [value])


def test_satisfaction_link_with_nps_shows_nps_figures(wh: Warehouse) -> None:
    """The issue's case: ``metric=nps`` reopened as CSAT. Now the charts are NPS, with the engine's values."""
    at = open_page("pages/1_Satisfaction.py", {"metric": "nps", "survey": "relationship"})
    f = default_filters(wh, survey_kinds=("relationship",))
    titles = chart_titles(at)
    assert titles and all(title.startswith(metric_label("nps", "zh")) for title in titles)
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    by_channel = dict(zip(bars["customdata"], bars["x"], strict=True))
    engine = wh.metric("nps", f, by=("channel",)).set_index("channel")["value"]
    assert by_channel == pytest.approx(engine.to_dict())
    assert _widget(at, "survey").value == "relationship"


def test_regions_link_with_a_metric_shows_its_overall_value(wh: Warehouse) -> None:
    at = open_page("pages/5_Regions.py", {"metric": "complaint_rate"})
    overall = [m.value for m in at.metric if m.label == t("page.regions.overall", "zh")]
    f = default_filters(wh)
    value = float(wh.metric("complaint_rate", f)["value"].iloc[0])
    assert overall == [fmt_value(value, get("complaint_rate").unit, "zh")]


# -- the Complaints charts' pick and the Alerts chart picked, in the link ------------------------------
def test_a_complaints_link_keeps_its_pick_and_the_pick_clears() -> None:
    """A plotly selection cannot be set from the server: a link's ``pick=region:…`` narrows the
    drill-down, the page says in words what is picked, and its button clears the pick and the URL."""
    at = open_page("pages/2_Complaints.py", {"section": "rate", "pick": "region:2,3"})
    assert at.query_params["pick"] in ("region:2,3", ["region:2,3"])
    said = [m.value for m in at.markdown if m.value.startswith("已选")]
    assert said and "南岭市" in said[0] and "珠湾市" in said[0], [m.value for m in at.markdown]
    caption = [m.value for m in at.markdown if "件投诉" in m.value]
    assert caption and "南岭市" in caption[0] and "珠湾市" in caption[0]
    assert t("export.drill_hint", "zh") not in [i.value for i in at.info]
    at.button(key="clear_complaint_rate_by_region").click().run()
    assert "pick" not in at.query_params
    assert not [m.value for m in at.markdown if m.value.startswith("已选")]
    assert t("export.drill_hint", "zh") in [i.value for i in at.info]


def test_a_complaints_pick_outside_the_chart_is_dropped_with_the_notice() -> None:
    at = open_page("pages/2_Complaints.py", {"section": "funnel", "pick": "funnel:999999,2"})
    assert any("pick" in n and "999999" in n for n in _notices(at)), _notices(at)
    assert at.query_params["pick"] in ("funnel:2", ["funnel:2"])  # the value the chart shows is kept
    # the rate chart's pick of a region is not the funnel's (pick=region:… against pick=funnel:…)
    at = open_page("pages/2_Complaints.py", {"section": "funnel", "pick": "region:2"})
    assert "pick" not in at.query_params and t("export.drill_hint", "zh") in [i.value for i in at.info]
    at = open_page("pages/2_Complaints.py", {"section": "rate", "dim": "tier", "pick": "region:2"})
    assert "pick" not in at.query_params and any("pick" in n and "region" in n for n in _notices(at))
    assert t("export.drill_hint", "zh") in [i.value for i in at.info]


def test_a_tier_pick_lists_only_that_tiers_complaints() -> None:
    at = open_page("pages/2_Complaints.py", {"section": "rate", "dim": "tier", "pick": "tier:gold", "lang": "en"})
    tables = [d.value for d in at.dataframe if t("page.complaints.col.tier", "en") in d.value.columns]
    assert tables and set(tables[-1][t("page.complaints.col.tier", "en")]) == {t("tier.gold", "en")}


def test_an_alerts_link_opens_on_its_alert(duckdb_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics import alert_rules as rule_store
    from metrics import alerts
    from metrics.access import audit
    from metrics.demo import alert_rules

    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    monkeypatch.setenv(audit.AUDIT_ENV, f"sqlite:///{tmp_path / 'audit.sqlite'}")
    w = Warehouse.open(duckdb_url)
    alert_rules.install(w)
    alerts.evaluate(w)
    w.engine.dispose()
    at = open_page("pages/9_Alerts.py", {"lang": "en"})
    box = _widget(at, "alert")
    assert box.value == 0 and "alert" not in at.query_params  # the first: left out of the URL
    box.set_value(2).run()
    code = at.query_params["alert"]
    code = code[-1] if isinstance(code, list) else code
    title = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"]
    again = open_page("pages/9_Alerts.py", {"lang": "en", "alert": code})
    assert _widget(again, "alert").value == 2
    assert json.loads(again.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"] == title
    bad = open_page("pages/9_Alerts.py", {"lang": "en", "alert": "no_such_rule.2020-01"})
    assert _widget(bad, "alert").value == 0 and any("alert" in n and "such" in n for n in _notices(bad))
