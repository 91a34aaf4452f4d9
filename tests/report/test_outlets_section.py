"""The meeting pack's service halls and outlets page (metrics.report.outlets_section, issue 19): the
Outlets page's sentences — the league, where the VIP lane works and where it does not, who loses or
gains a star this quarter and why —, the league's and the VIP lane's charts, the star changes as a
table; registered as a section of the pack, left out of a database without outlets."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from section_run import run_section

from metrics.analysis import outlet_rules
from metrics.analysis import outlet_stars as os_
from metrics.analysis import outlets as oa
from metrics.model import schema as s
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.present.formatting import number
from metrics.query.warehouse import Warehouse
from metrics.report import build
from metrics.report.outlets_section import STAR_SENTENCES, outlets_section, quarter_filters

TARGET = f"{os_.load_rules().target_minutes:g}"  # the rules file's waiting target, as written


def _build(url: str, lang: str, preset: str = "last_quarter") -> tuple[list, list, Filters, Warehouse]:
    wh = Warehouse.open(url)
    f = Filters(*preset_period(preset, wh.as_of()))
    pages, drawn = run_section(outlets_section, wh, f, lang)
    return pages, drawn, f, wh


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_has_the_league_vip_and_star_sentences(duckdb_url: str, lang: str) -> None:
    pages, drawn, f, wh = _build(duckdb_url, lang, "last_12_months")
    page = pages[0]
    assert page.title == t("outlets_pack.title", lang)
    n = int(wh.read(sa.select(sa.func.count()).select_from(s.outlets)).iloc[0, 0])  # every outlet: no scope
    assert page.sentences[0] == t("page.outlets.league_sentence", lang, n=n, target=TARGET, min=oa.MIN_RANK_N)
    # the VIP lane: one dot per hall with a VIP room (the outlets table), the engine's minutes saved
    vip = oa.vip_lane(wh, f)
    halls = int(wh.read(sa.select(sa.func.count()).select_from(s.outlets).where(s.outlets.c.vip_room)).iloc[0, 0])
    assert len(vip) == halls > 0
    fig = drawn[-1]
    shown = sorted(x for tr in fig.data if tr.mode == "markers" for x in tr.x)
    assert shown == pytest.approx(sorted(vip["saving_min"].dropna()))
    works = vip[vip["verdict"] == "works"]
    for _, r in works.sort_values("saving_min", ascending=False).head(3).iterrows():  # the biggest savings named
        saved = t("page.outlets.minutes", lang, value=number(float(r["saving_min"]), 1))
        assert any(str(r["name"]) in x and saved in x for x in page.sentences), r["name"]
    # the stars of this quarter: counts, a sentence for the weakest losers and the strongest gainers
    # (the rest said in one line), the table of every change: losers by score up, then gainers down
    stars = os_.star_ratings(wh, quarter_filters(f))
    counts = stars["change"].value_counts()
    assert t("page.outlets.stars_sentence", lang, lose=int(counts.get("lose", 0)), gain=int(counts.get("gain", 0)),
             same=int(counts.get("same", 0))) in page.sentences
    losers = stars[stars["change"] == "lose"].sort_values("score", kind="stable")
    gainers = stars[stars["change"] == "gain"].sort_values("score", ascending=False, kind="stable")
    rows = sum((p.table.rows for p in pages[1:]), ())
    assert [r[0] for r in rows] == [*losers["name"], *gainers["name"]] and rows
    for _, r in losers.head(STAR_SENTENCES["lose"]).iterrows():
        assert any(str(r["name"]) in x and t(f"page.outlets.component.{r['driver']}", lang) in x
                   for x in page.sentences)
    told = min(len(losers), STAR_SENTENCES["lose"]) + min(len(gainers), STAR_SENTENCES["gain"])
    assert sum(any(str(n) in x for x in page.sentences) for n in [*losers["name"], *gainers["name"]]) >= told
    if len(rows) > told:
        assert t("outlets_pack.stars_more", lang, n=len(rows) - told) in page.sentences
    assert len(page.charts) == 2 and all(c.png == b"png" for c in page.charts)
    assert page.charts[0].title == t("page.outlets.league_chart", lang, target=TARGET)


def test_a_database_without_outlets_leaves_the_section_out(duck: str) -> None:
    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        conn.execute(sa.delete(s.outlets))
    eng.dispose()
    pages, drawn, _, _ = _build(duck, "zh")
    assert pages == [] and drawn == []


def test_a_database_made_before_outlets_leaves_the_section_out(duck: str) -> None:
    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        for table in (s.audit_items, s.audits, s.queue_records, s.outlets):
            conn.execute(sa.text(f"DROP TABLE {table.name}"))
    eng.dispose()
    pages, drawn, _, _ = _build(duck, "en")
    assert pages == [] and drawn == []


@pytest.mark.parametrize("text", ["[weights\nwaiting = 1", None])
def test_a_broken_rules_file_leaves_the_section_out_with_a_note(duckdb_url: str, tmp_path, monkeypatch,
                                                                text: str | None) -> None:
    """Rules that are not TOML, or missing: the section's page holds one line saying why, no chart, no
    traceback (the league's target, the VIP tiers and the stars all come from that file)."""
    path = tmp_path / "outlet_stars.toml"
    if text is not None:
        path.write_text(text, "utf-8")
    monkeypatch.setattr(outlet_rules, "RULES_PATH", path)
    pages, drawn, _, _ = _build(duckdb_url, "zh")
    reason = (t("stars.rules.missing", "zh", file=path.name) if text is None else None)
    assert len(pages) == 1 and drawn == [] and len(pages[0].sentences) == 1
    line = pages[0].sentences[0]
    assert line.startswith(t("page.outlets.rules_error", "zh", reason="").rstrip("：: "))
    assert (reason in line) if reason else ("outlet_stars.toml" in line and "TOML" in line)
    assert str(tmp_path) not in line


def test_registered_in_the_pack() -> None:
    assert ("outlets", outlets_section) in build.SECTIONS
    assert t("report.progress.outlets", "zh") == "营业厅与网点"



def test_the_complaints_behind_the_outlet_with_the_most(duckdb_url: str, demo_frames: dict) -> None:
    """Against pandas on the raw tickets (tickets.outlet_id): the outlet with the most complaints in the
    period, its count and largest category with its share."""
    import pandas as pd

    from metrics.present.formatting import fmt_count, fmt_percent

    pages, _, f, wh = _build(duckdb_url, "en", "last_12_months")
    tk = demo_frames["tickets"]
    opened = pd.to_datetime(tk["opened_at"])
    tk = tk[tk["outlet_id"].notna() & (tk["kind"] == "complaint") & (opened >= pd.Timestamp(f.start))
            & (opened < pd.Timestamp(min(f.end, wh.as_of())) + pd.Timedelta(days=1))]
    per = tk.groupby("outlet_id").size()
    top = int(per.sort_values(ascending=False, kind="stable").index[0])
    lg = oa.outlet_league(wh, f)
    assert int(per.max()) == lg["complaints"].max() and top in set(lg.loc[lg["complaints"] == per.max(), "outlet_id"])
    top = int(lg.loc[pd.to_numeric(lg["complaints"]).idxmax(), "outlet_id"])  # the engine's pick among equals
    cats = tk[tk["outlet_id"] == top].groupby("category").size().sort_values(ascending=False, kind="stable")
    name = str(lg.set_index("outlet_id").loc[top, "name"])
    from metrics.model.i18n import label
    line = t("page.outlets.behind.pack", "en", name=name, n=fmt_count(int(per[top])),
             category=label("category", cats.index[0], "en"), share=fmt_percent(cats.iloc[0] / cats.sum()))
    assert line in pages[0].sentences


def test_the_stars_reuse_the_sections_league_on_a_quarter(duckdb_url: str, monkeypatch) -> None:
    """A quarter's pack rates the stars on the league it has computed already: one league, not two."""
    calls = []
    real = oa.outlet_league
    monkeypatch.setattr(oa, "outlet_league", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    _build(duckdb_url, "zh", "last_quarter")
    assert len(calls) == 1
    calls.clear()
    _build(duckdb_url, "zh", "last_12_months")  # twelve months: the quarter's league is another period
    assert len(calls) == 2 and (calls[1].start, calls[1].end) == (quarter_filters(calls[0]).start, calls[0].end)
