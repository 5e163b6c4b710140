"""Matrix factorization for explicit ratings, written from the equations (thesis 4.1.1).

The model (eq. 4.1, with the biases of Koren, Bell & Volinsky 2009, the thesis's
ref. [7])::

    r̂_ui = mu + b_u + b_i + g_i · h_u

``g_i`` is the factor vector of item ``i`` (a row of ``item_factors_``), ``h_u``
the factor vector of user ``u`` (a row of ``user_factors_``). With
``biases=False, global_mean=False`` it is exactly eq. 4.1, ``r̂_ui = g_iᵀ h_u``.
Both optimisers minimise the regularised squared error of eq. 4.2, read as it is
written there, with the penalty *inside* the sum over the known ratings::

    sum over (u, i) in K of  (r_ui - r̂_ui)^2 + λ (|g_i|^2 + |h_u|^2) [+ λ_b (b_u^2 + b_i^2)]

so a user with ``n_u`` ratings is penalised ``λ n_u |h_u|^2``. This is what the
per-rating SGD updates of eqs. 4.4–4.5 descend, and what Spark's ALS solves
("ALS-WR", Zhou et al. 2008). ``weighted_reg=False`` switches the ALS to the
other common reading, ``λ |h_u|^2`` once per user.

:class:`SGDMatrixFactorization`
    Stochastic gradient descent, one rating at a time (eqs. 4.3–4.5). The loop is
    compiled with numba; :func:`sgd_epoch_python` is the same epoch in plain
    Python/NumPy, for reading and for checking the compiled one.
:class:`ALSMatrixFactorization`
    Alternating least squares: with the item factors fixed, every user's factors
    are the solution of a small ridge regression, and vice versa. All users
    (items) are solved at once with batched NumPy linear algebra.
:class:`FactorModel`
    What both fit: the parameters, ``predict``, ``score``, ``recommend``,
    ``save``; ``FactorModel.load(path)`` reads a saved one back (no training
    code needed). All follow :mod:`course_utils.model`; the number of passes is
    ``epochs`` for both (an SGD sweep, or one ALS alternation).

Unknown users and items
-----------------------
An id the model never saw in training (beyond the training ids, or with no
training rating) has no factors and no bias: its prediction falls back to the
bias part of the model, ``mu + b_u + b_i`` with the unknown side's terms 0 (the
training mean when the model has no global mean). So a new user gets the item's
"baseline" score, and a new item the user's. ``recommend`` never proposes an
item without training ratings, and ranks items for a new user by ``mu + b_i``.

Example
-------
>>> import pandas as pd
>>> train = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 0, 2, 1],
...                       "rating": [9, 7, 8, 4, 6]})
>>> als = ALSMatrixFactorization(rank=2, reg=0.1, epochs=5, seed=0).fit(train)
>>> als.predict([0, 2], [0, 1]).shape
(2,)
>>> loss = als.history_["loss"]          # eq. 4.2 never increases under ALS
>>> all(b <= a + 1e-9 for a, b in zip(loss, loss[1:]))
True
>>> als.recommend([2], k=2).tolist()     # user 2 has seen item 1 only
[[0, 2]]
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit
from scipy import sparse

from course_utils.data.views import rating_arrays
from course_utils.model import Recommender, atomic_path
from course_utils.recommend import seen_matrix

__all__ = [
    "FactorModel",
    "SGDMatrixFactorization",
    "ALSMatrixFactorization",
    "sgd_epoch_python",
    "sgd_epoch",
]


def _ids(values: Any, name: str) -> np.ndarray:
    ids = np.asarray(values).ravel()
    if ids.size == 0:
        return ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer ids, got dtype {ids.dtype}")
    if ids.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {ids.min()}")
    return ids.astype(np.int64)


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

    The optimisers below fill these attributes in ``fit``; :meth:`from_arrays`
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
        u, i = _ids(users, "users"), _ids(items, "items")
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
        u = _ids(users, "users")
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


# --------------------------------------------------------------------------
# SGD: eqs. 4.3–4.5
# --------------------------------------------------------------------------
def sgd_epoch_python(users, items, ratings, order, user_factors, item_factors, user_bias,
                     item_bias, mu: float, lr: float, reg: float, reg_bias: float,
                     biases: bool) -> None:
    """One SGD epoch in plain Python: the reference version of eqs. 4.3–4.5.

    Visits the ratings in ``order`` and updates, in place, ``user_factors``
    (``H``, rows ``h_u``), ``item_factors`` (``G``, rows ``g_i``) and the biases.
    Every pair of arguments comes users first, as in ``(users, items)``. Both
    factor updates use the values from before the step (a simultaneous update).
    Slow — a few microseconds per rating — so it is for small data and for tests;
    :func:`sgd_epoch` is the same loop compiled. Call both with keywords.

    Example
    -------
    >>> H, G = np.full((1, 2), 0.5), np.full((1, 2), 0.5)
    >>> sgd_epoch_python([0], [0], [3.0], [0], user_factors=H, item_factors=G,
    ...                  user_bias=np.zeros(1), item_bias=np.zeros(1), mu=0.0, lr=0.1,
    ...                  reg=0.0, reg_bias=0.0, biases=False)
    >>> G.round(3).tolist()   # e = 3 - 0.5 = 2.5; g += 0.1 * 2.5 * h
    [[0.625, 0.625]]
    """
    H, G, b_user, b_item = user_factors, item_factors, user_bias, item_bias
    for j in order:
        u, i, r = users[j], items[j], ratings[j]
        e = r - (mu + b_user[u] + b_item[i] + G[i] @ H[u])      # eq. 4.3
        if biases:
            b_user[u] += lr * (e - reg_bias * b_user[u])
            b_item[i] += lr * (e - reg_bias * b_item[i])
        g_old = G[i].copy()
        G[i] += lr * (e * H[u] - reg * G[i])                     # eq. 4.4
        H[u] += lr * (e * g_old - reg * H[u])                    # eq. 4.5


@njit(cache=True, nogil=True)
def sgd_epoch(users, items, ratings, order, user_factors, item_factors, user_bias, item_bias,
              mu, lr, reg, reg_bias,
              biases):  # pragma: no cover - compiled; checked against sgd_epoch_python
    """:func:`sgd_epoch_python`, written with explicit loops and compiled by numba."""
    H, G, b_user, b_item = user_factors, item_factors, user_bias, item_bias
    k = G.shape[1]
    for n in range(order.shape[0]):
        j = order[n]
        u = users[j]
        i = items[j]
        dot = 0.0
        for f in range(k):
            dot += G[i, f] * H[u, f]
        e = ratings[j] - (mu + b_user[u] + b_item[i] + dot)
        if biases:
            b_user[u] += lr * (e - reg_bias * b_user[u])
            b_item[i] += lr * (e - reg_bias * b_item[i])
        for f in range(k):
            g = G[i, f]
            h = H[u, f]
            G[i, f] = g + lr * (e * h - reg * g)
            H[u, f] = h + lr * (e * g - reg * h)


class SGDMatrixFactorization(_Trainable):
    """Matrix factorization by stochastic gradient descent (thesis eqs. 4.3–4.5).

    Each epoch visits every training rating once, in a fresh random order, and
    moves ``g_i``, ``h_u`` (and ``b_u``, ``b_i``) a step ``lr`` against the
    gradient of that rating's term of eq. 4.2.

    Parameters
    ----------
    rank
        Number of latent factors.
    lr
        Learning rate ``η``.
    reg
        ``λ`` of eq. 4.2 (applied at every rating, as in eqs. 4.4–4.5).
    epochs
        Passes over the training ratings.
    biases, global_mean
        Add ``b_u + b_i`` and ``mu`` (the training mean) to eq. 4.1.
    reg_bias
        ``λ`` for the biases (default: ``reg``).
    init_std
        Factors start as ``N(0, init_std²)``; biases at 0.
    seed
        Seeds the initial factors and the order of the ratings in every epoch.
    clip
        Clip predictions to the training rating range.
    compiled
        Use the numba loop (``False``: the pure-Python reference, ~100× slower).
    n_users, n_items
        Catalogue sizes, when larger than the training ids.
    patience
        Early stopping: with ``valid`` given to :meth:`fit`, stop when the
        validation RMSE has not improved for ``patience`` epochs and keep the
        parameters of the best epoch (``best_epoch_``). ``None``: run all epochs.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 20, 400)})
    >>> train["rating"] = 5.0 + (train.user % 3) - (train.item % 2)
    >>> model = SGDMatrixFactorization(rank=3, lr=0.02, epochs=20, seed=0).fit(train)
    >>> bool(model.history_["train_rmse"][-1] < 0.3)
    True
    """

    def __init__(self, rank: int = 16, lr: float = 0.01, reg: float = 0.05, epochs: int = 20,
                 biases: bool = True, global_mean: bool = True, reg_bias: float | None = None,
                 init_std: float = 0.1, seed: int = 42, clip: bool = True,
                 compiled: bool = True, n_users: int | None = None,
                 n_items: int | None = None, patience: int | None = None) -> None:
        self.rank = rank
        self.lr = lr
        self.reg = reg
        self.epochs = epochs
        self.biases = biases
        self.global_mean = global_mean
        self.reg_bias = reg_bias
        self.init_std = init_std
        self.seed = seed
        self.clip = clip
        self.compiled = compiled
        self.n_users = n_users
        self.n_items = n_items
        self.patience = patience

    def _validate(self) -> None:
        super()._validate()
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "SGDMatrixFactorization":
        """Fit on a frame with columns ``user``, ``item``, ``rating``; returns ``self``.

        With ``valid``, ``history_["valid_rmse"]`` holds its RMSE after every epoch.
        """
        users, items, ratings, vdata, rng = self._start(train, valid)
        step = sgd_epoch if self.compiled else sgd_epoch_python
        for _ in range(int(self.epochs)):
            t0 = time.perf_counter()
            order = rng.permutation(ratings.size)
            step(users, items, ratings, order, user_factors=self.user_factors_,
                 item_factors=self.item_factors_, user_bias=self.user_bias_,
                 item_bias=self.item_bias_, mu=self.mu_, lr=float(self.lr),
                 reg=float(self.reg), reg_bias=self.reg_bias_, biases=bool(self.biases))
            if not np.isfinite(self.user_factors_).all():
                raise FloatingPointError(
                    f"SGD diverged (lr={self.lr}): the factors overflowed; lower lr "
                    "(ratings on a 1–10 scale need lr around 0.005–0.02)")
            if self._log(users, items, ratings, vdata, True, time.perf_counter() - t0):
                break
        self._finish_fit()
        return self


# --------------------------------------------------------------------------
# ALS: alternating ridge regressions, all users (items) at once
# --------------------------------------------------------------------------
class _Groups:
    """Ratings grouped by one side (users or items), as sparse-matrix structure.

    ``indptr``/``cols`` are the CSR layout of the ``n_rows × n_cols`` rating
    matrix (rows = this side); ``perm`` maps CSR positions to rating rows.
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> None:
        self.perm = np.argsort(rows, kind="stable")
        self.cols = cols[self.perm]
        self.counts = np.bincount(rows, minlength=n_rows)
        self.indptr = np.concatenate([[0], np.cumsum(self.counts)])
        self.n_rows, self.n_cols = n_rows, n_cols

    def matrix(self, start: int, stop: int, values: np.ndarray) -> sparse.csr_array:
        """Rows ``start:stop`` as a CSR matrix holding ``values`` (in CSR order)."""
        a, b = self.indptr[start], self.indptr[stop]
        return sparse.csr_array((values[a:b], self.cols[a:b], self.indptr[start:stop + 1] - a),
                                shape=(stop - start, self.n_cols))


def _ridge_solve_all(groups: _Groups, design: np.ndarray, targets: np.ndarray,
                     penalty: np.ndarray, weights: np.ndarray,
                     max_bytes: int = 64 * 2**20) -> np.ndarray:
    """Solve one ridge regression per row of ``groups``, all at once.

    For row ``r`` (a user, say) with rated columns ``I_r``::

        x_r = (Σ_{i∈I_r} y_i y_iᵀ + w_r diag(penalty))⁻¹ Σ_{i∈I_r} t_ri y_i

    where ``y_i`` is row ``i`` of ``design`` and ``t`` the ``targets`` (CSR order).
    The Gram matrices of a batch of rows are one sparse × dense product: the
    0/1 rating matrix times the (upper triangles of the) outer products
    ``y_i y_iᵀ``. Then ``np.linalg.solve`` solves the whole batch.
    """
    d = design.shape[1]
    iu, ju = np.triu_indices(d)
    outer = design[:, iu] * design[:, ju]               # (n_cols, d(d+1)/2)
    solution = np.zeros((groups.n_rows, d))
    batch = max(1, max_bytes // (8 * d * d))
    diag = np.arange(d)
    ones = np.ones(groups.cols.size)
    for start in range(0, groups.n_rows, batch):
        stop = min(start + batch, groups.n_rows)
        tri = groups.matrix(start, stop, ones) @ outer  # Σ y_i y_iᵀ, upper triangle
        gram = np.empty((stop - start, d, d))
        gram[:, iu, ju] = tri
        gram[:, ju, iu] = tri
        gram[:, diag, diag] += weights[start:stop, None] * penalty[None, :]
        rhs = groups.matrix(start, stop, targets) @ design  # Σ t_ri y_i
        solution[start:stop] = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    return solution


class ALSMatrixFactorization(_Trainable):
    """Matrix factorization by alternating least squares, batched in NumPy.

    With the item factors ``G`` fixed, eq. 4.2 is a separate ridge regression
    for every user, solved in closed form::

        h_u = (Σ_{i∈I_u} g_i g_iᵀ + λ n_u I)⁻¹ Σ_{i∈I_u} (r_ui - mu - b_i) g_i

    (with biases, ``[h_u, b_u]`` is solved together against ``[g_i, 1]``). Then the
    users are fixed and the items solved the same way; one *iteration* does the
    items, then the users (the order Spark uses).

    Parameters
    ----------
    rank
        Number of latent factors.
    reg
        ``λ`` of eq. 4.2 (must be > 0: a user with fewer ratings than factors
        has no unique least-squares solution without it).
    epochs
        Alternations (items, then users): the most that run (early stopping
        with ``patience`` may end sooner).
    weighted_reg
        ``True`` (default): ``λ n_u`` for a user with ``n_u`` ratings, i.e. eq. 4.2
        with the penalty inside the sum; the "ALS-WR" weighting Spark's ALS uses.
        ``False``: ``λ`` once per user/item.
    biases, global_mean, reg_bias, init_std, seed, clip, n_users, n_items, patience
        As in :class:`SGDMatrixFactorization` (``seed`` draws the initial user
        factors; the first item solve does not depend on the initial item factors).

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"user": rng.integers(0, 30, 400), "item": rng.integers(0, 20, 400)})
    >>> train["rating"] = 5.0 + (train.user % 3) - (train.item % 2)
    >>> model = ALSMatrixFactorization(rank=3, reg=0.01, epochs=5).fit(train)
    >>> bool(model.history_["train_rmse"][-1] < 0.3)
    True
    """

    def __init__(self, rank: int = 16, reg: float = 0.05, epochs: int = 10,
                 weighted_reg: bool = True, biases: bool = True, global_mean: bool = True,
                 reg_bias: float | None = None, init_std: float = 0.1, seed: int = 42,
                 clip: bool = True, n_users: int | None = None,
                 n_items: int | None = None, patience: int | None = None) -> None:
        self.rank = rank
        self.reg = reg
        self.epochs = epochs
        self.weighted_reg = weighted_reg
        self.biases = biases
        self.global_mean = global_mean
        self.reg_bias = reg_bias
        self.init_std = init_std
        self.seed = seed
        self.clip = clip
        self.n_users = n_users
        self.n_items = n_items
        self.patience = patience

    def _validate(self) -> None:
        super()._validate()
        if self.reg <= 0:
            raise ValueError(f"ALS needs reg > 0, got {self.reg}: without a penalty the "
                             "per-user least-squares problems of users with few ratings "
                             "are singular")

    def _half_step(self, groups: _Groups, other_factors: np.ndarray, other_bias: np.ndarray,
                   resid: np.ndarray, other_ids: np.ndarray) -> np.ndarray:
        """Solve every row of ``groups`` (all items, or all users) with the other side fixed."""
        k = self.rank
        if self.biases:
            design = np.hstack([other_factors, np.ones((other_factors.shape[0], 1))])
            penalty = np.concatenate([np.full(k, self.reg), [self.reg_bias_]])
            targets = resid[groups.perm] - other_bias[other_ids[groups.perm]]
        else:
            design, penalty = other_factors, np.full(k, self.reg)
            targets = resid[groups.perm]
        weights = (np.maximum(groups.counts, 1) if self.weighted_reg
                   else np.ones(groups.n_rows)).astype(np.float64)
        return _ridge_solve_all(groups, design, targets, penalty, weights)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "ALSMatrixFactorization":
        """Fit on a frame with columns ``user``, ``item``, ``rating``; returns ``self``.

        With ``valid``, ``history_["valid_rmse"]`` holds its RMSE after every epoch.
        """
        users, items, ratings, vdata, _ = self._start(train, valid)
        by_user = _Groups(users, items, self.n_users_, self.n_items_)
        by_item = _Groups(items, users, self.n_items_, self.n_users_)
        resid = ratings - self.mu_
        k = self.rank
        for _ in range(int(self.epochs)):
            t0 = time.perf_counter()
            sol = self._half_step(by_item, self.user_factors_, self.user_bias_, resid, users)
            self.item_factors_ = sol[:, :k]
            if self.biases:
                self.item_bias_ = sol[:, k]
            sol = self._half_step(by_user, self.item_factors_, self.item_bias_, resid, items)
            self.user_factors_ = sol[:, :k]
            if self.biases:
                self.user_bias_ = sol[:, k]
            if self._log(users, items, ratings, vdata, self.weighted_reg,
                         time.perf_counter() - t0):
                break
        self._finish_fit()
        return self
