"""Query parameters and command-line dates (issue 12): one parser validates every key of a link
(``metrics.model.links.parse_query``); anything unknown or malformed is dropped with one notice, never a
crash. The CLI's dates end in one line ``servicewatch …: error: …`` and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from page_helpers import filters, open_page

from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.model.links import KNOWN_KEYS, date_range, parse_date, parse_query
from metrics.model.plausible import DEFAULT_EARLIEST as EARLIEST

DEFAULT = Filters(start=date(2026, 7, 1), end=date(2026, 9, 30))
LIMITS = date_range(date(2026, 12, 1))
REGIONS = {1, 2, 3, 201, 202}
VALUES = {"tier": {"gold", "silver"}, "channel": {"hotline"}}
MALFORMED = [
    {"region": "\u00b2"},  # superscript two: str.isdigit() says yes, int() says no
    {"region": "\u0662"},  # Arabic-Indic digit two
    {"region": "99999999999999999999"},
    {"region": "-2"}, {"region": "2.0"}, {"region": "424242"},
    {"as_of": "9999-12-31"}, {"as_of": "0001-01-01"}, {"as_of": "1989-12-31"}, {"as_of": "2026-02-30"},
    {"as_of": "\uff12\uff10\uff12\uff16-01-01"}, {"as_of": "20260101"}, {"as_of": "2026-1-1"},
    {"preset": "custom", "from": "2026-05-01", "to": "2026-01-01"},
    {"preset": "custom", "from": "garbage", "to": "2026-01-01"},
    {"from": "9999-01-01", "to": "9999-12-31"},
    {"tier": "platinum"}, {"tier": "<b>x</b>"}, {"channel": "[x](http://evil.example)"},
    {"cmp": "decade"}, {"preset": "forever"}, {"lang": "fr"}, {"section": "../../etc"},
    {"unknown": "1"}, {"<img src=x>": "1"}, {"region": "2\x00"},
]


# -- the parser ------------------------------------------------------------------------------
def test_parse_date() -> None:
    assert parse_date("2026-02-28", LIMITS) == date(2026, 2, 28)
    for bad in ("9999-12-31", "1989-12-31", "2026-02-30", "２０２６-01-01", "20260101", "2026-1-1", "", " 2026-01-01"):
        with pytest.raises(ValueError):
            parse_date(bad, LIMITS)
    assert LIMITS == (EARLIEST, date(2026, 12, 1) + timedelta(days=366))


@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_is_dropped_and_listed(query: dict) -> None:
    parsed = parse_query(query, DEFAULT, limits=LIMITS, regions=REGIONS, values=VALUES, sections={"rate"})
    assert parsed.ignored, query
    f = parsed.filters
    assert set(f.regions) <= REGIONS and set(f.tiers) <= VALUES["tier"] and f.start <= f.end
    assert all(LIMITS[0] <= d <= LIMITS[1] for d in (f.start, f.end, f.as_of) if d is not None)


def test_valid_link_is_used_whole() -> None:
    q = {"preset": "custom", "from": "2026-01-01", "to": "2026-03-31", "as_of": "2026-06-30", "cmp": "year_ago",
         "region": "2,201", "tier": "gold", "channel": "hotline", "lang": "en", "section": "rate"}
    parsed = parse_query(q, DEFAULT, limits=LIMITS, regions=REGIONS, values=VALUES, sections={"rate"})
    assert parsed.ignored == ()
    assert parsed.filters == DEFAULT.with_(start=date(2026, 1, 1), end=date(2026, 3, 31), as_of=date(2026, 6, 30),
                                           comparison="year_ago", regions=(2, 201), tiers=("gold",),
                                           channels=("hotline",))
    assert (parsed.preset, parsed.lang, parsed.section) == ("custom", "en", "rate")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.one_of(st.sampled_from(sorted(KNOWN_KEYS)), st.text(max_size=8)),
                       st.one_of(st.text(max_size=30), st.dates().map(date.isoformat),
                                 st.lists(st.integers(-5, 10**12).map(str), max_size=4).map(",".join)),
                       max_size=8))
def test_any_query_never_raises_and_stays_valid(query: dict) -> None:
    parsed = parse_query(query, DEFAULT, limits=LIMITS, regions=REGIONS, values=VALUES, sections={"rate"})
    f = parsed.filters
    assert f.start <= f.end and set(f.regions) <= REGIONS and set(f.tiers) <= VALUES["tier"]
    assert all(LIMITS[0] <= d <= LIMITS[1] for d in (f.start, f.end, f.as_of) if d is not None)
    for key in set(query) - KNOWN_KEYS:
        assert any(i.startswith(f"{key}=") for i in parsed.ignored)


# -- pages ------------------------------------------------------------------------------------
def _notice(at) -> list[str]:
    head = t("query.ignored", at.session_state["sw_lang"], items="")
    return [w.value for w in at.warning if w.value.startswith(head)]


@pytest.mark.parametrize("query", MALFORMED)
def test_page_drops_malformed_parameters_with_one_notice(query: dict, duckdb_url: str, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("app.py", query)  # asserts no exception
    assert len(_notice(at)) == 1, [w.value for w in at.warning]
    f = filters(at)
    assert f.start <= f.end and (f.as_of is None or f.as_of.year < 2100)
    assert at.title and at.metric  # the page is drawn with the valid rest
    at.run()  # the notice is said once; the URL now holds only valid parameters
    assert not at.exception and not _notice(at)
    assert set(at.query_params) <= KNOWN_KEYS


def test_page_valid_link_has_no_notice(duckdb_url: str, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("pages/2_Complaints.py", {"region": "2", "tier": "gold", "section": "funnel", "lang": "en"})
    assert not _notice(at) and filters(at).regions == (2,) and filters(at).tiers == ("gold",)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(query=st.fixed_dictionaries({}, optional={
    "region": st.text(max_size=6), "as_of": st.text(max_size=12), "from": st.text(max_size=12),
    "tier": st.text(max_size=8), "section": st.text(max_size=8), "zz": st.text(max_size=4)}))
def test_page_survives_any_query(query: dict, duckdb_url: str) -> None:
    with pytest.MonkeyPatch.context() as mp:  # hypothesis: no function-scoped fixture
        mp.setenv("SERVICEWATCH_DB", duckdb_url)
        at = open_page("pages/5_Regions.py", query)
    assert not at.exception
    if set(query) - {"tier", "section"} and any(v for v in query.values()):
        f = filters(at)
        assert f.start <= f.end


def test_signed_in_user_link_with_superscript_region(duckdb_url: str, monkeypatch, tmp_path) -> None:
    from metrics.access import users as access
    from metrics.access.users import User

    users = tmp_path / "users.json"
    user = User("nanling", "manager", (2,))
    access.add_user(user, "correct horse 1", users)
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    at = open_page("pages/1_Satisfaction.py", {"region": "\u00b2", "lang": "en"},
                   {"sw_user": user, "_sw_seen": time.time()})
    assert len(_notice(at)) == 1 and "region" in _notice(at)[0]


# -- the command line -------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metrics.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("--as-of", "9999-12-31"), ("--as-of", "0001-01-01"), ("--as-of", "2026-02-30"), ("--as-of", "tomorrow"),
    ("--as-of", "\uff12\uff10\uff12\uff16-01-01"), ("--from", "garbage", "--to", "2026-01-01"),
    ("--from", "2026-01-01", "--to", "9999-12-31"), ("--from", "2026-05-01", "--to", "2026-01-01"),
    ("--from", "2026-01-01"), ("--from", "1900-01-01", "--to", "1900-12-31"), ("--as-of", ""),
    ("--as-of", "2026-01-01\n"), ("--period", "ytd", "--as-of", "99999"),
])
def test_cli_bad_dates_one_line(args: tuple[str, ...], duckdb_url: str) -> None:
    r = _cli("metric", "csat", "--db", duckdb_url, *args)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "error:" in r.stderr, r.stderr
    assert r.stdout == ""


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
       .filter(lambda s: "\x00" not in s and not s.startswith("-")))
def test_cli_any_as_of_never_tracebacks(text: str, duckdb_url: str) -> None:
    r = _cli("metric", "csat", "--db", duckdb_url, "--as-of", text)
    assert "Traceback" not in r.stderr
    if r.returncode != 0:
        assert len(r.stderr.strip().splitlines()) == 1
