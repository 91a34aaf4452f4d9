"""The meeting pack's voice of the customer (metrics.report.voc_section, issue 20) on the demo, in Chinese
and English: the rising topics are the engine's flagged rows in words (overall and by city), the top three
complaint types are counted again here with pandas from the raw tickets and their Wilson intervals
recomputed by hand; the PPTX and PDF written from the section hold no unmasked personal
data (their text extracted); a viewer's pack has no quote and says why; registered as a section."""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import changed_copy
from PIL import Image
from section_run import run_section

from metrics import report
from metrics.access.users import Scope
from metrics.analysis import topics as tp
from metrics.demo import complaint_text as ct
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse
from metrics.report.build import SECTIONS
from metrics.report.model import Pack
from metrics.report.voc_section import voc_section

PLANTED = "我叫王小明，电话13812345678，身份证号110101199003071234，邮箱 wang.xm@example.com。My name is John Smith."
UNMASKED = re.compile(r"\d{7,}|@[A-Za-z]|我叫[\u4e00-\u9fff]|身份证号?\d|My name is [A-Z]")


@pytest.fixture(scope="module")
def wh(duckdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A copy of the demo whose every complaint text carries a name, a phone, an ID card and an e-mail
    address (the pack must show none of them)."""
    def plant(conn: sa.Connection) -> None:
        conn.execute(sa.text("UPDATE tickets SET description = description || :p WHERE description IS NOT NULL"),
                     {"p": PLANTED})

    return Warehouse.open(changed_copy(duckdb_url, tmp_path_factory.mktemp("voc_pack") / "voc.duckdb", plant))


def _png(fig) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1600, 1240), "white").save(buf, "PNG")
    return buf.getvalue()


def _filters(wh: Warehouse, scope: Scope | None = None) -> Filters:
    start, end = ct.rise_quarter(wh.as_of())
    return Filters(start, end, scope=scope)


def _section(wh: Warehouse, f: Filters, lang: str) -> list:
    return run_section(voc_section, wh, f, lang, render=_png)[0]


def _pack_texts(pages: list, lang: str, tmp_path: Path) -> dict[str, str]:
    """The text of the PPTX (python-pptx, tables included) and of the PDF (pdftotext) of the pages."""
    from pptx import Presentation

    pack = Pack(lang, t("report.title", lang), "footer", pages, "voc")
    out = {}
    pptx = tmp_path / f"voc_{lang}.pptx"
    pptx.write_bytes(report.write(pack, "pptx"))
    parts = []
    for slide in Presentation(str(pptx)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts += [cell.text for row in shape.table.rows for cell in row.cells]
    out["pptx"] = "\n".join(parts)
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        pdf = tmp_path / f"voc_{lang}.pdf"
        pdf.write_bytes(report.write(pack, "pdf"))
        out["pdf"] = subprocess.run([pdftotext, str(pdf), "-"], check=True, capture_output=True).stdout.decode()
    return out


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The 95% Wilson score interval of k in n, by hand."""
    p = k / n
    mid, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (mid - half) / (1 + z * z / n), (mid + half) / (1 + z * z / n)


def _raw(wh: Warehouse, f: Filters) -> pd.DataFrame:
    df = wh.read(sa.select(sa.text("t.ticket_id, t.opened_at, t.kind, t.description, tt.topic"))
                 .select_from(sa.text("tickets t JOIN ticket_topics tt ON tt.ticket_id = t.ticket_id")))
    df["opened_at"] = pd.to_datetime(df["opened_at"])
    day = df["opened_at"].dt.date
    return df[(df["kind"] == "complaint") & (day >= f.start) & (day <= f.end)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sentences_are_the_engines_and_the_pack_is_masked(wh: Warehouse, lang: str, tmp_path: Path) -> None:
    f = _filters(wh)
    pages = _section(wh, f, lang)
    page = pages[0]
    assert page.title == t("topics.title", lang) and len(page.charts) == 1
    names = tp.topic_names(wh, lang)
    # rising: each flagged row of the engine (overall, then by city) in words, or the line saying none is
    cf = f.with_(kinds=("complaint",))
    pct = lambda v: fmt_value(float(v), "share", lang)  # noqa: E731
    city_names = wh.regions().set_index("region_id")["name_zh" if lang == "zh" else "name_en"]
    expected = []
    for by in (None, "region"):
        r = tp.rising_topics(wh, cf, by)
        for row in r[r["rising"]].itertuples():
            group = f"{city_names[int(row.region_id)]} · " if by else ""
            expected.append(t("topics.rising_line", lang, group=group, topic=names[row.topic], share=pct(row.share),
                              share_prev=pct(row.share_prev), n=int(row.n), p=f"{row.p_holm:.2g}"))
    shown = [x for x in page.sentences if x not in expected]
    assert all(x in page.sentences for x in expected)
    if not expected:
        assert t("topics.rising_none", lang, min=tp.MIN_TEXTS) in page.sentences
    assert len(page.sentences) - len(shown) == len(expected)
    assert t("topics.rising_note", lang, min=tp.MIN_TEXTS) in page.sentences
    # the top three, counted here from the raw rows, intervals recomputed (Wilson, 95%)
    sel = _raw(wh, f)
    counts = sel["topic"].value_counts()
    total = int(counts.sum())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    for rank, (topic, n) in enumerate(top, start=1):
        lo, hi = _wilson(n, total)
        assert t("topics.top_line", lang, rank=rank, topic=names[topic], n=n, share=pct(n / total), lower=pct(lo),
                 upper=pct(hi)) in page.sentences, (rank, topic)
    # quotes: a table of masked texts of one topic
    quotes = [p for p in pages if p.table is not None and t("page.tables.quote", lang) in p.table.columns]
    assert quotes and len(quotes[0].table.rows) > 0
    # the written files: no unmasked personal data, and the raw texts' personal data is really there to hide
    topic = _topic_of(pages[1], names)
    quoted = tp.quotes(wh, cf, topic, 3)
    raw = sel[sel["ticket_id"].isin(_ids_of(wh, cf, topic))]["description"].astype(str)
    assert len(quoted) == len(quotes[0].table.rows)
    texts = _pack_texts(pages, lang, tmp_path)
    for fmt, text in texts.items():
        assert t("topics.title", lang) in text.replace("\n", ""), fmt
        hit = UNMASKED.search(text)
        assert hit is None, (fmt, hit)
    assert len(raw) == len(quoted) and all(PLANTED in x for x in raw)  # the quoted texts carry personal data …
    for secret in ("13812345678", "110101199003071234", "wang.xm@example.com", "王小明", "John Smith"):
        assert all(secret not in x for x in texts.values()), secret  # … which the pack does not show
    assert all("***" in x for x in texts.values())  # masked where it was, not cut off
    assert "voc" in dict(SECTIONS)


def _topic_of(page, names: dict[str, str]) -> str:
    shown = page.subtitle.rsplit(" · ", 1)[1]
    return next(code for code, name in names.items() if name == shown)


def _ids_of(wh: Warehouse, f: Filters, topic: str) -> list[int]:
    """The ticket ids behind the quotes (the n newest texts of the topic), read without masking."""
    df = _raw(wh, f)
    df = df[df["topic"] == topic].sort_values(["opened_at", "ticket_id"], ascending=[False, True])
    return df["ticket_id"].head(3).tolist()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_viewers_pack_has_no_quote(wh: Warehouse, lang: str, tmp_path: Path) -> None:
    f = _filters(wh, Scope("voc_viewer", aggregates_only=True))
    pages = _section(wh, f, lang)
    assert pages and pages[0].title == t("topics.title", lang)
    assert not [p for p in pages if p.table is not None]
    assert any(t("topics.reason.viewer", lang) in p.sentences for p in pages)
    texts = _pack_texts(pages, lang, tmp_path)
    operator = _section(wh, _filters(wh), lang)
    quoted = [row[2] for p in operator if p.table is not None for row in p.table.rows]
    assert quoted
    for text in texts.values():
        assert not any(q.rstrip("…")[:30] in text.replace("\n", "") for q in quoted)
        assert t("topics.reason.viewer", lang) in text.replace("\n", "")


def test_a_viewers_pack_withholds_small_types(wh: Warehouse) -> None:
    """A viewer whose minimum group is above every topic's customers: the top three are withheld (one line
    saying how many and below what minimum), no count of texts is printed, no rising line."""
    least = 10**6
    f = _filters(wh, Scope("voc_viewer", aggregates_only=True, min_group_size=least))
    top = tp.top_types(wh, f.with_(kinds=("complaint",)), 3)
    assert top["suppressed"].all() and top["n"].isna().all()
    pages = _section(wh, f, "en")
    sentences = pages[0].sentences
    assert t("topics.withheld", "en", n=3, min=least) in sentences
    operator = tp.top_types(wh, _filters(wh).with_(kinds=("complaint",)), 3)
    assert not any(f"{int(n)} texts" in s for s in sentences for n in operator["n"])
    assert t("topics.rising_none", "en", min=tp.MIN_TEXTS) in sentences  # no rise said on withheld groups
