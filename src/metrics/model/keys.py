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
    "visits": "visit_id",
    "retention_actions": "action_id",
    "outlets": "outlet_id",
    "queue_records": "queue_id",
    "audits": "audit_id",
}
# id columns of the tables and of the frames built on them -> the entity whose keys they hold
ID_COLUMNS: dict[str, str] = {
    **{col: entity for entity, col in ENTITIES.items()},
    "parent_id": "regions", "account_manager_id": "account_managers",
}
MAX_LENGTH = 64  # characters of a key
INT_MAX = 2**31 - 1  # the largest id INTEGER holds on every supported database
# a key that may be its own id: a whole number without a sign or leading zero, of at most 10 digits
# (INTEGER's range is checked after); the importer applies the same pattern to whole columns
PLAIN_PATTERN = r"0|[1-9][0-9]{0,9}"
_PLAIN = re.compile(PLAIN_PATTERN)


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


def as_given(id_: object, text: dict[int, str]) -> object:
    """An id as the source gave it where numbers stay numbers (the CLI's JSON): the source key of a
    negative id (``text`` holds them), else the id unchanged (missing stays missing)."""
    if isinstance(id_, bool) or id_ is None:
        return id_
    try:
        number = int(id_)  # type: ignore[call-overload]
    except (TypeError, ValueError):  # NaN, or text already
        return id_
    return text.get(number, id_) if number < 0 else id_


def user_key(value: object) -> int | str:
    """An id a person wrote (a users file, a command): a plain whole number in INTEGER's range is the
    id itself; any other key is kept as text (trimmed), to be looked up in ``source_keys``.
    ValueError for an empty, too long or unprintable key."""
    if isinstance(value, bool):
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, int) and 0 <= value <= INT_MAX:
        return value
    text = str(value).strip()
    if not text or len(text) > MAX_LENGTH or not text.isprintable():
        raise ValueError(f"not an id (at most {MAX_LENGTH} printable characters): {text[:MAX_LENGTH]!r}")
    plain = plain_id(text)
    return plain if plain is not None else text


__all__ = ["ENTITIES", "ID_COLUMNS", "MAX_LENGTH", "INT_MAX", "plain_id", "shown", "as_given", "user_key"]
