"""From watch histories to batches: frames, windows, sampling and ``tf.data``.

The windows themselves come from :func:`course_utils.data.make_windows` (left
padding with 0, inputs ``item + 1``, targets plain item ids); this module adds
what a training loop needs around them:

- :func:`split_frames`: a :class:`~course_utils.data.LeaveLastOut` split as the
  ``(user, item, timestamp)`` frames every model of the course is fitted on;
- :func:`histories_from_frame`: the inverse, per-user item arrays in time order;
- :func:`last_windows`: the most recent ``L`` items of each history, the input
  for predicting what comes next;
- :func:`fresh_epochs`: training batches that give every epoch windows the
  earlier epochs did not see (a budget of windows per epoch, not in all);
- :func:`to_dataset`: a shuffled, batched, prefetched ``tf.data.Dataset``.

TensorFlow is imported only inside :func:`to_dataset`.

Example
-------
>>> import numpy as np
>>> last_windows([np.array([4, 5, 6]), np.array([], dtype=int)], L=2).tolist()
[[6, 7], [0, 0]]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from course_utils.data import PAD

if TYPE_CHECKING:  # pragma: no cover
    from course_utils.data import LeaveLastOut

__all__ = ["split_frames", "histories_from_frame", "last_windows", "fresh_epochs",
           "to_dataset"]


def split_frames(split: "LeaveLastOut") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The leave-last-out split as three frames with ``user``, ``item``, ``timestamp``.

    ``timestamp`` is the position in the user's history, so sorting by it
    restores the watch order (and ``pd.concat([train, valid])`` is the history
    a model may use to predict the test item).

    Returns
    -------
    train, valid, test
        ``train`` holds every user's training items; ``valid`` and ``test``
        one row per evaluated user (the second-to-last and the last item).

    Example
    -------
    >>> from course_utils.data import leave_last_out
    >>> train, valid, test = split_frames(leave_last_out([np.array([7, 8, 9, 3])]))
    >>> train["item"].tolist(), valid["item"].tolist(), test["item"].tolist()
    ([7, 8], [9], [3])
    >>> test["timestamp"].tolist()
    [3]
    """
    lengths = np.array([len(h) for h in split.train], dtype=np.int64)
    users = np.repeat(np.arange(len(split.train)), lengths)
    position = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    flat = np.concatenate(split.train) if len(split.train) else np.zeros(0, np.int64)
    train = pd.DataFrame({"user": users.astype(np.int64), "item": flat.astype(np.int64),
                          "timestamp": position.astype(np.int64)})
    held = lengths[split.users]
    valid = pd.DataFrame({"user": split.users.astype(np.int64),
                          "item": split.valid_items.astype(np.int64), "timestamp": held})
    test = pd.DataFrame({"user": split.users.astype(np.int64),
                         "item": split.test_items.astype(np.int64), "timestamp": held + 1})
    return train, valid, test


def histories_from_frame(frame: pd.DataFrame, n_users: int | None = None) -> list[np.ndarray]:
    """Per-user item arrays in time order (by ``timestamp`` if present, else row order).

    Parameters
    ----------
    frame
        Columns ``user`` and ``item`` (integer ids from 0), optionally ``timestamp``.
    n_users
        Length of the returned list (default: largest user id + 1); users
        without rows get an empty array.

    Example
    -------
    >>> f = pd.DataFrame({"user": [1, 0, 1], "item": [5, 2, 4], "timestamp": [9, 1, 3]})
    >>> [h.tolist() for h in histories_from_frame(f)]
    [[2], [4, 5]]
    """
    for col in ("user", "item"):
        if col not in frame.columns:
            raise ValueError(
                f"the frame has no column {col!r} (columns: {list(frame.columns)}); "
                "sequence models are fitted on frames with user, item[, timestamp]"
            )
    users = frame["user"].to_numpy(np.int64)
    items = frame["item"].to_numpy(np.int64)
    if users.size and (users.min() < 0 or items.min() < 0):
        raise ValueError("user and item ids must be integers >= 0 (contiguous ids from 0)")
    keys = (frame["timestamp"].to_numpy(), users) if "timestamp" in frame.columns else (users,)
    order = np.lexsort(keys)  # by user, then time; stable, so ties keep row order
    users, items = users[order], items[order]
    size = int(users.max()) + 1 if users.size else 0
    n = size if n_users is None else int(n_users)
    if size > n:
        raise ValueError(f"the frame has user id {size - 1}, beyond n_users={n}")
    bounds = np.r_[0, np.cumsum(np.bincount(users, minlength=n))]
    return [items[bounds[u]:bounds[u + 1]] for u in range(n)]


def last_windows(histories: list[np.ndarray], L: int) -> np.ndarray:
    """The last ``L`` items of each history, as model input (``item + 1``, 0 = padding).

    This is the window that predicts the item *after* the history, in the
    layout of :func:`course_utils.data.make_windows`.

    Example
    -------
    >>> last_windows([np.array([1, 2, 3])], L=5).tolist()
    [[0, 0, 2, 3, 4]]
    """
    if L < 1:
        raise ValueError("L must be at least 1")
    out = np.full((len(histories), L), PAD, dtype=np.int32)
    for row, h in enumerate(histories):
        tail = np.asarray(h, dtype=np.int64)[-L:]
        if tail.size:
            out[row, L - tail.size:] = tail + 1
    return out


def to_dataset(inputs: Any, targets: np.ndarray | None, batch_size: int,
               shuffle: bool = False, seed: int = 0) -> Any:
    """A ``tf.data.Dataset`` of ``(inputs, targets)`` batches, prefetched.

    ``inputs`` is an array (or a dict of arrays for models with several
    inputs). With ``shuffle`` the order changes every epoch, reproducibly for
    a given ``seed``. Pass the result to ``model.fit(..., shuffle=False)``:
    the dataset is already shuffled.

    Example
    -------
    >>> ds = to_dataset(np.zeros((10, 3), np.int32), np.arange(10), batch_size=4)  # doctest: +SKIP
    >>> [int(b[1].shape[0]) for b in ds]  # doctest: +SKIP
    [4, 4, 2]
    """
    import tensorflow as tf

    data = inputs if targets is None else (inputs, targets)
    ds = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        ds = ds.shuffle(int(ds.cardinality()), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)


def fresh_epochs(inputs: Any, targets: np.ndarray, batch_size: int, per_epoch: int,
                 epochs: int, seed: int = 0) -> tuple[Any, int]:
    """Training batches in which every epoch brings windows the earlier epochs did not see.

    The windows are shuffled and cut into consecutive epochs of ``per_epoch``
    windows (rounded up to whole batches); when a shuffled pass over all of them
    is used up, a new one begins. So a model trained for ``E`` epochs of
    ``per_epoch`` windows learns from ``E * per_epoch`` different windows (as
    far as there are that many), not from the same sample ``E`` times, and early
    stopping watches a model that keeps meeting new histories.

    Parameters
    ----------
    inputs
        The windows, an array (or a dict of arrays, one row per window).
    targets
        The next item of each window.
    batch_size, per_epoch, epochs
        Batch size, windows per epoch and the most epochs the model may train.
    seed
        Seeds the shuffled passes.

    Returns
    -------
    dataset, steps_per_epoch
        Pass both to ``model.fit(dataset, steps_per_epoch=..., epochs=epochs, shuffle=False)``.

    Example
    -------
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> data, steps = fresh_epochs(X, y, batch_size=2, per_epoch=4, epochs=2)  # doctest: +SKIP
    >>> steps, sorted(int(t) for _, b in data.take(2 * steps) for t in b)      # doctest: +SKIP
    (2, [0, 2, 3, 4, 5, 6, 7, 9])
    """
    n, batch_size = len(targets), int(batch_size)
    steps = -(-int(per_epoch) // batch_size)
    total = steps * batch_size * int(epochs)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(n) for _ in range(-(-total // n))])[:total]
    stream = ({k: np.asarray(v)[order] for k, v in inputs.items()} if isinstance(inputs, dict)
              else np.asarray(inputs)[order])
    return to_dataset(stream, np.asarray(targets)[order], batch_size), steps
