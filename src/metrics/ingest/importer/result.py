"""What an import reports: :class:`ImportResult` (counts, reasons, new codes, created rows; its
:meth:`~ImportResult.summary` in the user's language), :class:`ImportFailed` (the import could not run)
and the reason texts of the catalogue (``import.reason.<code>``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from metrics.ingest.importer import spec
from metrics.model.i18n import t

PROBLEM_COLUMNS = ["row", "column", "value", "code", "detail"]  # one problem of one row
FIRST_PROBLEMS = 500  # kept in memory for the summary and the Data page; the rejects file has all


class ImportFailed(ValueError):
    """The import could not run at all (unreadable file, missing columns, unknown table)."""


@dataclass
class ImportResult:
    table: str
    file: str
    dry_run: bool
    import_id: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    inserted: int = 0
    updated: int = 0
    reasons: Counter = field(default_factory=Counter)  # code -> problems
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))
    rejects_path: Path | None = None
    unused_headers: list[str] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)  # columns not in the file, stored as unknown (NULL)
    defaulted: dict[str, int] = field(default_factory=dict)  # "column=value" -> cells from the mapping's defaults
    unlinked: dict[str, int] = field(default_factory=dict)  # optional reference -> rows loaded without the link
    unlinked_examples: dict[str, list[str]] = field(default_factory=dict)
    snapshot_date: dt.date | None = None
    introduced: dict[str, int] = field(default_factory=dict)  # "column=value" -> rows
    new_codes: dict[str, list[str]] = field(default_factory=dict)  # vocabulary -> codes new to the data
    mangled: list[str] = field(default_factory=list)  # key columns that look spreadsheet-reformatted
    created_tables: list[str] = field(default_factory=list)
    created_regions: list[str] = field(default_factory=list)  # regions made from the file's names (described)
    created_customers: int = 0  # customers made by ``create: customers`` (would be, on a dry run)
    anonymous_customers: bool = False  # one per row: the file has no customer ids
    seconds: float = 0.0
    refresh_seconds: float | None = None
    dashboard: bool = False  # run from the Data page: no CLI flags or server paths in the report

    @property
    def unchanged(self) -> int:
        return self.rows_loaded - self.inserted - self.updated

    def problems_text(self, lang: str = "en") -> pd.DataFrame:
        """The first problems with the reason as text: row, column, value, reason."""
        p = self.problems
        return pd.DataFrame({"row": p["row"].astype("int64"), "column": p["column"], "value": p["value"],
                             "reason": [reason_text(c, d, lang) for c, d in zip(p["code"], p["detail"], strict=True)]})

    def reason_counts(self, lang: str = "en") -> pd.DataFrame:
        rows = [{"reason": t(f"import.reason_name.{code}", lang), "code": code, "problems": n}
                for code, n in self.reasons.most_common()]
        return pd.DataFrame(rows, columns=["reason", "code", "problems"])

    def summary(self, lang: str = "en") -> list[str]:
        key = "import.summary_dry" if self.dry_run else "import.summary"
        lines = [t(key, lang, table=self.table, file=self.file, read=f"{self.rows_read:,}",
                   loaded=f"{self.rows_loaded:,}", inserted=f"{self.inserted:,}", updated=f"{self.updated:,}",
                   unchanged=f"{self.unchanged:,}", rejected=f"{self.rows_rejected:,}",
                   seconds=f"{self.seconds:.1f}")]
        if self.rows_read == 0:
            lines.append(t("import.empty", lang))
        for code, n in self.reasons.most_common():
            lines.append(t("import.by_reason", lang, n=f"{n:,}", reason=t(f"import.reason_name.{code}", lang)))
        if self.rejects_path is not None and self.rows_rejected and not self.dashboard:  # the page offers a download
            lines.append(t("import.rejects_file", lang, path=self.rejects_path))
        if self.unused_headers:
            key = "import.unused_headers_dashboard" if self.dashboard else "import.unused_headers"
            lines.append(t(key, lang, cols=", ".join(self.unused_headers)))
        if self.defaults:
            lines.append(t("import.defaults", lang, cols=", ".join(self.defaults)))
        if self.defaulted:
            vals = ", ".join(f"{k} ({v:,})" for k, v in self.defaulted.items())
            lines.append(t("import.defaults_used", lang, values=vals))
        if self.snapshot_date is not None:
            lines.append(t("import.snapshot", lang, date=self.snapshot_date.isoformat()))
        for col, n in self.unlinked.items():
            target = spec.REFS[self.table][col][0]
            examples = ", ".join(self.unlinked_examples.get(col, [])[:5])
            lines.append(t("import.unlinked", lang, n=f"{n:,}", column=col, table=target, examples=examples))
        if self.mangled:
            lines.append(t("import.mangled_hint", lang, cols=", ".join(self.mangled)))
        if self.introduced:
            vals = ", ".join(f"{k} ({v:,})" for k, v in list(self.introduced.items())[:20])
            lines.append(t("import.introduced", lang, values=vals))
        if self.created_regions:
            key = "import.regions_would_create" if self.dry_run else "import.regions_created"
            shown = "; ".join(self.created_regions[:20]) + (" …" if len(self.created_regions) > 20 else "")
            lines.append(t(key, lang, n=f"{len(self.created_regions):,}", regions=shown))
        if self.created_customers:
            key = "import.customers_would_create" if self.dry_run else "import.customers_created"
            lines.append(t(key, lang, n=f"{self.created_customers:,}"))
            if self.anonymous_customers:
                lines.append(t("import.customers_anonymous", lang))
        if self.created_tables:
            lines.append(t("import.created_schema", lang, tables=", ".join(self.created_tables)))
        if self.refresh_seconds is not None:
            lines.append(t("import.refreshed", lang, seconds=f"{self.refresh_seconds:.1f}"))
        return lines


def reason_text(code: str, detail: object, lang: str = "en") -> str:
    return t(f"import.reason.{code}", lang, detail=detail)
