"""The sign-in lockout holds across processes and restarts (issue 12, item 9).

Real processes against the real store (``<users file>.lockout.sqlite``): failures made by two
processes add up, a running process sees a lock another one set, a fresh process (a restart)
still sees it; concurrent bursts lose no update; ``servicewatch user unlock`` clears a lock; the
lock ends after its time (an injected clock); a damaged store refuses every sign-in.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from page_helpers import PASSWORD, write_users

from metrics.access import lockout
from metrics.access import users as access
from metrics.access.users import AuthError, LockedError, LockoutUnavailable, User
from metrics.model.i18n import t

CITY = 2
CLI = [sys.executable, "-m", "metrics.cli.main"]

# A sign-in client in its own process: one command per line on stdin, one answer per line.
WORKER = r"""
import json, sys, time
from metrics.access import users as access, lockout

def verify(name, password, limiter=None):
    try:
        access.verify(name, password, limiter=limiter)
        return "ok"
    except access.LockedError:
        return "locked"
    except access.LockoutUnavailable:
        return "unavailable"
    except access.AuthError:
        return "wrong"

mode = sys.argv[1]
if mode == "session":  # lines: "verify NAME PASSWORD" | "state NAME"
    for line in sys.stdin:
        cmd, name, *rest = line.rstrip("\n").split(" ", 2)
        if cmd == "verify":
            print(verify(name, rest[0]), flush=True)
        else:
            locked = access.LIMITER.locked_until(access.users_path(), name) is not None
            print("locked" if locked else "open", flush=True)
elif mode == "burst":  # N wrong passwords for NAME, all processes starting at the same moment
    n, name, start = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    time.sleep(max(0.0, start - time.time()))
    out = [verify(name, "wrong password") for _ in range(n)]
    print(json.dumps({k: out.count(k) for k in set(out)}))
elif mode == "raw":  # N counted failures under a limit that is never reached: every one must stay
    n, name, start = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    lim = lockout.RateLimiter(max_failures=10**9)
    time.sleep(max(0.0, start - time.time()))
    for _ in range(n):
        lim.attempt(access.users_path(), name)
        lim.failed(access.users_path(), name)
    print(json.dumps({"done": n}))
"""


@pytest.fixture()
def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(lockout.STORE_ENV, raising=False)
    return write_users(tmp_path / "users.json", monkeypatch,
                       [User("nanling", "manager", (CITY,)), User("admin1", "admin")])


@pytest.fixture()
def worker(tmp_path: Path) -> Path:
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


def _env(users_file: Path) -> dict[str, str]:
    return {**os.environ, access.USERS_ENV: str(users_file)}


class Session:
    """A long-lived sign-in process (a dashboard replica)."""

    def __init__(self, worker: Path, users_file: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(worker), "session"], env=_env(users_file),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def _run(users_file: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=_env(users_file), input=stdin, capture_output=True, text=True,
                          timeout=120)


# -- (a) two processes, then a restart ------------------------------------------------------------
@pytest.mark.parametrize("name", ["nanling", "nobody"])  # an unknown name is counted and locked alike
def test_failures_from_two_processes_add_up_and_survive_a_restart(users_file, worker, name) -> None:
    one, two = Session(worker, users_file), Session(worker, users_file)
    try:
        assert [one.ask(f"verify {name} wrong password {i}") for i in range(3)] == ["wrong"] * 3
        assert [two.ask(f"verify {name} wrong password {i}") for i in range(2)] == ["wrong"] * 2
        # five in total: locked in both running processes, even for the right password
        assert one.ask(f"state {name}") == two.ask(f"state {name}") == "locked"
        assert one.ask(f"verify {name} {PASSWORD}") == "locked"
        assert two.ask(f"verify {name} {PASSWORD}") == "locked"
        assert one.ask(f"verify admin1 {PASSWORD}") == "ok"  # other names are not affected
    finally:
        one.close()
        two.close()
    three = Session(worker, users_file)  # a restart: a fresh process
    try:
        assert three.ask(f"state {name}") == "locked"
        assert three.ask(f"verify {name} {PASSWORD}") == "locked"
    finally:
        three.close()
    store = lockout.store_path(users_file)
    assert store.exists() and oct(store.stat().st_mode & 0o777) == "0o600"


def test_store_elsewhere_when_configured(users_file, worker, tmp_path, monkeypatch) -> None:
    """``$SERVICEWATCH_LOCKOUT_STORE`` (a users file in a folder the dashboard may not write):
    the store is there, created with mode 0600, and shared by the processes given the same path."""
    elsewhere = tmp_path / "state" / "lockout.sqlite"
    elsewhere.parent.mkdir()
    monkeypatch.setenv(lockout.STORE_ENV, str(elsewhere))
    one = Session(worker, users_file)
    try:
        assert [one.ask(f"verify nanling wrong password {i}") for i in range(5)] == ["wrong"] * 5
    finally:
        one.close()
    assert elsewhere.exists() and oct(elsewhere.stat().st_mode & 0o777) == "0o600"
    assert not lockout.RateLimiter().failures(users_file, "x") and access.lock_states()
    with pytest.raises(LockedError):
        access.verify("nanling", PASSWORD)
    assert not users_file.with_name(users_file.name + lockout.SUFFIX).exists()


# -- (b) concurrency --------------------------------------------------------------------------
def _at_once(worker: Path, users_file: Path, processes: int, *args: str) -> list[str]:
    """Run ``processes`` copies of the ``worker`` script with ``args``, each starting its work at the same
    moment (1.5 s from now); assert every one exits 0 and return their standard outputs."""
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, str(worker), *args, str(start)],
                              env=_env(users_file), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(processes)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    return [out for out, _ in results]


def test_concurrent_bursts_check_exactly_five_passwords(users_file, worker) -> None:
    """Two processes × 10 wrong passwords at the same moment: exactly 5 are checked (no lost
    update, no burst slipping past the count), the other 15 refused as locked, no crash."""
    counts = [json.loads(out) for out in _at_once(worker, users_file, 2, "burst", "10", "nanling")]
    total = {k: sum(c.get(k, 0) for c in counts) for k in ("wrong", "locked", "ok", "unavailable")}
    assert total == {"wrong": 5, "locked": 15, "ok": 0, "unavailable": 0}, counts
    assert access.LIMITER.locked_until(users_file, "nanling") is not None


def test_concurrent_failures_are_all_counted(users_file, worker) -> None:
    """Four processes × 40 failures at once under a limit never reached: 160 stored, none lost."""
    _at_once(worker, users_file, 4, "raw", "40", "nobody")
    assert lockout.RateLimiter(max_failures=10**9).failures(users_file, "nobody") == 160


# -- (c) the admin command ------------------------------------------------------------------------
def _lock(users_file: Path, name: str) -> None:
    for _ in range(5):
        with pytest.raises(AuthError):
            access.verify(name, "wrong password")
    with pytest.raises(LockedError):
        access.verify(name, PASSWORD)


def test_cli_unlock_and_list(users_file) -> None:
    _lock(users_file, "nanling")
    listed = json.loads(_run(users_file, "user", "list", "--format", "json").stdout)
    states = {r["name"]: r["locked_until"] for r in listed}
    assert states["admin1"] == "" and states["nanling"] > time.strftime("%Y-%m-%dT%H:%M")
    done = _run(users_file, "user", "unlock", "nanling")
    assert done.returncode == 0 and done.stdout.strip() == "user nanling unlocked", done.stderr
    assert access.verify("nanling", PASSWORD).name == "nanling"
    listed = json.loads(_run(users_file, "user", "list", "--format", "json").stdout)
    assert {r["name"]: r["locked_until"] for r in listed}["nanling"] == ""
    again = _run(users_file, "user", "unlock", "nanling")  # not locked: says so, still exit 0
    assert again.returncode == 0 and "was not locked" in again.stdout


def test_cli_unlock_clears_failures_below_the_limit(users_file) -> None:
    for _ in range(4):
        with pytest.raises(AuthError):
            access.verify("nanling", "wrong password")
    assert _run(users_file, "user", "unlock", "nanling").returncode == 0
    assert access.LIMITER.failures(users_file, "nanling") == 0


@pytest.mark.parametrize("name", ["ghost", "x" * 200])
def test_cli_unlock_unknown_name_is_one_line(users_file, name) -> None:
    _lock(users_file, "ghost")  # even a locked unknown name: there is no such user to unlock
    res = _run(users_file, "user", "unlock", name)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip() == f"servicewatch: error: no user {name}" and res.stderr.count("\n") == 1


def test_cli_unlock_without_a_store_creates_none(users_file) -> None:
    res = _run(users_file, "user", "unlock", "nanling")
    assert res.returncode == 0 and "was not locked" in res.stdout
    assert _run(users_file, "user", "list").returncode == 0
    assert not lockout.store_path(users_file).exists()


# -- (d) the lock ends after its time ---------------------------------------------------------
def test_lock_expires_after_fifteen_minutes(users_file) -> None:
    now = [1_000_000.0]
    lim = access.RateLimiter(clock=lambda: now[0])  # the default policy, a clock of our own
    for _ in range(5):
        with pytest.raises(AuthError, match="wrong"):
            access.verify("nanling", "wrong password", limiter=lim)
    now[0] += 899
    with pytest.raises(LockedError):
        access.verify("nanling", PASSWORD, limiter=lim)
    assert lim.locked_until(users_file, "nanling") == 1_000_000.0 + 900
    now[0] += 1.5
    assert lim.locked_until(users_file, "nanling") is None
    assert access.verify("nanling", PASSWORD, limiter=lim).name == "nanling"


def test_failures_older_than_the_window_do_not_count(users_file) -> None:
    now = [1_000_000.0]
    lim = access.RateLimiter(clock=lambda: now[0])
    for step in (0, 100, 200, 299, 301):  # the first of the five is 301 s old at the fifth
        now[0] = 1_000_000.0 + step
        with pytest.raises(AuthError, match="wrong"):
            access.verify("nobody", "wrong password", limiter=lim)
    assert lim.locked_until(users_file, "nobody") is None
    now[0] += 1
    with pytest.raises(AuthError, match="wrong"):  # five within 300 s now: locked after this one
        access.verify("nobody", "wrong password", limiter=lim)
    with pytest.raises(LockedError):
        access.verify("nobody", "wrong password", limiter=lim)


def test_success_clears_the_failures(users_file) -> None:
    for _ in range(4):
        with pytest.raises(AuthError):
            access.verify("nanling", "wrong password")
    assert access.verify("nanling", PASSWORD).name == "nanling"
    assert access.LIMITER.failures(users_file, "nanling") == 0


def test_an_unfinished_attempt_counts_as_a_failure(users_file) -> None:
    """A process that dies between counting an attempt and checking it leaves a failure behind."""
    for _ in range(5):
        access.LIMITER.attempt(users_file, "nanling")  # counted, never finished
    with pytest.raises(LockedError):
        access.verify("nanling", PASSWORD)


def test_long_names_take_one_row(users_file) -> None:
    name = "é" * 5000
    for _ in range(5):
        with pytest.raises(AuthError):
            access.verify(name, "wrong password")
    with pytest.raises(LockedError):
        access.verify(name, PASSWORD)
    with sqlite3.connect(lockout.store_path(users_file)) as con:
        assert con.execute("SELECT max(length(name)) FROM locks").fetchone()[0] < 80


# -- (e) a damaged store refuses every sign-in ----------------------------------------------------
def _damage_garbage(store: Path) -> None:
    store.write_bytes(b"this is not a database" * 100)


def _damage_foreign(store: Path) -> None:
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE something (x)")


def _damage_truncated(store: Path) -> None:  # a real store cut short (a full disk, a bad copy)
    users = store.with_name(store.name.removesuffix(lockout.SUFFIX))
    for i in range(300):
        access.LIMITER.attempt(users, f"name{i}")
    data = store.read_bytes()
    assert len(data) > 8192
    store.write_bytes(data[:5000])


def _damage_directory(store: Path) -> None:  # cannot be opened or created (even as root)
    store.mkdir()


def _damage_dropped_table(store: Path) -> None:
    access.LIMITER.attempt(store.with_name(store.name.removesuffix(lockout.SUFFIX)), "admin1")
    with sqlite3.connect(store) as con:
        con.execute("DROP TABLE locks")


DAMAGE = [_damage_garbage, _damage_foreign, _damage_truncated, _damage_directory, _damage_dropped_table]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.removeprefix("_damage_"))
def test_damaged_store_fails_closed(users_file, damage) -> None:
    store = lockout.store_path(users_file)
    damage(store)
    for name in ("nanling", "admin1", "nobody"):  # the right password included: no sign-in at all
        with pytest.raises(LockoutUnavailable, match="lockout store"):
            access.verify(name, PASSWORD)
    for args in (["user", "list"], ["user", "unlock", "nanling"]):
        res = _run(users_file, *args)
        assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
        assert res.stderr.startswith("servicewatch: error: lockout store") and "Traceback" not in res.stderr


def test_damaged_store_in_another_process(users_file, worker) -> None:
    _damage_garbage(lockout.store_path(users_file))
    s = Session(worker, users_file)
    try:
        assert s.ask(f"verify nanling {PASSWORD}") == "unavailable"
    finally:
        s.close()


# -- the dashboard's sign-in form uses the shared store -------------------------------------------
@pytest.fixture()
def app_env(users_file: Path, duckdb_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    return users_file


def _form_sign_in(name: str, password: str, lang: str = "zh"):
    from page_helpers import open_page

    at = open_page("app.py", {"lang": lang})
    at.text_input(key="_sw_login_name").input(name)
    at.text_input(key="_sw_login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dashboard_refuses_a_name_locked_by_another_process(app_env, worker, lang) -> None:
    other = Session(worker, app_env)  # another replica takes the five failures
    try:
        assert [other.ask(f"verify nanling wrong password {i}") for i in range(5)] == ["wrong"] * 5
    finally:
        other.close()
    at = _form_sign_in("nanling", PASSWORD, lang)
    assert [e.value for e in at.error] == [t("auth.locked", lang)]
    assert "sw_user" not in at.session_state and not at.metric


def test_dashboard_failures_lock_other_processes(app_env, worker) -> None:
    for _ in range(5):
        at = _form_sign_in("nanling", "wrong password")
        assert [e.value for e in at.error] == [t("auth.failed", "zh")]
    other = Session(worker, app_env)
    try:
        assert other.ask("state nanling") == "locked"
    finally:
        other.close()


def test_dashboard_damaged_store_fails_closed(app_env) -> None:
    _damage_garbage(lockout.store_path(app_env))
    at = _form_sign_in("nanling", PASSWORD, "en")
    assert [e.value for e in at.error] == [t("auth.lockout_unavailable", "en")]
    assert "sw_user" not in at.session_state and not at.metric
    assert str(app_env.parent) not in at.error[0].value  # no path on the page
