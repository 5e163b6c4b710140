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
:class:`~course_utils.factor_model.FactorModel`
    What both fit: the parameters, ``predict``, ``score``, ``recommend``,
    ``save``; ``FactorModel.load(path)`` reads a saved one back (no training
    code needed). It lives apart, in :mod:`course_utils.factor_model`, so that this
    module holds the two optimisers only. All follow :mod:`course_utils.model`; the
    number of passes is ``epochs`` for both (an SGD sweep, or one ALS alternation).

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

import time

import numpy as np
import pandas as pd
from numba import njit
from scipy import sparse

from course_utils.factor_model import FactorModel, _Trainable

__all__ = [
    "FactorModel",
    "SGDMatrixFactorization",
    "ALSMatrixFactorization",
    "sgd_epoch_python",
    "sgd_epoch",
]


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
