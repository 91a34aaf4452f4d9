"""``servicewatch spark start|stop|status``: a local Spark standalone cluster to try ServiceWatch on.

``start`` runs a master, two workers and the Thrift server from the pyspark package's jars, with every
file in ``--dir``, prints the ``spark://`` URL and returns (the processes keep running); ``stop``
stops every process recorded in ``--dir/cluster.json``. Load the demo with
``servicewatch demo --db URL``. A production warehouse needs none of this: see docs/deploy.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_spark(args: argparse.Namespace) -> None:
    from metrics.backends.spark.cluster import ClusterError, SparkCluster
    from metrics.cli.common import UserError

    root = Path(args.dir)
    try:
        if args.spark_command == "start":
            root.mkdir(parents=True, exist_ok=True)
            if (root / "cluster.json").exists():
                raise UserError(f"a cluster is already recorded in {root / 'cluster.json'}; stop it first")
            cluster = SparkCluster(root, workers=args.workers, worker_memory=args.worker_memory, nice=args.nice)
            cluster.start()
            print(cluster.url())
        elif args.spark_command == "stop":
            SparkCluster.attach(root).stop()
            print(f"spark cluster in {root} stopped")
        else:
            cluster = SparkCluster.attach(root)
            state = json.loads((root / "cluster.json").read_text())
            print(json.dumps({"url": state.get("url"), "workers_alive": cluster.alive_workers(),
                              "processes": len(cluster.leftovers())}, indent=1))
    except ClusterError as exc:
        raise UserError(str(exc)) from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("spark", help="start/stop a local Spark cluster (master, two workers, Thrift server)")
    ssub = sp.add_subparsers(dest="spark_command", required=True, metavar="ACTION")
    for name, text in (("start", "start it and print its database URL"), ("stop", "stop every process of it"),
                       ("status", "URL, live workers and processes")):
        p = ssub.add_parser(name, help=text)
        p.add_argument("--dir", required=True, help="folder for its warehouse, metastore, logs and cluster.json")
        if name == "start":
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--worker-memory", default="1g", help="memory of each worker (Spark notation: 1g, 768m)")
            p.add_argument("--nice", type=int, default=0, help="run the processes with this niceness")
    sp.set_defaults(func=cmd_spark)
