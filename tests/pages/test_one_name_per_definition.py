"""One name per metric definition (issue 15 item 2): two definitions never share a label. Complaints-only
figures carry their own names on the Complaints page (投诉重开率, not the all-ticket 重开率), a card's
label means the same number wherever it appears, and no page shows two cards under one label."""

from __future__ import annotations

import pytest
from page_helpers import open_page, show_section

from metrics.model.i18n import t
from metrics.model.registry import METRICS

PAGES = ("app.py", "pages/1_Satisfaction.py", "pages/2_Complaints.py", "pages/3_SLA.py", "pages/4_Churn.py")


def _name(label: str, lang: str) -> str:
    """A card's label without the unit some cards add (投诉率 (件/千户·月))."""
    for unit in {t(f"unit.{m.unit}", lang) for m in METRICS}:
        label = label.removesuffix(f" ({unit})")
    return label


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_registry_labels_are_unique(lang: str) -> None:
    labels = [m.label(lang) for m in METRICS]
    assert len(labels) == len(set(labels)), sorted({x for x in labels if labels.count(x) > 1})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_complaints_page_never_uses_an_all_ticket_name(duckdb_url: str, monkeypatch, lang: str) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    all_tickets = {m.label(lang) for m in METRICS if m.fixed_kinds != ("complaint",)}
    at = open_page("pages/2_Complaints.py", {"lang": lang})
    cards = [m.label for m in at.metric]
    assert len(cards) == 9, cards
    assert not {_name(x, lang) for x in cards} & all_tickets, cards
    assert ("投诉重开率" if lang == "zh" else "Reopen rate (complaints)") in cards
    show_section(at, "handling")
    shown = list(at.selectbox(key="_w_choice_handling").options)
    assert len(shown) == 7 and not set(shown) & all_tickets, shown


def test_a_label_means_one_number_across_pages(duckdb_url: str, monkeypatch) -> None:
    """Under the same filters, a card label shown on two pages shows the same value on both: a label
    never names two definitions (before: 处理时长中位数 of all tickets and of complaints)."""
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    seen: dict[str, tuple[str, str]] = {}
    for page in PAGES:
        at = open_page(page, {"lang": "zh"})
        labels = [m.label for m in at.metric]
        assert len(labels) == len(set(labels)), (page, labels)  # no two cards under one label on a page
        for m in at.metric:
            if m.label in seen:
                assert seen[m.label][1] == m.value, (m.label, seen[m.label], (page, m.value))
            else:
                seen[m.label] = (page, m.value)
