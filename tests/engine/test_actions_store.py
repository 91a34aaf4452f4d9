"""The action loop's write side (metrics.churn.actions_store): the seeded holdout per risk decile,
validation refusals, scope, the audit row, and the optimistic check with two connections and with two
processes (one wins, the other is refused, nothing is lost)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.access import audit
from metrics.access.users import Scope, ScopeError
from metrics.backends.connect import make_engine
from metrics.churn import actions_store as st
from metrics.churn.store import churn_scores
from metrics.model import schema

DUE = dt.date(2030, 1, 31)
CREATED = dt.date(2030, 1, 1)
ALIVE = schema.customers.c.end_date.is_(None)  # customers still there: actions on them are allowed


@pytest.fixture()
def db(tmp_path: Path, duckdb_url: str) -> str:
    """A writable copy of the demo DuckDB file, with churn scores for 1,000 customers."""
    src = Path(sa.engine.make_url(duckdb_url).database or "")
    dst = tmp_path / "sw.duckdb"
    shutil.copy(src, dst)
    url = f"duckdb:///{dst}"
    eng = make_engine(url)
    with eng.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.select(schema.customers.c.customer_id).where(ALIVE).limit(1000))]
        churn_scores.create(conn, checkfirst=True)
        conn.execute(churn_scores.delete())
        p = np.random.default_rng(5).random(len(ids))
        conn.execute(churn_scores.insert(), [
            {"customer_id": i, "model_id": 1, "churn_probability_90d": float(v), "monthly_revenue": 1.0,
             "revenue_at_risk": float(v), "risk_rank": k} for k, (i, v) in enumerate(zip(ids, p, strict=True))])
    eng.dispose()
    return url


def _engine(url: str) -> sa.Engine:
    return make_engine(url)


def _count(url: str) -> int:
    eng = _engine(url)
    with eng.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.retention_actions)).scalar_one()
    eng.dispose()
    return int(n)


def test_holdout_share_per_decile_on_a_seeded_draw() -> None:
    deciles = np.repeat(np.arange(1, 11), 200).tolist() + [None] * 55
    m = st.holdout_mask(deciles, 0.1, seed=42)
    d = pd.Series(deciles, dtype="Float64").fillna(-1)
    per = pd.Series(m).groupby(d.to_numpy()).agg(["sum", "size"])
    assert (per.loc[1.0:10.0, "sum"] == 20).all()  # 10% of 200 is exactly 20, no rounding left
    assert per.loc[-1.0, "sum"] in (5, 6)  # 5.5: floor(5.5 + u)
    assert np.array_equal(m, st.holdout_mask(deciles, 0.1, seed=42))  # the seed reproduces the draw
    assert not np.array_equal(m, st.holdout_mask(deciles, 0.1, seed=43))
    # the expected count is exact: over many seeds, 3 of 7 at 10% averages 0.7
    mean = np.mean([st.holdout_mask([1] * 7, 0.1, seed=s).sum() for s in range(4000)])
    assert abs(mean - 0.7) < 0.03


def test_assign_writes_holdout_by_decile_and_audits(db: str) -> None:
    eng = _engine(db)
    with eng.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(churn_scores.c.customer_id).limit(600))]
    before = _count(db)
    df, seed = st.assign(eng, db, "tester", ids, "care_visit", None, DUE, created=CREATED, seed=7,
                         note="季度关怀")
    assert seed == 7 and len(df) == 600 and _count(db) == before + 600
    with eng.connect() as conn:
        got = pd.DataFrame(conn.execute(sa.select(schema.retention_actions).where(
            schema.retention_actions.c.action_id >= int(df["action_id"].min()))).mappings().all())
    assert set(got["arm"]) == {"treated", "holdout"}
    assert (got.loc[got["arm"] == "holdout", "status"] == "cancelled").all()
    assert (got.loc[got["arm"] == "treated", "status"] == "open").all()
    held = st.holdout_mask(df["risk_decile"].tolist(), 0.1, 7)  # the recorded seed redraws it
    assert np.array_equal(held, (df["arm"] == "holdout").to_numpy())
    per = got.groupby("risk_decile")["arm"].apply(lambda s: (s == "holdout").sum() / len(s))
    assert ((per - 0.1).abs() <= 1 / got.groupby("risk_decile").size()).all()  # within one customer of 10%
    rows = audit.read(db, 5)
    last = rows[rows["action"] == "action"].iloc[0]
    d = json.loads(last["detail"])
    assert last["user"] == "tester" and d["op"] == "assign" and d["seed"] == 7 and d["customers"] == 600
    eng.dispose()


@pytest.mark.parametrize("kw, word", [
    ({"action_type": "bribe"}, "not allowed"),
    ({"customers": [-999_999]}, "Unknown customers"),
    ({"owner": 987_654}, "Unknown account manager"),
    ({"due": dt.date(2029, 1, 1)}, "before the creation date"),
    ({"holdout": 1.5}, "Holdout share"),
    ({"note": "x" * 300}, "too long"),
    ({"customers": []}, "at least one customer"),
])
def test_bad_input_is_refused_in_one_line_and_nothing_written(db: str, kw: dict, word: str) -> None:
    eng = _engine(db)
    with eng.connect() as conn:
        first = conn.execute(sa.select(schema.customers.c.customer_id).where(ALIVE).limit(2)).scalars().all()
    args = {"customers": first, "action_type": "call", "owner": None, "due": DUE}
    args.update(kw)
    before = _count(db)
    with pytest.raises(st.ActionError) as e:
        st.assign(eng, db, "t", args.pop("customers"), args.pop("action_type"), args.pop("owner"), args.pop("due"),
                  created=CREATED, **args)
    assert word in str(e.value) and "\n" not in str(e.value)
    assert _count(db) == before
    eng.dispose()


def test_scope_an_account_manager_only_their_customers_and_themselves(db: str) -> None:
    eng = _engine(db)
    c = schema.customers
    with eng.connect() as conn:
        mgr = conn.execute(sa.select(c.c.account_manager_id).where(c.c.account_manager_id.is_not(None))
                           .group_by(c.c.account_manager_id).order_by(sa.func.count().desc()).limit(1)).scalar_one()
        mine = conn.execute(sa.select(c.c.customer_id).where(c.c.account_manager_id == mgr, ALIVE)
                            .limit(3)).scalars().all()
        other = conn.execute(sa.select(c.c.customer_id).where(c.c.account_manager_id != mgr, ALIVE)
                             .limit(1)).scalars().all()
    scope = Scope(user="am", manager_id=int(mgr))
    before = _count(db)
    with pytest.raises(st.ActionError, match="Not in your scope"):
        st.assign(eng, db, "am", [*mine, *other], "care_visit", int(mgr), DUE, created=CREATED, scope=scope)
    with pytest.raises(st.ActionError, match="only to themselves"):
        st.assign(eng, db, "am", mine, "care_visit", int(mgr) + 1, DUE, created=CREATED, scope=scope)
    with pytest.raises(st.ActionError, match="Viewers"):
        st.assign(eng, db, "v", mine, "call", None, DUE, created=CREATED, scope=Scope(user="v", aggregates_only=True))
    assert _count(db) == before
    df, _ = st.assign(eng, db, "am", mine, "care_visit", int(mgr), DUE, created=CREATED, scope=scope, holdout=0)
    assert len(df) == 3 and (df["arm"] == "treated").all()
    eng.dispose()


def test_a_customer_who_had_already_left_is_refused(db: str) -> None:
    """An action created after the customer's end_date could never be followed up: refused, one line."""
    eng = _engine(db)
    c = schema.customers
    with eng.connect() as conn:
        gone, end = conn.execute(sa.select(c.c.customer_id, c.c.end_date).where(c.c.end_date.is_not(None))
                                 .order_by(c.c.customer_id).limit(1)).one()
        alive = conn.execute(sa.select(c.c.customer_id).where(ALIVE).limit(1)).scalar_one()
    before = _count(db)
    after = end + dt.timedelta(days=1)
    with pytest.raises(st.ActionError) as e:
        st.assign(eng, db, "t", [alive, gone], "call", None, DUE, created=after)
    assert "already left" in str(e.value) and str(gone) in str(e.value) and "\n" not in str(e.value)
    assert _count(db) == before
    df, _ = st.assign(eng, db, "t", [gone], "call", None, DUE, created=end, holdout=0)  # left that day: allowed
    assert len(df) == 1 and _count(db) == before + 1
    eng.dispose()


def test_the_scope_is_queried_once_per_assignment(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scope check runs one query for all the customers, not one per customer."""
    eng = _engine(db)
    with eng.connect() as conn:
        ids = conn.execute(sa.select(schema.customers.c.customer_id).where(ALIVE).limit(40)).scalars().all()
    calls = []
    real = st._in_scope
    monkeypatch.setattr(st, "_in_scope", lambda *a: calls.append(a) or real(*a))
    df, _ = st.assign(eng, db, "t", ids, "call", None, DUE, created=CREATED, holdout=0)
    assert len(df) == 40 and len(calls) == 1
    eng.dispose()


def _open_action(db: str) -> int:
    eng = _engine(db)
    with eng.connect() as conn:
        cid = conn.execute(sa.select(schema.customers.c.customer_id).where(ALIVE).limit(1)).scalar_one()
    df, _ = st.assign(eng, db, "t", [cid], "call", None, DUE, created=CREATED, holdout=0)
    eng.dispose()
    return int(df["action_id"].iloc[0])


def test_two_connections_one_wins_the_other_is_refused(db: str) -> None:
    aid = _open_action(db)
    eng = _engine(db)
    read_a = st.read_action(eng, aid)
    read_b = st.read_action(eng, aid)
    assert read_a == read_b == st.Read("open", None)
    with eng.connect() as ca, eng.connect() as cb:
        st.close(ca, db, "alice", aid, "客户接受维系", read_a)
        with pytest.raises(st.ChangedError, match="changed by someone else since you read it"):
            st.close(cb, db, "bob", aid, "客户仍离网", read_b, status="cancelled")
    assert st.read_action(eng, aid) == st.Read("done", "客户接受维系")  # alice's change kept
    # bob reads again and edits on top of it: both changes in the audit trail
    st.close(eng, db, "bob", aid, "客户接受维系；已续约", st.read_action(eng, aid))
    assert st.read_action(eng, aid) == st.Read("done", "客户接受维系；已续约")
    eng.dispose()


_CLOSE = """
import sys, time
from metrics.backends.connect import make_engine
from metrics.churn import actions_store as st
db, aid, who = sys.argv[1], int(sys.argv[2]), sys.argv[3]
read = st.Read("open", None)  # both read the action while it was open
for _ in range(600):  # DuckDB: one writing process at a time; wait for the file
    try:
        eng = make_engine(db)
        try:
            st.close(eng, db, who, aid, f"outcome by {who}", read)
            print("won")
        except st.ChangedError as exc:
            print(exc)
        finally:
            eng.dispose()
        break
    except st.ActionError as exc:
        print(f"error {exc}")
        break
    except Exception:  # noqa: BLE001 - the file is locked by the other process
        time.sleep(0.05)
else:
    print("timeout")
"""


def _close_in_processes(db: str, aid: int) -> dict[str, str]:
    """Alice and Bob close the same action at once, each in its own Python process (a plain
    subprocess: it imports only the engine, whatever the test run's import paths), both having read it
    open; who -> "won" or the refusal."""
    import subprocess
    import sys

    ps = {who: subprocess.Popen([sys.executable, "-c", _CLOSE, db, str(aid), who], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for who in ("alice", "bob")}
    out = {}
    for who, p in ps.items():
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr[-2000:]
        out[who] = stdout.strip().splitlines()[-1]
    return out


def test_two_processes_one_wins_the_other_is_refused(db: str) -> None:
    aid = _open_action(db)
    got = _close_in_processes(db, aid)
    assert sorted(v == "won" for v in got.values()) == [False, True], got
    loser = next(k for k, v in got.items() if v != "won")
    assert "changed by someone else since you read it" in got[loser]
    winner = next(k for k, v in got.items() if v == "won")
    eng = _engine(db)
    assert st.read_action(eng, aid) == st.Read("done", f"outcome by {winner}")
    eng.dispose()


def test_overdue_count_by_hand_and_in_the_digest(db: str) -> None:
    from metrics.deliver import content
    from metrics.model.filters import Filters
    from metrics.query.warehouse import Warehouse
    from metrics.report.model import Pack

    _open_action(db)  # due 2030: not overdue
    wh = Warehouse.open(db)
    as_of = wh.as_of()
    f = Filters(start=dt.date(2024, 1, 1), end=as_of, as_of=as_of)
    with wh.engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(sa.select(schema.retention_actions)).mappings().all())
    hand = int(((rows["status"] == "open") & (pd.to_datetime(rows["due_date"]) < pd.Timestamp(as_of))).sum())
    assert st.overdue_count(wh, f) == hand > 0
    built = content.Built(Pack("zh", "T", "F", [], "t"), None, "digest", None, hand)
    assert f"您有 {hand} 项维系行动已逾期" in content.text_body(built, "zh")
    assert f"{hand} overdue retention actions" in content.html_body(built, "en", [])
    assert "overdue" not in content.text_body(content.Built(Pack("en", "T", "F", [], "t"), None, "digest"), "en")
    wh.engine.dispose()


def test_overdue_count_and_the_list_agree_on_a_channel_slice(db: str) -> None:
    """The digest's overdue count and ``actions list --overdue`` are one rule: a channel slice
    (the customer's acquisition channel) restricts both, counted by hand."""
    from metrics.model.filters import Filters
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(db)
    as_of = wh.as_of()
    a, c = schema.retention_actions, schema.customers
    with wh.engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(sa.select(a.c.status, a.c.due_date, c.c.acquisition_channel)
                                         .select_from(a.join(c, c.c.customer_id == a.c.customer_id)))
                            .mappings().all())
    rows["overdue"] = (rows["status"] == "open") & (pd.to_datetime(rows["due_date"]) < pd.Timestamp(as_of))
    per = rows[rows["overdue"]].groupby("acquisition_channel").size()
    channel = str(per.idxmax())
    f = Filters(start=dt.date(2024, 1, 1), end=as_of, as_of=as_of, channels=(channel,))
    assert 0 < per[channel] < rows["overdue"].sum()  # the slice changes the count
    listed = st.action_list(wh, f, overdue_only=True)
    assert st.overdue_count(wh, f) == per[channel] == len(listed) and listed["overdue"].all()
    full = st.action_list(wh, f)
    assert int(full["overdue"].sum()) == per[channel]
    assert len(full) == int((rows["acquisition_channel"] == channel).sum())
    with pytest.raises(ScopeError):  # a list of customers' actions: not for viewers, whoever calls
        st.action_list(wh, f.with_(scope=Scope("v", aggregates_only=True)))
    wh.engine.dispose()


@pytest.fixture()
def pg(postgres_url: str) -> Iterator[str]:
    """The session's PostgreSQL database; the actions written here are removed afterwards."""
    eng = _engine(postgres_url)
    a = schema.retention_actions
    with eng.connect() as conn:
        top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(a.c.action_id), 0))).scalar_one()
    yield postgres_url
    with eng.begin() as conn:
        conn.execute(a.delete().where(a.c.action_id > top))
    eng.dispose()


def test_postgres_assign_and_two_processes_closing(pg: str) -> None:
    eng = _engine(pg)
    with eng.connect() as conn:
        ids = conn.execute(sa.select(schema.customers.c.customer_id).where(ALIVE).limit(50)).scalars().all()
    before = _count(pg)
    df, _ = st.assign(eng, pg, "t", ids, "service_fix", None, DUE, created=CREATED, seed=1)
    assert _count(pg) == before + 50 and df["risk_decile"].isna().all()  # no churn scores: one stratum
    assert (df["arm"] == "holdout").sum() in (5, 6)
    with pytest.raises(st.ActionError):
        st.assign(eng, pg, "t", [*ids[:2], -5], "call", None, DUE, created=CREATED)
    assert _count(pg) == before + 50
    aid = int(df.loc[df["arm"] == "treated", "action_id"].iloc[0])
    eng.dispose()
    got = _close_in_processes(pg, aid)
    assert sorted(v == "won" for v in got.values()) == [False, True], got
    winner = next(k for k, v in got.items() if v == "won")
    eng = _engine(pg)
    assert st.read_action(eng, aid) == st.Read("done", f"outcome by {winner}")
    eng.dispose()


def test_close_outside_the_scope_or_by_a_viewer_is_refused(db: str) -> None:
    aid = _open_action(db)
    eng = _engine(db)
    c, a = schema.customers, schema.retention_actions
    with eng.connect() as conn:
        cust = conn.execute(sa.select(a.c.customer_id).where(a.c.action_id == aid)).scalar_one()
        mgr = conn.execute(sa.select(c.c.account_manager_id).where(c.c.account_manager_id.is_not(None),
                                                                   c.c.customer_id != cust).limit(1)).scalar_one()
        own = conn.execute(sa.select(c.c.account_manager_id).where(c.c.customer_id == cust)).scalar_one()
    if own == mgr:
        pytest.skip("the demo's first customer belongs to the chosen manager")
    read = st.read_action(eng, aid)
    with pytest.raises(st.ActionError, match="Not in your scope"):
        st.close(eng, db, "am", aid, "x", read, scope=Scope(user="am", manager_id=int(mgr)))
    with pytest.raises(st.ActionError, match="Viewers"):
        st.close(eng, db, "v", aid, "x", read, scope=Scope(user="v", aggregates_only=True))
    with pytest.raises(st.ActionError, match="not allowed"):
        st.close(eng, db, "t", aid, "x", read, status="open")
    assert st.read_action(eng, aid) == read  # nothing written
    eng.dispose()
