"""Baselines: the first rows of every results table.

A model is only interesting if it beats the simplest thing that could work.

Explicit ratings (predict a score 1–10)
    :class:`GlobalMean` (``mu``), :class:`UserBias` (``mu + b_u``),
    :class:`ItemBias` (``mu + b_i``) and :class:`UserItemBias`
    (``mu + b_u + b_i``), the biases shrunk towards 0 by a ridge penalty.
Implicit feedback (rank the next item)
    :class:`Random` (expected Recall@k = k/N), :class:`MostPopular` and
    :class:`ItemToItemMarkov` ("what followed this item", a first-order Markov
    chain over consecutive items of the users' histories).

Every class has the course's model shape (:class:`course_utils.model.Recommender`):
``fit(train, valid=None)``, ``predict(users, items)``, ``score(users)``,
``recommend(users, k, exclude_seen=True)``, ``save``/``load``, ``fit_seconds_``. Training frames have integer
columns ``user`` and ``item`` (from 0), plus ``rating`` for explicit models and,
optionally, ``timestamp`` for the Markov model (rows are otherwise taken in the
frame's order within each user).

Example
-------
>>> import pandas as pd
>>> train = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 1, 0, 1, 1],
...                       "rating": [8, 6, 7, 5, 4]})
>>> # item 0 is liked 2 points more than item 1 by everybody, so user 2 -> 4 + 2
>>> model = UserItemBias(reg_user=0.0, reg_item=0.0, epochs=50).fit(train)
>>> round(float(model.predict([2], [0])[0]), 2)
6.0
>>> MostPopular().fit(train).recommend([2], k=2).tolist()   # user 2 saw item 1
[[0, -1]]
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from course_utils.metrics import rmse
from course_utils.model import Recommender, check_ids
from course_utils.recommend import seen_matrix

__all__ = [
    "GlobalMean",
    "UserBias",
    "ItemBias",
    "UserItemBias",
    "Random",
    "MostPopular",
    "ItemToItemMarkov",
    "expected_random_recall",
    "histories_frame",
]


def _check_frame(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {missing} (it has {list(frame.columns)}); "
            f"expected columns {list(columns)}, ids as integers from 0 "
            "(see course_utils.data.explicit / leave_last_out)"
        )
    if len(frame) == 0:
        raise ValueError(f"{name} is empty: there is nothing to fit")
    for col in ("user", "item"):
        ids = frame[col].to_numpy()
        if ids.dtype.kind not in "iu" or ids.min() < 0:
            raise ValueError(
                f"{name}[{col!r}] must hold integer ids >= 0, got dtype {ids.dtype} "
                f"and minimum {ids.min()}; map names to ids first"
            )


def _lookup(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``table[ids]``, with 0 for ids the model never saw in training."""
    known = ids < table.size
    return np.where(known, table[np.where(known, ids, 0)], 0.0)


# --------------------------------------------------------------------------
# explicit
# --------------------------------------------------------------------------
class _RatingBaseline(Recommender):
    """Shared machinery: ``mu + b_u + b_i`` with some of the terms fixed at 0.

    Parameters
    ----------
    n_users, n_items
        Catalogue sizes (default: largest id in ``train`` + 1). Give them when the
        test set may hold ids that ``train`` lacks; such ids get a bias of 0.
    clip
        Clip predictions to the range of the training ratings.
    """

    _fitted_attribute = "mu_"

    def __init__(self, n_users: int | None = None, n_items: int | None = None,
                 clip: bool = True) -> None:
        self.n_users = n_users
        self.n_items = n_items
        self.clip = clip

    # subclasses fill mu_, user_bias_, item_bias_ in _fit_biases
    def _fit_biases(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                    valid: pd.DataFrame | None) -> None:
        raise NotImplementedError

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "_RatingBaseline":
        """Fit on a frame with columns ``user``, ``item``, ``rating``; returns ``self``."""
        start = time.perf_counter()
        _check_frame(train, ("user", "item", "rating"), "train")
        if valid is not None:
            _check_frame(valid, ("user", "item", "rating"), "valid")
        users = train["user"].to_numpy(np.int64)
        items = train["item"].to_numpy(np.int64)
        ratings = train["rating"].to_numpy(np.float64)
        self.n_users_ = max(int(users.max()) + 1, self.n_users or 0)
        self.n_items_ = max(int(items.max()) + 1, self.n_items or 0)
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        self.mu_ = float(ratings.mean())
        self.user_bias_ = np.zeros(self.n_users_)
        self.item_bias_ = np.zeros(self.n_items_)
        self._fit_biases(users, items, ratings, valid)
        self.seen_ = seen_matrix(train, self.n_users_, self.n_items_)
        self.best_epoch_ = None  # no epoch is chosen on the validation data
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Predicted ratings for the pairs ``(users[j], items[j])``."""
        self._check_fitted()
        u, i = check_ids(users, "users"), check_ids(items, "items")
        if u.shape != i.shape:
            raise ValueError(f"users has {u.size} ids but items has {i.size}; pass pairs")
        pred = self.mu_ + _lookup(self.user_bias_, u) + _lookup(self.item_bias_, i)
        return np.clip(pred, *self.rating_range_) if self.clip else pred

    def score(self, users: Any) -> np.ndarray:
        """Predicted ratings of every catalogue item, one row per user."""
        self._check_fitted()
        u = check_ids(users, "users")
        pred = (self.mu_ + _lookup(self.user_bias_, u)[:, None]
                + self.item_bias_[None, :])
        return np.clip(pred, *self.rating_range_) if self.clip else pred


def _shrunk_mean(groups: np.ndarray, residual: np.ndarray, size: int, reg: float) -> np.ndarray:
    """Per-group ``sum(residual) / (count + reg)``: the ridge solution for one bias."""
    sums = np.bincount(groups, weights=residual, minlength=size)
    counts = np.bincount(groups, minlength=size)
    return sums / (counts + reg) if reg > 0 else np.divide(
        sums, counts, out=np.zeros(size), where=counts > 0)


class GlobalMean(_RatingBaseline):
    """Predict the mean training rating ``mu`` for everybody.

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 1], "item": [0, 0], "rating": [4, 8]})
    >>> GlobalMean().fit(train).predict([0, 1], [0, 0]).tolist()
    [6.0, 6.0]
    """

    def _fit_biases(self, users, items, ratings, valid) -> None:
        pass


class UserBias(_RatingBaseline):
    """``mu + b_u``: some users rate everything higher than others.

    ``b_u = sum(r - mu) / (n_u + reg)``: the user's mean offset, shrunk towards 0
    for users with few ratings (``reg`` acts like ``reg`` extra ratings at ``mu``).

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 0], "rating": [8, 8, 5]})
    >>> UserBias(reg=0.0).fit(train).predict([0, 1], [2, 2]).round(2).tolist()
    [8.0, 5.0]
    """

    def __init__(self, reg: float = 5.0, n_users: int | None = None,
                 n_items: int | None = None, clip: bool = True) -> None:
        super().__init__(n_users, n_items, clip)
        self.reg = reg

    def _fit_biases(self, users, items, ratings, valid) -> None:
        self.user_bias_ = _shrunk_mean(users, ratings - self.mu_, self.n_users_, self.reg)


class ItemBias(_RatingBaseline):
    """``mu + b_i``: some anime are better liked than others.

    ``b_i = sum(r - mu) / (n_i + reg)``, shrunk towards 0 for rarely rated items.

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 1, 1], "item": [0, 0, 1], "rating": [9, 9, 3]})
    >>> ItemBias(reg=0.0).fit(train).predict([2, 2], [0, 1]).tolist()
    [9.0, 3.0]
    """

    def __init__(self, reg: float = 5.0, n_users: int | None = None,
                 n_items: int | None = None, clip: bool = True) -> None:
        super().__init__(n_users, n_items, clip)
        self.reg = reg

    def _fit_biases(self, users, items, ratings, valid) -> None:
        self.item_bias_ = _shrunk_mean(items, ratings - self.mu_, self.n_items_, self.reg)


class UserItemBias(_RatingBaseline):
    """``mu + b_u + b_i``, fitted by alternating closed-form (ALS-style) passes.

    Minimises ``sum (r - mu - b_u - b_i)^2 + reg_user * sum b_u^2 + reg_item *
    sum b_i^2``. With the user biases fixed, each item bias has a closed form
    (a shrunk mean of the residuals), and vice versa; alternating the two solves
    the problem exactly in the limit, and a few passes are enough in practice.
    ``epochs`` is the number of passes (items, then users).
    ``loss_history_`` holds the objective after every pass (it never increases)
    and ``valid_rmse_history_`` the validation RMSE when ``valid`` is given.

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 0], "rating": [8, 6, 9]})
    >>> model = UserItemBias(epochs=5).fit(train)
    >>> bool(np.all(np.diff(model.loss_history_) <= 1e-12))
    True
    """

    def __init__(self, reg_user: float = 5.0, reg_item: float = 5.0, epochs: int = 10,
                 n_users: int | None = None, n_items: int | None = None,
                 clip: bool = True) -> None:
        super().__init__(n_users, n_items, clip)
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.epochs = epochs

    def _fit_biases(self, users, items, ratings, valid) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        resid = ratings - self.mu_
        self.loss_history_: list[float] = []
        self.valid_rmse_history_: list[float] = []
        for _ in range(int(self.epochs)):
            self.item_bias_ = _shrunk_mean(items, resid - self.user_bias_[users],
                                           self.n_items_, self.reg_item)
            self.user_bias_ = _shrunk_mean(users, resid - self.item_bias_[items],
                                           self.n_users_, self.reg_user)
            err = resid - self.user_bias_[users] - self.item_bias_[items]
            self.loss_history_.append(float(
                err @ err + self.reg_user * self.user_bias_ @ self.user_bias_
                + self.reg_item * self.item_bias_ @ self.item_bias_))
            if valid is not None:
                self.valid_rmse_history_.append(rmse(
                    valid["rating"],
                    self.predict(valid["user"].to_numpy(), valid["item"].to_numpy())))


# --------------------------------------------------------------------------
# implicit
# --------------------------------------------------------------------------
def expected_random_recall(k: int, n_candidates: Any) -> float:
    """Expected Recall@k of a uniform random ranking with one held-out item: ``k / N``.

    ``n_candidates`` is the number of items the random list is drawn from (the
    catalogue, or per user the catalogue minus the items excluded as seen); with
    an array, the mean of ``min(k, N_u) / N_u`` is returned.

    Example
    -------
    >>> round(expected_random_recall(20, 13_597), 6)
    0.001471
    """
    n = np.asarray(n_candidates, dtype=np.float64)
    if np.any(n < 1):
        raise ValueError("every user needs at least one candidate item")
    return float(np.mean(np.minimum(k, n) / n))


def histories_frame(histories: Sequence[Any]) -> pd.DataFrame:
    """Per-user item sequences (index = user id) as a ``user, item, timestamp`` frame.

    ``timestamp`` is the position in the sequence, so the order is kept.

    Example
    -------
    >>> histories_frame([np.array([4, 2]), np.array([], int), np.array([7])]).values.tolist()
    [[0, 4, 0], [0, 2, 1], [2, 7, 0]]
    """
    arrays = [np.asarray(h, dtype=np.int64).ravel() for h in histories]
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    if not arrays or lengths.sum() == 0:
        raise ValueError("the histories are empty: there is nothing to fit")
    users = np.repeat(np.arange(len(arrays)), lengths)
    position = np.arange(users.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pd.DataFrame({"user": users, "item": np.concatenate(arrays), "timestamp": position})


class _ImplicitBaseline(Recommender):
    """Shared ``fit`` for ranking baselines: catalogue size, seen items, popularity."""

    def __init__(self, n_items: int | None = None, n_users: int | None = None) -> None:
        self.n_items = n_items
        self.n_users = n_users

    def fit(self, train: pd.DataFrame | Sequence[np.ndarray],
            valid: Any = None) -> "_ImplicitBaseline":
        """Fit on training histories.

        ``train`` is a frame with columns ``user``, ``item`` (optionally
        ``timestamp``), or a list with one array of item ids per user, in watch
        order, indexed by user id (e.g. ``course_utils.data.leave_last_out(...).train``).
        ``valid`` is accepted for the common model shape and not used.
        """
        start = time.perf_counter()
        if not isinstance(train, pd.DataFrame):
            train = histories_frame(train)
        _check_frame(train, ("user", "item"), "train")
        users = train["user"].to_numpy(np.int64)
        items = train["item"].to_numpy(np.int64)
        self.n_users_ = max(int(users.max()) + 1, self.n_users or 0)
        self.n_items_ = max(int(items.max()) + 1, self.n_items or 0)
        self.seen_ = seen_matrix(train, self.n_users_, self.n_items_)
        # popularity = number of distinct training users who interacted with the item
        self.popularity_ = np.asarray(self.seen_.sum(axis=0), dtype=np.float64).ravel()
        self._fit_more(train)
        self.best_epoch_ = None
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _fit_more(self, train: pd.DataFrame) -> None:
        pass

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """The score of item ``items[j]`` for user ``users[j]`` (higher = better)."""
        self._check_fitted()
        u, i = check_ids(users, "users"), check_ids(items, "items")
        if u.shape != i.shape:
            raise ValueError(f"users has {u.size} ids but items has {i.size}; pass pairs")
        if i.size and i.max() >= self.n_items_:
            raise ValueError(f"item id {i.max()} is outside the catalogue of {self.n_items_}")
        order = np.argsort(u, kind="stable")
        uniq, inverse = np.unique(u[order], return_inverse=True)
        rows = self.score(uniq)
        out = np.empty(u.size)
        out[order] = rows[inverse, i[order]]
        return out


class Random(_ImplicitBaseline):
    """A uniformly random ranking: the chance level (expected Recall@k = k / N).

    A user's scores are drawn from a generator seeded with ``(seed, user)``, so
    the same user always gets the same random ranking (reproducible, and the
    same before and after ``save``/``load``).

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 1], "item": [0, 3]})
    >>> Random(seed=0).fit(train).recommend([0, 1], k=3).shape
    (2, 3)
    """

    def __init__(self, seed: int = 42, n_items: int | None = None,
                 n_users: int | None = None) -> None:
        super().__init__(n_items, n_users)
        self.seed = seed

    def score(self, users: Any) -> np.ndarray:
        self._check_fitted()
        u = check_ids(users, "users")
        out = np.empty((u.size, self.n_items_))
        for row, user in enumerate(u):
            out[row] = np.random.default_rng([int(self.seed), int(user)]).random(self.n_items_)
        return out


class MostPopular(_ImplicitBaseline):
    """Everybody gets the items most users interacted with in training.

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 1, 2, 2], "item": [1, 1, 0, 1]})
    >>> MostPopular().fit(train).recommend([0], k=2).tolist()
    [[0, -1]]
    >>> MostPopular().fit(train).recommend([0], k=2, exclude_seen=False).tolist()
    [[1, 0]]
    """

    def score(self, users: Any) -> np.ndarray:
        u = check_ids(users, "users")
        return np.broadcast_to(self.popularity_, (u.size, self.n_items_))


class ItemToItemMarkov(_ImplicitBaseline):
    """"What followed this item": a first-order Markov chain over histories.

    ``transitions_[a, b]`` counts how often item ``b`` came right after item ``a``
    in a training history (ordered by ``timestamp`` when the frame has one, else
    by row order). A user's next item is scored by the counts out of their last
    training item; popularity, scaled into [0, 1), breaks ties and scores the
    items that never followed it (and everything for users with no history).

    Example
    -------
    >>> train = pd.DataFrame({"user": [0, 0, 1, 1, 2], "item": [0, 2, 0, 2, 0],
    ...                       "timestamp": [1, 2, 1, 2, 1]})
    >>> ItemToItemMarkov().fit(train).recommend([2], k=2).tolist()   # 2 followed 0 twice
    [[2, 1]]
    """

    def _fit_more(self, train: pd.DataFrame) -> None:
        from scipy import sparse

        by = ["user", "timestamp"] if "timestamp" in train.columns else ["user"]
        ordered = train.sort_values(by, kind="stable")
        users = ordered["user"].to_numpy(np.int64)
        items = ordered["item"].to_numpy(np.int64)
        same_user = users[1:] == users[:-1]
        prev, nxt = items[:-1][same_user], items[1:][same_user]
        self.transitions_ = sparse.csr_array(
            (np.ones(prev.size), (prev, nxt)), shape=(self.n_items_, self.n_items_))
        self.transitions_.sum_duplicates()
        last = np.full(self.n_users_, -1, dtype=np.int64)
        is_last = np.r_[~same_user, True]  # the final row of each user's history
        last[users[is_last]] = items[is_last]
        self.last_item_ = last
        self.tie_break_ = self.popularity_ / (self.popularity_.max() + 1.0)

    def score_after(self, last_items: Any) -> np.ndarray:
        """Scores of every item as the successor of each of ``last_items`` (-1: none)."""
        last = np.asarray(last_items, dtype=np.int64).ravel()
        scores = np.tile(self.tie_break_, (last.size, 1))
        known = (last >= 0) & (last < self.n_items_)
        if known.any():
            scores[known] += self.transitions_[last[known]].toarray()
        return scores

    def score(self, users: Any) -> np.ndarray:
        return self.score_after(_lookup_last(self.last_item_, check_ids(users, "users")))


def _lookup_last(last_item: np.ndarray, users: np.ndarray) -> np.ndarray:
    known = users < last_item.size
    return np.where(known, last_item[np.where(known, users, 0)], -1)
