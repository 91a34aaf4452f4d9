"""Switching the language keeps the filters, and the demo banner follows the language on the same run
(AppTest; the browser keeps widget values as labels, see tests/browser/test_browser_language.py)."""

from __future__ import annotations

import pytest
from page_helpers import a_city, filters, open_page

from metrics.model.i18n import metric_label, t
from servicewatch import ui

EMPTY = "—"


def _kpis(at) -> list[str]:
    return [m.value for m in at.metric]


@pytest.mark.parametrize("first", ["zh", "en"])
def test_filters_survive_two_language_switches(first: str, duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    city = a_city(duckdb_url)
    at = open_page("app.py", {"preset": "ytd", "cmp": "year_ago", "region": str(city), "tier": "diamond",
                              "lang": first})
    before = filters(at)
    assert (at.session_state["sw_state"]["preset"], before.comparison, before.regions, before.tiers) == (
        "ytd", "year_ago", (city,), ("diamond",))
    other = "en" if first == "zh" else "zh"
    for lang in (other, first, other):
        at.sidebar.radio(key="_w_lang").set_value(lang).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.title[0].value == t("nav.overview", lang)
        assert filters(at) == before, lang
        assert at.session_state["sw_state"]["preset"] == "ytd"
        assert at.sidebar.multiselect(key="_w_tier").value == ["diamond"]
        assert at.sidebar.selectbox(key="_w_preset").value == "ytd"
        assert at.sidebar.selectbox(key="_w_cmp").value == "year_ago"
        assert at.sidebar.selectbox(key="_w_city").value == city
        assert at.query_params.get("tier") in (["diamond"], "diamond")
        assert at.query_params.get("lang") in ([lang], lang)
        kpis = _kpis(at)
        assert kpis and any(v != EMPTY for v in kpis), kpis
        assert any(m.label == metric_label("csat", lang) for m in at.metric)
        assert not any(i.value == t("common.no_data", lang) for i in at.info)


def test_page_title_follows_language() -> None:
    """AppTest does not see the tab title (tests/browser/test_browser_language.py checks it in Chromium)."""
    assert ui.page_title("nav.overview", "en") == f"ServiceWatch · {t('nav.overview', 'en')}"
    assert ui.page_title("nav.overview", "zh") == f"ServiceWatch · {t('nav.overview', 'zh')}"


def test_demo_banner_follows_language(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUTH", "demo")
    at = open_page("app.py", {"lang": "zh"})
    assert any(w.value == t("auth.demo_banner", "zh") for w in at.warning)
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert t("auth.demo_banner", "en") in warnings and t("auth.demo_banner", "zh") not in warnings
