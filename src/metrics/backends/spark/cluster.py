"""A Spark standalone cluster on 127.0.0.1 from the jars the ``pyspark`` package ships.

One master, two workers (one core and 1 GB each by default) and the Thrift server
(``HiveThriftServer2``, the HiveServer2 protocol ServiceWatch talks to) attached to the master, each
a separate Java process in its own process group. Everything they write — warehouse, Derby
metastore, scratch and operation-log directories, logs, work dirs — goes into one folder, so nothing
litters ``/tmp``. :meth:`SparkCluster.stop` kills every process group it started (also when the
start fails half-way); the folder's ``cluster.json`` records them, so another process
(``servicewatch spark stop --dir D``) can stop a cluster it did not start.

Used by the tests (a session fixture), by ``make test-spark`` and by operators trying ServiceWatch
on Spark: ``servicewatch spark start --dir /tmp/sw-spark`` prints the database URL to use.
Needs Java 17 (Debian's ``openjdk-17-jre-headless``) and the optional extra ``spark``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "cluster.json"
THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


class ClusterError(RuntimeError):
    """The cluster could not start (one line: which process, why, where its log is)."""


def spark_home() -> Path:
    """The pyspark package folder: it holds ``bin/spark-class`` and ``jars/`` (Thrift server included)."""
    try:
        import pyspark
    except ImportError:
        raise ClusterError("pyspark is not installed (pip install 'servicewatch[spark]')") from None
    return Path(pyspark.__file__).resolve().parent


def java_available() -> str | None:
    """Path of the ``java`` the scripts would run, or None."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class SparkCluster:
    """A cluster whose files all live under ``root``. ``start()`` returns when SQL can be run."""

    root: Path
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "1g"
    executor_memory: str = "768m"
    driver_memory: str = "1g"
    daemon_memory: str = "256m"  # heap of the master and worker daemons (executors are separate JVMs)
    nice: int = 0  # niceness of every process (the machine is shared)
    shuffle_partitions: int = 4  # spark.sql.shuffle.partitions: 200 by default, far too many for 2 cores
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    # -- paths ------------------------------------------------------------------------------------
    @property
    def warehouse(self) -> Path:
        """Where the Parquet files of the tables go (readable by the workers: same machine)."""
        return self.root / "warehouse"

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.ports['master']}"

    @property
    def thrift_port(self) -> int:
        return self.ports["thrift"]

    def url(self, database: str = "default") -> str:
        """The ServiceWatch database URL of this cluster's Thrift server."""
        return f"spark://127.0.0.1:{self.thrift_port}/{database}"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # -- start ------------------------------------------------------------------------------------
    def start(self, timeout_s: float = 180.0) -> SparkCluster:
        """Start master, workers and Thrift server; wait until a query runs. On any failure every
        process already started is stopped and :class:`ClusterError` is raised."""
        java = java_available()
        if java is None:
            raise ClusterError("no java on PATH and no JAVA_HOME (Debian: apt-get install openjdk-17-jre-headless)")
        home = spark_home()
        self.root = self.root.resolve()
        for sub in ("logs", "warehouse", "scratch", "local", "oplogs", "work", "derby"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.ports = {"master": free_port(), "master_ui": free_port(), "thrift": free_port(), "thrift_ui": free_port()}
        deadline = time.monotonic() + timeout_s
        try:
            self._spawn("master", home, ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                         "--port", str(self.ports["master"]),
                                         "--webui-port", str(self.ports["master_ui"])])
            self._wait(lambda: _port_open(self.ports["master"]), "master", deadline)
            for i in range(1, self.workers + 1):
                work = self.root / "work" / f"worker{i}"
                work.mkdir(parents=True, exist_ok=True)
                self._spawn(f"worker{i}", home, [
                    "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", str(self.worker_cores),
                    "--memory", self.worker_memory, "--webui-port", str(free_port()), "--work-dir", str(work),
                    self.master_url])
            self._wait(lambda: self.alive_workers() >= self.workers, "workers", deadline)
            self._spawn("thrift", home, self._thrift_args())
            self._wait(self._thrift_ready, "thrift", deadline)
        except BaseException:
            self.stop()
            raise
        self._save()
        return self

    def _thrift_args(self) -> list[str]:
        r = self.root
        derby = f"jdbc:derby:;databaseName={r / 'derby' / 'metastore_db'};create=true"
        java_opts = f"-Dderby.system.home={r / 'derby'} -Djava.io.tmpdir={r / 'local'}"
        conf = {
            "spark.master": self.master_url,
            "spark.app.name": "servicewatch-thrift",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.memory": self.driver_memory,
            "spark.driver.extraJavaOptions": java_opts,
            "spark.executor.extraJavaOptions": f"-Djava.io.tmpdir={r / 'local'}",
            "spark.executor.memory": self.executor_memory,
            "spark.executor.cores": "1",
            "spark.cores.max": str(self.workers * self.worker_cores),
            "spark.local.dir": str(r / "local"),
            "spark.ui.port": str(self.ports["thrift_ui"]),
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.session.timeZone": "UTC",
            "spark.hadoop.javax.jdo.option.ConnectionURL": derby,
            "spark.hadoop.hive.exec.scratchdir": str(r / "scratch"),
            "spark.hadoop.hive.exec.local.scratchdir": str(r / "scratch"),
            "spark.hadoop.hive.downloaded.resources.dir": str(r / "scratch"),
            "spark.hadoop.hive.querylog.location": str(r / "scratch"),
            "spark.hadoop.hive.server2.logging.operation.log.location": str(r / "oplogs"),
            "spark.hadoop.hive.server2.thrift.bind.host": "127.0.0.1",
            "spark.hadoop.hive.server2.thrift.port": str(self.thrift_port),
            "spark.hadoop.hive.server2.authentication": "NONE",
        }
        args = ["org.apache.spark.deploy.SparkSubmit", "--class", THRIFT_CLASS, "--name", "servicewatch-thrift",
                "--driver-memory", self.driver_memory]
        for k, v in conf.items():
            args += ["--conf", f"{k}={v}"]
        return [*args, "spark-internal"]

    def _env(self, home: Path, daemon: bool = True) -> dict[str, str]:
        r = self.root
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_", "HADOOP_"))}
        env.update({
            "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(r / "logs"), "SPARK_LOCAL_DIRS": str(r / "local"),
            "SPARK_WORKER_DIR": str(r / "work"), "SPARK_PID_DIR": str(r), "SPARK_CONF_DIR": str(r / "conf"),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_NO_DAEMONIZE": "1",
        })
        if daemon:  # the Thrift server's heap is --driver-memory
            env["SPARK_DAEMON_MEMORY"] = self.daemon_memory
        (r / "conf").mkdir(exist_ok=True)
        return env

    def _spawn(self, name: str, home: Path, args: list[str]) -> None:
        cmd = [str(home / "bin" / "spark-class"), *args]
        if self.nice:
            cmd = ["nice", "-n", str(self.nice), *cmd]
        with open(self.log(name), "ab") as log:
            proc = subprocess.Popen(cmd, cwd=self.root, env=self._env(home, daemon=name != "thrift"), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pids[name] = proc.pid
        self._procs = {**getattr(self, "_procs", {}), name: proc}
        self._save()

    def _wait(self, ready, name: str, deadline: float) -> None:
        while not ready():
            for n, p in getattr(self, "_procs", {}).items():
                if p.poll() is not None:
                    raise ClusterError(f"spark {n} exited with {p.returncode}; see {self.log(n)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"spark {name} not ready in time; see {self.log(name.rstrip('s'))}")
            time.sleep(0.5)

    def alive_workers(self) -> int:
        """Workers the master reports ALIVE (its web UI's JSON)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['master_ui']}/json/", timeout=2) as resp:
                data = json.load(resp)
        except (OSError, ValueError):
            return 0
        return sum(1 for w in data.get("workers", []) if w.get("state") == "ALIVE")

    def _thrift_ready(self) -> bool:
        if not _port_open(self.thrift_port):
            return False
        try:
            from impala.dbapi import connect

            conn = connect(host="127.0.0.1", port=self.thrift_port, auth_mechanism="PLAIN", user="servicewatch",
                           timeout=30)
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                return cur.fetchall() == [(1,)]
            finally:
                conn.close()
        except Exception:  # noqa: BLE001 - not ready yet: any error means try again
            return False

    # -- stop -------------------------------------------------------------------------------------
    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop every process group started (Thrift server first), TERM then KILL; idempotent."""
        order = ["thrift"] + sorted(n for n in self.pids if n.startswith("worker")) + ["master"]
        for name in [n for n in order if n in self.pids]:
            _killpg(self.pids[name], signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for pid in self.pids.values():
            while _group_alive(pid) and time.monotonic() < deadline:
                for p in getattr(self, "_procs", {}).values():
                    p.poll()  # reap our children so their group empties
                time.sleep(0.2)
            if _group_alive(pid):
                _killpg(pid, signal.SIGKILL)
        for p in getattr(self, "_procs", {}).values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.leftovers():  # e.g. an executor JVM that left its worker's group
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.pids.clear()
        self._procs = {}
        state = self.root / STATE_FILE
        if state.exists():
            state.unlink()

    def leftovers(self) -> list[int]:
        """Processes still running whose command line names this cluster's folder (none after stop)."""
        needle, out = str(self.root).encode(), []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if needle in cmdline and int(proc.name) != os.getpid():
                try:
                    state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                except (OSError, IndexError):
                    continue
                if state != "Z":
                    out.append(int(proc.name))
        return out

    def _save(self) -> None:
        data = {"ports": self.ports, "pids": self.pids, "url": self.url() if "thrift" in self.ports else None,
                "warehouse": str(self.warehouse)}
        (self.root / STATE_FILE).write_text(json.dumps(data, indent=1))

    @classmethod
    def attach(cls, root: Path) -> SparkCluster:
        """The cluster recorded in ``root/cluster.json`` (started by another process)."""
        path = Path(root) / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ClusterError(f"no running cluster recorded in {path}") from None
        return cls(Path(root).resolve(), ports=data["ports"], pids={k: int(v) for k, v in data["pids"].items()})

    def __enter__(self) -> SparkCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
