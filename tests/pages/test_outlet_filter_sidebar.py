"""The outlet filter in the sidebar (issue 19): offered only when the data holds outlets, by the outlets'
names from the data (not ids), labelled from the catalogue in Chinese and English; a link's ``?outlet=``
sets it and the URL keeps it; the Outlets page's league follows it. The small simulated halls of
tests/outlet_frames.py."""

from __future__ import annotations

import pytest
from outlet_frames import frames, outlets_db
from page_helpers import filters, open_page

from metrics.ingest.load import replace_all
from metrics.model.i18n import t

PAGE = "pages/11_Outlets.py"
NAMES = ["East hall", "East partner", "West hall", "West agent", "Tiny agent"]


@pytest.fixture(scope="module")
def halls(tmp_path_factory) -> str:
    return outlets_db(tmp_path_factory.mktemp("outlet_sidebar") / "o.duckdb")


@pytest.fixture(scope="module")
def no_halls(tmp_path_factory) -> str:
    raw = frames()
    for name in ("outlets", "queue_records", "audits", "audit_items"):
        raw[name] = raw[name].iloc[0:0]
    for name in ("tickets", "surveys"):
        raw[name]["outlet_id"] = None
    url = f"duckdb:///{tmp_path_factory.mktemp('outlet_sidebar_none') / 'o.duckdb'}"
    replace_all(url, raw)
    return url


def _outlet_filter(at, lang: str):
    return [m for m in at.sidebar.multiselect if m.label == t("filter.outlet", lang)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_offered_by_name_and_set_by_a_link(halls: str, monkeypatch, lang: str) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", halls)
    at = open_page(PAGE, {"lang": lang, "preset": "last_quarter", "outlet": "3"})
    assert not at.exception, [e.value for e in at.exception]
    [widget] = _outlet_filter(at, lang)
    assert sorted(widget.options) == sorted(NAMES)
    assert widget.value == [3] and filters(at).outlets == (3,)
    assert at.query_params["outlet"] == "3"
    shown = [d.value for d in at.dataframe if t("page.outlets.col.outlet", lang) in d.value.columns]
    assert shown and list(shown[0][t("page.outlets.col.outlet", lang)]) == ["West hall"]
    widget.set_value([1, 2]).run()
    assert filters(at).outlets == (1, 2) and at.query_params["outlet"] == "1,2"


def test_not_offered_without_outlets(no_halls: str, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", no_halls)
    at = open_page("app.py", {"lang": "zh"})
    assert not at.exception, [e.value for e in at.exception]
    assert _outlet_filter(at, "zh") == []
