"""Views of a :class:`~course_utils.data.load.Dataset` for the two kinds of models.

Explicit (chapters 4–8): ``(user, item, rating)`` with the unscored zeros
dropped, and a seeded random train/validation/test split.

Implicit (chapters 9–12): per-user sequences in watch order (my_last_updated,
statuses 1 and 2), leave-last-out, and sliding windows of length ``L``.

Padding convention of :func:`make_windows`: with the default ``pad_id=0`` the
*inputs* hold ``item + 1`` and 0 means "no item" (what
``keras.layers.Embedding(n_items + 1, d, mask_zero=True)`` expects), while the
*targets* are plain item ids ``0 … n_items-1`` (one softmax unit per item).

Example
-------
>>> import numpy as np
>>> X, y = make_windows([np.array([5, 7, 9])], L=3)
>>> X.tolist(), y.tolist()
([[0, 0, 6], [0, 6, 8]], [7, 9])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from course_utils.data.errors import NoTimestampsError

if TYPE_CHECKING:  # pragma: no cover
    from course_utils.data.load import Dataset

PAD = 0


# ----------------------------------------------------------------------------
# explicit
# ----------------------------------------------------------------------------
def explicit(ds: "Dataset") -> pd.DataFrame:
    """The explicit scores: ``user``, ``item``, ``rating`` (float32, 1–10), zeros dropped.

    A score of 0 means "not scored", not "worst": it is missing, not low
    (thesis 3.3), so it is left out.

    Example
    -------
    >>> ratings = explicit(ds)  # doctest: +SKIP
    >>> ratings["rating"].between(1, 10).all()  # doctest: +SKIP
    True
    """
    inter = ds.interactions
    rated = inter[inter["rating"] > 0]
    return pd.DataFrame({
        "user": rated["user"].to_numpy(np.int32),
        "item": rated["item"].to_numpy(np.int32),
        "rating": rated["rating"].to_numpy(np.float32),
    })


def rating_arrays(frame: Any, name: str = "train", need_rating: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check a ratings frame and return its ``(users, items, ratings)`` arrays.

    Every explicit model of the course (MF, Spark, networks, ensembles) takes a
    frame made by :func:`explicit`: integer ids ``user`` and ``item`` from 0 and a
    finite ``rating``. Anything else is a clear error naming ``name``, the column
    and, for a bad rating, the row. ``need_rating=False`` checks only the ids (for
    ``predict``) and returns ``None`` for the ratings.

    Example
    -------
    >>> frame = pd.DataFrame({"user": [0, 1], "item": [2, 0], "rating": [7.0, 9.0]})
    >>> users, items, ratings = rating_arrays(frame)
    >>> users.tolist(), ratings.tolist()
    ([0, 1], [7.0, 9.0])
    """
    columns = ["user", "item", "rating"] if need_rating else ["user", "item"]
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame with columns {columns}, "
                        f"got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {missing} (it has {list(frame.columns)}); make it "
            "with course_utils.data.explicit(ds), which gives user, item, rating")
    if len(frame) == 0:
        raise ValueError(f"{name} is empty: there is nothing to fit or score")
    ids = {}
    for col in ("user", "item"):
        values = frame[col].to_numpy()
        if values.dtype.kind not in "iu":
            raise ValueError(f"{name}[{col!r}] must hold integer ids, got dtype {values.dtype}; "
                             "map names to contiguous ids from 0 first")
        if values.min() < 0:
            raise ValueError(f"{name}[{col!r}] holds a negative id ({values.min()}); "
                             "ids start at 0")
        ids[col] = values.astype(np.int64)
    if not need_rating:
        return ids["user"], ids["item"], None
    ratings = frame["rating"].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(ratings)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}['rating'] holds a NaN or infinite value at row {row} "
                         f"(index {frame.index[row]!r}); drop or fill such rows first")
    return ids["user"], ids["item"], ratings


def split_explicit(frame: pd.DataFrame, valid_frac: float = 0.1, test_frac: float = 0.1,
                   seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A seeded random split of rows into train, validation and test.

    Every row lands in exactly one part; the same seed gives the same split.
    Users or anime with few scores may appear only in validation or test (the
    cold-start case): models should fall back to their biases there.

    Example
    -------
    >>> f = pd.DataFrame({"user": range(10), "item": range(10), "rating": 5.0})
    >>> [len(p) for p in split_explicit(f, 0.2, 0.1, seed=0)]
    [7, 2, 1]
    """
    if not (0 <= valid_frac < 1 and 0 <= test_frac < 1 and valid_frac + test_frac < 1):
        raise ValueError(f"valid_frac={valid_frac} and test_frac={test_frac} must be in [0, 1) "
                         "and sum to less than 1")
    n = len(frame)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_frac))
    n_valid = int(round(n * valid_frac))
    test_idx = np.sort(perm[:n_test])
    valid_idx = np.sort(perm[n_test:n_test + n_valid])
    train_idx = np.sort(perm[n_test + n_valid:])
    part = lambda idx: frame.iloc[idx].reset_index(drop=True)  # noqa: E731
    return part(train_idx), part(valid_idx), part(test_idx)


# ----------------------------------------------------------------------------
# implicit
# ----------------------------------------------------------------------------
def sequences(ds: "Dataset") -> list[np.ndarray]:
    """Each user's items in watch order (statuses 1 and 2), indexed by user id.

    Raises
    ------
    NoTimestampsError
        For a source without timestamps (the CooperUnion data): it has no
        watch order, and the course does not invent one.

    Example
    -------
    >>> seqs = sequences(ds)  # doctest: +SKIP
    >>> seqs[0][:5]  # doctest: +SKIP
    array([ 12, 480,  13,  77, 301], dtype=int32)
    """
    if not ds.has_timestamps:
        raise NoTimestampsError(
            ds.meta.get("files", {}).get("lists", ds.source),
            f"the {ds.source!r} source has no timestamps, so there is no watch order to "
            "build sequences from", fix="use DATA_SOURCE = 'synthetic' or 'kaggle' for the "
            "sequence chapters (the explicit chapters work with this source)")
    inter = ds.interactions
    user = inter["user"].to_numpy()
    item = inter["item"].to_numpy(np.int32)
    if len(user) > 1 and np.any(np.diff(user) < 0):  # not sorted by user (a hand-made frame)
        order = np.lexsort((inter["timestamp"].to_numpy(), user))
        user, item = user[order], item[order]
    bounds = np.r_[0, np.cumsum(np.bincount(user, minlength=ds.n_users))]
    return [item[bounds[u]:bounds[u + 1]] for u in range(ds.n_users)]


@dataclass
class LeaveLastOut:
    """Leave-last-out split of sequences.

    Attributes
    ----------
    train
        Per user (all users): the sequence without its last two items
        (users with fewer than ``min_length`` items keep all of theirs).
    users
        The users that have targets (at least ``min_length`` items).
    valid_items, test_items
        For each of ``users``: the second-to-last and the last item.
    """

    train: list[np.ndarray]
    users: np.ndarray
    valid_items: np.ndarray
    test_items: np.ndarray

    @property
    def valid_inputs(self) -> list[np.ndarray]:
        """The history before each validation item (= the training sequence)."""
        return [self.train[u] for u in self.users]

    @property
    def test_inputs(self) -> list[np.ndarray]:
        """The history before each test item (training sequence + validation item)."""
        return [np.append(self.train[u], v).astype(self.train[u].dtype)
                for u, v in zip(self.users, self.valid_items)]


def leave_last_out(seqs: list[np.ndarray], min_length: int = 3) -> LeaveLastOut:
    """Hold out each user's last item (test) and second-to-last (validation).

    Example
    -------
    >>> s = leave_last_out([np.array([1, 2, 3, 4]), np.array([5, 6])])
    >>> s.train[0].tolist(), s.users.tolist(), s.valid_items.tolist(), s.test_items.tolist()
    ([1, 2], [0], [3], [4])
    >>> s.train[1].tolist()
    [5, 6]
    """
    if min_length < 3:
        raise ValueError("min_length must be at least 3 (one training item, validation, test)")
    lengths = np.array([len(s) for s in seqs])
    users = np.flatnonzero(lengths >= min_length)
    train = [s[:-2] if len(s) >= min_length else s for s in seqs]
    valid = np.array([seqs[u][-2] for u in users], dtype=np.int64)
    test = np.array([seqs[u][-1] for u in users], dtype=np.int64)
    return LeaveLastOut(train, users, valid, test)


def make_windows(histories: list[np.ndarray], L: int, pad_id: int = PAD,
                 min_context: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over histories: the ``L`` items before each position, and the item.

    Parameters
    ----------
    histories
        Item-id sequences (ids from 0).
    L
        Window length (thesis 5.3 compared 15 and 18).
    pad_id
        0 (default): inputs are shifted by one (``item + 1``) and 0 pads;
        any other value must be at least ``max item + 1`` and pads without a
        shift. Targets are always plain item ids.
    min_context
        Minimum number of real items before a target.

    Returns
    -------
    X : ndarray, int32, shape (n_windows, L)
        Left-padded windows, the most recent item last.
    y : ndarray, int32, shape (n_windows,)
        The item that followed each window.

    Example
    -------
    >>> X, y = make_windows([np.array([3, 1, 4, 1])], L=2)
    >>> X.tolist(), y.tolist()
    ([[0, 4], [4, 2], [2, 5]], [1, 4, 1])
    """
    if L < 1:
        raise ValueError("L must be at least 1")
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    flat = np.concatenate(histories).astype(np.int64) if len(histories) else np.zeros(0, np.int64)
    if pad_id == PAD:
        shift = 1
    else:
        if len(flat) and pad_id <= flat.max():
            raise ValueError(f"pad_id={pad_id} collides with item ids (max {flat.max()}); use 0 "
                             "(inputs shifted by one) or a value above every item id")
        shift = 0
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    # target positions: every index t >= min_context within each history
    n_targets = np.maximum(lengths - min_context, 0)
    total = int(n_targets.sum())
    seq_of = np.repeat(np.arange(len(histories)), n_targets)
    offset_in_seq = np.arange(total) - np.repeat(np.cumsum(n_targets) - n_targets, n_targets) + min_context
    target_pos = starts[seq_of] + offset_in_seq
    y = flat[target_pos].astype(np.int32)
    cols = np.arange(-L, 0)  # positions t-L … t-1
    idx = target_pos[:, None] + cols[None, :]
    valid = cols[None, :] >= -offset_in_seq[:, None]
    X = np.where(valid, flat[np.clip(idx, 0, max(len(flat) - 1, 0))] + shift, pad_id).astype(np.int32)
    return X, y


def history_length_percentiles(seqs: list[np.ndarray] | "Dataset",
                               percentiles=(5, 10, 25, 50, 75, 90, 95)) -> pd.Series:
    """Percentiles of the number of items per user (thesis 5.3 chose L from the 5th–10th).

    Example
    -------
    >>> history_length_percentiles([np.arange(n) for n in range(1, 101)], (10, 50)).tolist()
    [10.9, 50.5]
    """
    if not isinstance(seqs, list):
        seqs = sequences(seqs)
    lengths = np.array([len(s) for s in seqs])
    values = np.percentile(lengths, percentiles)
    return pd.Series(values, index=pd.Index(percentiles, name="percentile"), name="history_length")
