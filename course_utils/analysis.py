"""What a list of recommendations says about a user: genres, alignment, popularity, coverage.

The thesis (chapter 6) looked at one user: the genres of the anime they had
watched, counted from the *first three genres* listed for each anime (its
Figure 6.1), and whether a model's top five shared them. This module turns
that reading into numbers that can be measured for every user and every model:

- :func:`genre_matrix`: one multi-hot row per anime (its first ``top`` genres);
- :func:`genre_affinity`: how often each genre appears in a user's history
  (Figure 6.1 for one user);
- :func:`genre_distributions`: one genre distribution per item list (rows sum
  to 1), for histories and for top-k lists alike;
- :func:`cosine_similarity` and :func:`jensen_shannon`: how close two such
  distributions are (row by row);
- :func:`genre_alignment`: both, plus the share of recommended anime that carry
  one of the user's three favourite genres, and the share that carry *no* genre
  the user has ever watched ("off-taste"), per user;
- :func:`beyond_accuracy`: alignment, popularity and catalogue coverage of one
  model's lists (popularity and coverage come from :mod:`course_utils.metrics`).

Recommendation lists follow :mod:`course_utils.recommend`: an int array
``(n_users, k)``, ``-1`` as padding.

Example
-------
>>> import pandas as pd
>>> anime = pd.DataFrame({"genres": [["Action", "Comedy"], ["Drama"], ["Action"]]})
>>> G, names = genre_matrix(anime)
>>> names
['Action', 'Comedy', 'Drama']
>>> genre_distributions([[0, 2]], G).round(2).tolist()
[[0.67, 0.33, 0.0]]
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from course_utils.metrics import coverage_at_k, popularity_at_k

__all__ = [
    "genre_matrix",
    "genre_affinity",
    "genre_distributions",
    "cosine_similarity",
    "jensen_shannon",
    "genre_alignment",
    "beyond_accuracy",
    "compare_models",
]


def genre_matrix(anime: pd.DataFrame, top: int = 3,
                 column: str = "genres") -> tuple[np.ndarray, list[str]]:
    """Multi-hot genres of every anime: its first ``top`` listed genres (thesis 6).

    Parameters
    ----------
    anime
        Indexed by item id (``ds.anime``), with a column of genre lists.
    top
        How many of each anime's listed genres count (the thesis used 3);
        ``None`` keeps all of them.
    column
        The column holding the lists of genre names.

    Returns
    -------
    matrix, names
        ``float32`` array ``(n_items, n_genres)`` of 0/1, and the genre names
        (sorted) of its columns. An anime without genres is a row of zeros.

    Example
    -------
    >>> G, names = genre_matrix(pd.DataFrame({"genres": [["B", "A", "C", "D"]]}), top=2)
    >>> names, G.tolist()
    (['A', 'B'], [[1.0, 1.0]])
    """
    if column not in anime.columns:
        raise ValueError(f"the anime frame has no column {column!r} (columns: "
                         f"{list(anime.columns)}); pass ds.anime from course_utils.data.load")
    lists = [list(g) if isinstance(g, (list, tuple, np.ndarray)) else []
             for g in anime[column]]
    lists = [g[:top] if top is not None else g for g in lists]
    names = sorted({name for g in lists for name in g})
    col = {name: j for j, name in enumerate(names)}
    matrix = np.zeros((len(lists), len(names)), dtype=np.float32)
    for row, g in enumerate(lists):
        for name in g:
            matrix[row, col[name]] = 1.0
    return matrix, names


def _clean_items(items: Any) -> np.ndarray:
    arr = np.asarray(items, dtype=np.int64).ravel()
    return arr[arr >= 0]


def genre_affinity(items: Any, genres: np.ndarray, names: Sequence[str]) -> pd.Series:
    """How many of a user's anime carry each genre (the thesis's Figure 6.1), largest first.

    Example
    -------
    >>> G = np.array([[1, 0], [1, 1]], dtype=np.float32)
    >>> genre_affinity([0, 1], G, ["Action", "Drama"]).to_dict()
    {'Action': 2, 'Drama': 1}
    """
    counts = genres[_clean_items(items)].sum(axis=0).astype(np.int64)
    series = pd.Series(counts, index=list(names), name="anime")
    series = series[series > 0]
    # largest first, ties in alphabetical order (stable sort on the sorted names)
    return series.sort_values(ascending=False, kind="stable")


def genre_distributions(item_lists: Any, genres: np.ndarray) -> np.ndarray:
    """One genre distribution per item list: genre counts divided by their sum.

    ``item_lists`` is a 2-D array (top-k lists, ``-1`` padding ignored) or a
    sequence of 1-D arrays (histories). A list without any genre gives a row of
    zeros.

    Example
    -------
    >>> G = np.array([[1, 0], [0, 1]], dtype=np.float32)
    >>> genre_distributions([[0, 0, 1], [1, -1, -1]], G).round(3).tolist()
    [[0.667, 0.333], [0.0, 1.0]]
    """
    if isinstance(item_lists, np.ndarray) and item_lists.ndim == 2:
        lists = [row for row in item_lists]
    else:
        lists = list(item_lists)
    out = np.zeros((len(lists), genres.shape[1]), dtype=np.float64)
    for row, items in enumerate(lists):
        items = _clean_items(items)
        if items.size and items.max() >= len(genres):
            raise ValueError(f"item id {int(items.max())} is beyond the genre matrix's "
                             f"{len(genres)} rows (one row per catalogue item)")
        out[row] = genres[items].sum(axis=0)
    totals = out.sum(axis=1, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


def cosine_similarity(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two arrays of the same shape (0 where a row is zero).

    Example
    -------
    >>> cosine_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])).round(4).tolist()
    [0.7071]
    """
    p, q = np.atleast_2d(np.asarray(p, float)), np.atleast_2d(np.asarray(q, float))
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    norms = np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1)
    dots = (p * q).sum(axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise Jensen–Shannon divergence in bits (0 = same distribution, 1 = disjoint).

    ``JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)`` with ``m = ½ (p + q)``. SciPy's
    ``scipy.spatial.distance.jensenshannon`` returns its square root (a distance).

    Example
    -------
    >>> jensen_shannon(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])).tolist()
    [1.0]
    """
    p, q = np.atleast_2d(np.asarray(p, float)), np.atleast_2d(np.asarray(q, float))
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> np.ndarray:
        ratio = np.divide(a, m, out=np.ones_like(a), where=a > 0)
        return (a * np.log2(ratio)).sum(axis=1)

    return np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, 1.0)


def genre_alignment(histories: Sequence[Any], recommended: np.ndarray,
                    genres: np.ndarray, n_favourite: int = 3) -> pd.DataFrame:
    """How well each user's top-k list matches the genres of their history.

    Parameters
    ----------
    histories
        Per user, the items they watched (what the model could know).
    recommended
        ``(n_users, k)`` recommendations, one row per history.
    genres
        :func:`genre_matrix` of the catalogue.
    n_favourite
        How many of the user's most frequent genres count as favourites.

    Returns
    -------
    pandas.DataFrame
        One row per user: ``cosine`` (cosine similarity of the two genre
        distributions), ``js`` (their Jensen–Shannon divergence),
        ``favourite_share`` (share of recommended anime with at least one of
        the user's ``n_favourite`` favourite genres) and ``off_taste_share``
        (share of recommended anime none of whose genres appears anywhere in
        the history).

    Example
    -------
    >>> G = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
    >>> genre_alignment([np.array([0, 2])], np.array([[2, 1]]), G, n_favourite=1).round(3)
       cosine     js  favourite_share  off_taste_share
    0   0.707  0.311              0.5              0.5
    """
    recommended = np.asarray(recommended)
    if recommended.ndim != 2 or len(recommended) != len(histories):
        raise ValueError(f"recommended must be (n_users, k) with one row per history: got "
                         f"shape {recommended.shape} for {len(histories)} histories")
    hist = genre_distributions(histories, genres)
    recs = genre_distributions(recommended, genres)
    # favourites: the n_favourite largest genre shares (ties: smaller genre index)
    order = np.argsort(-hist, axis=1, kind="stable")[:, :n_favourite]
    favourite = np.zeros_like(hist, dtype=bool)
    np.put_along_axis(favourite, order, True, axis=1)
    favourite &= hist > 0
    valid = recommended >= 0
    # own[u, j]: does recommended item j of user u carry one of u's favourite genres?
    own = np.einsum("ujg,ug->uj", genres[np.where(valid, recommended, 0)],
                    favourite.astype(np.float32)) > 0
    # shared[u, j]: does recommended item j share any genre with u's whole history?
    shared = np.einsum("ujg,ug->uj", genres[np.where(valid, recommended, 0)],
                       (hist > 0).astype(np.float32)) > 0
    n_valid = valid.sum(axis=1)

    def share_of(flags: np.ndarray) -> np.ndarray:
        return np.divide((flags & valid).sum(axis=1), n_valid, out=np.zeros(len(valid)),
                         where=n_valid > 0)

    return pd.DataFrame({"cosine": cosine_similarity(hist, recs),
                         "js": jensen_shannon(hist, recs), "favourite_share": share_of(own),
                         "off_taste_share": share_of(~shared)})


def beyond_accuracy(recommended: np.ndarray, histories: Sequence[Any], genres: np.ndarray,
                    item_popularity: Any, k: int) -> dict[str, float]:
    """Alignment, popularity and coverage of one model's top-``k`` lists.

    Returns
    -------
    dict
        ``genre_cosine``, ``genre_js``, ``favourite_share`` and
        ``off_taste_share`` (means over users, see :func:`genre_alignment`), ``popularity`` (mean
        ``item_popularity`` of the recommended anime,
        :func:`course_utils.metrics.popularity_at_k`) and ``coverage`` (share of
        the catalogue in at least one list, :func:`course_utils.metrics.coverage_at_k`).

    Example
    -------
    >>> G = np.eye(3, dtype=np.float32)
    >>> out = beyond_accuracy(np.array([[0, 1]]), [np.array([0])], G, [0.5, 0.2, 0.1], k=2)
    >>> round(out["coverage"], 3), round(out["popularity"], 2)
    (0.667, 0.35)
    """
    recs = np.asarray(recommended)[:, :k]
    align = genre_alignment(histories, recs, genres)
    return {"genre_cosine": float(align["cosine"].mean()),
            "genre_js": float(align["js"].mean()),
            "favourite_share": float(align["favourite_share"].mean()),
            "off_taste_share": float(align["off_taste_share"].mean()),
            "popularity": popularity_at_k(recs, item_popularity, k),
            "coverage": coverage_at_k(recs, len(genres), k)}


def compare_models(recommendations: Mapping[str, np.ndarray], histories: Sequence[Any],
                   genres: np.ndarray, item_popularity: Any, k: int) -> pd.DataFrame:
    """:func:`beyond_accuracy` for several models: one row per model.

    Example
    -------
    >>> G = np.eye(2, dtype=np.float32)
    >>> compare_models({"a": np.array([[0]]), "b": np.array([[1]])}, [np.array([0])], G,
    ...                [1.0, 0.0], k=1)["genre_cosine"].tolist()
    [1.0, 0.0]
    """
    rows = {name: beyond_accuracy(recs, histories, genres, item_popularity, k)
            for name, recs in recommendations.items()}
    return pd.DataFrame.from_dict(rows, orient="index")
