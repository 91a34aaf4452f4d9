"""The ``xl`` section of docs/performance.md, written by :mod:`bench.xl` from bench/xl_results.json: the
runs' table, the rollups step by step, item 1's targets against a 10-million-customer run, the views on
the largest run and, while no run reached 10 million, a labelled projection to it."""

from __future__ import annotations

from bench.datasets import XL_CUSTOMERS as XL

ROLLUP_STEPS = {  # the steps of metrics.ingest.derived.refresh_rollups, timed one by one: module -> name
    "metrics.ingest.rollups": "cubes", "metrics.churn.tenure_rollup": "tenure", "metrics.ingest.open_tickets":
    "open_tickets", "metrics.ingest.topics": "topics", "metrics.ingest.queue_rollup": "queue"}


def projection(run: dict, target: int = XL) -> dict:
    """Linear projection of a streamed run to ``target`` customers: wall times × size ratio (at the run's
    load), and, where the run recorded its CPU seconds, the same work spread over the machine's cores
    (the floor an idle machine could reach). Memory: the loading process and each worker hold one chunk
    at a time, so their peaks carry over; DuckDB's buffer is bounded by its limit."""
    f = target / run["customers"]
    ph, cpu = run["phases"], run.get("cpu_s")
    out = {"customers": target, "factor": f,
           "generate_write_min": round(ph["generate_write"]["s"] * f / 60, 0),
           "rollups_min": round((ph["derived"]["s"] + ph["rollups"]["s"]) * f / 60, 0),
           "peak_mb": ph["rollups"]["peak_mb"]["self"] + run.get("workers", 1) * run.get("worker_peak_mb", 0)}
    if cpu:
        cores = run.get("cores") or 1
        out["cpu_generate_write_min"] = round(cpu["generate_write"] * f / 60, 0)
        out["idle_generate_write_min"] = round(cpu["generate_write"] * f / min(cores, run.get("workers", 1) + 1)
                                               / 60, 0)
        out["cpu_rollups_min"] = round(cpu["derived_rollups"] * f / 60, 0)
        topics = ph["rollups"].get("topics", 0) / max(ph["rollups"]["s"], 1e-9)  # share of the rollups' wall time
        out["topics_share"] = round(topics, 2)
    return out


def targets(run: dict) -> str:
    """Issue 21 item 1's targets against a run at 10 million customers: met or not, with the figures."""
    ph = run["phases"]
    load_min = ph["generate_write"]["s"] / 60
    rollups_min = (ph["derived"]["s"] + ph["rollups"]["s"]) / 60
    tree = run.get("tree_peak_mb")
    views = run.get("views", {})
    slow = [f"{v} {x['warm_s']:.2f} s" for v, x in views.items() if x["warm_s"] >= 1]
    yes = lambda ok: "**met**" if ok else "**not met**"  # noqa: E731
    memory = (f"{yes(tree <= 16 * 1024)} ({tree:,} MB for the loading process and its workers together at "
              "the peak)" if tree else "not recorded (this run predates the whole-tree sampling)")
    return (f"Against issue 21 item 1 at {run['customers']:,} customers ({run['rows'].get('tickets', 0):,} "
            f"tickets, {run['rows'].get('surveys', 0):,} surveys; {run.get('file_mb', 0):,} MB of DuckDB file), "
            f"load average {run.get('load_start', 0):.1f} at the start: generate and load under 30 min "
            f"{yes(load_min < 30)} ({load_min:.1f} min); rollups under 10 min {yes(rollups_min < 10)} "
            f"({rollups_min:.1f} min, derived tables included); within 16 GB {memory}; every view under 1 s "
            "warm " + (yes(not slow) + (f" ({', '.join(slow)})" if slow else "")) + ".")


def section(res: dict) -> str:
    xl_runs = [r for r in res["runs"].values() if r["customers"] >= XL and r["path"] == "streamed"]
    xl_children = max((r["phases"]["rollups"]["peak_mb"]["children"] for r in xl_runs), default=0)
    xl_worker = max((r.get("worker_peak_mb", 0) for r in xl_runs), default=0)
    runs = sorted(res["runs"].values(), key=lambda r: (r["path"], r["customers"], -(r.get("chunk") or 0),
                                                      r.get("workers", 1)))
    lines = [
        "### Province scale, streamed demo (issue 21 item 1) — `make bench-xl` (`python -m bench.xl`)",
        "",
        "Each run writes a demo into a temporary DuckDB file on the shared development machine (2 cores, "
        "other work running: the 1-minute load average is beside each figure); `make bench-xl` runs at nice 10, "
        "a run's own niceness is in bench/xl_results.json. *streamed*: "
        "`metrics.demo.streamed.load_streamed` (chunks drawn and appended one by one, derived tables and "
        "rollups once at the end); *whole*: `generate()` then `replace_all` (the path up to 1,000,000 "
        "customers). *workers*: processes drawing the chunks (`--workers`; 1: the loading process itself, "
        "else `metrics.demo.parallel_chunks`, the same rows). Peak RSS = `ru_maxrss` of the loading process at "
        "the end (DuckDB runs inside it), then that of the largest worker where there are workers, with "
        "DuckDB's own buffer (`duckdb_memory()`) at its largest after a chunk's append where recorded. "
        "*Whole tree*: the largest sum of `VmRSS` over the loading process and all its workers, sampled every "
        "0.5 s (from 2026-12-08; what the machine holds at once — `ru_maxrss` of the children is not: a worker "
        "started by fork + exec is charged the parent's image at the fork: "
        + (f"{xl_children:,} MB for the children of the 10-million run, whose largest worker drew "
           f"{xl_worker:,} MB" if xl_children else "see a 10-million run") + ").",
        "",
        "| path | customers | chunk | workers | tickets | generate + write (s) | derived (s) | rollups (s) "
        "| peak RSS (MB) | whole tree (MB) | DuckDB memory_limit | load | measured (UTC) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        ph = r["phases"]
        if r["path"] == "streamed":
            gw, der, rol = ph["generate_write"]["s"], ph["derived"]["s"], ph["rollups"]["s"]
            peak, load = ph["rollups"]["peak_mb"]["self"], ph["rollups"]["load"]
            cells = f"{gw:,.0f} (draw {ph['generate_write']['generate_s']:,.0f}) | {der:,.0f} | {rol:,.0f}"
        else:
            gen, rest = ph["generate"], ph["write_derived_rollups"]
            peak, load = rest["peak_mb"]["self"], rest["load"]
            cells = f"{gen['s'] + rest['s']:,.0f} (draw {gen['s']:,.0f}; write, derived and rollups together) | — | —"
        chunk = f"{r['chunk']:,}" if r.get("chunk") else "—"
        limit = r["duckdb_memory_limit"] or "default"
        duck = f" (DuckDB's buffer at most {r['duckdb_buffer_peak_mb']:,.0f})" if r.get("duckdb_buffer_peak_mb") else ""
        if r.get("worker_peak_mb"):
            duck += f"; a worker {r['worker_peak_mb']:,.0f}"
        workers = r.get("workers", 1) if r["path"] == "streamed" else "—"
        tree = f"{r['tree_peak_mb']:,}" if r.get("tree_peak_mb") else "—"
        lines.append(f"| {r['path']} | {r['customers']:,} | {chunk} | {workers} | {r['rows'].get('tickets', 0):,} | "
                     f"{cells} | "
                     f"{peak:,}{duck} | {tree} | {limit} | {load:.1f} | "
                     f"{r['finished_at'][:16].replace('T', ' ')} |")
    lines += [f"\nThe {r['path']} run at {r['customers']:,} (chunk {r.get('chunk') or 0:,}, "
              f"{r.get('workers', 1) if r['path'] == 'streamed' else '—'} worker(s), "
              f"{r['finished_at'][11:16]} UTC): {r['note']}." for r in runs if r.get("note")]
    stepped = [r for r in runs if r["path"] == "streamed" and "topics" in r["phases"]["rollups"]]
    if stepped:
        lines += ["", "Rollups step by step (s; `metrics.ingest.derived.refresh_rollups`: the SQL cubes, the tenure "
                  "table, open tickets, the complaint topics tagged in Python, the queue rollup) and the slowest SQL "
                  "statements of the load:", ""]
        for r in stepped:
            st = r["phases"]["rollups"]
            steps = ", ".join(f"{name} {st[name]:,.0f}" for name in ROLLUP_STEPS.values() if name in st)
            sql = "; ".join(f"{x[0]:,.0f} s `{x[1].split('(')[0].strip()}`" for x in r.get("slow_sql", [])[:4])
            lines.append(f"- {r['customers']:,} customers, {r.get('workers', 1)} worker(s): {steps}"
                         + (f". Slowest SQL: {sql}" if sql else "") + ".")
    streamed = [r for r in runs if r["path"] == "streamed"]
    if streamed:
        big = max(streamed, key=lambda r: (r["customers"], r.get("workers", 1), r["finished_at"]))
        if big.get("chunk_marks"):
            marks = "; ".join(f"{m['chunk']}: {m['seconds']:,.0f} s, {m['peak_mb']['self']:,} MB"
                              + (f" (DuckDB {m['duckdb_mb']:,} MB)" if m.get("duckdb_mb") is not None else "")
                              + f", load {m['load']:.1f}" for m in big["chunk_marks"])
            lines += ["", f"Chunk by chunk in the {big['customers']:,}-customer run (time since the start, peak RSS "
                      f"so far, load): {marks}."]
        if big["customers"] >= XL:
            lines += ["", targets(big)]
        if big.get("views"):
            lines += ["", f"Views on the streamed {big['customers']:,}-customer file (bench/views.py, rollups on; "
                      f"warm = median of {res.get('repeat', 2)} passes after the first):", "",
                      "| view | calls | cold (s) | warm (s) | slowest calls, warm (s) | load |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {v} | {x['calls']} | {x['cold_s']:.2f} | {x['warm_s']:.2f} | "
                      + ("; ".join(f"{c[1]} {c[0]:.2f}" for c in x.get("slowest_warm", [])) or "—")
                      + f" | {x['load']:.1f} |" for v, x in big["views"].items()]
        if big["customers"] < XL:
            p = projection(big)
            lines += ["", "**Projection to 10,000,000 customers — not a measurement** (the full run would take this "
                      f"shared machine one to two hours): from the largest streamed run, {big['customers']:,} "
                      f"customers with {big.get('workers', 1)} worker(s), × {p['factor']:.0f}: at that run's load, "
                      f"generate + write about {p['generate_write_min']:.0f} min, derived + rollups about "
                      f"{p['rollups_min']:.0f} min, if they stay linear in the rows."]
            if "cpu_generate_write_min" in p:
                lines[-1] += (
                    f" In work done (CPU seconds, which other people's load does not inflate much): generate + "
                    f"write {p['cpu_generate_write_min']:.0f} CPU-min, which the workers and the loading process "
                    f"spread over the machine's cores: about {p['idle_generate_write_min']:.0f} min on an idle "
                    f"machine like this one (2 cores); derived + rollups {p['cpu_rollups_min']:.0f} CPU-min in the "
                    "loading process, where DuckDB's cube builds use both cores but the complaint topics "
                    f"(`metrics.ingest.topics.refresh`, {p['topics_share']:.0%} of the rollups' time) are tagged "
                    "text by text in one Python thread, so most of it stays serial.")
            lines[-1] += (
                f" Memory: each process holds one chunk at a time, so the peaks carry over ({p['peak_mb']:,} MB "
                "for the loading process and its workers together); DuckDB's buffer is bounded by its "
                "memory_limit (spilling to disk beyond it); the topics step reads every complaint text at once "
                "(about 6 million at 10 million customers), not measured at that size. Against the issue's "
                "targets (load in 30 min within 16 GB, rollups in 10 min): memory yes (projected); the load's "
                "time only on a machine with its cores free (here the other work took most of them); the "
                "rollups' 10 minutes no: they are bounded by the complaint topics, tagged in one Python thread, "
                "not by the SQL cubes (DuckDB already builds those on every core; "
                "`preserve_insertion_order = false` changed nothing measurable at 200,000 customers).")
    return "\n".join(lines)


