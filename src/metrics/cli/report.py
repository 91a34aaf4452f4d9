"""``servicewatch report``: the review-meeting pack (PPTX or PDF) for filters, from a scheduler.

Same filter options and error conventions as :mod:`metrics.cli.main` (one line on stderr, non-zero exit,
never a traceback). ``--per-region`` writes one file per city: ``--out`` is then a folder (files
named after the city in the pack's language) or a name pattern with ``{region}``, ``{region_en}``
or ``{region_id}`` (the city's key as the source wrote it: ``GD-SZ``, ``0755``, ``440300``).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import pandas as pd

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.audit import filters_detail
from metrics.access.users import Scope
from metrics.backends.connect import resolve_url
from metrics.cli.common import UserError, audit_export, open_filtered
from metrics.cli.options import add_db_argument, add_filter_arguments, add_lang_argument
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.model.keys import shown
from metrics.present import files as outputs
from metrics.query.warehouse import Warehouse


def cities_for(regions: pd.DataFrame, selected: tuple[int, ...], scope: Scope | None = None) -> list[int]:
    """The cities of ``--per-region``: all cities (those in ``scope`` for ``--as-user``), or those
    selected / inside a selected province. A selected region outside the scope raises ScopeError."""
    cities = regions[regions["level"] == "city"]
    allowed = access.allowed_regions(scope, regions)
    if allowed is not None:
        access_scope.check_regions(scope, selected, regions)
        cities = cities[cities["region_id"].astype(int).isin(allowed)]
        if cities.empty:
            raise UserError("--per-region writes one file per city, and no whole city is in the scope of "
                            f"{scope.user}; leave out --per-region")
    if not selected:
        return cities["region_id"].astype(int).tolist()
    out = []
    for r in selected:
        level = regions.loc[regions["region_id"] == r, "level"].iloc[0]
        if level == "district":
            raise UserError("--per-region writes one file per city; select cities or the province, not districts")
        out += [r] if level == "city" else cities.loc[cities["parent_id"] == r, "region_id"].astype(int).tolist()
    return list(dict.fromkeys(out))


def _safe(name: str) -> str:
    return re.sub(r'[\s/\\:*?"<>|]+', "_", str(name)).strip("_") or "region"


def region_path(out: str, row: pd.Series, lang: str, fmt: str) -> Path:
    names = {"region": _safe(row["name_zh"] if lang == "zh" else row["name_en"]),
             "region_en": _safe(row["name_en"]),
             "region_id": (_safe(row["region_key"]).lstrip(".") or "region") if "region_key" in row.index
             else str(int(row["region_id"]))}
    if "{" in out:
        try:
            return Path(out.format(**names))
        except (KeyError, IndexError, ValueError):
            raise UserError("--out pattern may use {region}, {region_en} and {region_id} only") from None
    return Path(out) / f"{names['region']}.{fmt}"


def write_one(wh: Warehouse, f: Filters, lang: str, fmt: str, path: Path,
              args: argparse.Namespace | None = None) -> None:
    from metrics import report

    started = time.monotonic()
    try:
        pack = report.build_pack(wh, f, lang)
        data = report.write(pack, fmt)
    except RuntimeError as exc:  # Chromium or kaleido missing or failing
        raise UserError(str(exc)) from None
    if args is not None:  # recorded before the file exists (acting for a user: no record, no file)
        audit_export(args, "report", {"file": str(path), "format": fmt, "lang": lang, "pages": len(pack.pages),
                                      "bytes": len(data), "filters": filters_detail(f)})
    try:  # checked by out_paths before any work; a temporary file renamed into place
        outputs.write_bytes(path, data)
    except OSError as exc:
        raise UserError(t("output.cannot_write", lang, option="--out", path=path,
                          detail=exc.strerror or type(exc).__name__)) from None
    print(f"{path}: {len(pack.pages)} pages, {len(data) / 1e6:.1f} MB, {time.monotonic() - started:.1f} s")


def out_paths(out: str, fmt: str, lang: str, db_url: str, cities: pd.DataFrame | None = None) -> list[Path]:
    """The files ``--out`` names, each checked (:func:`metrics.present.files.check`) before any work: one
    file, or with ``cities`` one per city in the folder (created if only it is missing) or pattern.
    Raises UserError (one line, ``lang``) for the first refused path; creates the one missing folder
    only when every path passed."""
    kind = outputs.REPORT_KINDS[fmt]
    try:
        if cities is None:
            return [outputs.check(out, kind, option="--out", lang=lang, db_urls=[db_url])]
        if "{" not in out:
            outputs.check_folder(out, option="--out", lang=lang)
        paths = [region_path(out, row, lang, fmt) for _, row in cities.iterrows()]
        seen: set[str] = set()
        for p in paths:
            outputs.check(p, kind, option="--out", lang=lang, db_urls=[db_url], folder_may_be_created=True)
            if os.path.abspath(p) in seen:
                raise outputs.refusal("--out", out, "same_file", lang)
            seen.add(os.path.abspath(p))
    except outputs.OutputRefused as exc:
        raise UserError(str(exc)) from None
    for folder in dict.fromkeys(p.parent for p in paths):
        outputs.make_folder(folder)
    return paths


def cmd_report(args: argparse.Namespace) -> None:
    wh, f = open_filtered(args)
    fmt = args.format or (Path(args.out).suffix.lstrip(".").lower() if not args.per_region else "")
    if fmt not in ("pptx", "pdf"):
        raise UserError("give --format pptx or pdf (or an --out file ending in .pptx or .pdf)")
    db_url = resolve_url(args.db)
    if not args.per_region:
        write_one(wh, f, args.lang, fmt, out_paths(args.out, fmt, args.lang, db_url)[0], args)
        return
    regions = wh.regions()
    cities = regions.set_index("region_id", drop=False).loc[cities_for(regions, f.regions, f.scope)]
    keys = wh.key_texts("regions", [int(c) for c in cities["region_id"]])
    cities = cities.assign(region_key=[shown(int(c), keys) for c in cities["region_id"]])  # as the source wrote it
    for (city, _row), path in zip(cities.iterrows(), out_paths(args.out, fmt, args.lang, db_url, cities), strict=True):
        write_one(wh, f.with_(regions=(int(city),)), args.lang, fmt, path, args)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``report`` on the main parser's subcommands."""
    r = sub.add_parser("report", help="the review-meeting pack (PPTX deck or PDF bulletin) for filters",
                       description="Title, KPIs against comparison and targets, satisfaction, complaints, SLA, "
                                   "churn and at-risk customers with charts and generated sentences. "
                                   "See docs/report.md.")
    add_db_argument(r)
    add_filter_arguments(r)
    add_lang_argument(r, "language of the pack (default zh)", default="zh")
    r.add_argument("--format", choices=["pptx", "pdf"], help="file format (default: from --out's suffix)")
    r.add_argument("--out", required=True, metavar="FILE",
                   help="output file; with --per-region a folder or a pattern with {region}")
    r.add_argument("--per-region", action="store_true", help="one file per city (within --region if given)")
    r.set_defaults(func=cmd_report)
