"""The Overview's "what drove the change" (servicewatch.explain_panel) in AppTest: the engine's sentence
under the heading, the waterfall of the best dimension (its figure JSON), the others behind an expander,
the metric in the URL, English too; and card_sentence for a KPI card."""

from __future__ import annotations

import json

import pytest
from page_helpers import open_page, plain

from metrics.analysis import decompose as dc
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.present import explain_text
from metrics.query.warehouse import Warehouse


@pytest.fixture()
def db(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    return duckdb_url


def _best(url: str, metric_id: str) -> dc.Decomposition:
    wh = Warehouse.open(url)
    start, end = preset_period("last_quarter", wh.as_of())
    return dc.explain(wh, metric_id, Filters(start, end))[0]


def _figures(at) -> list[dict]:  # noqa: ANN001 - an AppTest
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_complaint_rate_is_explained_by_dongjiang(db: str, lang: str) -> None:
    at = open_page("app.py", {"lang": lang})
    assert t("explain.title", lang) in [h.value for h in at.subheader]
    best = _best(db, "complaint_rate")
    sentence = explain_text.sentence(best, lang)
    assert sentence in [plain(m.value) for m in at.markdown]
    assert ("东江市（自身变化）" if lang == "zh" else "Dongjiang (rate effect)") in sentence
    title = t("explain.chart.title", lang, metric="投诉率" if lang == "zh" else "Complaint rate",
              dim=t("explain.dim.city", lang))
    wf = [f for f in _figures(at) if title in f["layout"]["title"]["text"]]
    assert wf, "no waterfall of the complaint rate by city"
    steps = wf[0]["data"][1]
    assert steps["x"][0] == ("东江市" if lang == "zh" else "Dongjiang")
    assert [e.label for e in at.expander if e.label == t("explain.page.other_dims", lang)]


def test_other_dimensions_wait_for_the_expander(db: str) -> None:
    """Closed, the expander holds no waterfall (one chart on a first load); opened, each other
    dimension's waterfall is there, titled as the engine's decomposition of that dimension."""
    at = open_page("app.py", {"lang": "en"})
    wh = Warehouse.open(db)
    start, end = preset_period("last_quarter", wh.as_of())
    ds = dc.explain(wh, "complaint_rate", Filters(start, end))
    titles = [t("explain.chart.title", "en", metric="Complaint rate", dim=explain_text.dim_word(d, "en"))
              for d in ds if d.ok]
    assert len(titles) > 1

    def shown() -> list[str]:
        return [x for x in titles if any(x in f["layout"]["title"]["text"] for f in _figures(at))]

    assert shown() == titles[:1]  # closed: only the best dimension's waterfall
    at.session_state["explain_others_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert shown() == titles


def test_metric_choice_lives_in_the_url(db: str) -> None:
    at = open_page("app.py", {"lang": "en", "explain": "csat"})
    best = _best(db, "csat")
    assert explain_text.sentence(best, "en") in [plain(m.value) for m in at.markdown]
    at.selectbox(key=[s.key for s in at.selectbox if s.label == t("explain.page.metric", "en")][0]).select("nps").run()
    assert not at.exception
    assert at.query_params.get("explain") in ("nps", ["nps"])


def test_card_sentence(db: str) -> None:
    from servicewatch import explain_panel

    assert explain_panel.card_sentence.__doc__
    best = _best(db, "complaint_rate")
    assert explain_text.card_sentence(best, "zh") == "主要来自东江市（自身变化）"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_kpi_cards_say_what_drove_their_change(db: str, lang: str) -> None:
    at = open_page("app.py", {"lang": lang})
    captions = [plain(c.value) for c in at.caption]
    for metric_id in ("complaint_rate", "csat"):
        expected = explain_text.card_sentence(_best(db, metric_id), lang)
        assert expected and expected in captions, (metric_id, expected, captions)
    assert ("主要来自东江市" if lang == "zh" else "Dongjiang") in explain_text.card_sentence(
        _best(db, "complaint_rate"), lang)
