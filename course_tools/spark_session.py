"""Spark's plumbing: a quiet session, Java, and a real cluster on this machine.

The machinery behind chapter 05; the model a student reads is
:class:`course_utils.spark.SparkALS`.

:func:`get_spark`
    A :class:`~pyspark.sql.SparkSession` on ``local[*]`` by default, bound to
    127.0.0.1, without the web UI or progress bars, logging errors only, with
    a driver of :data:`DEFAULT_DRIVER_MEMORY` (what the course's chapters need, not
    what the machine has; ``$SPARK_DRIVER_MEMORY`` or ``driver_memory=`` raise
    it) and a checkpoint folder under ``build/`` (ALS
    with many iterations needs it). The master comes from the ``master``
    argument or the ``SPARK_MASTER`` environment variable, so the same chapter
    runs on a standalone (``spark://host:7077``), YARN (``yarn``) or Kubernetes
    (``k8s://https://...``) cluster. A missing or too old Java is a clear error.
:class:`LocalCluster`
    A real standalone Spark cluster (one master, one worker) on 127.0.0.1,
    started from the pyspark package alone and stopped by process id.

The JVM writes its own console output (for example ``Using incubator modules:
jdk.incubator.vector``, which no setting turns off) to a log file,
``build/spark/driver-<pid>.log``, instead of the notebook.

Example
-------
>>> from course_tools.spark_session import get_spark, stop_spark
>>> spark = get_spark()                                        # doctest: +SKIP
>>> stop_spark()                                               # doctest: +SKIP
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_tools.doctor import MIN_JAVA, find_java
from course_utils import paths

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = ["JavaNotFoundError", "java_home", "default_master", "resolve_driver_memory", "spark_conf",
           "get_spark", "stop_spark", "LocalCluster", "free_port", "DEFAULT_DRIVER_MEMORY"]

LOG4J2_FILE = Path(__file__).with_name("spark_log4j2.properties")
DRIVER_STACK = "16m"  # -Xss: deep ALS lineages overflow the default 1 MB thread stack
# The driver's heap (on local[...] it also runs the executors). Sized from what the course
# needs: the book profile's ALS grid (about a million ratings, ranks up to 64) runs in it,
# and chapter 05's whole process tree stays under 6 GB, so a student's 8 GB laptop copes.
# Sizing it from the machine (a quarter of 24 GB) let the JVM grow to 6 GB of heap and
# chapter 05 peak at 9.8 GB. The full profile on real data needs more: set
# SPARK_DRIVER_MEMORY (e.g. 8g) or pass driver_memory=.
DEFAULT_DRIVER_MEMORY = "2g"


class JavaNotFoundError(RuntimeError):
    """No Java, or a Java too old for Spark, was found."""


def java_home(java_home_dir: str | None = None, path: str | None = None) -> tuple[str, int]:
    """``(JAVA_HOME, major version)`` of the Java Spark will use; raises if unusable.

    Looks at ``JAVA_HOME``, then ``PATH`` (as Spark does), via
    :func:`course_tools.doctor.find_java`, and returns the folder to set as
    ``JAVA_HOME`` (symbolic links such as ``/usr/bin/java`` are followed).

    Example
    -------
    >>> home, major = java_home()                        # doctest: +SKIP
    >>> major >= 17                                      # doctest: +SKIP
    True
    """
    exe, major = find_java(java_home_dir, path)
    if exe is None:
        raise JavaNotFoundError(
            "Spark needs Java, and no `java` was found on JAVA_HOME or PATH. Install a JDK "
            f"{MIN_JAVA} (`sudo apt-get install openjdk-{MIN_JAVA}-jdk-headless`, "
            f"`brew install openjdk@{MIN_JAVA}` or `conda install openjdk={MIN_JAVA}`), set "
            "JAVA_HOME to its folder, and run `course doctor` to check.")
    if major < MIN_JAVA:
        raise JavaNotFoundError(
            f"Spark 4 needs Java {MIN_JAVA} or newer, but {exe} is Java {major}. Install a "
            f"JDK {MIN_JAVA} and point JAVA_HOME at it (e.g. "
            f"`export JAVA_HOME=/usr/lib/jvm/java-{MIN_JAVA}-openjdk-amd64`), then restart "
            "the kernel; `course doctor` shows which Java is found.")
    return str(Path(exe).resolve().parents[1]), major


def default_master(master: str | None = None) -> str:
    """``master``, else ``$SPARK_MASTER``, else ``local[*]`` (all cores of this machine).

    Example
    -------
    >>> default_master("local[2]")
    'local[2]'
    """
    return master or os.environ.get("SPARK_MASTER") or "local[*]"


def _is_loopback(master: str) -> bool:
    if master.startswith("local"):
        return True
    host = master.split("://", 1)[-1].split(":", 1)[0]
    return host in ("127.0.0.1", "localhost")


def resolve_driver_memory(memory: str | None = None) -> str:
    """``memory``, else ``$SPARK_DRIVER_MEMORY``, else :data:`DEFAULT_DRIVER_MEMORY`.

    A fixed size, not a share of the machine: the JVM fills the heap it is given
    before it collects garbage, so a larger machine would only make the chapter
    use more memory. The value is Spark's format (``512m``, ``2g``); a malformed
    one is an error that names where it came from.

    Example
    -------
    >>> resolve_driver_memory("4g")
    '4g'
    """
    source = "driver_memory"
    if memory is None and os.environ.get("SPARK_DRIVER_MEMORY"):
        memory, source = os.environ["SPARK_DRIVER_MEMORY"], "the environment variable SPARK_DRIVER_MEMORY"
    if memory is None:
        return DEFAULT_DRIVER_MEMORY
    if not re.fullmatch(r"[1-9][0-9]*[kKmMgGtT]", memory.strip()):
        raise ValueError(f"{source} is {memory!r}; give a size such as '2g' or '512m' "
                         f"(default {DEFAULT_DRIVER_MEMORY!r})")
    return memory.strip().lower()


def spark_conf(master: str | None = None, app_name: str = "course",
               driver_memory: str | None = None, executor_memory: str | None = None,
               executor_cores: int | None = None, driver_host: str | None = None,
               extra: dict[str, str] | None = None) -> dict[str, str]:
    """The Spark settings :func:`get_spark` uses (a plain dict, so it can be read and tested).

    Parameters
    ----------
    master
        See :func:`default_master`.
    driver_memory
        The driver's heap (on ``local[...]`` the driver also runs the executors);
        default ``$SPARK_DRIVER_MEMORY``, else :data:`DEFAULT_DRIVER_MEMORY` (see
        :func:`resolve_driver_memory`).
    executor_memory, executor_cores
        For clusters (default: Spark's, 1 GB per executor).
    driver_host
        The address executors use to reach this machine (clusters only; default
        ``$SPARK_DRIVER_HOST``, else Spark's guess).
    extra
        More ``spark.*`` settings, applied last.

    Example
    -------
    >>> conf = spark_conf("local[2]")
    >>> conf["spark.ui.enabled"], conf["spark.driver.host"]
    ('false', '127.0.0.1')
    """
    master = default_master(master)
    memory = resolve_driver_memory(driver_memory)
    java_opts = f"-Xss{DRIVER_STACK} -Dlog4j2.configurationFile=file:{LOG4J2_FILE}"
    conf = {
        "spark.master": master,
        "spark.app.name": app_name,
        "spark.driver.memory": memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": f"-Xss{DRIVER_STACK}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.warehouse.dir": str(paths.build_dir() / "spark" / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
    }
    if master.startswith("local"):
        # Small data on few cores: Spark's default of 200 shuffle partitions is all overhead.
        cores = os.cpu_count() or 2
        conf["spark.sql.shuffle.partitions"] = str(max(4, 2 * cores))
        conf["spark.default.parallelism"] = str(max(4, 2 * cores))
    if _is_loopback(master):
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
        # executors on this machine can read the same log configuration
        conf["spark.executor.extraJavaOptions"] += f" -Dlog4j2.configurationFile=file:{LOG4J2_FILE}"
    else:
        host = driver_host or os.environ.get("SPARK_DRIVER_HOST")
        if host:
            conf["spark.driver.host"] = host
    if executor_memory:
        conf["spark.executor.memory"] = executor_memory
    if executor_cores:
        conf["spark.executor.cores"] = str(executor_cores)
    conf.update(extra or {})
    return conf


def _launch_gateway(conf: Any, log_path: Path) -> Any:
    """Start the JVM with its stdout/stderr going to ``log_path`` (not the notebook)."""
    from pyspark.java_gateway import launch_gateway

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})


def get_spark(master: str | None = None, app_name: str = "course",
              driver_memory: str | None = None, executor_memory: str | None = None,
              executor_cores: int | None = None, driver_host: str | None = None,
              checkpoint_dir: str | Path | None = None,
              extra: dict[str, str] | None = None) -> "SparkSession":
    """A quiet, local-by-default :class:`~pyspark.sql.SparkSession` (see the module docs).

    Calling it again returns the running session (``get_spark()`` without a
    master returns whatever session runs). Asking for another master while one
    runs is an error: call :func:`stop_spark` first.

    Parameters
    ----------
    master, app_name, driver_memory, executor_memory, executor_cores, driver_host, extra
        See :func:`spark_conf`.
    checkpoint_dir
        Where ALS cuts its lineage every few iterations (default
        ``build/spark/checkpoints``; on a multi-machine cluster, give a folder all
        machines share, e.g. ``hdfs:///tmp/checkpoints``).

    Raises
    ------
    JavaNotFoundError
        No Java, or Java older than 17.

    Example
    -------
    >>> spark = get_spark()                                  # doctest: +SKIP
    >>> spark.range(3).count()                               # doctest: +SKIP
    3
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    asked = master
    master = default_master(master)
    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext._jsc is not None:
        running = active.sparkContext.master
        if asked is not None and running != master:
            raise RuntimeError(
                f"a Spark session with master {running!r} is already running in this "
                f"process; call course_tools.spark_session.stop_spark() before starting one on {master!r}")
        return active

    home, _ = java_home()
    os.environ["JAVA_HOME"] = home  # a newer JDK may be first on PATH: use the checked one
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers must use this environment
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if _is_loopback(master):
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    elif os.environ.get("SPARK_LOCAL_IP") == "127.0.0.1":
        # course_utils binds Spark to loopback by default; a remote cluster must reach us
        del os.environ["SPARK_LOCAL_IP"]

    settings = spark_conf(master, app_name, driver_memory, executor_memory, executor_cores,
                          driver_host, extra)
    conf = SparkConf(loadDefaults=False).setAll(list(settings.items()))
    gateway = None
    if SparkContext._gateway is None:
        log_path = paths.build_dir() / "spark" / f"driver-{os.getpid()}.log"
        gateway = _launch_gateway(conf, log_path)
    sc = SparkContext(conf=conf, gateway=gateway)
    sc.setLogLevel("ERROR")
    if checkpoint_dir is not None and "://" in str(checkpoint_dir):  # hdfs://, s3a://, ...
        sc.setCheckpointDir(str(checkpoint_dir))
    else:
        folder = Path(checkpoint_dir or paths.build_dir() / "spark" / "checkpoints")
        folder.mkdir(parents=True, exist_ok=True)
        sc.setCheckpointDir(str(folder.resolve()))
    return SparkSession(sc)


def stop_spark(shutdown_jvm: bool = False) -> None:
    """Stop the running session, if any; with ``shutdown_jvm`` also end the Java process.

    Without ``shutdown_jvm`` the JVM stays up (as in PySpark) and the next
    :func:`get_spark` starts faster, but with the JVM's first memory settings.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    context = active.sparkContext if active is not None else SparkContext._active_spark_context
    checkpoints = None
    if context is not None and context._jsc is not None:
        folder = context.getCheckpointDir()  # this application's own sub-folder
        if folder and folder.startswith("file:"):
            checkpoints = Path(folder[len("file:"):])
    if active is not None:
        active.stop()
    elif context is not None:
        context.stop()
    if checkpoints is not None and paths.build_dir() in checkpoints.parents:
        shutil.rmtree(checkpoints, ignore_errors=True)  # ALS checkpoints are of no later use
    if shutdown_jvm and SparkContext._gateway is not None:
        proc = getattr(SparkContext._gateway, "proc", None)
        SparkContext._gateway.shutdown()
        SparkContext._gateway = None
        SparkContext._jvm = None
        if proc is not None:
            proc.stdin.close()  # the JVM exits when its stdin closes
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()




# --------------------------------------------------------------------------
# a standalone cluster on this machine
# --------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spark_class() -> Path:
    import pyspark

    script = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not script.exists():
        raise FileNotFoundError(f"{script} is missing: reinstall pyspark (`make install`)")
    return script


@dataclass
class LocalCluster:
    """A Spark standalone cluster on 127.0.0.1: one master and one worker.

    Both are started from pyspark's ``bin/spark-class`` (the pip package has no
    ``sbin/start-master.sh``), on free ports, with their logs under
    ``build/spark/cluster/``; :meth:`stop` ends them by process id. Use it as a
    context manager.

    Example
    -------
    >>> with LocalCluster(cores=2, memory="2g") as cluster:       # doctest: +SKIP
    ...     spark = get_spark(cluster.url)
    ...     SparkALS(spark=spark).fit(train)
    ...     stop_spark()
    """

    cores: int = 1
    memory: str = "1g"
    log_dir: Path = field(default_factory=lambda: paths.build_dir() / "spark" / "cluster")
    timeout: float = 120.0
    url: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    def _start(self, args: list[str], log_name: str) -> subprocess.Popen:
        env = dict(os.environ, JAVA_HOME=java_home()[0], SPARK_LOCAL_IP="127.0.0.1",
                   PYSPARK_PYTHON=sys.executable,
                   SPARK_WORKER_DIR=str(self.log_dir / "work"),
                   SPARK_LOG_DIR=str(self.log_dir))
        env["SPARK_DAEMON_JAVA_OPTS"] = f"-Dlog4j2.configurationFile=file:{LOG4J2_FILE}"
        log = open(self.log_dir / log_name, "wb")
        try:
            proc = subprocess.Popen([str(_spark_class()), *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        finally:
            log.close()
        self.processes.append(proc)
        return proc

    def _wait_for_port(self, port: int, proc: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the Spark {what} exited with code {proc.returncode}; "
                                   f"see {self.log_dir}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.25)
        raise TimeoutError(f"the Spark {what} did not open port {port} in {self.timeout} s; "
                           f"see {self.log_dir}")

    def _wait_for_worker(self, web_port: int) -> None:
        """Poll the master's JSON status page until the worker has registered."""
        import json
        import urllib.request

        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=2) as r:
                    status = json.load(r)
                if any(w.get("state") == "ALIVE" for w in status.get("workers", [])):
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"no worker registered with the master in {self.timeout} s; "
                           f"see {self.log_dir}")

    def start(self) -> "LocalCluster":
        """Start the master, then the worker; return when the worker has registered."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        port, web = free_port(), free_port()
        master = self._start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                              "--port", str(port), "--webui-port", str(web)], "master.log")
        try:
            self._wait_for_port(port, master, "master")
            self.url = f"spark://127.0.0.1:{port}"
            worker = self._start(["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                  "--port", str(free_port()), "--webui-port", str(free_port()),
                                  "--cores", str(self.cores), "--memory", self.memory,
                                  "--work-dir", str(self.log_dir / "work"), self.url],
                                 "worker.log")
            self._wait_for_worker(web)
            if worker.poll() is not None:
                raise RuntimeError(f"the Spark worker exited; see {self.log_dir}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the worker, then the master, by their process ids."""
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.processes.clear()

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
