"""Source keys: every id as the source wrote it, kept apart from the integer ids used inside.

A key written as a plain whole number that a 32-bit INTEGER holds (``17``, ``440300``) is its own
id, so integer-keyed data is stored exactly as before and costs nothing. Any other key —
``7590-VHVEG``, ``li.na@example.cn``, ``0755`` (a leading zero), ``GD-SZ``, a 64-bit number — gets a
negative id, recorded once per entity in ``source_keys`` (:mod:`metrics.model.schema`). Joins,
rollups and filters stay on integers; the edges translate: the importer (:mod:`metrics.ingest.
importer.keys`) from key to id, the queries and links (:mod:`metrics.query.keys`) from id to key.
"""

from __future__ import annotations

import re
import unicodedata

# entity (table) -> its key column; the tables whose ids a source names
ENTITIES: dict[str, str] = {
    "regions": "region_id",
    "account_managers": "manager_id",
    "customers": "customer_id",
    "tickets": "ticket_id",
    "surveys": "survey_id",
    "services": "service_id",
    "outages": "outage_id",
}
MAX_LENGTH = 64  # characters of a key
INT_MAX = 2**31 - 1  # the largest id INTEGER holds on every supported database
_PLAIN = re.compile(r"0|[1-9][0-9]*")


def plain_id(key: str) -> int | None:
    """The id of a key written as a plain whole number in INTEGER's range (full-width digits
    count), else None: ``"17"`` → 17; ``"017"``, ``"-3"``, ``"1e3"``, ``"GD-SZ"`` → None."""
    text = unicodedata.normalize("NFKC", key) if not key.isascii() else key
    if not _PLAIN.fullmatch(text):
        return None
    value = int(text)
    return value if value <= INT_MAX else None


def shown(id_: int, text: dict[int, str]) -> str:
    """How an id is shown: its source key (``text`` holds those of negative ids), else the number."""
    return text.get(id_, str(id_)) if id_ < 0 else str(id_)


__all__ = ["ENTITIES", "MAX_LENGTH", "INT_MAX", "plain_id", "shown"]
