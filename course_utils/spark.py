"""Spark's ALS in the course's model shape (chapter 05).

:class:`SparkALS`
    :class:`pyspark.ml.recommendation.ALS` with the course's model shape:
    ``fit(train, valid=None)``, ``predict(users, items)``,
    ``recommend(users, k, exclude_seen=True)`` (through ``recommendForUserSubset``).
:func:`to_spark`
    A pandas ratings frame as a Spark DataFrame with the column types ALS wants.

A model runs in a Spark session started beforehand; the course starts one quietly
with :func:`course_tools.spark_session.get_spark` (the JVM, Java and cluster plumbing
lives there, apart from the model).

Example
-------
>>> import pandas as pd
>>> from course_tools.spark_session import get_spark
>>> from course_utils.spark import SparkALS
>>> spark = get_spark()                                        # doctest: +SKIP
>>> train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 0], "rating": [8.0, 6.0, 9.0]})
>>> model = SparkALS(rank=2, epochs=5, spark=spark).fit(train)   # doctest: +SKIP
>>> model.recommend([1], k=1).tolist()                          # doctest: +SKIP
[[1]]
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from course_utils.model import Recommender

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from course_utils.factor_model import FactorModel

__all__ = ["to_spark", "SparkALS"]


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
        which :func:`course_tools.spark_session.get_spark` sets).
    clip
        Clip :meth:`predict` to the training rating range, like the course's models.
    spark
        A session; default: the active session (start one with
        :func:`course_tools.spark_session.get_spark`).

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
            from pyspark.sql import SparkSession

            self.spark = SparkSession.getActiveSession()
            if self.spark is None:
                raise RuntimeError(
                    "SparkALS needs a running Spark session: start one first with "
                    "`from course_tools.spark_session import get_spark; spark = get_spark()` "
                    "(chapter 05), or pass spark=...")
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
        """The fitted factors as a :class:`course_utils.factor_model.FactorModel` (NumPy, no Spark).

        It predicts like :meth:`predict` (up to float32 rounding) and can be
        saved with ``.save(path)`` for chapters that should not need Spark.
        """
        from course_utils.factor_model import FactorModel
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
        """Load a model written by :meth:`save` (needs a Spark session: ``spark`` or the active one)."""
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
