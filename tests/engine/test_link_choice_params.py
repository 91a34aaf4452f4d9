"""A page's choices in a link (issue 15 item 1): ``metric=nps``, ``dim=tier`` … are kept for the page
that offers them, checked against its options, and dropped with the link notice when not valid; a
choice key the page does not offer is an unknown key like any other."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from metrics.model.filters import Filters
from metrics.model.links import CHOICE_KEYS, KNOWN_KEYS, check_choice, parse_query

DEFAULT = Filters(start=date(2026, 7, 1), end=date(2026, 9, 30))
MEASURES = ("csat", "nps", "csat_mean", "ces_mean")


def test_a_valid_choice_is_kept_as_written() -> None:
    assert check_choice("metric", "nps", MEASURES) == ("nps", None)


def test_an_absent_or_empty_choice_means_the_default_without_a_notice() -> None:
    assert check_choice("metric", None, MEASURES) == (None, None)
    assert check_choice("metric", "", MEASURES) == (None, None)


def test_an_invalid_choice_is_dropped_with_the_notice_item() -> None:
    assert check_choice("metric", "NPS", MEASURES) == (None, "metric='NPS'")  # case matters: ids, not labels
    assert check_choice("metric", "<b>x</b>", MEASURES) == (None, "metric='<b>x</b>'")
    assert check_choice("dim", "x" * 100, ("tier",))[1] == f"dim='{'x' * 39}…'"  # quoted up to 40 characters
    assert check_choice("dim", "tier\x00", ("tier",)) == (None, "dim='tier?'")  # not printable: shown as ?


@given(st.text(max_size=20))
def test_only_an_option_passes(text: str) -> None:
    kept, ignored = check_choice("metric", text, MEASURES)
    assert (kept is not None) == (text in MEASURES)
    assert (ignored is not None) == (text != "" and text not in MEASURES)


def test_the_page_choice_keys_are_kept_for_the_page() -> None:
    parsed = parse_query({"metric": "nps", "survey": "relationship", "tier": "gold"}, DEFAULT,
                         choice_keys=("survey", "metric"))
    assert dict(parsed.choices) == {"metric": "nps", "survey": "relationship"}
    assert parsed.ignored == ()
    assert parsed.filters.tiers == ("gold",)


def test_a_choice_key_of_another_page_is_unknown_here() -> None:
    parsed = parse_query({"metric": "nps", "cut": "tier"}, DEFAULT, choice_keys=("cut",))
    assert dict(parsed.choices) == {"cut": "tier"}
    assert parsed.ignored == ("metric='nps'",)
    assert dict(parse_query({"metric": "nps"}, DEFAULT).choices) == {}  # a page without choices


def test_choice_keys_are_not_filter_or_page_keys() -> None:
    assert not set(CHOICE_KEYS) & KNOWN_KEYS
