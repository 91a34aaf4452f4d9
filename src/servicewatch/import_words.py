"""The import panel's words in the page's language (issue 15 item 6): data-model columns by the
Chinese header names the importer recognises (headers.toml, as ``servicewatch template --lang zh``
names them), vocabulary codes by their display names. Only what the Data page shows changes: the
importer's result and the command line's messages stay as they are. English keeps the data-model
names and codes unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from metrics.ingest.importer import ImportResult
from metrics.ingest.importer.columns import ALIASES, extra_columns
from metrics.ingest.importer.result import reason_text
from metrics.ingest.importer.spec import REFS, VOCAB
from metrics.model.i18n import label, t

VALUE_REASONS = ("not_allowed", "unknown_value")  # reasons whose detail lists a vocabulary's codes


def _chinese(names: tuple[str, ...] | list[str]) -> str | None:
    return next((n for n in names if any(ord(ch) > 127 for ch in n)), None)


def column_name(table: str, column: str, lang: str) -> str:
    """``column`` of ``table`` as the page names it: in zh the first Chinese header the importer
    recognises for it (the data-model name where there is none); in en the data-model name."""
    if lang != "zh" or not column:
        return column
    names = ALIASES.get(table, {}).get(column) or extra_columns(table, True, True).get(column) or ()
    return _chinese(list(names)) or column


def value_names(table: str, column: str, codes: str, lang: str) -> str:
    """A comma-separated list of ``column``'s codes as display names (zh; en unchanged)."""
    vocab = VOCAB.get((table, column))
    if lang != "zh" or vocab is None:
        return codes
    return "、".join(label(vocab, c.strip(), lang) for c in str(codes).split(",") if c.strip())


def _pair(table: str, text: str, lang: str) -> str:
    """``column=value`` (the importer's key of defaults and new values) in the page's words."""
    col, sep, value = text.partition("=")
    if not sep:
        return column_name(table, text, lang)
    vocab = VOCAB.get((table, col))
    shown = label(vocab, value, lang) if vocab else value
    return f"{column_name(table, col, lang)}={shown}"


def page_summary(result: ImportResult, lang: str) -> list[str]:
    """``result.summary(lang)`` with data-model columns and codes in the page's words (zh)."""
    if lang != "zh":
        return result.summary(lang)
    tb = result.table
    shown = replace(
        result,
        defaults=[column_name(tb, c, lang) for c in result.defaults],
        defaulted={_pair(tb, k, lang): v for k, v in result.defaulted.items()},
        unlinked={column_name(tb, c, lang): n for c, n in result.unlinked.items()},
        unlinked_examples={column_name(tb, c, lang): v for c, v in result.unlinked_examples.items()},
        mangled=[column_name(tb, c, lang) for c in result.mangled],
        introduced={_pair(tb, k, lang): v for k, v in result.introduced.items()},
    )
    if result.unlinked:  # summary() looks the referenced table up by the data-model column
        return _unlinked_safe(result, shown, lang)
    return shown.summary(lang)


def _unlinked_safe(result: ImportResult, shown: ImportResult, lang: str) -> list[str]:
    """The summary of ``shown`` where the unlinked references keep their data-model keys for the
    lookup of the referenced table, then the lines naming them are rebuilt with Chinese names."""
    base = replace(shown, unlinked={}, unlinked_examples={})
    lines = base.summary(lang)
    extra = []
    for col, n in result.unlinked.items():
        target = label("db.table", REFS[result.table][col][0], lang)
        examples = ", ".join(result.unlinked_examples.get(col, [])[:5])
        extra.append(t("import.unlinked", lang, n=f"{n:,}", column=column_name(result.table, col, lang),
                       table=target, examples=examples))
    return lines + extra


def _detail(table: str, code: str, column: str, detail: object, lang: str) -> object:
    if code in VALUE_REASONS:
        return value_names(table, column, str(detail), lang)
    if code == "before":  # the detail names the earlier column
        return column_name(table, str(detail), lang)
    return detail


def page_problems(result: ImportResult, lang: str) -> pd.DataFrame:
    """``result.problems_text(lang)`` with the column by its page name and the allowed or known
    values of a vocabulary by their display names (zh; en unchanged)."""
    if lang != "zh":
        return result.problems_text(lang)
    p, tb = result.problems, result.table
    reasons = [reason_text(code, _detail(tb, code, col, detail, lang), lang)
               for code, col, detail in zip(p["code"], p["column"], p["detail"], strict=True)]
    return pd.DataFrame({"row": p["row"].astype("int64"), "column": [column_name(tb, c, lang) for c in p["column"]],
                         "value": p["value"], "reason": reasons})
