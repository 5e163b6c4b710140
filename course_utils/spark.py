"""Apache Spark for the course: a quiet session helper and Spark's ALS in the course's shape.

:func:`get_spark`
    A :class:`~pyspark.sql.SparkSession` on ``local[*]`` by default, bound to
    127.0.0.1, without the web UI or progress bars, logging errors only, with
    memory sized to the machine and a checkpoint folder under ``build/`` (ALS
    with many iterations needs it). The master comes from the ``master``
    argument or the ``SPARK_MASTER`` environment variable, so the same chapter
    runs on a standalone (``spark://host:7077``), YARN (``yarn``) or Kubernetes
    (``k8s://https://...``) cluster. A missing or too old Java is a clear error.
:class:`SparkALS`
    :class:`pyspark.ml.recommendation.ALS` with the course's model shape:
    ``fit(train, valid=None)``, ``predict(users, items)``,
    ``recommend(users, k, exclude_seen=True)`` (through ``recommendForUserSubset``).
:class:`LocalCluster`
    A real standalone Spark cluster (one master, one worker) on 127.0.0.1,
    started from the pyspark package alone and stopped by process id.

The JVM writes its own console output (for example ``Using incubator modules:
jdk.incubator.vector``, which no setting turns off) to a log file,
``build/spark/driver-<pid>.log``, instead of the notebook.

Example
-------
>>> import pandas as pd
>>> from course_utils.spark import SparkALS, get_spark
>>> spark = get_spark()                                        # doctest: +SKIP
>>> train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 0], "rating": [8.0, 6.0, 9.0]})
>>> model = SparkALS(rank=2, epochs=5, spark=spark).fit(train)   # doctest: +SKIP
>>> model.recommend([1], k=1).tolist()                          # doctest: +SKIP
[[1]]
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from course_utils import paths
from course_utils.model import Recommender
from course_utils.doctor import MIN_JAVA, find_java

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from course_utils.mf import FactorModel

__all__ = ["JavaNotFoundError", "java_home", "default_master", "spark_conf", "get_spark",
           "stop_spark", "to_spark", "SparkALS", "LocalCluster"]

LOG4J2_FILE = Path(__file__).with_name("spark_log4j2.properties")
DRIVER_STACK = "16m"  # -Xss: deep ALS lineages overflow the default 1 MB thread stack


class JavaNotFoundError(RuntimeError):
    """No Java, or a Java too old for Spark, was found."""


def java_home(java_home_dir: str | None = None, path: str | None = None) -> tuple[str, int]:
    """``(JAVA_HOME, major version)`` of the Java Spark will use; raises if unusable.

    Looks at ``JAVA_HOME``, then ``PATH`` (as Spark does), via
    :func:`course_utils.doctor.find_java`, and returns the folder to set as
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


def _machine_memory_gb() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30


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
        Default: a quarter of this machine's memory, between 1 and 16 GB (on
        ``local[...]`` the driver also runs the executors).
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
    if driver_memory is None:
        driver_memory = f"{int(min(16, max(1, _machine_memory_gb() // 4)))}g"
    java_opts = f"-Xss{DRIVER_STACK} -Dlog4j2.configurationFile=file:{LOG4J2_FILE}"
    conf = {
        "spark.master": master,
        "spark.app.name": app_name,
        "spark.driver.memory": driver_memory,
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
                f"process; call course_utils.spark.stop_spark() before starting one on {master!r}")
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


def to_spark(spark: "SparkSession", frame: pd.DataFrame,
             columns: tuple[str, ...] = ("user", "item", "rating")) -> "DataFrame":
    """A Spark DataFrame of a rating frame (ids as int, ratings as float), via Arrow.

    Example
    -------
    >>> df = to_spark(spark, pd.DataFrame({"user": [0], "item": [3], "rating": [7.0]}))  # doctest: +SKIP
    >>> df.dtypes                                                # doctest: +SKIP
    [('user', 'int'), ('item', 'int'), ('rating', 'float')]
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks the column(s) {missing} (it has {list(frame.columns)}); "
                         f"expected {list(columns)}")
    data = {}
    for col in columns:
        values = frame[col].to_numpy()
        if col in ("user", "item"):
            if values.dtype.kind not in "iu":
                raise ValueError(f"column {col!r} must hold integer ids, got dtype {values.dtype}")
            if values.size and values.max() > np.iinfo(np.int32).max:
                raise ValueError(f"column {col!r} has ids above 2^31-1: Spark's ALS needs int ids")
            data[col] = values.astype(np.int32)
        elif col == "rating":
            data[col] = values.astype(np.float32)
        else:
            data[col] = values
    return spark.createDataFrame(pd.DataFrame(data))


# --------------------------------------------------------------------------
# ALS
# --------------------------------------------------------------------------
class SparkALS(Recommender):
    """Spark's ALS (``pyspark.ml.recommendation.ALS``) with the course's model shape.

    Spark minimises eq. 4.2 with the penalty weighted by the number of ratings of
    each user and item ("ALS-WR"): ``λ n_u |h_u|^2``, no biases, no global mean.
    :class:`course_utils.mf.ALSMatrixFactorization` with ``weighted_reg=True,
    biases=False, global_mean=False`` solves the same problem in NumPy.

    Parameters
    ----------
    rank, reg, epochs
        Spark's ``rank``, ``regParam`` and ``maxIter`` (``epochs``, the course's
        name for the number of alternations, as in
        :class:`~course_utils.mf.ALSMatrixFactorization`).
    cold_start_strategy
        Spark's ``coldStartStrategy`` for :meth:`transform`: ``"nan"`` (unknown
        users/items predict NaN) or ``"drop"`` (their rows are dropped; what
        Spark's evaluators need). :meth:`predict` always returns one number per
        pair: for unknown ids, the training mean.
    seed
        Spark's ``seed`` (initial factors).
    num_blocks
        ``numUserBlocks`` = ``numItemBlocks`` (default: the session's default
        parallelism). More blocks spread the work over more cores.
    checkpoint_interval
        Cut the lineage every so many iterations (needs a checkpoint folder,
        which :func:`get_spark` sets).
    clip
        Clip :meth:`predict` to the training rating range, like the course's models.
    spark
        A session; default :func:`get_spark`.

    Attributes
    ----------
    model_
        The fitted :class:`pyspark.ml.recommendation.ALSModel`.
    fit_seconds_
        Wall time of Spark's ``fit`` (not counting the conversion of the frame).
    best_epoch_
        ``None``: Spark runs all ``epochs`` and keeps the last.

    Example
    -------
    >>> model = SparkALS(rank=10, reg=0.1, epochs=10).fit(train)   # doctest: +SKIP
    >>> model.predict(test["user"], test["item"])                    # doctest: +SKIP
    """

    _fitted_attribute = "model_"
    file_suffix = ""  # a folder: Spark's own model files, plus meta.json and seen.npz
    _runtime_params = ("spark", "num_blocks", "checkpoint_interval")

    def __init__(self, rank: int = 10, reg: float = 0.1, epochs: int = 10,
                 cold_start_strategy: str = "nan", seed: int = 42, num_blocks: int | None = None,
                 checkpoint_interval: int = 10, clip: bool = True,
                 spark: "SparkSession | None" = None) -> None:
        self.rank = rank
        self.reg = reg
        self.epochs = epochs
        self.cold_start_strategy = cold_start_strategy
        self.seed = seed
        self.num_blocks = num_blocks
        self.checkpoint_interval = checkpoint_interval
        self.clip = clip
        self.spark = spark

    def estimator(self) -> Any:
        """The (unfitted) :class:`pyspark.ml.recommendation.ALS` with these settings."""
        from pyspark.ml.recommendation import ALS

        if self.cold_start_strategy not in ("nan", "drop"):
            raise ValueError("cold_start_strategy must be 'nan' or 'drop', "
                             f"got {self.cold_start_strategy!r}")
        if self.rank < 1 or self.epochs < 1 or self.reg < 0:
            raise ValueError("need rank >= 1, epochs >= 1, reg >= 0; "
                             f"got {self.rank}, {self.epochs}, {self.reg}")
        spark = self._session()
        blocks = self.num_blocks or max(1, spark.sparkContext.defaultParallelism)
        return ALS(rank=int(self.rank), regParam=float(self.reg), maxIter=int(self.epochs),
                   userCol="user", itemCol="item", ratingCol="rating",
                   coldStartStrategy=self.cold_start_strategy, seed=self.seed,
                   numUserBlocks=blocks, numItemBlocks=blocks,
                   checkpointInterval=self.checkpoint_interval)

    def _session(self) -> "SparkSession":
        if self.spark is None:
            self.spark = get_spark()
        return self.spark

    def __sklearn_clone__(self) -> "SparkALS":
        """An unfitted copy that shares the Spark session (a session cannot be copied)."""
        return type(self)(**self.get_params(deep=False))

    def fit(self, train: "pd.DataFrame | DataFrame",
            valid: pd.DataFrame | None = None) -> "SparkALS":
        """Fit on ratings with columns ``user``, ``item``, ``rating``; returns ``self``.

        ``train`` is a pandas frame, or a Spark DataFrame for data that does not fit
        the driver (e.g. ``spark.read.parquet(...)`` on a cluster). ``valid``
        (optional, pandas) is scored after training: ``valid_rmse_``.
        """
        from course_utils.metrics import rmse
        from course_utils.data.views import rating_arrays
        from course_utils.recommend import seen_matrix

        spark = self._session()
        estimator = self.estimator()  # checks the arguments
        if isinstance(train, pd.DataFrame):
            users, items, ratings = rating_arrays(train, "train")
            frame = to_spark(spark, train)
            self.n_users_ = int(users.max()) + 1
            self.n_items_ = int(items.max()) + 1
            self.user_counts_ = np.bincount(users, minlength=self.n_users_)
            self.item_counts_ = np.bincount(items, minlength=self.n_items_)
            self.train_mean_ = float(ratings.mean())
            self.rating_range_ = (float(ratings.min()), float(ratings.max()))
            self.seen_ = seen_matrix(train, self.n_users_, self.n_items_)
        else:
            frame = self._describe_spark_frame(train)
        frame = frame.cache()
        frame.count()  # materialise, so fit_seconds_ measures the ALS only
        t0 = time.perf_counter()
        self.model_ = estimator.fit(frame)
        self.fit_seconds_ = time.perf_counter() - t0
        self.best_epoch_ = None
        frame.unpersist()
        self._train_frame = frame
        self._numpy_model = None
        if valid is not None:
            self.valid_rmse_ = rmse(valid["rating"], self.predict(valid["user"], valid["item"]))
        return self

    def _describe_spark_frame(self, train: "DataFrame") -> "DataFrame":
        """Counts, mean and range of a Spark DataFrame of ratings, computed by Spark."""
        from pyspark.sql import functions as F

        missing = [c for c in ("user", "item", "rating") if c not in train.columns]
        if missing:
            raise ValueError(f"the Spark DataFrame lacks the column(s) {missing} "
                             f"(it has {train.columns}); expected user, item, rating")
        frame = train.select(F.col("user").cast("int"), F.col("item").cast("int"),
                             F.col("rating").cast("float"))
        row = frame.agg(F.max("user"), F.max("item"), F.mean("rating"), F.min("rating"),
                        F.max("rating")).first()
        self.n_users_, self.n_items_ = int(row[0]) + 1, int(row[1]) + 1
        self.train_mean_ = float(row[2])
        self.rating_range_ = (float(row[3]), float(row[4]))
        for col, size, name in (("user", self.n_users_, "user_counts_"),
                                ("item", self.n_items_, "item_counts_")):
            counts = frame.groupBy(col).count().toPandas()
            table = np.zeros(size, dtype=np.int64)
            table[counts[col].to_numpy()] = counts["count"].to_numpy()
            setattr(self, name, table)
        self.seen_ = None  # the (user, item) pairs stay in Spark until needed
        return frame

    def _seen_of(self, users: np.ndarray) -> dict[int, set[int]]:
        """Training items of ``users`` (from the kept matrix, or asked from Spark)."""
        known = [int(u) for u in np.unique(users) if u < self.n_users_]
        if self.seen_ is not None:
            return {u: set(self.seen_[[u]].indices.tolist()) for u in known}
        from pyspark.sql import functions as F

        pairs = (self._train_frame.where(F.col("user").isin(known))
                 .select("user", "item").toPandas())
        return {int(u): set(group.tolist()) for u, group in pairs.groupby("user")["item"]}

    def transform(self, frame: pd.DataFrame | "DataFrame") -> "DataFrame":
        """Spark's own ``model.transform``: adds a ``prediction`` column (Spark DataFrame)."""
        self._check_fitted()
        if isinstance(frame, pd.DataFrame):
            cols = tuple(c for c in ("user", "item", "rating") if c in frame.columns)
            frame = to_spark(self._session(), frame, cols)
        return self.model_.transform(frame)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Predicted ratings for the pairs ``(users[j], items[j])``, computed by Spark.

        Unknown users or items (Spark's cold start) get the training mean.
        """
        self._check_fitted()
        u = np.asarray(users).ravel()
        i = np.asarray(items).ravel()
        if u.shape != i.shape:
            raise ValueError(f"users has {u.size} ids but items has {i.size}; pass pairs")
        if u.size == 0:
            return np.zeros(0)
        pairs = pd.DataFrame({"user": u, "item": i, "row": np.arange(u.size)})
        model = self.model_.copy().setColdStartStrategy("nan")  # one answer per pair
        out = model.transform(to_spark(self._session(), pairs, ("user", "item", "row")))
        result = out.select("row", "prediction").toPandas()
        pred = np.empty(u.size)
        pred[result["row"].to_numpy()] = result["prediction"].to_numpy(np.float64)
        pred = np.where(np.isnan(pred), self.train_mean_, pred)
        return np.clip(pred, *self.rating_range_) if self.clip else pred

    def score(self, users: Any) -> np.ndarray:
        """Predicted ratings of every item, one row per user, from the factors (in NumPy).

        Same numbers as :meth:`predict` up to float32 rounding; the factors are
        collected from Spark once (:meth:`to_factor_model`).
        """
        self._check_fitted()
        if getattr(self, "_numpy_model", None) is None:
            self._numpy_model = self.to_factor_model()
        return self._numpy_model.score(users)

    def recommend(self, users: Any, k: int, exclude_seen: bool = True,
                  batch_size: int = 2048) -> np.ndarray:
        """Top-``k`` items per user from Spark's ``recommendForUserSubset``, best first.

        With ``exclude_seen``, Spark is asked for ``k`` plus the largest number of
        training items among these users, and the seen ones are removed. Users
        Spark never saw get ``-1`` (no factors, so no ranking).
        """
        self._check_fitted()
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        u = np.asarray(users, dtype=np.int64).ravel()
        out = np.full((u.size, int(k)), -1, dtype=np.int64)
        if u.size == 0:
            return out
        known = u < self.n_users_
        extra = 0
        if exclude_seen and known.any():
            extra = int(self.user_counts_[u[known]].max())
        n_ask = min(int(k) + extra, self.n_items_)
        subset = self._session().createDataFrame(
            pd.DataFrame({"user": np.unique(u).astype(np.int32)}))
        recs = self.model_.recommendForUserSubset(subset, n_ask).toPandas()
        ranked = dict(zip(recs["user"], recs["recommendations"]))
        seen_by_user = self._seen_of(u) if exclude_seen else {}
        for row, user in enumerate(u):
            lists = ranked.get(user)
            if lists is None:
                continue
            items = [r["item"] for r in lists]
            if exclude_seen:
                seen = seen_by_user.get(int(user), set())
                items = [i for i in items if i not in seen]
            items = items[:k]
            out[row, :len(items)] = items
        return out

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(H, G)``: user and item factors as NumPy arrays (rows of ids Spark never saw are 0)."""
        self._check_fitted()
        H = np.zeros((self.n_users_, int(self.rank)))
        G = np.zeros((self.n_items_, int(self.rank)))
        for table, target in ((self.model_.userFactors, H), (self.model_.itemFactors, G)):
            frame = table.toPandas()
            target[frame["id"].to_numpy()] = np.stack(frame["features"].to_numpy())
        return H, G

    def to_factor_model(self) -> "FactorModel":
        """The fitted factors as a :class:`course_utils.mf.FactorModel` (NumPy, no Spark).

        It predicts like :meth:`predict` (up to float32 rounding) and can be
        saved with ``.save(path)`` for chapters that should not need Spark.
        """
        from course_utils.mf import FactorModel
        from course_utils.recommend import seen_matrix

        H, G = self.factors()
        if self.seen_ is None:  # trained from a Spark DataFrame: collect the pairs once
            pairs = self._train_frame.select("user", "item").toPandas()
            self.seen_ = seen_matrix(pairs, self.n_users_, self.n_items_)
        return FactorModel.from_arrays(
            H, G, mu=0.0, train_mean=self.train_mean_, user_counts=self.user_counts_,
            item_counts=self.item_counts_,
            rating_range=self.rating_range_ if self.clip else None, seen=self.seen_)

    # -- persistence ----------------------------------------------------------
    _META = ("n_users_", "n_items_", "train_mean_", "rating_range_", "fit_seconds_",
             "best_epoch_")

    def save(self, path: str | Path) -> Path:
        """Save to the folder ``path``: Spark's ``ALSModel`` files, ``meta.json``, ``seen.npz``.

        Written into a temporary folder beside ``path`` and renamed into place.
        """
        import json
        import shutil
        import tempfile

        from scipy import sparse

        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
        try:
            self.model_.write().overwrite().save(str(tmp / "spark"))
            if self.seen_ is None:
                self.to_factor_model()  # collects seen_ from Spark
            meta = {"params": self.fit_params(),
                    **{k: getattr(self, k) for k in self._META}}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            np.savez_compressed(tmp / "counts.npz", user=self.user_counts_,
                                item=self.item_counts_)
            sparse.save_npz(tmp / "seen.npz", sparse.csr_matrix(self.seen_))
            if path.exists():
                shutil.rmtree(path)
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path, spark: "SparkSession | None" = None) -> "SparkALS":
        """Load a model written by :meth:`save` (needs a Spark session: ``spark`` or :func:`get_spark`)."""
        import json

        from pyspark.ml.recommendation import ALSModel
        from scipy import sparse

        path = Path(path)
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no saved SparkALS at {path}: fit it and save() it first "
                                    "(or use course_utils.cache.load_or_fit)")
        meta = json.loads((path / "meta.json").read_text())
        model = cls(**meta["params"], spark=spark)
        model._session()
        model.model_ = ALSModel.load(str(path / "spark"))
        for key in cls._META:
            setattr(model, key, meta[key])
        model.rating_range_ = tuple(model.rating_range_)
        with np.load(path / "counts.npz") as counts:
            model.user_counts_, model.item_counts_ = counts["user"], counts["item"]
        model.seen_ = sparse.csr_array(sparse.load_npz(path / "seen.npz"))
        model._numpy_model = None
        return model


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
