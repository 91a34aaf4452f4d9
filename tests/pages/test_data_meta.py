"""The Data page's load information in words: every entry a loaded database records is named by the
catalogue in both languages (none falls back to its recorded key), flags read yes/no, the summary
tables built by their names."""

from __future__ import annotations

import re

import pytest

from metrics.analysis import data_quality as quality
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from servicewatch.data_panels import meta_table


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_recorded_entry_is_named(demo_db: str, lang: str) -> None:
    meta = quality.meta_info(Warehouse.open(demo_db))
    shown = meta_table(meta, lang)
    names = shown[t("page.data.meta.name", lang)].tolist()
    assert len(names) == len(meta) and not set(names) & set(meta), names  # no entry shown by its key
    values = dict(zip(meta, shown[t("page.data.meta.value", lang)], strict=True))
    assert values["ticket_topics_built"] == t("page.data.meta.yes", lang)
    if lang == "zh":
        assert not re.search(r"[A-Za-z]{3,}", values["rollup_sources"] + values["as_of_source"])


def test_an_entry_the_catalogue_does_not_know_keeps_its_key() -> None:
    shown = meta_table({"operator_note": "x", "new_built": "0"}, "en")
    assert shown.iloc[:, 0].tolist() == ["operator_note", "new_built"]
    assert shown.iloc[:, 1].tolist() == ["x", "no"]
