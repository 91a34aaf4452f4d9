"""Data is never interpreted as markup (issue 12): hostile names, categories and reasons written into a
private copy of the demo database are shown as text on every page that shows them — in Markdown
elements (escaped by ``metrics.present.markup.md``), in plotly figures (``plot_text``) — and every CSV the
pages offer escapes formula prefixes."""

from __future__ import annotations

import io
import json
import re
import string
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import changed_copy
from hypothesis import given
from hypothesis import strategies as st
from page_helpers import open_page, other_sections, show_section

from metrics.present.markup import WORD_JOINER, md, plot_text

CITY, DISTRICT = 2, 201  # demo regions 南岭市 and one of its districts
LINK = "[click](http://evil.example)"
IMAGE = "![x](http://127.0.0.1:1/x.png)"
BOLD_HTML = "**bold** <b>x</b>"
DIRECTIVES = ":red[x] :smile: $x^2$ www.evil.example a@evil.example"
FORMULA = '=HYPERLINK("http://evil.example","x")'
CUSTOMER = f"{FORMULA} {IMAGE}"
REASON = "<img src=x onerror=alert(1)> +SUM(1,2)"
CATEGORY = "+SUM(1,2) **cat** <a href=x>y</a>"
# pieces that must never reach a Markdown body unescaped
RAW = ("](", "![", "**bold**", "<b>", "<img", "<a ", ":red[", ":smile:", "$x^2$", "http://", "www.evil",
       "a@evil")
# the patterns Streamlit's Markdown matches on the text after escapes are resolved (its bundle, 1.67)
AUTOLINK = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.I)
EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")
SHORTCODE = re.compile(r":\+1:|:-1:|:[\w-]+:|:material/")


def _unescape(text: str) -> str:
    """What a CommonMark parser keeps as the text of an escaped string (backslash escapes resolved)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def _all_escaped(text: str) -> bool:
    """Every ASCII punctuation character of ``text`` is part of a backslash escape."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text) or text[i + 1] not in string.punctuation:
                return False
            i += 2
        elif text[i] in string.punctuation:
            return False
        else:
            i += 1
    return True


# -- the escape functions ---------------------------------------------------------------------
@pytest.mark.parametrize("raw", [LINK, IMAGE, BOLD_HTML, DIRECTIVES, FORMULA, CUSTOMER, REASON, CATEGORY,
                                 "# heading", "- item", "1. item", "> quote", "| a | b |", "`code`",
                                 "~~strike~~", "_em_", ":material/home:", "a\n\n# b", "    code block",
                                 "https://x.example", "WWW.X.EXAMPLE", "&amp; &lt;b&gt;", "\\*"])
def test_md_escapes_every_markup(raw: str) -> None:
    out = md(raw)
    assert _all_escaped(out)
    assert "\n" not in out and not out.startswith(" ")
    text = _unescape(out)
    assert text.replace(WORD_JOINER, "") == " ".join(raw.split())  # the reader sees the characters
    assert not AUTOLINK.search(text) and not EMAIL.search(text) and not SHORTCODE.search(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_md_any_text(raw: str) -> None:
    text = _unescape(md(raw))
    assert text.replace(WORD_JOINER, "") == " ".join(raw.split())
    assert not AUTOLINK.search(text) and not EMAIL.search(text) and not SHORTCODE.search(text)
    assert _all_escaped(md(raw))


@given(st.text(max_size=60))
def test_plot_text_any_text(raw: str) -> None:
    out = plot_text(raw)
    assert "<" not in out and ">" not in out and "{" not in out and not out.startswith("$")
    import html

    assert html.unescape(out) == raw


def test_md_values_keeps_numbers() -> None:
    from metrics.present.markup import md_values

    assert md_values({"n": 3, "x": 0.5, "name": "*a*"}) == {"n": 3, "x": 0.5, "name": "\\*a\\*"}


# -- pages on a database of hostile names -----------------------------------------------------
@pytest.fixture(scope="module")
def hostile_url(fitted_duckdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The fitted demo with Markdown, HTML and links for names: a city and its districts, customers, churn
    reasons, managers, outlets and the largest complaint category."""
    from metrics.model import schema as s

    def markup(conn: sa.Connection) -> None:
        conn.execute(sa.update(s.regions).where(s.regions.c.region_id == CITY).values(name_zh=LINK, name_en=LINK))
        conn.execute(sa.update(s.regions).where(s.regions.c.parent_id == CITY)
                     .values(name_zh=BOLD_HTML, name_en=BOLD_HTML))
        conn.execute(sa.update(s.customers).values(name=CUSTOMER))
        conn.execute(sa.update(s.customers).where(s.customers.c.churn_reason.isnot(None)).values(churn_reason=REASON))
        conn.execute(sa.update(s.account_managers).values(name=DIRECTIVES))
        conn.execute(sa.update(s.outlets).values(name=BOLD_HTML))  # the Outlets page names them in sentences
        top = conn.execute(sa.select(s.tickets.c.category).where(s.tickets.c.kind == "complaint")
                           .group_by(s.tickets.c.category).order_by(sa.func.count().desc()).limit(1)).scalar()
        conn.execute(sa.update(s.tickets).where(s.tickets.c.category == top).values(category=CATEGORY))

    return changed_copy(fitted_duckdb_url, tmp_path_factory.mktemp("hostile") / "sw.duckdb", markup, rollups=True)


def _bodies(at) -> list[str]:
    """Every text Streamlit renders as Markdown: texts, alerts, headers, labels and help of cards,
    expander labels."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        out += [m.label, m.proto.help]
    out += [e.label for e in at.expander]
    return out


def _check_markdown(at, shown: list[str]) -> None:
    bodies = _bodies(at)
    for body in bodies:
        text = _unescape(body)
        for raw in RAW:
            assert raw not in body, (raw, body)
        assert not AUTOLINK.search(text) and not EMAIL.search(text), body
    for value in shown:
        assert any(md(value) in b for b in bodies), (value, bodies)


def _strings(x: object) -> list[str]:
    """Every string a figure shows (``customdata`` is not shown: it carries the raw values a
    selection reports)."""
    if isinstance(x, str):
        return [x]
    values = [v for k, v in x.items() if k != "customdata"] if isinstance(x, dict) else x if isinstance(x, list) \
        else []
    return [s_ for v in values for s_ in _strings(v)]


def _check_charts(at) -> int:
    n = 0
    for chart in at.get("plotly_chart"):
        spec = chart.proto.spec
        strings = _strings(json.loads(spec))
        for s_ in strings:
            tags = {m.lower() for m in re.findall(r"<\s*/?\s*([a-zA-Z]+)", s_)}
            assert tags <= {"br", "sup", "sub", "extra"}, (tags, s_)  # our own: line breaks, notes
            assert "%{x" not in s_ or "hovertemplate" in spec
        n += any("&lt;" in s_ for s_ in strings)
    return n


def _check_csv(downloads) -> None:
    for name, data in downloads:
        frame = pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode()), dtype=str)
        for col in frame.columns:
            cells = frame[col].dropna()
            assert not cells.str.match(r"[=+\-@\t\r]").any() or pd.to_numeric(cells, errors="coerce").notna().all(), \
                (name, col, cells[cells.str.match(r"[=+\-@]")].head(3).tolist())


PAGES = {
    "app.py": [LINK],
    "pages/1_Satisfaction.py": [LINK],
    "pages/2_Complaints.py": [LINK],
    "pages/3_SLA.py": [LINK],
    "pages/4_Churn.py": [LINK],
    "pages/5_Regions.py": [LINK],
    "pages/8_At_risk.py": [LINK, CUSTOMER, DIRECTIVES],
    "pages/10_Portfolio.py": [LINK],
    "pages/11_Outlets.py": [LINK, BOLD_HTML],
    "pages/12_Regulator.py": [LINK],
}


@pytest.mark.parametrize("page", PAGES)
def test_hostile_names_are_text_on_every_page(page, hostile_url, monkeypatch, downloads) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", hostile_url)
    at = open_page(page, {"region": str(CITY), "lang": "en", "preset": "last_12_months"})
    _check_markdown(at, PAGES[page])
    escaped_charts = _check_charts(at)
    for section in other_sections(at):
        show_section(at, section)
        _check_markdown(at, [LINK])
        escaped_charts += _check_charts(at)
    if page in ("pages/5_Regions.py", "pages/2_Complaints.py", "pages/1_Satisfaction.py"):
        assert escaped_charts, "a chart of the city's districts shows their names, escaped"
    _check_csv(downloads)


def test_complaints_drill_down_caption_is_text(hostile_url, monkeypatch, downloads) -> None:
    from streamlit.util import AttributeDictionary as Attrs

    monkeypatch.setenv("SERVICEWATCH_DB", hostile_url)
    selection = Attrs({"selection": Attrs({"points": [{"customdata": [DISTRICT]}], "point_indices": [0],
                                           "box": [], "lasso": []})})
    at = open_page("pages/2_Complaints.py", {"lang": "zh", "section": "funnel", "region": str(CITY)})
    at.session_state["complaint_funnel"] = selection  # the browser's selection arrives with a later run
    at.run()
    _check_markdown(at, [BOLD_HTML])
    _check_csv(downloads)
    from metrics.model.i18n import t

    assert any(name.startswith(t("lists.complaints_file", "zh")) for name, _ in downloads)  # named in zh


def test_at_risk_profile_and_list_for_a_signed_in_manager(hostile_url, monkeypatch, downloads, tmp_path) -> None:
    from metrics.access import users as access
    from metrics.access.users import User

    users = tmp_path / "users.json"
    user = User("nanling", "manager", (CITY,))
    access.add_user(user, "correct horse 1", users)
    monkeypatch.setenv("SERVICEWATCH_DB", hostile_url)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    at = open_page("pages/8_At_risk.py", {"lang": "zh"}, {"sw_user": user, "_sw_seen": time.time()})
    _check_markdown(at, [CUSTOMER, DIRECTIVES])
    assert _check_charts(at) >= 0
    _check_csv(downloads)
    names = [name for name, _ in downloads]
    assert names and any("'=HYPERLINK" in data.decode("utf-8-sig") if isinstance(data, bytes) else data
                         for _, data in downloads), names


def test_punctuation_constant_is_ascii() -> None:
    assert set(string.punctuation) == {chr(c) for c in range(33, 127) if not chr(c).isalnum()}
