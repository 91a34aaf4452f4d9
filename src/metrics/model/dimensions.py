"""The dimensions, declared once: every way a figure can be cut or filtered, with the names each
layer gives it — the group-by name (``tier``), the :class:`~metrics.model.filters.Filters` field
holding the chosen values (``tiers``), the key in a link's query string, the command-line option,
the result column (``region_id`` for ``region``), whether it is an attribute of the customer (so
every source can be cut by it) and the column its values are read from. Filters, links, the CLI,
subtitles, the registry, the rollups and the warehouse read this list; nothing else spells it out.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from metrics.model import schema as s


@dataclass(frozen=True)
class Dimension:
    name: str
    field: str | None = None  # Filters field of the chosen values; None: not a filter (time)
    on_customer: bool = False  # a customer attribute: every source can be cut by it
    column: str = ""  # result column; the name when empty
    values_from: sa.Column | None = None  # where the distinct values are read (the data, not code)
    entity: str | None = None  # integer ids named by their source keys (metrics.model.keys): region, outlet

    @property
    def result_column(self) -> str:
        return self.column or self.name

    @property
    def url_key(self) -> str:
        """Key in a link's query string: the dimension's name."""
        return self.name

    @property
    def cli_flag(self) -> str:
        """Command-line option: ``--survey-kind`` for ``survey_kind``."""
        return "--" + self.name.replace("_", "-")


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("region", "regions", on_customer=True, column="region_id", entity="regions"),
    Dimension("tier", "tiers", on_customer=True, values_from=s.customers.c.tier),
    Dimension("segment", "segments", on_customer=True, values_from=s.customers.c.segment),
    Dimension("sla_level", "sla_levels", on_customer=True, values_from=s.customers.c.sla_level),
    Dimension("channel", "channels", values_from=s.tickets.c.channel),
    # the outlet (service hall, agent …) where a ticket was raised or a survey answered: only facts that
    # carry outlet_id are cut by it; customers have none, so figures about customers are not (as the
    # channel of a fact, which customer-level figures read as the acquisition channel)
    Dimension("outlet", "outlets", column="outlet_id", entity="outlets"),
    Dimension("category", "categories", values_from=s.tickets.c.category),
    Dimension("kind", "kinds", values_from=s.tickets.c.kind),
    Dimension("priority", "priorities", values_from=s.tickets.c.priority),
    Dimension("survey_kind", "survey_kinds", values_from=s.surveys.c.kind),
    Dimension("month"),
    Dimension("week"),
)
BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}
NAMES: tuple[str, ...] = tuple(d.name for d in DIMENSIONS)
CUSTOMER_DIMS: tuple[str, ...] = tuple(d.name for d in DIMENSIONS if d.on_customer)
FILTERS: tuple[Dimension, ...] = tuple(d for d in DIMENSIONS if d.field)  # the sliceable ones
VALUE_FILTERS: tuple[Dimension, ...] = tuple(d for d in FILTERS if d.values_from is not None)  # text values
LABELLED_FILTERS: tuple[Dimension, ...] = tuple(d for d in FILTERS if d.name != "region")  # shown by label()
KEYED_FILTERS: tuple[Dimension, ...] = tuple(d for d in FILTERS if d.entity)  # ids named by keys: region, outlet
TIME: tuple[str, ...] = tuple(d.name for d in DIMENSIONS if d.field is None)


def get(name: str) -> Dimension:
    """The dimension called ``name`` (KeyError with the known names otherwise)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown dimension {name!r}; known: {', '.join(NAMES)}") from None
