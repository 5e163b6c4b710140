"""Input pipelines: from a ratings frame to batches a Keras model can eat.

A ratings frame (columns ``user``, ``item``, ``rating``) becomes a
``tf.data.Dataset`` of ``({"user": (B, 1), "item": (B, 1)}, rating (B, 1))``
batches: shuffled with a seed (reshuffled every epoch), batched, and prefetched
so that the next batch is prepared while the model trains on this one.
``benchmarks/bench_nn.py`` measures what the pipeline buys over handing Keras
NumPy arrays.

Example
-------
>>> import pandas as pd
>>> from course_utils.nn.pipeline import make_dataset
>>> frame = pd.DataFrame({"user": [0, 1, 2], "item": [1, 0, 1], "rating": [7, 9, 4]})
>>> inputs, target = next(iter(make_dataset(frame, batch_size=2, shuffle=False)))
>>> inputs["user"].numpy().ravel().tolist(), target.numpy().ravel().tolist()
([0, 1], [7.0, 9.0])
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from course_utils.data.views import rating_arrays

__all__ = ["as_arrays", "make_dataset"]


def as_arrays(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The model's inputs as column arrays of shape ``(n, 1)``, and the target (or None).

    Ids are ``int32`` (what an ``Embedding`` looks up) and ratings ``float32``.
    """
    inputs = {
        "user": frame["user"].to_numpy(np.int32).reshape(-1, 1),
        "item": frame["item"].to_numpy(np.int32).reshape(-1, 1),
    }
    target = (frame["rating"].to_numpy(np.float32).reshape(-1, 1)
              if "rating" in frame.columns else None)
    return inputs, target


def make_dataset(frame: pd.DataFrame, batch_size: int = 1024, shuffle: bool = True,
                 seed: int = 42, cache: bool = False) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data.Dataset`` of the ratings in ``frame``.

    Parameters
    ----------
    frame
        Columns ``user``, ``item`` (integer ids from 0) and ``rating``.
    batch_size
        Examples per batch (the last batch may be smaller).
    shuffle
        Shuffle the whole frame with ``seed``, in a new order every epoch.
    seed
        Seed of the shuffle, so two runs see the batches in the same order.
    cache
        Keep the batches in memory after the first epoch (``Dataset.cache``);
        only useful without shuffling, or when building batches is expensive.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    rating_arrays(frame, "frame")
    inputs, target = as_arrays(frame)
    users, items = tf.constant(inputs["user"]), tf.constant(inputs["item"])
    ratings = tf.constant(target)

    def gather(index: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        return ({"user": tf.gather(users, index), "item": tf.gather(items, index)},
                tf.gather(ratings, index))

    # Shuffle the row *numbers* in one vectorised step per epoch, cut them into batches,
    # and gather each batch's rows in one step: no row-by-row work at all. (This is also
    # what Keras does with NumPy arrays; ``Dataset.shuffle`` with a buffer as large as
    # the data moves the row numbers one at a time and cost about 10 % more CPU time per
    # epoch, ``benchmarks/bench_nn.py``.) ``Dataset.random`` draws a new seed every time the
    # dataset is iterated -- every epoch -- from ``seed``, so the orders differ between
    # epochs and repeat between runs.
    n = len(frame)

    def permutation(epoch_seed: tf.Tensor) -> tf.Tensor:
        return tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([epoch_seed, tf.constant(seed, tf.int64)]))

    orders = (tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
              .map(permutation) if shuffle
              else tf.data.Dataset.from_tensors(tf.range(n, dtype=tf.int64)))
    ds = (orders
          .flat_map(lambda rows: tf.data.Dataset.from_tensor_slices(rows).batch(batch_size))
          # flat_map hides the length; Keras needs it to know where an epoch ends
          .apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
          .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    if cache:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE)
