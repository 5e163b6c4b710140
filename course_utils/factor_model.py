"""What a fitted matrix-factorization model is, apart from how it was fitted.

:class:`FactorModel` holds the parameters of ``r̂_ui = mu + b_u + b_i + g_i · h_u``
(thesis eq. 4.1 with biases) and everything that does not depend on the optimiser:
``predict``, ``score``, ``recommend``, ``save`` and ``FactorModel.load(path)``, and
the fallback for users and items unseen in training (described in
:mod:`course_utils.mf`). The optimisers themselves, SGD and ALS, are in
:mod:`course_utils.mf` (chapter 04), which reads top to bottom like its chapter;
this module is the plumbing they share.

Example
-------
>>> import numpy as np
>>> H = np.array([[1.0, 0.0], [0.0, 1.0]]); G = np.array([[2.0, 1.0], [0.5, 3.0]])
>>> FactorModel.from_arrays(H, G, mu=5.0).predict([0, 1], [0, 1]).tolist()
[7.0, 8.0]
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from course_utils.data.views import rating_arrays
from course_utils.model import Recommender, atomic_path, check_ids
from course_utils.recommend import seen_matrix

__all__ = ["FactorModel"]


def _lookup(table: np.ndarray, ids: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Rows (or values) of ``table`` for ``ids``; zeros where ``known`` is False."""
    rows = table[np.where(known, ids, 0)]
    mask = known if rows.ndim == 1 else known[:, None]
    return np.where(mask, rows, 0.0)


def _pair_dots(user_factors: np.ndarray, item_factors: np.ndarray, users: np.ndarray,
               items: np.ndarray, chunk: int = 262_144) -> np.ndarray:
    """``sum_f H[u_j, f] G[i_j, f]`` for each pair, a chunk at a time (bounded memory)."""
    out = np.empty(users.size)
    for start in range(0, users.size, chunk):
        u, i = users[start:start + chunk], items[start:start + chunk]
        out[start:start + chunk] = np.einsum("nf,nf->n", user_factors[u], item_factors[i])
    return out


# --------------------------------------------------------------------------
# the fitted model: parameters, predict, score, recommend, save
# --------------------------------------------------------------------------
class FactorModel(Recommender):
    """A fitted factor model ``r̂_ui = mu + b_u + b_i + g_i · h_u``.

    The optimisers of :mod:`course_utils.mf` fill these attributes in ``fit``; :meth:`from_arrays`
    builds one from given factors (e.g. Spark's, see
    :meth:`course_utils.spark.SparkALS.to_factor_model`).

    Attributes
    ----------
    user_factors_, item_factors_
        ``H`` (``n_users × rank``, rows ``h_u``) and ``G`` (``n_items × rank``, rows ``g_i``).
    user_bias_, item_bias_
        ``b_u`` and ``b_i`` (zeros without biases).
    mu_
        The global mean used in predictions (0 without a global mean).
    train_mean_
        Mean training rating: the fallback for unknown pairs.
    user_counts_, item_counts_
        Training ratings per user / item (0 = unknown to the model).
    history_
        The training curve: ``{"train_rmse": [...], "valid_rmse": [...],
        "loss": [...], "seconds": [...]}``, one entry per epoch or iteration.
    best_epoch_
        (Trained models) the epoch (from 1) with the lowest validation RMSE,
        whose parameters the model keeps; ``None`` without validation data.
    fit_seconds_
        (Trained models) wall time of ``fit``.

    Example
    -------
    >>> H = np.array([[1.0, 0.0], [0.0, 1.0]]); G = np.array([[2.0, 1.0], [0.5, 3.0]])
    >>> model = FactorModel.from_arrays(H, G, mu=0.0)
    >>> model.predict([0, 1], [0, 1]).tolist()
    [2.0, 3.0]
    """

    clip: bool = True
    _fitted_attribute = "user_factors_"
    file_suffix = ".npz"

    @classmethod
    def from_arrays(cls, user_factors: np.ndarray, item_factors: np.ndarray, *,
                    mu: float = 0.0, user_bias: np.ndarray | None = None,
                    item_bias: np.ndarray | None = None, train_mean: float | None = None,
                    user_counts: np.ndarray | None = None,
                    item_counts: np.ndarray | None = None,
                    rating_range: tuple[float, float] | None = None,
                    seen: sparse.sparray | None = None) -> "FactorModel":
        """A :class:`FactorModel` from its parameters (counts default to 1 = known)."""
        model = cls.__new__(cls)
        model._set_arrays(user_factors, item_factors, mu=mu, user_bias=user_bias,
                          item_bias=item_bias, train_mean=train_mean, user_counts=user_counts,
                          item_counts=item_counts, rating_range=rating_range, seen=seen)
        model.clip = rating_range is not None
        model.history_ = {}
        model.best_epoch_ = None
        return model

    def _set_arrays(self, user_factors: np.ndarray, item_factors: np.ndarray, *,
                    mu: float, user_bias: np.ndarray | None, item_bias: np.ndarray | None,
                    train_mean: float | None, user_counts: np.ndarray | None,
                    item_counts: np.ndarray | None, rating_range: tuple[float, float] | None,
                    seen: sparse.sparray | None) -> None:
        model = self
        H = np.asarray(user_factors, dtype=np.float64)
        G = np.asarray(item_factors, dtype=np.float64)
        if H.ndim != 2 or G.ndim != 2 or H.shape[1] != G.shape[1]:
            raise ValueError(f"factors must be 2-D with the same rank, got {H.shape} and {G.shape}")
        model.user_factors_, model.item_factors_ = H, G
        model.n_users_, model.n_items_ = H.shape[0], G.shape[0]
        model.mu_ = float(mu)
        model.train_mean_ = float(mu if train_mean is None else train_mean)
        model.user_bias_ = np.zeros(H.shape[0]) if user_bias is None else np.asarray(user_bias, float)
        model.item_bias_ = np.zeros(G.shape[0]) if item_bias is None else np.asarray(item_bias, float)
        model.user_counts_ = (np.ones(H.shape[0], np.int64) if user_counts is None
                              else np.asarray(user_counts, np.int64))
        model.item_counts_ = (np.ones(G.shape[0], np.int64) if item_counts is None
                              else np.asarray(item_counts, np.int64))
        model.rating_range_ = rating_range
        model.seen_ = seen if seen is not None else sparse.csr_array(
            (H.shape[0], G.shape[0]), dtype=bool)

    # -- prediction -------------------------------------------------------

    def _known(self, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
        inside = ids < counts.size
        return inside & (counts[np.where(inside, ids, 0)] > 0)

    def _finish(self, pred: np.ndarray) -> np.ndarray:
        if self.clip and self.rating_range_ is not None:
            return np.clip(pred, *self.rating_range_)
        return pred

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Predicted ratings for the pairs ``(users[j], items[j])`` (see "Unknown users")."""
        self._check_fitted()
        u, i = check_ids(users, "users"), check_ids(items, "items")
        if u.shape != i.shape:
            raise ValueError(f"users has {u.size} ids but items has {i.size}; pass pairs")
        ku, ki = self._known(u, self.user_counts_), self._known(i, self.item_counts_)
        both = ku & ki
        pred = self.mu_ + _lookup(self.user_bias_, u, ku) + _lookup(self.item_bias_, i, ki)
        pred[both] += _pair_dots(self.user_factors_, self.item_factors_, u[both], i[both])
        pred[~both] += self.train_mean_ - self.mu_  # fallback: the training mean
        return self._finish(pred)

    def score(self, users: Any, clip: bool | None = None) -> np.ndarray:
        """Predicted ratings of every catalogue item, one row per user.

        ``clip`` (default: the model's setting) clips to the training range;
        :meth:`recommend` ranks the unclipped scores, so that items predicted above
        the top of the scale keep their order instead of tying at the maximum.
        """
        self._check_fitted()
        u = check_ids(users, "users")
        ku = self._known(u, self.user_counts_)
        ki = self.item_counts_ > 0
        item_part = np.where(ki, self.item_bias_, 0.0)
        scores = (self.mu_ + _lookup(self.user_bias_, u, ku)[:, None] + item_part[None, :]
                  + _lookup(self.user_factors_, u, ku) @ np.where(
                      ki[:, None], self.item_factors_, 0.0).T)
        unknown = ~(ku[:, None] & ki[None, :])
        scores[unknown] += self.train_mean_ - self.mu_
        if clip is False:
            return scores
        return self._finish(scores)

    def recommend(self, users: Any, k: int, exclude_seen: bool = True,
                  batch_size: int = 2048) -> np.ndarray:
        """The top-``k`` item ids for each user, best first (shape ``(len(users), k)``).

        Ranked by the unclipped predicted rating; with ``exclude_seen`` the items of
        the user's training ratings are left out. Items without training ratings
        have no factors and are never recommended (as in Spark); a user without
        training ratings gets the items with the best bias part ``mu + b_i``.
        """
        from course_utils.recommend import recommend

        self._check_fitted()
        unrated = self.item_counts_ == 0

        def ranking_scores(batch: np.ndarray) -> np.ndarray:
            scores = self.score(batch, clip=False)
            scores[:, unrated] = -np.inf
            return scores

        return recommend(ranking_scores, users, k, seen=self.seen_ if exclude_seen else None,
                         batch_size=batch_size)

    # -- the objective of eq. 4.2 -------------------------------------------
    def _objective(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                   reg: float, reg_bias: float, weighted: bool) -> tuple[float, float]:
        """``(loss of eq. 4.2, training RMSE)`` for the current parameters (unclipped)."""
        pred = (self.mu_ + self.user_bias_[users] + self.item_bias_[items]
                + _pair_dots(self.user_factors_, self.item_factors_, users, items))
        sq = float(np.sum((ratings - pred) ** 2))
        wu = self.user_counts_ if weighted else (self.user_counts_ > 0)
        wi = self.item_counts_ if weighted else (self.item_counts_ > 0)
        penalty = (reg * (wu @ np.sum(self.user_factors_ ** 2, axis=1)
                          + wi @ np.sum(self.item_factors_ ** 2, axis=1))
                   + reg_bias * (wu @ self.user_bias_ ** 2 + wi @ self.item_bias_ ** 2))
        return sq + float(penalty), float(np.sqrt(sq / ratings.size))

    # -- persistence --------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save the parameters (not the training code) to a ``.npz`` file; returns its path.

        ``type(self).load(path)`` reads it back: a model that predicts and
        recommends exactly like this one. The file is written atomically.
        """
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        seen = sparse.csr_array(self.seen_)
        meta = {"kind": type(self).__name__, "params": self.get_params(),
                "mu": self.mu_, "train_mean": self.train_mean_,
                "rating_range": self.rating_range_, "clip": bool(self.clip),
                "history": getattr(self, "history_", {}),
                "best_epoch": getattr(self, "best_epoch_", None),
                "fit_seconds": getattr(self, "fit_seconds_", None)}
        with atomic_path(path) as tmp:
            np.savez_compressed(
                tmp, user_factors=self.user_factors_, item_factors=self.item_factors_,
                user_bias=self.user_bias_, item_bias=self.item_bias_,
                user_counts=self.user_counts_, item_counts=self.item_counts_,
                seen_indptr=seen.indptr, seen_indices=seen.indices,
                meta=np.array(json.dumps(meta)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "FactorModel":
        """Load a model written by :meth:`save` (``SGDMatrixFactorization.load`` gives an
        ``SGDMatrixFactorization`` with its parameters; ``FactorModel.load`` any factor model).

        Example
        -------
        >>> import tempfile, pathlib
        >>> model = FactorModel.from_arrays(np.eye(2), np.eye(2))
        >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "model.npz")
        >>> FactorModel.load(path).predict([0, 1], [0, 0]).tolist()
        [1.0, 0.0]
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"no saved model at {path}; fit the model and save() it first "
                "(or use course_utils.cache.load_or_fit)")
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files}
        kind = meta.get("kind", "FactorModel")
        if cls is not FactorModel and kind != cls.__name__:
            raise TypeError(f"{path} holds a {kind}, not a {cls.__name__}; "
                            "read it with FactorModel.load(path)")
        model = cls(**meta.get("params", {})) if cls is not FactorModel else cls.__new__(cls)
        H, G = arrays["user_factors"], arrays["item_factors"]
        seen = sparse.csr_array(
            (np.ones(arrays["seen_indices"].size, dtype=bool), arrays["seen_indices"],
             arrays["seen_indptr"]), shape=(H.shape[0], G.shape[0]))
        rr = meta["rating_range"]
        model._set_arrays(
            H, G, mu=meta["mu"], user_bias=arrays["user_bias"], item_bias=arrays["item_bias"],
            train_mean=meta["train_mean"], user_counts=arrays["user_counts"],
            item_counts=arrays["item_counts"], rating_range=tuple(rr) if rr else None, seen=seen)
        model.clip = meta["clip"]
        model.history_ = meta["history"]
        model.best_epoch_ = meta.get("best_epoch")
        if meta.get("fit_seconds") is not None:
            model.fit_seconds_ = meta["fit_seconds"]
        return model


# --------------------------------------------------------------------------
# shared fitting machinery
# --------------------------------------------------------------------------
class _Trainable(FactorModel):
    """Hyper-parameters, initialisation and bookkeeping shared by SGD and ALS."""

    def _validate(self) -> None:
        """Check the arguments (``fit`` calls this; ``__init__`` only stores them)."""
        if self.rank < 1:
            raise ValueError(f"rank must be a positive integer, got {self.rank}")
        if self.reg < 0:
            raise ValueError(f"reg must be >= 0, got {self.reg}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.patience is not None and self.patience < 1:
            raise ValueError("patience must be a positive number of epochs or None, "
                             f"got {self.patience}")

    def _start(self, train: pd.DataFrame, valid: pd.DataFrame | None):
        self._validate()
        self._t0 = time.perf_counter()
        self.reg_bias_ = float(self.reg if self.reg_bias is None else self.reg_bias)
        users, items, ratings = rating_arrays(train, "train")
        vdata = rating_arrays(valid, "valid") if valid is not None else None
        self.n_users_ = max(int(users.max()) + 1, self.n_users or 0)
        self.n_items_ = max(int(items.max()) + 1, self.n_items or 0)
        self.user_counts_ = np.bincount(users, minlength=self.n_users_)
        self.item_counts_ = np.bincount(items, minlength=self.n_items_)
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        self.train_mean_ = float(ratings.mean())
        self.mu_ = self.train_mean_ if self.global_mean else 0.0
        rng = np.random.default_rng(self.seed)
        self.user_factors_ = rng.normal(0.0, self.init_std, (self.n_users_, self.rank))
        self.item_factors_ = rng.normal(0.0, self.init_std, (self.n_items_, self.rank))
        self.user_bias_ = np.zeros(self.n_users_)
        self.item_bias_ = np.zeros(self.n_items_)
        self.seen_ = seen_matrix(train, self.n_users_, self.n_items_)
        self.history_: dict[str, list[float]] = {"train_rmse": [], "valid_rmse": [],
                                                 "loss": [], "seconds": []}
        return users, items, ratings, vdata, rng

    def _forget_unrated(self) -> None:
        """Users/items without training ratings keep no (random) factors."""
        self.user_factors_[self.user_counts_ == 0] = 0.0
        self.item_factors_[self.item_counts_ == 0] = 0.0

    _PARAMS = ("user_factors_", "item_factors_", "user_bias_", "item_bias_")

    def _log(self, users, items, ratings, vdata, weighted: bool, seconds: float) -> bool:
        """Record one point of the training curve; ``True`` means "stop early"."""
        loss, train_rmse = self._objective(users, items, ratings, self.reg, self.reg_bias_,
                                           weighted)
        self.history_["loss"].append(loss)
        self.history_["train_rmse"].append(train_rmse)
        self.history_["seconds"].append(seconds)
        if vdata is None:
            return False
        vu, vi, vr = vdata
        self.history_["valid_rmse"].append(
            float(np.sqrt(np.mean((vr - self.predict(vu, vi)) ** 2))))
        if self.patience is None:
            return False
        curve = self.history_["valid_rmse"]
        if curve[-1] <= min(curve):
            self._best = {name: getattr(self, name).copy() for name in self._PARAMS}
        return len(curve) - 1 - int(np.argmin(curve)) >= self.patience

    def _finish_fit(self) -> None:
        """Restore the best-validation parameters (early stopping), drop unrated rows."""
        best = self.__dict__.pop("_best", None)
        curve = self.history_["valid_rmse"]
        self.best_epoch_ = int(np.argmin(curve)) + 1 if curve else None
        if best is not None:
            for name, value in best.items():
                setattr(self, name, value)
        self._forget_unrated()
        self.fit_seconds_ = time.perf_counter() - self.__dict__.pop("_t0")

    def history_frame(self) -> pd.DataFrame:
        """The training curve as a frame, one row per epoch/iteration (from 1)."""
        self._check_fitted()
        data = {k: v for k, v in self.history_.items() if len(v)}
        frame = pd.DataFrame(data)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame
