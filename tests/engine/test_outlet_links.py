"""The outlet filter in a link (issue 19): ``?outlet=`` names outlets by their keys as the source wrote them
(text keys for negative ids, a plain number is its own id) and round-trips through
:meth:`Filters.to_query` and :func:`metrics.model.links.parse_query`; unknown outlets are dropped with the
link notice; a chart's picked outlet narrows the filter; the dimension is declared once."""

from __future__ import annotations

from datetime import date

from metrics.model import dimensions
from metrics.model.filters import LIST_FIELDS, Filters
from metrics.model.links import parse_query

F = Filters(start=date(2026, 1, 1), end=date(2026, 3, 31))
KEYS = {-7: "HALL-0755", 12: "12"}  # id -> key as the source wrote it


def test_declared_once() -> None:
    d = dimensions.get("outlet")
    assert (d.field, d.url_key, d.cli_flag, d.result_column) == ("outlets", "outlet", "--outlet", "outlet_id")
    assert LIST_FIELDS["outlets"] == "outlet" and d in dimensions.KEYED_FILTERS and d not in dimensions.VALUE_FILTERS


def test_round_trip_with_text_keys() -> None:
    f = F.with_(outlets=(-7, 12), tiers=("gold",))
    q = f.to_query(outlet_keys=KEYS)
    assert q["outlet"] == "HALL-0755,12"
    back = parse_query(q, F, outlets=set(KEYS), outlet_keys={k: i for i, k in KEYS.items()})
    assert back.filters == f and back.ignored == ()


def test_unknown_outlets_are_dropped_with_the_notice() -> None:
    q = {"outlet": "HALL-0755,NOPE,99", "from": "2026-01-01", "to": "2026-03-31"}
    back = parse_query(q, F, outlets=set(KEYS), outlet_keys={k: i for i, k in KEYS.items()})
    assert back.filters.outlets == (-7,)
    assert back.ignored == ("outlet='NOPE'", "outlet='99'")


def test_plain_ids_without_keys_and_a_picked_outlet() -> None:
    back = parse_query({"outlet": "12"}, F, outlets={12})
    assert back.filters.outlets == (12,)
    assert F.narrowed("outlet", ["-7"]).outlets == (-7,)
