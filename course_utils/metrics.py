"""Rating and ranking metrics, exact and vectorised.

Every chapter reports through this module, so its conventions are pinned here
once (and tested against scikit-learn and ``ranx`` in ``tests/test_metrics.py``).

Rating metrics
--------------
:func:`rmse` (thesis eq. 4.8) and :func:`mae` (eq. 4.6) compare two arrays of
ratings of the same length.

Ranking metrics: ``metric_at_k(recommended, relevant, k)``
----------------------------------------------------------
``recommended``
    The ranked lists, best first, one per user: a 2-D integer array of item ids
    (shape ``(n_users, list_length)``) or a list of lists. Lists may be shorter
    than ``k``; in an array, negative ids (``-1``) are padding and never hit.
    Only the first ``k`` entries of each list are looked at.
``relevant``
    What each user actually interacted with in the test period: a list of sets
    (or lists / arrays) of item ids, one per user, or a 1-D integer array with one
    relevant item per user (the leave-last-out protocol: the held-out next item).
``k``
    The cut-off, a positive integer.

Conventions (binary relevance throughout):

- a *hit* is a recommended item that is in the user's relevant set; an item
  recommended twice counts once (the later copy is a wasted slot, not a hit);
- ``recall@k = hits / |relevant|`` (thesis eq. 4.12);
- ``precision@k = hits / k`` (also when the list is shorter than ``k``);
- ``hit_rate@k = 1`` if there is at least one hit, else 0;
- ``DCG@k = sum over hit ranks r of 1 / log2(r + 1)`` (ranks start at 1);
  ``NDCG@k = DCG@k / IDCG@k`` where ``IDCG@k`` is the DCG of
  ``min(|relevant|, k)`` hits at the top, so NDCG lies in [0, 1]. (The thesis's
  eq. 4.10 omits this normalisation: see the book's errata.)
- ``MRR@k``: the reciprocal rank ``1 / r`` of the first hit within the top k,
  else 0 (eq. 4.11), averaged over users;
- ``AP@k = sum over hit ranks r of precision@r / min(|relevant|, k)``;
  ``MAP@k`` its mean;
- users with no relevant item are left out of the mean (their value would be
  0/0); ``per_user=True`` gives them ``nan``.

Beyond accuracy: :func:`coverage_at_k` (share of the catalogue that appears in
somebody's top k) and :func:`popularity_at_k` (mean popularity of what is
recommended: a measure of popularity bias).

Example
-------
>>> from course_utils.metrics import recall_at_k, ndcg_at_k, mrr_at_k
>>> recommended = [[3, 1, 7], [2, 5, 4]]
>>> relevant = [{1, 9}, {4}]
>>> recall_at_k(recommended, relevant, k=3)        # (1/2 + 1/1) / 2
0.75
>>> round(mrr_at_k(recommended, relevant, k=3), 4)  # (1/2 + 1/3) / 2
0.4167
>>> round(ndcg_at_k([[3, 1]], [{1}], k=2), 4)       # (1/log2 3) / (1/log2 2)
0.6309
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Union

import numpy as np

Recommended = Union[np.ndarray, Sequence[Sequence[int]]]
Relevant = Union[np.ndarray, Sequence[Iterable[int]]]

__all__ = [
    "rmse",
    "mae",
    "recall_at_k",
    "precision_at_k",
    "hit_rate_at_k",
    "ndcg_at_k",
    "mrr_at_k",
    "map_at_k",
    "coverage_at_k",
    "popularity_at_k",
    "evaluate",
    "hit_matrix",
    "uniform_cross_entropy",
    "RANKING_METRICS",
]


# --------------------------------------------------------------------------
# rating metrics
# --------------------------------------------------------------------------
def _rating_arrays(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(
            f"y_true has {t.size} values but y_pred has {p.size}: pass one "
            "prediction per true rating, in the same order"
        )
    if t.size == 0:
        raise ValueError("y_true is empty: there is nothing to score")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        bad = "y_true" if not np.isfinite(t).all() else "y_pred"
        raise ValueError(f"{bad} contains NaN or infinite values; drop or fill them first")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, ``sqrt(mean((y - y')^2))`` (thesis eq. 4.8).

    Example
    -------
    >>> rmse([4, 8, 6], [5, 8, 4])
    1.2909944487358056
    """
    t, p = _rating_arrays(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error, ``mean(|y - y'|)`` (thesis eq. 4.6).

    Example
    -------
    >>> mae([4, 8, 6], [5, 8, 4])
    1.0
    """
    t, p = _rating_arrays(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def uniform_cross_entropy(n_items: int) -> float:
    """Cross-entropy of a uniform guess over ``n_items`` classes: ``ln(n_items)``.

    The chance level of a next-item softmax (thesis 5.3: 9.51 for 13,597 anime).

    Example
    -------
    >>> round(uniform_cross_entropy(13_597), 4)
    9.5176
    """
    if int(n_items) < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    return math.log(int(n_items))


# --------------------------------------------------------------------------
# input conversion
# --------------------------------------------------------------------------
def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _integer_array(values: np.ndarray, name: str) -> np.ndarray:
    if values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    if values.dtype.kind == "f" and values.size and np.all(np.isfinite(values)) and np.all(
        values == np.round(values)
    ):
        return values.astype(np.int64)
    if values.size == 0:
        return values.astype(np.int64)
    raise TypeError(
        f"{name} must hold integer item ids, got dtype {values.dtype}; map item "
        "names to ids first (course_utils.data gives contiguous ids from 0)"
    )


def _ranked_matrix(recommended: Recommended, k: int) -> np.ndarray:
    """The first ``k`` columns of the lists as an int64 array; negative ids = padding."""
    if isinstance(recommended, np.ndarray):
        if recommended.ndim != 2:
            raise ValueError(
                "recommended must be 2-D (one ranked row per user), got shape "
                f"{recommended.shape}; for a single user pass [[...]]"
            )
        return _integer_array(recommended[:, :k], "recommended")
    lists = list(recommended)
    lengths = np.fromiter((min(len(r), k) for r in lists), dtype=np.int64, count=len(lists))
    width = int(lengths.max()) if lists else 0
    mat = np.full((len(lists), width), -1, dtype=np.int64)
    flat = np.fromiter(
        chain.from_iterable(list(r)[:k] for r in lists), dtype=np.float64,
        count=int(lengths.sum()),
    )
    flat = _integer_array(flat, "recommended")
    rows = np.repeat(np.arange(len(lists)), lengths)
    cols = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    mat[rows, cols] = flat
    return mat


def _relevant_pairs(relevant: Relevant, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Relevant items as ``(user, item)`` pairs (two int64 arrays), padding dropped."""
    if isinstance(relevant, np.ndarray) and relevant.ndim == 1 and relevant.dtype != object:
        items = _integer_array(relevant, "relevant")
        users = np.arange(items.size)
    elif isinstance(relevant, np.ndarray) and relevant.ndim == 2:
        mat = _integer_array(relevant, "relevant")
        users = np.repeat(np.arange(mat.shape[0]), mat.shape[1])
        items = mat.ravel()
    else:
        sets = [s if isinstance(s, Iterable) else [s] for s in relevant]  # a bare id = {id}
        lengths = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
        flat = np.fromiter(chain.from_iterable(sets), dtype=np.float64, count=int(lengths.sum()))
        items = _integer_array(flat, "relevant")
        users = np.repeat(np.arange(len(sets)), lengths)
    n_given = int(users.max()) + 1 if users.size else 0
    n_rel_rows = (relevant.shape[0] if isinstance(relevant, np.ndarray) else len(relevant))
    if n_rel_rows != n_users or n_given > n_users:
        raise ValueError(
            f"recommended has {n_users} users but relevant has {n_rel_rows}: pass one "
            "relevant set per recommended list, in the same order"
        )
    keep = items >= 0  # negative ids are padding
    users, items = users[keep], items[keep]
    return users, items


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` for int64 by sort + compare (numpy 2's hash-based unique is slower here)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if values.size else values


@dataclass(frozen=True)
class HitMatrix:
    """Where the hits are, stored sparsely: hit ``j`` is at rank ``cols[j] + 1`` of
    user ``rows[j]`` (sorted by user, then rank).

    ``n_relevant[u]`` is the size of user ``u``'s relevant set and ``k`` the
    cut-off. Every ranking metric is a small function of these; ``dense()`` gives
    the ``(n_users, k)`` boolean picture.
    """

    rows: np.ndarray
    cols: np.ndarray
    n_relevant: np.ndarray
    k: int

    @property
    def n_users(self) -> int:
        return self.n_relevant.size

    def dense(self) -> np.ndarray:
        """The hits as a boolean array of shape ``(n_users, k)``."""
        out = np.zeros((self.n_users, self.k), bool)
        out[self.rows, self.cols] = True
        return out

    def truncate(self, k: int) -> "HitMatrix":
        """The same hits at a smaller cut-off ``k``."""
        keep = self.cols < k
        return HitMatrix(self.rows[keep], self.cols[keep], self.n_relevant, k)


def _hits_by_table(recs: np.ndarray, users: np.ndarray, items: np.ndarray,
                   base: int, table_bytes: int = 2**21) -> np.ndarray:
    """Look recommended items up in a boolean relevance table, a block of users at a time.

    The table holds ``block`` rows of ``base + 1`` booleans (about ``table_bytes``),
    flattened, and is reused: each block's relevant items are set, looked up, and
    reset. Column ``base`` stays False and absorbs the padding ids.
    """
    n_users, width = recs.shape[0], base + 1
    block = max(1, table_bytes // width)
    table = np.zeros(block * width, bool)
    hits = np.empty(recs.shape, bool)
    lookup = np.where(recs >= 0, recs, base)  # column of each recommended item
    row_start = (np.arange(block) * width)[:, None]
    bounds = np.searchsorted(users, np.arange(0, n_users + block, block))
    for b, start in enumerate(range(0, n_users, block)):
        stop = min(start + block, n_users)
        lo, hi = bounds[b], bounds[b + 1]
        cells = (users[lo:hi] - start) * width + items[lo:hi]
        table[cells] = True
        np.take(table, lookup[start:stop] + row_start[: stop - start], out=hits[start:stop])
        table[cells] = False
    return hits


def hit_matrix(recommended: Recommended, relevant: Relevant, k: int,
               method: str = "auto") -> HitMatrix:
    """Mark the hits of the top-``k`` lists (the shared first step of every metric).

    Two vectorised ways to find the hits, chosen by ``method``:

    ``"columns"``
        Pad the relevant sets into an array with one column per relevant item and
        compare the whole ``(n_users, k)`` array with each column in turn. Fastest
        when every user has a few relevant items (leave-last-out: exactly one).
    ``"table"``
        For a block of users at a time, mark their relevant items in a boolean
        ``(block, n_items)`` table and look every recommended item up in it. Its
        cost does not grow with the size of the relevant sets.
    ``"auto"`` (default)
        ``"columns"`` when no user has more than 4 relevant items, else ``"table"``.

    Example
    -------
    >>> h = hit_matrix([[3, 1, 1]], [{1, 9}], k=3)
    >>> h.dense().astype(int).tolist(), h.n_relevant.tolist()
    ([[0, 1, 0]], [2])
    """
    k = _check_k(k)
    if method not in ("auto", "columns", "table"):
        raise ValueError(f"method must be 'auto', 'columns' or 'table', got {method!r}")
    recs = _ranked_matrix(recommended, k)
    n_users = recs.shape[0]
    if n_users == 0:
        raise ValueError("recommended is empty: pass at least one user's list")
    rel_users, rel_items = _relevant_pairs(relevant, n_users)

    # one integer per (user, item) pair; `base` exceeds every item id
    base = int(max(recs.max(initial=0), rel_items.max(initial=0))) + 1
    rel_codes = _sorted_unique(rel_users * base + rel_items)  # drops duplicates
    users, items = rel_codes // base, rel_codes % base  # sorted by user
    n_relevant = np.bincount(users, minlength=n_users)
    most = int(n_relevant.max(initial=0))

    if recs.shape[1] == 0 or most == 0:
        hits = np.zeros(recs.shape, bool)
    elif method == "columns" or (method == "auto" and most <= 4):
        starts = np.cumsum(n_relevant) - n_relevant
        padded = np.full((n_users, most), base, dtype=np.int64)  # `base` never matches
        padded[users, np.arange(users.size) - starts[users]] = items
        hits = recs == padded[:, :1]
        for j in range(1, most):
            hits |= recs == padded[:, j : j + 1]
    else:
        hits = _hits_by_table(recs, users, items, base)

    rows, cols = np.nonzero(hits)  # row-major: sorted by user, then rank
    # a duplicate recommendation is a hit only the first time it appears
    if rows.size:
        codes = rows * base + recs[rows, cols]
        order = np.argsort(codes, kind="stable")  # equal codes keep their rank order
        repeat = np.zeros(rows.size, bool)
        repeat[order[1:]] = codes[order[1:]] == codes[order[:-1]]
        rows, cols = rows[~repeat], cols[~repeat]
    return HitMatrix(rows, cols, n_relevant, k)


# --------------------------------------------------------------------------
# per-user scores from a hit matrix
# --------------------------------------------------------------------------
def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2))


def _per_user(name: str, h: HitMatrix) -> np.ndarray:
    """One value per user (``nan`` where the user has no relevant item)."""
    n, k, n_rel = h.n_users, h.k, h.n_relevant
    rows, ranks = h.rows, h.cols + 1  # ranks start at 1
    n_hits = np.bincount(rows, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "recall":
            out = n_hits / n_rel
        elif name == "precision":
            out = n_hits / k
        elif name == "hit_rate":
            out = (n_hits > 0).astype(np.float64)
        elif name == "ndcg":
            dcg = np.bincount(rows, weights=1.0 / np.log2(ranks + 1), minlength=n)
            ideal = np.concatenate([[0.0], np.cumsum(_discounts(k))])[np.minimum(n_rel, k)]
            out = dcg / ideal
        elif name == "mrr":
            first = np.full(n, np.inf)
            is_first = np.r_[True, rows[1:] != rows[:-1]] if rows.size else rows.astype(bool)
            first[rows[is_first]] = ranks[is_first]
            out = 1.0 / first
        elif name == "map":
            # the j-th hit of a user (j = 1, 2, ...) at rank r adds precision@r = j / r
            start = np.cumsum(n_hits) - n_hits
            j = np.arange(rows.size) - start[rows] + 1
            out = np.bincount(rows, weights=j / ranks, minlength=n) / np.minimum(n_rel, k)
        else:
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(RANKING_METRICS)}")
    return np.where(n_rel > 0, out, np.nan)


def _reduce(values: np.ndarray, per_user: bool) -> float | np.ndarray:
    if per_user:
        return values
    if np.isnan(values).all():
        raise ValueError(
            "no user has a relevant item, so the metric is undefined; check that "
            "relevant holds the test items (and that they are not all filtered out)"
        )
    return float(np.nanmean(values))


def _metric(name: str, recommended: Recommended, relevant: Relevant, k: int,
            per_user: bool) -> float | np.ndarray:
    return _reduce(_per_user(name, hit_matrix(recommended, relevant, k)), per_user)


RANKING_METRICS = ("recall", "precision", "hit_rate", "ndcg", "mrr", "map")


def recall_at_k(recommended: Recommended, relevant: Relevant, k: int,
                per_user: bool = False) -> float | np.ndarray:
    """Recall@k: the share of each user's relevant items found in the top k (eq. 4.12).

    ``hits / |relevant|``, averaged over users with at least one relevant item.
    With one held-out item per user it equals the hit rate.

    Example
    -------
    >>> recall_at_k([[1, 2, 3]], [{2, 5}], k=3)
    0.5
    """
    return _metric("recall", recommended, relevant, k, per_user)


def precision_at_k(recommended: Recommended, relevant: Relevant, k: int,
                   per_user: bool = False) -> float | np.ndarray:
    """Precision@k: ``hits / k`` (also when a list is shorter than ``k``).

    Example
    -------
    >>> precision_at_k([[1, 2, 3, 4]], [{2, 5}], k=4)
    0.25
    """
    return _metric("precision", recommended, relevant, k, per_user)


def hit_rate_at_k(recommended: Recommended, relevant: Relevant, k: int,
                  per_user: bool = False) -> float | np.ndarray:
    """Hit rate@k: the share of users with at least one relevant item in the top k.

    Example
    -------
    >>> hit_rate_at_k([[1, 2], [3, 4]], [{2}, {9}], k=2)
    0.5
    """
    return _metric("hit_rate", recommended, relevant, k, per_user)


def ndcg_at_k(recommended: Recommended, relevant: Relevant, k: int,
              per_user: bool = False) -> float | np.ndarray:
    """NDCG@k with binary relevance and the ``1 / log2(rank + 1)`` discount.

    ``DCG@k / IDCG@k``, where ``IDCG@k`` places ``min(|relevant|, k)`` hits at the
    top of the list; always in [0, 1], 1 for a perfect ranking.

    Example
    -------
    >>> round(ndcg_at_k([[7, 2]], [{2}], k=2), 4)   # hit at rank 2: 1/log2(3)
    0.6309
    """
    return _metric("ndcg", recommended, relevant, k, per_user)


def mrr_at_k(recommended: Recommended, relevant: Relevant, k: int,
             per_user: bool = False) -> float | np.ndarray:
    """MRR@k: mean of ``1 / rank`` of the first hit within the top k, 0 if none (eq. 4.11).

    Example
    -------
    >>> mrr_at_k([[7, 2, 5]], [{5, 2}], k=3)
    0.5
    """
    return _metric("mrr", recommended, relevant, k, per_user)


def map_at_k(recommended: Recommended, relevant: Relevant, k: int,
             per_user: bool = False) -> float | np.ndarray:
    """MAP@k: mean average precision, each AP@k divided by ``min(|relevant|, k)``.

    Example
    -------
    >>> map_at_k([[2, 7, 5]], [{5, 2}], k=3)   # (1/1 + 2/3) / 2
    0.8333333333333333
    """
    return _metric("map", recommended, relevant, k, per_user)


def evaluate(recommended: Recommended, relevant: Relevant,
             metrics: Iterable[str] = ("ndcg@5", "recall@20", "mrr@20")) -> dict[str, float]:
    """Several ranking metrics at once, named ``"<metric>@<k>"`` (default: thesis Table 5.2).

    The hit matrix is computed once, at the largest ``k`` asked for.

    Example
    -------
    >>> evaluate([[3, 1, 7]], [{1}], ["recall@1", "recall@2", "mrr@3"])
    {'recall@1': 0.0, 'recall@2': 1.0, 'mrr@3': 0.5}
    """
    parsed = []
    for spec in metrics:
        name, sep, k = str(spec).partition("@")
        if not sep or not k.isdigit() or name not in RANKING_METRICS:
            raise ValueError(
                f"cannot read metric {spec!r}: write '<name>@<k>' with a name from "
                f"{', '.join(RANKING_METRICS)}, e.g. 'recall@20'"
            )
        parsed.append((spec, name, _check_k(int(k))))
    if not parsed:
        raise ValueError("no metric asked for")
    full = hit_matrix(recommended, relevant, max(k for _, _, k in parsed))
    out: dict[str, float] = {}
    for spec, name, k in parsed:
        out[spec] = float(_reduce(_per_user(name, full.truncate(k)), per_user=False))
    return out


# --------------------------------------------------------------------------
# beyond accuracy
# --------------------------------------------------------------------------
def coverage_at_k(recommended: Recommended, n_items: int, k: int) -> float:
    """Catalogue coverage: the share of the ``n_items`` items in at least one top-k list.

    Example
    -------
    >>> coverage_at_k([[0, 1], [1, 2]], n_items=10, k=2)
    0.3
    """
    k = _check_k(k)
    if int(n_items) < 1:
        raise ValueError(f"n_items must be at least 1, got {n_items}")
    recs = _ranked_matrix(recommended, k)
    shown = _sorted_unique(recs[recs >= 0])
    if shown.size and shown[-1] >= n_items:
        raise ValueError(
            f"recommended holds item id {int(shown[-1])} but n_items is {n_items}: "
            "pass the catalogue size (largest id + 1)"
        )
    return shown.size / int(n_items)


def popularity_at_k(recommended: Recommended, item_popularity: Any, k: int) -> float:
    """Popularity bias: mean popularity of the recommended items.

    ``item_popularity[i]`` is item ``i``'s popularity (e.g. its number of training
    interactions, or the share of users who saw it). Each user's top-k list is
    averaged first, then the users (padding ignored; empty lists left out).

    Example
    -------
    >>> popularity_at_k([[0, 1], [2]], item_popularity=[10, 4, 1], k=2)
    4.0
    """
    k = _check_k(k)
    pop = np.asarray(item_popularity, dtype=np.float64).ravel()
    recs = _ranked_matrix(recommended, k)
    valid = recs >= 0
    if recs.size and recs.max(initial=-1) >= pop.size:
        raise ValueError(
            f"recommended holds item id {int(recs.max())} but item_popularity has only "
            f"{pop.size} entries: give one popularity per catalogue item"
        )
    counts = valid.sum(axis=1)
    if not counts.any():
        raise ValueError("every recommendation list is empty")
    sums = np.where(valid, pop[np.where(valid, recs, 0)], 0.0).sum(axis=1)
    return float(np.mean(sums[counts > 0] / counts[counts > 0]))
