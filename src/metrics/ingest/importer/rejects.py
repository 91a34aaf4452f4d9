"""The rejects file of an import: the rejected rows as read, with their reasons, written whole or not
at all; where it goes is checked before anything is written (:mod:`metrics.present.files`). The
customers' own words (:data:`metrics.present.masking.FREE_TEXT`, a ticket's description) are masked
in it as everywhere else rows are shown (:func:`metrics.present.masking.mask`)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from metrics.ingest.importer.result import ImportFailed, reason_text
from metrics.model.i18n import t
from metrics.present import files as outputs
from metrics.present.cells import safe_cell
from metrics.present.masking import FREE_TEXT, mask


def rejects_path_for(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.name + ".rejects.csv")


def rejects_target(rejects: bool | Path, default: Path, dry_run: bool, lang: str, db_urls: list[str | None],
                    inputs: list[str | Path | None]) -> Path | None:
    """Where the rejects go, checked by :func:`metrics.present.files.check` before anything is written or
    deleted (never the database, an input, a link, a folder, someone else's file). The default file
    (``rejects=True``) is not written on a dry run; a path the caller names is (the Data page's own)."""
    if not rejects or (rejects is True and dry_run):
        return None
    path = default if rejects is True else Path(rejects)
    try:
        return outputs.check(path, outputs.REJECTS, option="--rejects", lang=lang, db_urls=db_urls, inputs=inputs)
    except outputs.OutputRefused as exc:
        raise ImportFailed(str(exc)) from None


def free_text_headers(table: str, header_to_column: dict[str, str]) -> frozenset[str]:
    """The file's headers that hold customers' own words (:data:`FREE_TEXT` of ``table``)."""
    return frozenset(h for h, c in header_to_column.items() if c in FREE_TEXT.get(table, ()))


class RejectsFile:
    """The rejects file (UTF-8 with BOM so Excel reads Chinese): one line per rejected row holding
    the row as read (the file's own columns, under its own headers) and then ``_row`` (the file row),
    ``_reasons`` (each problem as "column: reason", in the user's language) and ``_codes``, so the
    user can correct the rows and import the file as it is. Written to a temporary file in the
    target's folder as problems arrive and renamed into place by :meth:`finish` at the end of a
    successful run, so it is complete or absent, never partial. A run without rejects removes a
    stale rejects file of ours (header checked) at its end, not on a dry run. The cells under the
    ``masked`` headers (:func:`free_text_headers`) are written masked."""

    def __init__(self, path: Path | None, lang: str, dry_run: bool = False, headers: list[str] | None = None,
                 delimiter: str = ",", masked: frozenset[str] = frozenset()) -> None:
        self.path, self.lang, self.dry_run = path, lang, dry_run
        self.headers = [str(h) for h in (headers or [])]
        self.masked = [i for i, h in enumerate(self.headers) if h in masked]  # positions of free text
        self.delimiter = delimiter
        self.file: outputs.AtomicFile | None = None
        self.writer = None

    def add(self, problems: pd.DataFrame, raw: pa.Table | None = None, raw_rows: np.ndarray | None = None) -> None:
        """Write the rejected rows of ``problems``; ``raw`` holds the rows as read, ``raw_rows`` their
        file rows (a line that could not be split into fields is split here as well as it goes)."""
        if self.path is None or problems.empty:
            return
        if self.file is None:
            self.file = outputs.AtomicFile(self.path, "w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.file.fh)
            self.writer.writerow([safe_cell(h) for h in self.headers] + list(outputs.REJECTS_COLUMNS))
        width = len(self.headers)
        p = problems.assign(row=problems["row"].astype("int64")).sort_values("row", kind="stable")
        row_of = p["row"].to_numpy()
        starts = np.flatnonzero(np.r_[True, row_of[1:] != row_of[:-1]])
        ends = np.r_[starts[1:], len(row_of)]
        texts_of: dict[tuple, str] = {}  # (code, detail) -> reason text: looked up once each
        texts = []
        for c, code, d in zip(p["column"], p["code"], p["detail"], strict=True):
            reason = texts_of.get((code, d))
            if reason is None:
                reason = texts_of[(code, d)] = reason_text(code, d, self.lang)
            texts.append(f"{c}: {reason}" if c else reason)
        codes = p["code"].tolist()
        firsts = row_of[starts]
        cells: list[list[str]] = [[] for _ in firsts]
        if raw is not None and raw_rows is not None and len(raw_rows):
            at = pd.Index(np.asarray(raw_rows, dtype=np.int64)).get_indexer(firsts)
            found = np.flatnonzero(at >= 0)
            if len(found):
                taken = raw.take(pa.array(at[found], pa.int64()))
                columns = [[_cell(v) for v in col.to_pylist()] for col in taken.columns[:width]]
                for j, i in enumerate(found):
                    cells[i] = [col[j] for col in columns]
        out = []
        for i, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            row_cells = cells[i] if cells[i] else self._split(p.iloc[lo:hi])
            row_cells = (row_cells + [""] * width)[:width]
            for j in self.masked:  # the customers' own words: masked as on every page
                row_cells[j] = mask(row_cells[j]) if row_cells[j] else row_cells[j]
            reasons = "; ".join(texts[lo:hi])
            code = codes[lo] if hi - lo == 1 else ";".join(dict.fromkeys(codes[lo:hi]))
            out.append([safe_cell(v) for v in row_cells] + [int(firsts[i]), safe_cell(reasons), code])
        self.writer.writerows(out)

    def _split(self, group: pd.DataFrame) -> list[str]:
        """A line with the wrong number of fields (``bad_row``, its text as the value), split as it goes:
        fields beyond the header's last column are joined into the last one."""
        bad = group[group["code"] == "bad_row"]
        if bad.empty:
            return []
        fields = next(csv.reader([str(bad["value"].iloc[0])], delimiter=self.delimiter), [])
        width = len(self.headers)
        if width and len(fields) > width:
            fields = fields[:width - 1] + [self.delimiter.join(fields[width - 1:])]
        return fields

    def finish(self) -> None:
        """The run succeeded: the complete file into place, or (no rejects, not a dry run) a stale one removed."""
        if self.path is None:
            return
        try:
            if self.file is not None:
                self.file, file = None, self.file
                file.commit()
            elif not self.dry_run:
                outputs.remove_ours(self.path, outputs.REJECTS)
        except OSError as exc:
            raise ImportFailed(t("output.rejects_not_written", self.lang, path=self.path,
                                 detail=exc.strerror or type(exc).__name__)) from None

    def close(self) -> None:
        """After a failure: the temporary file removed; an existing rejects file stays as it was."""
        if self.file is not None:
            self.file, file = None, self.file
            file.discard()


def _cell(v: object) -> str:
    """A value as read, as text for the rejects file (Parquet values keep their own spelling)."""
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)
