"""Service halls and outlets (metrics.analysis.outlets, outlet_stars, the queue rollup): waiting and
service times equal a pandas recomputation from the queue records on DuckDB, PostgreSQL and MariaDB,
from the rollup and from the raw rows; medians inside each outlet's range; shares add up; ranks on the
interval bound; the VIP lane recovers a planted 11-minute saving (Welch, as scipy's); audit scores as
hand-summed; a repeated failure; star ratings by hand; a city manager's scope. The small simulated
halls of tests/outlet_frames.py."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from outlet_frames import END, START, TINY, VIP_SAVING_MIN, frames
from scipy import stats as sps

from metrics.access.users import Scope, ScopeError
from metrics.analysis import outlet_audits as oaud
from metrics.analysis import outlet_rules
from metrics.analysis import outlet_stars as st
from metrics.analysis import outlets as ol
from metrics.ingest import queue_rollup
from metrics.ingest.load import replace_all
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

F = Filters(start=START, end=END)


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    return frames()


# -- the pandas reference ---------------------------------------------------------------------------
def records(raw: dict, f: Filters = F, as_of: date | None = None) -> pd.DataFrame:
    """The queue records of the period with wait and service in seconds (rounded), tier, weekday."""
    q = raw["queue_records"].copy()
    stop = pd.Timestamp(min(f.end, as_of or f.end)) + pd.Timedelta(days=1)
    arrived = pd.to_datetime(q["arrived_at"])
    q = q[(arrived >= pd.Timestamp(f.start)) & (arrived < stop)].copy()
    q["wait"] = (pd.to_datetime(q["called_at"]) - pd.to_datetime(q["arrived_at"])).dt.total_seconds().round()
    q["service"] = (pd.to_datetime(q["ended_at"]) - pd.to_datetime(q["started_at"])).dt.total_seconds().round()
    tiers = raw["customers"].set_index("customer_id")["tier"]
    q["tier"] = q["customer_id"].map(lambda c: tiers.get(int(c)) if pd.notna(c) else None)
    q["hour"] = pd.to_datetime(q["arrived_at"]).dt.hour
    q["weekday"] = pd.to_datetime(q["arrived_at"]).dt.weekday
    return q


def quantile_min(waits_s: pd.Series, p: float) -> float:
    """The p-quantile of waits (inverted CDF, numpy's order statistic) read at the middle of its whole
    minute: floor(q) + 0.5 minutes."""
    w = waits_s.dropna().to_numpy() / 60
    return float(np.floor(np.quantile(w, p, method="inverted_cdf")) + 0.5) if len(w) else np.nan


def reference(q: pd.DataFrame, key: str, target: float = 15) -> pd.DataFrame:
    g = q.groupby(key, dropna=False)
    return pd.DataFrame({
        "visits": g.size(), "abandoned": g["abandoned"].sum(), "waited": g["wait"].count(),
        "mean_wait_min": g["wait"].mean() / 60, "mean_service_min": g["service"].mean() / 60,
        "median_wait_min": g["wait"].apply(lambda w: quantile_min(w, 0.5)),
        "p90_wait_min": g["wait"].apply(lambda w: quantile_min(w, 0.9)),
        "within_target": g["wait"].apply(lambda w: (w.dropna() < target * 60).mean()),
    })


COLS = ["visits", "abandoned", "waited", "mean_wait_min", "mean_service_min", "median_wait_min", "p90_wait_min",
        "within_target"]


@pytest.mark.parametrize("rollups", [True, False], ids=["rollup", "raw"])
def test_waits_equal_the_pandas_reference(raw_any_url: str, raw: dict, rollups: bool) -> None:
    wh = Warehouse(Warehouse.open(raw_any_url).engine, use_rollups=rollups)
    assert queue_rollup.is_built(wh)  # rebuilt by the load: the rollup run reads it
    q = records(raw, F, wh.as_of())
    got = ol.outlet_league(wh, F).set_index("outlet_id").sort_index()
    ref = reference(q, "outlet_id").sort_index()
    pd.testing.assert_frame_equal(got.loc[ref.index, COLS].astype(float), ref[COLS].astype(float), rtol=1e-9)
    for by in ("hour", "weekday", "service_type", "tier"):
        got = ol.queue_pattern(wh, F, by=by).set_index(by)
        ref = reference(q, by)
        got.index, ref.index = (ix.map(lambda v: "" if pd.isna(v) else str(v)) for ix in (got.index, ref.index))
        pd.testing.assert_frame_equal(got.loc[ref.index, COLS].astype(float), ref[COLS].astype(float), rtol=1e-9)


def test_rollup_and_raw_agree_under_filters(raw_duckdb: str) -> None:
    wh = Warehouse.open(raw_duckdb)
    rawwh = Warehouse(wh.engine, use_rollups=False)
    week = F.with_(start=date(2026, 3, 3), end=date(2026, 3, 9))
    for f in (F.with_(tiers=("gold", "silver")), F.with_(regions=(3,)), week):
        a, b = ol.outlet_league(wh, f), ol.outlet_league(rawwh, f)
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(ol.queue_pattern(wh, f, 1, "hour_weekday"),
                                      ol.queue_pattern(rawwh, f, 1, "hour_weekday"))


def test_medians_lie_within_each_outlets_own_range(raw_duckdb: str, raw: dict) -> None:
    wh = Warehouse.open(raw_duckdb)
    q = records(raw, F, wh.as_of())
    lg = ol.outlet_league(wh, F).set_index("outlet_id")
    for oid, g in q.groupby("outlet_id"):
        lo, hi = g["wait"].min() / 60, g["wait"].max() / 60
        row = lg.loc[oid]
        assert np.floor(lo) <= row["median_wait_min"] <= row["p90_wait_min"] <= np.floor(hi) + 1
        assert np.floor(lo) <= row["mean_wait_min"] <= hi
        # the bin's midpoint: within half a minute of the true order statistic, not ~0.5 min below it
        true_median = np.quantile(g["wait"].dropna() / 60, 0.5, method="inverted_cdf")
        assert abs(row["median_wait_min"] - true_median) <= 0.5 and row["median_wait_min"] % 1 == 0.5


def test_shares_add_up(raw_duckdb: str) -> None:
    wh = Warehouse.open(raw_duckdb)
    total = ol.outlet_league(wh, F)["visits"].sum()
    for by in ol.PATTERNS:
        p = ol.queue_pattern(wh, F, by=by)
        assert p["share"].sum() == pytest.approx(1.0)
        assert p["visits"].sum() == total
    one = ol.queue_pattern(wh, F, outlet_id=1, by="service_type")
    assert one["share"].sum() == pytest.approx(1.0)


def test_league_ranks_on_the_interval_bound_and_leaves_small_outlets_unranked(raw_duckdb: str) -> None:
    lg = ol.outlet_league(Warehouse.open(raw_duckdb), F).set_index("outlet_id")
    tiny = lg.loc[5]
    assert tiny["visits"] == TINY and pd.isna(tiny["rank"]) and tiny["rank_note"] == "small"
    assert tiny["within_target"] == 1.0  # a perfect tiny outlet …
    ranked = lg[lg["rank"].notna()].sort_values("rank")
    assert list(ranked["within_target_lower"]) == sorted(ranked["within_target_lower"], reverse=True)
    assert ranked["rank"].tolist() == [1.0, 2.0, 3.0, 4.0]  # … never ranks first on noise
    assert (lg["within_target_lower"] <= lg["within_target"]).all()


def test_vip_lane_recovers_the_planted_saving(raw_duckdb: str, raw: dict) -> None:
    wh = Warehouse.open(raw_duckdb)
    lane = ol.vip_lane(wh, F).set_index("outlet_id")
    assert set(lane.index) == {1, 2}  # the outlets with a VIP room
    one, two = lane.loc[1], lane.loc[2]
    assert one["verdict"] == "works" and one["saving_lower"] < VIP_SAVING_MIN < one["saving_upper"]
    assert two["saving_lower"] < 0 < two["saving_upper"]  # no saving planted: not "works"
    assert two["verdict"] == ("unclear" if two["saving_upper"] >= st.load_rules().min_saving_min else "does_not")
    q = records(raw, F, wh.as_of())
    q = q[(q["outlet_id"] == 1) & q["tier"].notna() & q["wait"].notna()]
    is_vip = q["tier"].isin(["diamond", "gold"])
    vip, other = q.loc[is_vip, "wait"] / 60, q.loc[~is_vip, "wait"] / 60
    welch = sps.ttest_ind(other, vip, equal_var=False).confidence_interval(0.95)
    assert one["saving_min"] == pytest.approx(other.mean() - vip.mean())
    assert (one["saving_lower"], one["saving_upper"]) == pytest.approx((welch.low, welch.high), rel=1e-6)
    assert (one["n_vip"], one["n_other"]) == (len(vip), len(other))


def test_welch_verdicts_separate_does_not_from_too_uncertain() -> None:
    """Hand-made sides of 100 waits (seconds): a mean saving of 5 min is ``works``; 0.5 ± small is
    ``does_not`` under a 2-minute worthwhile saving (``unclear`` without one); a wide interval around 0 is
    ``unclear`` — the old code called it ``does_not``; one below 0 is ``does_not``."""
    rng = np.random.default_rng(3)

    def sides(saving_min: float, sd_s: float) -> tuple:
        other = 600 + rng.normal(0, sd_s, 100)
        vip = other - saving_min * 60
        return tuple(np.array([v]) for v in (100, vip.sum(), (vip**2).sum(), 100, other.sum(), (other**2).sum()))

    assert ol.welch(*sides(5, 30))["verdict"][0] == "works"
    narrow = sides(0.0, 30)  # the interval about ±0.1 min around 0: certainly less than 2 minutes saved
    assert ol.welch(*narrow, min_saving=2.0)["verdict"][0] == "does_not"
    assert ol.welch(*narrow)["verdict"][0] == "unclear"  # without a worthwhile minimum: could be a little either way
    wide = sides(0.0, 900)  # ± several minutes: too uncertain to say it does not work
    got = ol.welch(*wide, min_saving=2.0)
    assert got["saving_lower"][0] < 0 and got["saving_upper"][0] > 2 and got["verdict"][0] == "unclear"
    assert ol.welch(*sides(-5, 30), min_saving=2.0)["verdict"][0] == "does_not"


def test_the_league_ignores_a_channel_filter_for_visits_csat_and_complaints(raw_duckdb: str) -> None:
    """An outlet is itself a channel: with a channel filter the complaints and CSAT are of the same
    visits' population (the outlet's), not a channel slice of it (the frames' tickets and surveys are
    all "store")."""
    wh = Warehouse.open(raw_duckdb)
    cols = ["visits", "complaints", "complaints_per_1000", "csat_n", "csat"]
    base = ol.outlet_league(wh, F).set_index("outlet_id")[cols]
    assert base["complaints"].sum() > 0 and base["csat_n"].sum() > 0
    for channels in (("phone",), ("store",)):
        pd.testing.assert_frame_equal(ol.outlet_league(wh, F.with_(channels=channels)).set_index("outlet_id")[cols],
                                      base)


def test_the_waiting_target_comes_from_the_rules_file(raw_duckdb: str, raw: dict, tmp_path, monkeypatch) -> None:
    """No target given: the rules file's ``target_minutes`` (5 here), not a hard-coded 15."""
    text = outlet_rules.RULES_PATH.read_text("utf-8").replace("target_minutes = 15", "target_minutes = 5")
    assert "target_minutes = 5" in text
    (tmp_path / "rules.toml").write_text(text, "utf-8")
    monkeypatch.setattr(outlet_rules, "RULES_PATH", tmp_path / "rules.toml")
    wh = Warehouse.open(raw_duckdb)
    ref = reference(records(raw, F, wh.as_of()), "outlet_id", target=5)["within_target"]
    got = ol.outlet_league(wh, F).set_index("outlet_id").loc[ref.index, "within_target"]
    pd.testing.assert_series_equal(got.astype(float), ref.astype(float), check_names=False)
    assert (ref < reference(records(raw, F, wh.as_of()), "outlet_id")["within_target"]).any()


def test_vip_lane_says_too_small_on_tiny_samples(raw_duckdb: str) -> None:
    wh = Warehouse.open(raw_duckdb)
    day = Filters(start=date(2026, 3, 3), end=date(2026, 3, 3))
    lane = ol.vip_lane(wh, day)
    assert set(lane["verdict"]) == {"too_small"} and lane["saving_lower"].isna().all()
    assert ol.vip_lane(wh, F, outlet_id=5)["verdict"].tolist() == ["too_small"]


def test_audit_scores_are_the_hand_summed_checklist(raw_duckdb: str, raw: dict) -> None:
    wh = Warehouse.open(raw_duckdb)
    items = raw["audit_items"]
    trend = oaud.audit_trend(wh, F, 1)
    for aid, g in items[items["audit_id"].between(10, 13)].groupby("audit_id"):
        hand = 100 * sum(g["score"]) / sum(g["max_score"])
        assert trend.loc[trend["audit_id"] == aid, "audit_score"].unique().tolist() == [pytest.approx(hand)]
    in_period = [100 * items.loc[items["audit_id"] == a, "score"].sum() / 50 for a in (11, 12, 13)]
    lg = ol.outlet_league(wh, F).set_index("outlet_id")
    assert lg.loc[1, "audits"] == 3 and lg.loc[1, "audit_score"] == pytest.approx(np.mean(in_period))
    assert lg.loc[5, "audits"] == 0 and pd.isna(lg.loc[5, "audit_score"])


def test_repeated_failures_find_the_item_failed_three_audits_in_a_row(raw_duckdb: str) -> None:
    wh = Warehouse.open(raw_duckdb)
    rep = oaud.repeated_failures(wh, F)
    assert rep[["outlet_id", "item", "repeats"]].values.tolist() == [[1, "waiting", 3]]
    assert bool(rep["current"].iloc[0]) and rep["first_on"].iloc[0] == date(2026, 1, 15)
    assert oaud.repeated_failures(wh, F, min_repeats=4).empty
    before = Filters(start=date(2026, 1, 1), end=date(2026, 5, 1))  # two failures by then
    assert oaud.repeated_failures(wh, before).empty


def test_star_ratings_follow_the_rules_by_hand() -> None:
    rules = st.check_rules({"target_minutes": 15, "points_per_complaint": 10,
                            "weights": {"waiting": 2, "audits": 1, "satisfaction": 1, "complaints": 0},
                            "stars": {"1": 0, "2": 50, "3": 60, "4": 70, "5": 80}})
    league = pd.DataFrame({"outlet_id": [1, 2, 3, 4], "name": list("abcd"), "stars": [3, 4, 3, None],
                           "within_target": [0.9, 0.5, 0.62, 0.8], "audit_score": [70.0, 40.0, np.nan, 60.0],
                           "csat": [0.7, 0.6, 0.58, 0.5], "complaints_per_1000": [1.0, 2.0, 3.0, 0.0],
                           "waited": [100, 100, 100, 100]})
    r = st.rate(league, rules).set_index("outlet_id")
    # 1: (2×90 + 70 + 70) / 4 = 80 → 5 stars from 3: gain, waiting pulls most (2 × (90 − 70))
    assert r.loc[1, "score"] == pytest.approx(80.0) and r.loc[1, "computed_stars"] == 5
    assert (r.loc[1, "change"], r.loc[1, "driver"]) == ("gain", "waiting")
    # 2: (2×50 + 40 + 60) / 4 = 50 → 2 stars from 4: lose; below 4 stars' 70: waiting 2 × −20, audits −30, CSAT −10
    assert r.loc[2, "score"] == pytest.approx(50.0) and (r.loc[2, "change"], r.loc[2, "driver"]) == ("lose", "waiting")
    # 3: no audits: (2×62 + 58) / 3 = 60.67 → 3 stars: same
    assert r.loc[3, "score"] == pytest.approx((2 * 62 + 58) / 3) and r.loc[3, "change"] == "same"
    assert r.loc[4, "change"] == "unrated" and r.loc[4, "computed_stars"] == 3  # (160 + 60 + 50) / 4 = 67.5
    assert r.loc[1, "score_complaints"] == pytest.approx(90.0)


@pytest.mark.parametrize(("text", "key"), [
    ("weights = 1", "stars.rules.no_section"),
    ("[weights]\nwaiting = 1\nqueue = 2\n[stars]\n1 = 0", "stars.rules.unknown_component"),
    ("[weights]\nwaiting = -1\n[stars]\n1=0\n2=1\n3=2\n4=3\n5=4", "stars.rules.bad_weights"),
    ("[weights]\nwaiting = 1\n[stars]\n1=0\n2=60\n3=50\n4=70\n5=80", "stars.rules.bad_stars"),
    ("[weights]\nwaiting = 'a'\n[stars]\n1=0", "stars.rules.not_number"),
    ("[weights\nwaiting = 1", "stars.rules.syntax"),
    ("[weights]\nwaiting = 1\n[stars]\n1=0\n2=1\n3=2\n4=3\n5=4\n[vip]\ntiers = 'gold'", "stars.rules.bad_tiers"),
    ("[weights]\nwaiting = 1\n[stars]\n1=0\n2=1\n3=2\n4=3\n5=4\n[audits]\nfail_below = 2",
     "stars.rules.bad_vip_audits"),
    ("[weights]\nwaiting = 1\n[stars]\n1=0\n2=1\n3=2\n4=3\n5=4\n[vip]\nmin_saving_minutes = -1",
     "stars.rules.bad_vip_audits"),
])
def test_bad_rules_files_give_one_clear_error(tmp_path, text: str, key: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(st.RulesError) as exc:
        st.load_rules(path)
    assert exc.value.key == key
    with pytest.raises(st.RulesError) as exc:
        st.load_rules(tmp_path / "none.toml")
    assert exc.value.key == "stars.rules.missing"


def test_star_ratings_of_the_database(raw_duckdb: str) -> None:
    wh = Warehouse.open(raw_duckdb)
    rules = st.load_rules()
    got = st.star_ratings(wh, F, rules).set_index("outlet_id")
    lg = ol.outlet_league(wh, F, rules.target_minutes)
    ref = st.rate(lg, rules).set_index("outlet_id")
    pd.testing.assert_frame_equal(got.sort_index(), ref.sort_index())
    assert got.loc[5, "change"] == "too_small" and got.loc[4, "change"] == "unrated"


def test_a_city_manager_sees_only_their_citys_outlets(raw_duckdb: str, raw: dict) -> None:
    wh = Warehouse.open(raw_duckdb)
    f = F.with_(scope=Scope("boss", regions=(2,)))
    lg = ol.outlet_league(wh, f)
    assert sorted(lg["outlet_id"]) == [1, 2]
    full = ol.outlet_league(wh, F).set_index("outlet_id")
    pd.testing.assert_series_equal(lg.set_index("outlet_id").sort_index()["visits"], full.loc[[1, 2], "visits"])
    assert ol.queue_pattern(wh, f, by="hour")["visits"].sum() == full.loc[[1, 2], "visits"].sum()
    assert set(ol.vip_lane(wh, f)["outlet_id"]) == {1, 2}
    assert set(oaud.repeated_failures(wh, f)["outlet_id"]) <= {1, 2}
    assert set(st.star_ratings(wh, f)["outlet_id"]) == {1, 2}
    for call in (lambda: ol.queue_pattern(wh, f, outlet_id=3), lambda: oaud.audit_trend(wh, f, 3),
                 lambda: ol.vip_lane(wh, f, outlet_id=4)):
        with pytest.raises(ScopeError):
            call()
    west = F.with_(scope=Scope("west", regions=(3,)))
    assert oaud.repeated_failures(wh, west).empty


# -- the demo's planted patterns --------------------------------------------------------------------
def test_the_demo_s_planted_patterns_are_found(wh: Warehouse, demo_frames: dict) -> None:
    from metrics.demo import outlets as demo
    from metrics.model.filters import preset_period

    f = Filters(*preset_period("last_12_months", wh.as_of()))
    hall = demo.planted_hall(demo_frames["outlets"])
    # (1) the Dongjiang hall's waits in the last 7 days of each month: its p90 at least doubles there
    h = ol.histogram(wh, f, ["outlet_id", "day"])
    d = pd.to_datetime(h["day"])
    h["month_end"] = d.dt.day > d.dt.days_in_month - demo.MONTH_END_DAYS
    s = ol.summarise(h, ["outlet_id", "month_end"]).set_index(["outlet_id", "month_end"])["p90_wait_min"]
    ratio = (s.xs(True, level="month_end") / s.xs(False, level="month_end")).dropna()
    assert ratio.loc[hall] >= 2.0 and ratio.drop(hall).max() < ratio.loc[hall]
    # (2) VIP lanes: where the demo planted the saving, no hall says does_not; where it did not, none says works
    saving, plain = demo.vip_lanes(demo_frames["outlets"])
    lane = ol.vip_lane(wh, f).set_index("outlet_id")
    assert set(lane.loc[lane.index.isin(saving), "verdict"]) <= {"works", "too_small"}
    assert set(lane.loc[lane.index.isin(plain), "verdict"]) <= {"does_not", "unclear", "too_small"}  # never works
    works = lane[lane["verdict"] == "works"]
    assert len(works) >= 2 and ((works["saving_lower"] < demo.VIP_SAVING_MIN)
                                & (demo.VIP_SAVING_MIN < works["saving_upper"])).all()
    # (3) the one item failed three audits in a row
    rep = oaud.repeated_failures(wh, f)
    assert rep[["outlet_id", "item"]].values.tolist() == [[hall, demo.FAILED_ITEM]] and bool(rep["current"].iloc[0])


# -- a viewer (aggregates only): small groups withheld by the engine itself ----------------------------
VIEWER = Scope("viewer", aggregates_only=True, min_group_size=10)


def test_a_viewer_gets_no_queue_group_of_fewer_visits_than_the_minimum(raw_duckdb: str, raw: dict) -> None:
    wh = Warehouse.open(raw_duckdb)
    fv = F.with_(scope=VIEWER)
    q = records(raw, F, wh.as_of())
    for by, oid in (("hour_weekday", 1), ("service_type", 5), ("tier", 5), ("hour", None)):
        got = ol.queue_pattern(wh, fv, oid, by)
        full = ol.queue_pattern(wh, F, oid, by)
        keys = ["weekday", "hour"] if by == "hour_weekday" else [by]
        sub = q if oid is None else q[q["outlet_id"] == oid]
        n = sub.groupby(keys, dropna=False).size().to_numpy()  # pandas: the visits of each group
        small = n < VIEWER.min_group_size
        assert small.any() or oid is None, by  # the test can fail: there are small groups to hide
        flagged = got["suppressed"].tolist() if "suppressed" in got else [False] * len(got)
        assert flagged == small.tolist(), by
        blank = ["visits", "share", "mean_wait_min", "median_wait_min", "p90_wait_min"]
        assert got.loc[small, blank].isna().all().all()
        shown = got.loc[~small, full.columns].astype(full.dtypes.to_dict()).reset_index(drop=True)
        pd.testing.assert_frame_equal(shown, full.loc[~small].reset_index(drop=True))
    assert ol.queue_pattern(wh, fv, 5, "hour")["visits"].isna().all()  # the tiny outlet the league blanks: all of it


def test_a_viewer_gets_no_vip_lane_or_audit_of_an_outlet_the_league_blanks(raw_duckdb: str) -> None:
    wh = Warehouse.open(raw_duckdb)
    fv = F.with_(scope=VIEWER)
    lg = ol.outlet_league(wh, fv).set_index("outlet_id")
    assert lg.loc[5, "suppressed"] and not lg.loc[1, "suppressed"]
    assert ol.withheld_outlets(wh, fv) == {5} and ol.withheld_outlets(wh, F) == set()
    one = ol.vip_lane(wh, fv, outlet_id=5).iloc[0]  # 6 visits: a side of fewer than 10 waits
    assert one["suppressed"] and one["verdict"] is None and pd.isna(one["n_vip"]) and pd.isna(one["mean_wait_vip_min"])
    lane = ol.vip_lane(wh, fv).set_index("outlet_id")  # the big halls as before
    assert lane.loc[1, "verdict"] == "works" and lane.loc[1, "n_vip"] == ol.vip_lane(wh, F).set_index(
        "outlet_id").loc[1, "n_vip"]
    week = Filters(start=date(2026, 3, 2), end=date(2026, 3, 4), scope=VIEWER)  # 3 days: ~12 visits a hall
    small = ol.vip_lane(wh, week)
    full = ol.vip_lane(wh, week.with_(scope=None))
    hide = (full["n_vip"] < 10) | (full["n_other"] < 10)
    assert hide.any() and small["suppressed"].tolist() == hide.tolist()
    assert small.loc[hide, ["n_vip", "n_other", "mean_wait_vip_min", "saving_min"]].isna().all().all()
    # audits: an outlet the league blanks for the viewer has no scores and no repeated failures
    day = Filters(start=date(2026, 6, 15), end=date(2026, 6, 15), scope=VIEWER)  # audit day, few visits
    hidden = ol.withheld_outlets(wh, day)
    assert 1 in hidden
    trend = oaud.audit_trend(wh, day, 1)
    assert len(trend) and trend["suppressed"].all() and trend[["score", "share", "audit_score"]].isna().all().all()
    assert oaud.audit_scores(wh, day, 1)["audit_score"].isna().all()
    assert not oaud.audit_trend(wh, fv, 1)["score"].isna().any()  # the period's visits are enough
    assert oaud.repeated_failures(wh, day.with_(scope=None))["outlet_id"].tolist() == [1]
    assert oaud.repeated_failures(wh, day).empty
    assert oaud.repeated_failures(wh, fv)["outlet_id"].tolist() == [1]


# -- the complaints behind an outlet ---------------------------------------------------------------
def test_the_complaints_behind_an_outlet_are_the_raw_tickets(wh: Warehouse, demo_frames: dict) -> None:
    from metrics.analysis import outlet_complaints as oc
    from metrics.demo import outlets as demo
    from metrics.model.filters import preset_period
    from metrics.present.masking import mask

    f = Filters(*preset_period("last_12_months", wh.as_of()))
    hall = demo.planted_hall(demo_frames["outlets"])
    t = demo_frames["tickets"]
    opened = pd.to_datetime(t["opened_at"])
    mine = t[(t["outlet_id"] == hall) & (t["kind"] == "complaint") & (opened >= pd.Timestamp(f.start))
             & (opened < pd.Timestamp(min(f.end, wh.as_of())) + pd.Timedelta(days=1))]
    ref = mine.groupby("category").size()
    got = oc.complaint_categories(wh, f, hall).set_index("category")
    assert len(ref) > 2 and got["complaints"].to_dict() == ref.to_dict()
    assert got["share"].sum() == pytest.approx(1.0)
    assert list(got["complaints"]) == sorted(got["complaints"], reverse=True)
    assert got["complaints"].sum() == ol.outlet_league(wh, f).set_index("outlet_id").loc[hall, "complaints"]
    recent = oc.recent_complaints(wh, f, hall, 5)
    newest = mine.sort_values(["opened_at", "ticket_id"], ascending=False).head(5)
    assert recent["ticket_id"].tolist() == newest["ticket_id"].tolist()
    raw_text = dict(zip(newest["ticket_id"], newest["description"], strict=True))
    assert [mask(raw_text[i]) if isinstance(raw_text[i], str) else None for i in recent["ticket_id"]] == \
        recent["description"].tolist()
    assert recent["description"].notna().any()
    viewer = f.with_(scope=Scope("v", aggregates_only=True, min_group_size=int(ref.median()) + 1))
    with pytest.raises(ScopeError):
        oc.recent_complaints(wh, viewer, hall)
    seen = oc.complaint_categories(wh, viewer, hall).set_index("category")
    small = ref < viewer.scope.min_group_size
    assert small.any() and (~small).any()
    assert seen.loc[small[small].index, "complaints"].isna().all()
    assert seen.loc[small[~small].index, "complaints"].to_dict() == ref[~small].to_dict()


def test_masked_complaint_descriptions_hide_phone_numbers(raw_duckdb: str, raw: dict, tmp_path) -> None:
    from metrics.analysis import outlet_complaints as oc

    fr = {k: v.copy() for k, v in raw.items()}
    fr["tickets"]["description"] = "我的电话是13812345678，营业厅让我等了一小时"
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    replace_all(url, fr)
    recent = oc.recent_complaints(Warehouse.open(url), F, 2, 3)
    assert len(recent) == 3 and not recent["description"].str.contains("13812345678").any()
    assert recent["description"].str.contains("营业厅让我等了一小时").all()
