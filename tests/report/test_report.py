"""The review-meeting pack (issue 6): PPTX and PDF in Chinese and English on the demo data.

Packs are built once per language (charts really rendered by kaleido) and written in both formats;
the PPTX is opened with python-pptx, the PDF rasterised with pdftoppm and read with pdftotext.
Generated sentences are checked against numbers recomputed here from ``Warehouse.metric`` and the
statistics functions, not from the pack's own code paths.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFont

from metrics import report
from metrics.analysis import stats
from metrics.analysis.subtitles import period_text
from metrics.cli import main as cli
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import label, t
from metrics.query.warehouse import Warehouse
from metrics.report import context as report_context
from metrics.report.model import TABLE_ROWS, Table, table_pages

CJK_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
LATIN_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
LANGS = ("zh", "en")
pytestmark = pytest.mark.filterwarnings("ignore:The kopts argument is ignored")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (poppler-utils; make system)")
    return path


@pytest.fixture(scope="module")
def filters(wh: Warehouse) -> Filters:
    start, end = preset_period("last_quarter", wh.as_of())
    return Filters(start=start, end=end)


@pytest.fixture(scope="module")
def packs(wh: Warehouse, filters: Filters) -> dict[str, report.Pack]:
    steps: list[float] = []
    out = {lang: report.build_pack(wh, filters, lang, progress=lambda x, _m: steps.append(x)) for lang in LANGS}
    assert steps == sorted(steps) or len(steps) > 0  # progress reported
    return out


@pytest.fixture(scope="module")
def files(packs: dict[str, report.Pack], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("packs")
    out = {}
    for lang, pack in packs.items():
        for fmt in report.FORMATS:
            path = folder / f"pack_{lang}.{fmt}"
            path.write_bytes(report.write(pack, fmt))
            out[(lang, fmt)] = path
    return out


def _sentences(pack: report.Pack, title_key: str) -> list[str]:
    return next(p.sentences for p in pack.pages if p.title == t(title_key, pack.lang))


# -- the model --------------------------------------------------------------------------------
def test_pack_has_every_section(packs: dict[str, report.Pack]) -> None:
    for lang, pack in packs.items():
        titles = [p.title for p in pack.pages]
        assert titles[0] == t("report.title", lang)
        for key in ("report.kpi.title", "nav.satisfaction", "nav.complaints", "nav.sla", "nav.churn",
                    "report.risk.title"):
            assert t(key, lang) in titles, key
        for key in ("nav.satisfaction", "nav.complaints", "nav.sla", "nav.churn"):
            page = next(p for p in pack.pages if p.title == t(key, lang))
            assert 2 <= len(page.sentences) <= 3 and len(page.charts) == 2, key


def test_tables_are_split_not_cut() -> None:
    rows = tuple((str(i), f"{i}.0") for i in range(30))
    pages = table_pages("T", Table(("a", "b"), rows), rows_per_page=12)
    assert [len(p.table.rows) for p in pages] == [12, 12, 6]
    assert [p.title for p in pages] == ["T (1/3)", "T (2/3)", "T (3/3)"]
    assert sum((p.table.rows for p in pages), ()) == rows
    assert all(p.table.columns == ("a", "b") for p in pages)


def test_no_churn_model_yet(packs: dict[str, report.Pack]) -> None:
    en = _sentences(packs["en"], "report.risk.title")
    assert any("No churn model fitted yet" in s for s in en)
    assert any("尚未拟合流失模型" in s for s in _sentences(packs["zh"], "report.risk.title"))


def test_at_risk_lists_scored_customers(duckdb_url: str, filters: Filters, tmp_path: Path) -> None:
    src = Path(sa.engine.make_url(duckdb_url).database)
    copy = tmp_path / "scored.duckdb"
    shutil.copyfile(src, copy)
    url = f"duckdb:///{copy}"
    assert cli.main(["churn", "fit", "--db", url]) == 0
    from metrics.report.at_risk import LIST_ROWS, at_risk
    from metrics.report.context import Ctx

    scored = Warehouse.open(url, read_only=False)  # the fit above keeps its read-write instance open
    pages = at_risk(Ctx.open(scored, filters, "en", render=lambda fig: b""))
    rows = sum((p.table.rows for p in pages), ())
    n_scores = scored.read(sa.select(sa.func.count()).select_from(sa.table("churn_scores"))).iloc[0, 0]
    assert len(rows) == min(LIST_ROWS, n_scores) and all(len(p.table.rows) <= TABLE_ROWS for p in pages)
    revenue = [float(r[5].lstrip("¥").replace(",", "")) for r in rows]
    assert revenue == sorted(revenue, reverse=True)
    assert "most revenue at risk" in pages[0].sentences[0]


# -- sentences against the engine's numbers ------------------------------------------------------
def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def test_satisfaction_sentences_match_engine(wh: Warehouse, filters: Filters, packs: dict[str, report.Pack]) -> None:
    csat = wh.metric("csat", filters)["value"].iloc[0]
    before = wh.metric("csat", filters.comparison_filters())["value"].iloc[0]
    by_channel = wh.metric("csat", filters, ("channel",))
    low = by_channel.loc[by_channel["value"].idxmin()]
    for lang, pack in packs.items():
        first, second = _sentences(pack, "nav.satisfaction")[:2]
        assert _pct(csat) in first and _pct(before) in first
        assert label("channel", low["channel"], lang) in second and _pct(low["value"]) in second


def test_complaint_sentences_match_engine(wh: Warehouse, filters: Filters, packs: dict[str, report.Pack]) -> None:
    f = filters.with_(kinds=("complaint",))
    now = wh.metric("complaint_rate", f, ("region",), "city")
    before = wh.metric("complaint_rate", f.comparison_filters(), ("region",), "city")
    both = now.merge(before[["region_id", "value"]], on="region_id", suffixes=("", "_cmp"))
    both["delta"] = both["value"] - both["value_cmp"]
    top = both.loc[both["delta"].idxmax()]
    assert top["delta"] > 0, "the demo data has a city whose complaint rate rose"
    # each city against the rest of the province: Poisson test on events/exposure, Holm-corrected
    total = wh.metric("complaint_rate", f)
    e2 = total["events"].iloc[0] - now["events"]
    t2 = total["exposure"].iloc[0] - now["exposure"]
    p = stats.holm(stats.two_rate_p(now["events"].to_numpy(), now["exposure"].to_numpy(), e2.to_numpy(),
                                    t2.to_numpy()))
    i = int(np.flatnonzero(now["region_id"].to_numpy() == top["region_id"])[0])
    rest = 1000 * e2.iloc[i] / t2.iloc[i]
    significant_above = p[i] < 0.05 and top["value"] > rest
    names = wh.regions().set_index("region_id")
    cats = wh.metric("tickets", f, ("category",)).sort_values("value", ascending=False)
    for lang, pack in packs.items():
        sentences = _sentences(pack, "nav.complaints")
        mover = sentences[1]
        assert names.loc[int(top["region_id"]), "name_zh" if lang == "zh" else "name_en"] in mover
        assert f"{top['value_cmp']:,.1f}" in mover and f"{top['value']:,.1f}" in mover
        assert f"{top['delta'] / top['value_cmp']:+.0%}" in mover
        rest_words = t("report.rest.province", lang)
        expected = t("report.sig.above", lang, rest=rest_words) if significant_above else None
        if expected:
            assert expected in mover
        else:
            assert t("report.sig.above", lang, rest=rest_words) not in mover
        assert label("category", cats["category"].iloc[0], lang) in sentences[2]
        assert f"{cats['value'].iloc[0]:,.0f}" in sentences[2]


def test_sla_and_churn_sentences_match_engine(wh: Warehouse, filters: Filters,
                                              packs: dict[str, report.Pack]) -> None:
    comp = wh.metric("sla_resolution_compliance", filters)["value"].iloc[0]
    by_tier = wh.metric("sla_resolution_compliance", filters, ("tier",)).set_index("tier")["value"]
    churn = wh.metric("churn_rate", filters)
    for pack in packs.values():
        sla_text = _sentences(pack, "nav.sla")
        assert _pct(comp) in sla_text[0]
        assert f"{by_tier['diamond']:.0%}" in sla_text[1] and f"{by_tier['standard']:.0%}" in sla_text[1]
        churn_text = _sentences(pack, "nav.churn")[0]
        assert f"{100 * churn['value'].iloc[0]:.2f}%" in churn_text
        assert f"{churn['n'].iloc[0]:,.0f}" in churn_text


# -- PPTX ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_pptx_slides(files: dict, packs: dict[str, report.Pack], lang: str) -> None:
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    pack = packs[lang]
    prs = Presentation(str(files[(lang, "pptx")]))
    assert len(prs.slides) == len(pack.pages)
    width, height = prs.slide_width, prs.slide_height
    pictures = tables = 0
    for k, (slide, page) in enumerate(zip(prs.slides, pack.pages, strict=True)):
        texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
        assert page.title in texts, f"slide {k + 1}: title"
        assert any(pack.footer_for(k) == x for x in texts), f"slide {k + 1}: footer with the filters"
        for shape in slide.shapes:
            assert shape.left >= 0 and shape.top >= 0, f"slide {k + 1}: {shape.name}"
            assert shape.left + shape.width <= width and shape.top + shape.height <= height, \
                f"slide {k + 1}: {shape.name} leaves the slide"
            if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
                pictures += 1
                img = Image.open(io.BytesIO(shape.image.blob))
                img.verify()
                assert img.format == "PNG" and img.size[0] >= 1200
            if shape.has_table:
                tables += 1
                assert len(shape.table.rows) - 1 <= TABLE_ROWS
        # CJK font named on the runs, for East Asian text too
        if lang == "zh":
            xml = slide.shapes._spTree.xml  # noqa: SLF001
            assert 'ea typeface="Microsoft YaHei"' in xml
    assert pictures == sum(len(p.charts) for p in pack.pages) >= 8
    assert tables == sum(p.table is not None for p in pack.pages) >= 3


# -- PDF ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_pdf_pages_have_ink_and_text(files: dict, packs: dict[str, report.Pack], filters: Filters, lang: str,
                                     tmp_path: Path) -> None:
    pdftoppm, pdftotext = _tool("pdftoppm"), _tool("pdftotext")
    pack, pdf = packs[lang], files[(lang, "pdf")]
    subprocess.run([pdftoppm, "-r", "30", "-gray", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == len(pack.pages)
    for png in pngs:
        ink = (np.asarray(Image.open(png).convert("L")) < 200).mean()
        assert ink > 0.003, f"{png.name} is blank"
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], check=True, capture_output=True).stdout.decode()
    pages = text.split("\f")
    assert t("report.title", lang) in pages[0]
    for k in range(len(pack.pages)):
        assert f"{k + 1} / {len(pack.pages)}" in pages[k] and period_text(filters) in pages[k]  # the footer
    if lang == "zh":
        assert "满意度" in text and "投诉" in text and "流失" in text


def _glyph_mask(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Binary ink of ``img`` cropped to its ink and scaled to ``size``."""
    a = np.asarray(img.convert("L")) < 128
    ys, xs = np.nonzero(a)
    crop = img.convert("L").crop((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    return np.asarray(crop.resize(size)) < 128


def _rendered(text: str, font: Path, index: int = 0) -> Image.Image:
    f = ImageFont.truetype(str(font), 96, index=index)
    img = Image.new("L", (110 * len(text) + 40, 160), 255)
    ImageDraw.Draw(img).text((20, 20), text, font=f, fill=0)
    return img


def test_pdf_chinese_is_glyphs_not_tofu(files: dict, tmp_path: Path) -> None:
    """The Chinese title on the PDF's first page looks like the title set in Noto Sans CJK, not like
    the same string in a font without Chinese (which draws empty boxes)."""
    pdftoppm = _tool("pdftoppm")
    if not (CJK_BOLD.is_file() and LATIN_BOLD.is_file()):
        pytest.skip("fonts-noto-cjk / fonts-dejavu missing (make system)")
    subprocess.run([pdftoppm, "-r", "150", "-f", "1", "-l", "1", "-png", str(files[("zh", "pdf")]),
                    str(tmp_path / "title")], check=True)
    page = Image.open(next(tmp_path.glob("title*.png"))).convert("RGB")
    rgb = np.asarray(page).astype(int)
    blue = (rgb[..., 2] - rgb[..., 0] > 60)  # the title is the only text in the primary blue
    ys, xs = np.nonzero(blue)
    assert len(ys) > 500, "no title ink on the first page"
    title_crop = Image.fromarray(np.where(blue, 0, 255).astype(np.uint8)).crop(
        (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    text = t("report.title", "zh")
    size = (40 * len(text), 40)
    pdf = _glyph_mask(title_crop, size)
    real = _glyph_mask(_rendered(text, CJK_BOLD, index=2), size)
    tofu = _glyph_mask(_rendered(text, LATIN_BOLD), size)
    assert (pdf != real).mean() < (pdf != tofu).mean()
    assert (pdf != real).mean() < 0.15


# -- CLI and app ----------------------------------------------------------------------------------
def _fake_png(fig) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1600, 1240), "white").save(buf, "PNG")
    return buf.getvalue()


def test_cli_per_region_writes_one_file_per_city(duckdb_url: str, wh: Warehouse, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(report_context, "render_png", _fake_png)  # real charts are tested above
    out = tmp_path / "bulletins"
    code = cli.main(["report", "--db", duckdb_url, "--period", "last_month", "--lang", "en", "--format", "pptx",
                     "--out", str(out), "--per-region"])
    assert code == 0
    cities = wh.regions().query("level == 'city'")["name_en"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{c}.pptx" for c in cities)
    assert len(capsys.readouterr().out.strip().splitlines()) == len(cities)


def test_cli_single_file_and_errors(duckdb_url: str, wh: Warehouse, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(report_context, "render_png", _fake_png)
    out = tmp_path / "南岭.pptx"
    assert cli.main(["report", "--db", duckdb_url, "--region", "南岭市", "--tier", "gold", "--out", str(out)]) == 0
    from pptx import Presentation

    assert "南岭市" in Presentation(str(out)).slides[0].shapes[1].text_frame.text
    capsys.readouterr()
    district = str(int(wh.regions().query("level == 'district'")["region_id"].iloc[0]))
    for argv in (["--out", str(tmp_path / "x.txt")], ["--region", "nowhere", "--out", str(out)],
                 ["--out", str(tmp_path / "d"), "--per-region", "--format", "pdf", "--region", district]):
        assert cli.main(["report", "--db", duckdb_url, *argv]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("servicewatch: error:") and len(err.splitlines()) == 1 and "Traceback" not in err


def test_app_button_builds_and_offers_downloads(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(report_context, "render_png", _fake_png)
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
    at.session_state["sw_lang"] = "en"
    at.run()
    assert not at.exception
    # Under heavy load AppTest has been seen to drop the first click (the button read False in that
    # run); a second click is what a user would do. A broken build fails both times.
    for _ in range(2):
        at.button(key="sw_pack_build").click().run()
        assert not at.exception
        if "_sw_pack" in at.session_state:
            break
    assert "_sw_pack" in at.session_state, [str(getattr(e, "proto", ""))[:200] for e in at.sidebar
                                            if "report" in str(getattr(e, "proto", "")).lower()
                                            or "pack" in str(getattr(e, "proto", "")).lower()]
    pack = at.session_state["_sw_pack"][1]
    assert pack.pages[0].title == "Service quality review"
    labels = [el.proto.label for el in at.sidebar.get("download_button")]
    assert labels == ["Download PPTX", "Download PDF"]
