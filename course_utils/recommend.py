"""From scores to top-k lists: the last step of every recommender.

A model gives each user a score for every item of the catalogue; a
recommendation is the ``k`` best-scored items the user has not seen yet. This
module does that step once, for every model of the course:

- :func:`top_k` turns a score matrix into ranked item ids, optionally never
  recommending some items (the ones a user already has);
- :func:`seen_matrix` builds "who has seen what" from a training frame;
- :func:`recommend` scores users in batches with any scoring function and keeps
  the top k (so 100,000 users × 14,000 items never sit in memory at once);
- :func:`scores_from_predict` turns a rating model's ``predict(users, items)``
  into a full score matrix;
- :class:`TopKMixin` gives a model ``recommend(users, k, exclude_seen=True)``
  from its ``score(users)``.

Output convention: an int64 array of shape ``(n_users, k)``, best first. When a
user has fewer than ``k`` items left to recommend, the row is padded with ``-1``
(the metrics in :mod:`course_utils.metrics` treat negative ids as padding).
Items scored ``-inf`` are never recommended; ``nan`` scores are an error.
Ties are broken towards the smaller item id, except exactly at the k-th place,
where :func:`numpy.argpartition` picks (deterministically) among equal scores.

Example
-------
>>> import numpy as np
>>> scores = np.array([[0.1, 0.9, 0.5, 0.7],
...                    [0.8, 0.2, 0.6, 0.4]])
>>> top_k(scores, k=2).tolist()
[[1, 3], [0, 2]]
>>> top_k(scores, k=2, exclude=[[1], [0, 2]]).tolist()
[[3, 2], [3, 1]]
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
from scipy import sparse

Exclude = Union[None, np.ndarray, sparse.spmatrix, sparse.sparray, Sequence[Iterable[int]]]

__all__ = ["top_k", "seen_matrix", "recommend", "scores_from_predict", "TopKMixin"]


def _exclusion_pairs(exclude: Exclude, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of the entries to exclude, whatever form ``exclude`` has."""
    n_rows, n_items = shape
    if sparse.issparse(exclude):
        csr = sparse.csr_array(exclude)
        if csr.shape[0] != n_rows:
            raise ValueError(
                f"exclude has {csr.shape[0]} rows but scores has {n_rows}: give one "
                "row of seen items per scored user (select them with seen[users])"
            )
        rows = np.repeat(np.arange(n_rows), np.diff(csr.indptr))
        cols = csr.indices.astype(np.int64)
    elif isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        if exclude.shape != shape:
            raise ValueError(
                f"a boolean exclude mask must have the shape of scores {shape}, "
                f"got {exclude.shape}"
            )
        rows, cols = np.nonzero(exclude)
    else:
        lists = [np.asarray(list(e) if not isinstance(e, np.ndarray) else e, dtype=np.int64)
                 .ravel() for e in exclude]
        if len(lists) != n_rows:
            raise ValueError(
                f"exclude has {len(lists)} lists but scores has {n_rows} rows: give "
                "one list of item ids to leave out per row"
            )
        lengths = [len(e) for e in lists]
        rows = np.repeat(np.arange(n_rows), lengths)
        cols = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    if cols.size and (cols.min() < 0 or cols.max() >= n_items):
        raise ValueError(
            f"exclude holds item id {int(cols.max() if cols.max() >= n_items else cols.min())} "
            f"outside the catalogue 0..{n_items - 1} of the score matrix"
        )
    return rows, cols


def top_k(scores: Any, k: int, exclude: Exclude = None) -> np.ndarray:
    """The ``k`` best-scored item ids of each row of ``scores``, best first.

    Parameters
    ----------
    scores
        Array of shape ``(n_users, n_items)`` (a 1-D array is one user).
    k
        How many items per user.
    exclude
        Items never to recommend: a boolean mask shaped like ``scores``, a SciPy
        sparse matrix with one row per score row (e.g. ``seen[users]``), or one list
        of item ids per row.

    Returns
    -------
    numpy.ndarray
        int64 array of shape ``(n_users, k)``; ``-1`` where a row has fewer than
        ``k`` items that can be recommended.

    Example
    -------
    >>> top_k(np.array([3.0, 1.0, 2.0]), k=5).tolist()
    [[0, 2, 1, -1, -1]]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        s = s[None, :]
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-D (users × items), got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError(
            "scores contain NaN; a model returned NaN for some item (check for "
            "unknown ids or a diverged training run)"
        )
    n_rows, n_items = s.shape
    if exclude is not None:
        rows, cols = _exclusion_pairs(exclude, s.shape)
        if rows.size:
            s = s.copy()  # never modify the caller's array
            s[rows, cols] = -np.inf
    width = min(int(k), n_items)
    out = np.full((n_rows, int(k)), -1, dtype=np.int64)
    if width == 0 or n_rows == 0:
        return out
    if width < n_items:
        cand = np.argpartition(-s, width - 1, axis=1)[:, :width]
    else:
        cand = np.broadcast_to(np.arange(n_items), s.shape)
    cand_scores = np.take_along_axis(s, cand, axis=1)
    order = np.lexsort((cand, -cand_scores), axis=1)  # score desc, then item id asc
    ranked = np.take_along_axis(cand, order, axis=1)
    ranked_scores = np.take_along_axis(cand_scores, order, axis=1)
    out[:, :width] = np.where(ranked_scores == -np.inf, -1, ranked)
    return out


def seen_matrix(frame: pd.DataFrame, n_users: int | None = None,
                n_items: int | None = None) -> sparse.csr_array:
    """Who has seen what, as a sparse boolean ``(n_users, n_items)`` matrix.

    ``frame`` needs integer columns ``user`` and ``item`` (any other column is
    ignored). Sizes default to the largest id + 1.

    Example
    -------
    >>> seen = seen_matrix(pd.DataFrame({"user": [0, 0, 1], "item": [2, 0, 1]}))
    >>> seen.toarray().astype(int).tolist()
    [[1, 0, 1], [0, 1, 0]]
    """
    for col in ("user", "item"):
        if col not in frame.columns:
            raise ValueError(
                f"the frame has no column {col!r} (columns: {list(frame.columns)}); "
                "interaction frames use the columns user, item[, rating, timestamp]"
            )
    users = frame["user"].to_numpy(dtype=np.int64)
    items = frame["item"].to_numpy(dtype=np.int64)
    if users.size and (users.min() < 0 or items.min() < 0):
        raise ValueError("user and item ids must be >= 0 (contiguous ids from 0)")
    n_u = int(users.max()) + 1 if users.size else 0
    n_i = int(items.max()) + 1 if items.size else 0
    n_users = n_u if n_users is None else int(n_users)
    n_items = n_i if n_items is None else int(n_items)
    if n_u > n_users or n_i > n_items:
        raise ValueError(
            f"the frame has ids up to user {n_u - 1}, item {n_i - 1}, beyond "
            f"n_users={n_users}, n_items={n_items}"
        )
    mat = sparse.csr_array(
        (np.ones(users.size, dtype=bool), (users, items)), shape=(n_users, n_items)
    )
    mat.sum_duplicates()
    return mat


def _seen_rows(seen: sparse.csr_array, users: np.ndarray, n_items: int) -> sparse.csr_array:
    """Rows of ``seen`` for ``users``; users beyond its rows have seen nothing."""
    if seen.shape[1] != n_items:
        raise ValueError(
            f"seen covers {seen.shape[1]} items but the scores cover {n_items}"
        )
    known = users < seen.shape[0]
    rows = sparse.csr_array(seen[np.where(known, users, 0)])
    if known.all():
        return rows
    lengths = np.diff(rows.indptr) * known  # unknown users: empty rows
    keep = np.repeat(known, np.diff(rows.indptr))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return sparse.csr_array((rows.data[keep], rows.indices[keep], indptr), shape=rows.shape)


def recommend(score_fn: Callable[[np.ndarray], np.ndarray], users: Any, k: int,
              seen: sparse.spmatrix | sparse.sparray | None = None,
              batch_size: int = 2048) -> np.ndarray:
    """Top-``k`` lists for ``users``, scoring ``batch_size`` users at a time.

    Parameters
    ----------
    score_fn
        ``score_fn(user_ids) -> array (len(user_ids), n_items)``, e.g. a model's
        ``score`` method.
    users
        User ids to recommend for.
    k
        List length.
    seen
        Sparse ``(n_users, n_items)`` matrix of items to leave out (see
        :func:`seen_matrix`), or ``None`` to allow everything.
    batch_size
        Users scored per call (memory: ``batch_size × n_items`` floats).

    Example
    -------
    >>> popularity = np.array([5.0, 9.0, 1.0, 7.0])
    >>> score = lambda u: np.tile(popularity, (len(u), 1))
    >>> seen = seen_matrix(pd.DataFrame({"user": [1], "item": [1]}), 2, 4)
    >>> recommend(score, [0, 1], k=2, seen=seen).tolist()
    [[1, 3], [3, 0]]
    """
    users = np.asarray(users, dtype=np.int64).ravel()
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    parts = []
    for start in range(0, users.size, batch_size):
        batch = users[start : start + batch_size]
        scores = np.asarray(score_fn(batch), dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != batch.size:
            raise ValueError(
                f"score_fn returned shape {scores.shape} for {batch.size} users; it "
                "must return one row of item scores per user"
            )
        exclude = None if seen is None else _seen_rows(seen, batch, scores.shape[1])
        parts.append(top_k(scores, k, exclude))
    if not parts:
        return np.zeros((0, int(k)), dtype=np.int64)
    return np.concatenate(parts)


def scores_from_predict(predict: Callable[[np.ndarray, np.ndarray], Any], users: Any,
                        n_items: int) -> np.ndarray:
    """Score every item for each user with a rating model's ``predict(users, items)``.

    Example
    -------
    >>> predict = lambda u, i: u * 10.0 + i
    >>> scores_from_predict(predict, [0, 2], n_items=3).tolist()
    [[0.0, 1.0, 2.0], [20.0, 21.0, 22.0]]
    """
    users = np.asarray(users, dtype=np.int64).ravel()
    all_users = np.repeat(users, n_items)
    all_items = np.tile(np.arange(n_items, dtype=np.int64), users.size)
    return np.asarray(predict(all_users, all_items), dtype=np.float64).reshape(
        users.size, n_items
    )


class TopKMixin:
    """Gives a model ``recommend(users, k, exclude_seen=True)``.

    The model provides ``score(users) -> (len(users), n_items)`` and, after
    ``fit``, the attribute ``seen_`` (a :func:`seen_matrix` of its training data).
    """

    seen_: sparse.csr_array | None = None

    def score(self, users: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def recommend(self, users: Any, k: int, exclude_seen: bool = True,
                  batch_size: int = 2048) -> np.ndarray:
        """The top-``k`` item ids for each user, best first (shape ``(len(users), k)``).

        With ``exclude_seen`` the items of the user's training history are left out.
        """
        if self.seen_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) first")
        return recommend(self.score, users, k,
                         seen=self.seen_ if exclude_seen else None, batch_size=batch_size)
