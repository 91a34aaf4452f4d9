"""The Regions page's league table as a download (issue 15 item 4): the table as shown, as CSV and as
an Excel workbook with the header block (:func:`servicewatch.downloads.list_download`), its changes in
words ("上升 2.2 个百分点": no English "pp", and no leading sign a spreadsheet takes for a formula)."""

from __future__ import annotations

import re

import pandas as pd

from metrics.model.filters import Filters
from servicewatch.downloads import list_download
from servicewatch.ui import View


def change_words(text: str, view: View) -> str:
    """A change as shown ("+2.2 pp", "-3.1", "—") in words of the page's language."""
    pp, num = text.endswith(" pp"), text.removesuffix(" pp")
    if num[:1] not in ("+", "-"):
        return text  # "—": no comparison
    if float(num.replace(",", "")) == 0:
        return view.t("table_exports.regions.same")
    return view.t(f"table_exports.regions.{'up' if num[0] == '+' else 'down'}", value=num[1:],
                  unit=view.t("table_exports.regions.pp_unit") if pp else "")


def league_download(view: View, table: pd.DataFrame, metric_id: str, f: Filters) -> None:
    """The download buttons of the league ``table`` as shown (its headers in the page's language) of
    ``metric_id`` under ``f``, named after the metric."""
    delta = view.t("common.delta")
    exported = table.assign(**{delta: [change_words(str(v), view) for v in table[delta]]})
    label = view.metric_label(metric_id)
    file_metric = re.sub(r'[\\/:*?"<>|\s]+', "_", label)  # a safe file name
    list_download(view, exported, view.t("table_exports.regions.file", metric=file_metric), "regions_league_csv",
                  "regions_league.csv", metrics=(metric_id,), f=f, title=view.t("table_exports.regions.title",
                                                                                  metric=label))
