"""``make bench-xl``: the streamed demo at province scale (issue 21 item 1) — time per phase, memory peaks.

    .venv/bin/python -m bench.xl [--customers 10000000] [--chunk-customers 250000] [--path streamed|whole]

Generates and writes a demo of ``--customers`` into a temporary DuckDB file (``--path streamed``:
:func:`metrics.demo.streamed.load_streamed`, chunk by chunk; ``--path whole``: ``generate()`` then
``replace_all``, for comparison at sizes that fit), records the wall time of each phase (generate +
write, derived tables, rollups), the process's peak resident memory after each phase
(``getrusage`` ``ru_maxrss``, self and children) and DuckDB's ``memory_limit``, then times the six views
of :mod:`bench.views` on the result (cold = first pass, warm = median of ``--repeat``). Each run is added
to ``bench/xl_results.json`` (keyed by path and size) and the ``xl`` section of ``docs/performance.md``
is rewritten from all runs, with the machine's load average beside each figure and, from the largest
streamed run, a projection to 10 million customers (labelled as such).

The full 10-million run took a quiet 2-core machine about 15 minutes with the views (2026-12-08).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.sections import write_section
from bench.views import VIEWS, default_filters, run_call
from bench.xl_section import ROLLUP_STEPS, XL, section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "xl_results.json"


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def peak_mb() -> dict[str, float]:
    """Peak resident memory so far (MB): this process and its waited-for children."""
    kb = lambda who: resource.getrusage(who).ru_maxrss / 1024  # noqa: E731 - Linux: kilobytes
    return {"self": round(kb(resource.RUSAGE_SELF)), "children": round(kb(resource.RUSAGE_CHILDREN))}


def cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) so far: this process (DuckDB's threads included) and its waited-for
    children (the workers, once the pool is shut down). On a shared machine the wall time says how busy
    it was, these say how much work the load took."""
    sec = lambda who: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(who))  # noqa: E731
    return {"self": round(sec(resource.RUSAGE_SELF), 1), "children": round(sec(resource.RUSAGE_CHILDREN), 1)}


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def tree_rss_mb(root: int) -> float:
    """Resident memory (MB) of process ``root`` and all its descendants now, summed (``VmRSS`` of each;
    pages shared between them counted in each, so an upper bound). Unlike ``ru_maxrss`` of the children,
    which for a worker started by fork + exec also counts the parent's image at the fork, this is what
    the machine holds at one moment."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            status = Path(f"/proc/{d}/status").read_text()
        except OSError:  # ended meanwhile
            continue
        parents[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
        m = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        rss[int(d)] = int(m[0].split()[1]) / 1024 if m else 0.0
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(p, 0.0) for p in tree)


@contextlib.contextmanager
def sampled_memory(into: dict, every: float = 0.5) -> Iterator[None]:
    """Sample :func:`tree_rss_mb` of this process every ``every`` s in a thread; ``into['peak_mb']``: the
    largest sum seen, ``into['peak_at_s']``: when (s since the start)."""
    import threading

    stop, t0, me = threading.Event(), time.perf_counter(), os.getpid()
    into.update(peak_mb=0.0, peak_at_s=0.0)

    def sample() -> None:
        while not stop.wait(every):
            mb = tree_rss_mb(me)
            if mb > into["peak_mb"]:
                into.update(peak_mb=round(mb), peak_at_s=round(time.perf_counter() - t0, 1))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()




@contextlib.contextmanager
def timed_rollups(into: dict) -> Iterator[None]:
    """Time each step of the rollups' refresh (``into['steps']``, s) and every SQL statement of the load
    taking over a second (``into['slow_sql']``: seconds and the statement's first 100 characters)."""
    import importlib

    import sqlalchemy as sa

    steps, slow, saved = into.setdefault("steps", {}), into.setdefault("slow_sql", []), []
    for module, name in ROLLUP_STEPS.items():
        mod = importlib.import_module(module)
        saved.append((mod, mod.refresh))

        def wrapped(engine: object, _f=mod.refresh, _name=name) -> object:
            t0 = time.perf_counter()
            try:
                return _f(engine)
            finally:
                steps[_name] = round(steps.get(_name, 0) + time.perf_counter() - t0, 1)

        mod.refresh = wrapped

    def before(conn, cursor, statement, params, context, many) -> None:  # noqa: ANN001
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    def after(conn, cursor, statement, params, context, many) -> None:  # noqa: ANN001
        s = time.perf_counter() - conn.info["bench_t0"].pop()
        if s > 1:
            slow.append([round(s, 1), " ".join(statement.split())[:100]])

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", before)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", before)
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", after)
        for mod, f in saved:
            mod.refresh = f
        slow.sort(reverse=True)


def run_streamed(url: str, customers: int, chunk: int, seed: int, workers: int) -> dict:
    from metrics.demo.streamed import load_streamed

    marks: list[dict] = []

    def progress(k: int, n: int, fig: object) -> None:
        marks.append({"chunk": k + 1, "seconds": round(time.perf_counter() - t0, 1), "peak_mb": peak_mb(),
                      "cpu_s": cpu_s(),
                      "duckdb_mb": getattr(fig, "duckdb_memory_mb", None),
                      "worker_peak_mb": getattr(fig, "worker_peak_mb", 0), "load": load1()})
        log(f"  chunk {k + 1}/{n}: {marks[-1]['seconds']:.0f} s, peak {marks[-1]['peak_mb']['self']:,} MB "
            f"(DuckDB's buffer {marks[-1]['duckdb_mb']} MB, a worker at most {marks[-1]['worker_peak_mb']:,} MB)")

    rollups: dict = {}
    cpu0 = cpu_s()
    t0 = time.perf_counter()
    with timed_rollups(rollups):
        r = load_streamed(url, customers, seed=seed, chunk_customers=chunk, progress=progress, workers=workers)
    after = {"peak_mb": peak_mb(), "load": load1()}
    gen_write = r.generate_s + r.write_s
    cpu1, last = cpu_s(), (marks[-1]["cpu_s"] if marks else cpu0)
    cpu = {"generate_write": round(last["self"] - cpu0["self"] + cpu1["children"] - cpu0["children"], 1),
           "generate_write_self": round(last["self"] - cpu0["self"], 1),
           "workers": round(cpu1["children"] - cpu0["children"], 1),
           "derived_rollups": round(cpu1["self"] - last["self"], 1)}
    return {"rows": r.rows, "chunks": r.chunks, "workers": r.workers, "duckdb_memory_limit": r.duckdb_memory_limit,
            "duckdb_buffer_peak_mb": r.duckdb_memory_peak_mb, "worker_peak_mb": r.worker_peak_mb,
            "phases": {"generate_write": {"s": round(gen_write, 1), "generate_s": round(r.generate_s, 1),
                                          "write_s": round(r.write_s, 1), "workers_draw_s": round(r.draw_s, 1),
                                          **(marks[-1] if marks else {})},
                       "derived": {"s": round(r.derived_s, 1)},
                       "rollups": {"s": round(r.rollups_s, 1), **rollups["steps"], **after}},
            "cpu_s": cpu, "slow_sql": rollups["slow_sql"][:12], "chunk_marks": marks}


def run_whole(url: str, customers: int, seed: int) -> dict:
    from metrics.demo.generator import generate
    from metrics.ingest.load import replace_all

    t0 = time.perf_counter()
    frames = generate(customers=customers, seed=seed)
    gen = {"s": round(time.perf_counter() - t0, 1), "peak_mb": peak_mb(), "load": load1()}
    t0 = time.perf_counter()
    replace_all(url, frames)
    rest = {"s": round(time.perf_counter() - t0, 1), "peak_mb": peak_mb(), "load": load1()}
    return {"rows": {k: len(v) for k, v in frames.items()}, "chunks": 1, "duckdb_memory_limit": "",
            "phases": {"generate": gen, "write_derived_rollups": rest}}


def time_views(url: str, repeat: int) -> dict:
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(url)
    out = {}
    try:
        filters = default_filters(wh.as_of())
        for view, calls in VIEWS.items():
            runs, per_call = [], [[] for _ in calls]
            for _ in range(1 + repeat):
                t0 = time.perf_counter()
                for i, call in enumerate(calls):
                    t1 = time.perf_counter()
                    run_call(wh, call, filters)
                    per_call[i].append(time.perf_counter() - t1)
                runs.append(time.perf_counter() - t0)
            slowest = sorted(((statistics.median(t[1:]), f"{c.method} {c.metric} by {c.by or '-'}")
                              for t, c in zip(per_call, calls, strict=True)), reverse=True)[:3]
            out[view] = {"calls": len(calls), "cold_s": round(runs[0], 2),
                         "warm_s": round(statistics.median(runs[1:]), 2), "load": load1(),
                         "slowest_warm": [[round(s, 2), name] for s, name in slowest]}
            log(f"  {view}: cold {runs[0]:.2f} s, warm {out[view]['warm_s']:.2f} s; "
                f"slowest {out[view]['slowest_warm']}")
    finally:
        wh.engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.xl", description=__doc__.split("\n\n")[0])
    p.add_argument("--customers", type=int, default=XL)
    p.add_argument("--chunk-customers", type=int, default=None, help="default: the streamed path's (250,000)")
    p.add_argument("--path", choices=("streamed", "whole"), default="streamed")
    p.add_argument("--workers", type=int, default=None,
                   help="processes drawing the chunks (default: the streamed path's, one per core, at most 3)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--no-views", action="store_true", help="skip timing the views on the result")
    p.add_argument("--dir", type=Path, default=None, help="where the temporary DuckDB file goes (removed after)")
    p.add_argument("--keep", type=Path, default=None,
                   help="move the DuckDB file here at the end instead of removing it (must not exist)")
    p.add_argument("--section-only", action="store_true", help="rewrite the xl section from bench/xl_results.json")
    args = p.parse_args(argv)
    res = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}}
    if not args.section_only:
        from metrics.demo.streamed import CHUNK_CUSTOMERS, default_workers

        if args.keep is not None and (args.keep.exists() or not args.keep.parent.is_dir()):
            p.error(f"--keep: {args.keep} exists already or its folder does not")
        chunk = args.chunk_customers or CHUNK_CUSTOMERS
        workers = args.workers or default_workers()
        root = Path(tempfile.mkdtemp(prefix="sw-bench-xl-", dir=args.dir))
        url = f"duckdb:///{root / 'xl.duckdb'}"
        run = {"path": args.path, "customers": args.customers, "chunk": chunk if args.path == "streamed" else None,
               "seed": args.seed, "load_start": load1(), "cores": os.cpu_count(), "nice": os.nice(0)}
        log(f"{args.path} demo of {args.customers:,} customers into {url}")
        memory: dict = {}
        try:
            with sampled_memory(memory):
                run.update(run_streamed(url, args.customers, chunk, args.seed, workers) if args.path == "streamed"
                           else run_whole(url, args.customers, args.seed))
            run["tree_peak_mb"], run["tree_peak_at_s"] = memory["peak_mb"], memory["peak_at_s"]
            run["file_mb"] = round((root / "xl.duckdb").stat().st_size / 2**20)
            log(f"written: {json.dumps(run['phases'])}")
            if not args.no_views:
                run["views"] = time_views(url, args.repeat)
            if args.keep is not None:
                shutil.move(root / "xl.duckdb", args.keep)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        key = f"{args.path}-{args.customers}" + (f"-{chunk}" if args.path == "streamed" else "")
        res["runs"][key + (f"-w{workers}" if args.path == "streamed" and workers > 1 else "")] = run
        res["repeat"] = args.repeat
        RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_section("xl", section(res))
    log("written bench/xl_results.json and docs/performance.md (xl section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
