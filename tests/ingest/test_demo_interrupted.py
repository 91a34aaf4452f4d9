"""A streamed demo build stopped part way (review M4, L8), with real processes: ``servicewatch demo`` with
two workers killed outright (SIGKILL) leaves its temporary file and chunk folder, which the next build of
the file removes (a running process's stay); stopped by Ctrl-C (SIGINT to its process group) it ends
within seconds, its workers too, with one line and a non-zero exit, leaving the file as it was and no
temporaries."""

from __future__ import annotations

import hashlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metrics.backends.connect import duckdb_path
from metrics.demo.streamed import load_streamed

# 40 chunks of 1,000 customers (the smallest chunk allowed) in 2 workers: a minute of work under load
DEMO = ["demo", "--customers", "40000", "--chunk-customers", "1000", "--workers", "2"]


def _start(target: Path, lang: str = "en") -> subprocess.Popen[str]:
    """``servicewatch demo`` into ``target`` in a process group of its own (its workers join it)."""
    cmd = [sys.executable, "-m", "metrics.cli.main", *DEMO, "--db", f"duckdb:///{target}", "--lang", lang]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _first_chunk(proc: subprocess.Popen[str], timeout_s: float = 240.0) -> str:
    """Read stderr until the first chunk's progress line (the workers have drawn and written chunks)."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([proc.stderr], [], [], left)[0]:  # never blocks past the deadline
            break
        line = proc.stderr.readline()
        if not line:
            break
        if "1/40" in line:
            return line
    proc.kill()
    pytest.fail(f"no progress line from servicewatch demo (exit {proc.poll()})")


def _group(pgid: int) -> list[int]:
    """The pids of the processes still in process group ``pgid`` (zombies aside)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def _wait_group_gone(pgid: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while _group(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _group(pgid)


def _beside(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if not p.name.endswith(".write.lock"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def target(duckdb_url: str, tmp_path: Path) -> Path:
    """A DuckDB file with data, alone in its folder."""
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(duckdb_path(duckdb_url), path)
    return path


@pytest.fixture
def live_pid() -> int:
    proc = subprocess.Popen(["sleep", "120"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()  # reaped: the pid runs no process now
    return proc.pid


@pytest.fixture
def zombie_pid() -> int:
    """A process killed and not yet reaped by its parent (this one)."""
    proc = subprocess.Popen(["sleep", "120"])
    proc.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield proc.pid
    proc.wait()


def test_a_killed_build_leaves_temporaries_the_next_build_removes(target: Path, live_pid: int) -> None:
    before = _digest(target)
    proc = _start(target)
    _first_chunk(proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers, killed outright
    proc.wait(timeout=30)
    assert not _wait_group_gone(proc.pid, 10)
    debris = [f".demo.duckdb.{proc.pid}.tmp", f".demo.duckdb.{proc.pid}.tmp.chunks"]
    assert set(debris) <= set(_beside(target)), _beside(target)  # what the defect leaves
    assert _digest(target) == before
    # a running writer's temporaries (another pid: never removed)
    live = [f".demo.duckdb.{live_pid}.tmp", f".demo.duckdb.{live_pid}.tmp.chunks"]
    (target.parent / live[0]).write_bytes(b"building")
    (target.parent / live[1]).mkdir()
    (target.parent / live[1] / "0.customers.arrow").write_bytes(b"chunk")

    load_streamed(f"duckdb:///{target}", 2_000, chunk_customers=1_000)  # the next build of the file
    assert _beside(target) == sorted(["demo.duckdb", *live])
    assert (target.parent / live[1] / "0.customers.arrow").read_bytes() == b"chunk"
    assert _digest(target) != before


def test_only_temporaries_of_dead_pids_are_removed(tmp_path: Path, live_pid: int, zombie_pid: int) -> None:
    from metrics.backends.swap import remove_dead_temporaries, write_lock

    target = tmp_path / "f.duckdb"
    target.write_bytes(b"file")
    dead = _dead_pid()
    names = {
        f".f.duckdb.{dead}.swap": True, f".f.duckdb.{dead}.swap.wal": True, f".f.duckdb.{dead}.tmp": True,
        f".f.duckdb.{dead}.tmp.wal": True, f".f.duckdb.{dead}.tmp.chunks": True,
        f".f.duckdb.{zombie_pid}.tmp": True,  # killed, not reaped yet
        f".f.duckdb.{live_pid}.swap": False, f".f.duckdb.{live_pid}.tmp.chunks": False,
        f".f.duckdb.{os.getpid()}.tmp": False,  # this process's own
        ".f.duckdb.notes": False, f".f.duckdb.{dead}.tmp.old": False, f".g.duckdb.{dead}.tmp": False,
    }
    for name in names:
        if name.endswith(".chunks"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "3.tickets.arrow").write_bytes(b"x")
        else:
            (tmp_path / name).write_bytes(b"x")
    with write_lock(target):
        removed = remove_dead_temporaries(target)
    assert removed == sorted(n for n, gone in names.items() if gone)
    assert _beside(target) == sorted(["f.duckdb", *(n for n, gone in names.items() if not gone)])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_ctrl_c_stops_the_workers_and_leaves_the_file(target: Path, lang: str) -> None:
    before = _digest(target)
    proc = _start(target, lang)
    _first_chunk(proc)
    stopped = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("servicewatch demo still running 15 s after Ctrl-C")
    took = time.monotonic() - stopped
    left = _wait_group_gone(proc.pid, 5)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"worker processes left: {left}"
    assert proc.returncode == 130 and took < 15
    lines = [line for line in err.strip().splitlines() if "chunk" not in line and "批" not in line]
    want = "数据库文件保持原样" if lang == "zh" else "interrupted: the database file is left as it was"
    assert len(lines) == 1 and want in lines[0] and "Traceback" not in err, err[-2000:]
    assert _beside(target) == ["demo.duckdb"]
    assert _digest(target) == before
