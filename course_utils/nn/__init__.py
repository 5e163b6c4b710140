"""Neural networks for explicit ratings (thesis 4.1.2 and 5.1).

The chapters import TensorFlow and Keras only through this package, which
``course_utils`` has already made quiet (no C++ or oneDNN banners)::

    import course_utils
    from course_utils.nn import tf, keras, EmbeddingRegressor, beta_network

What is where:

- :mod:`course_utils.nn.network` — :func:`build_rating_network` (embeddings →
  flatten → concatenate → dense ReLU layers → score, MAE loss, Adam) and
  :class:`EmbeddingRegressor` (fit / predict / recommend / save / load);
- :mod:`course_utils.nn.pipeline` — :func:`make_dataset`, the ``tf.data`` input
  pipeline;
- :mod:`course_utils.nn.store` — :func:`beta_network`, the beta network of a
  profile (fit it with :func:`course_utils.cache.load_or_fit` to reuse a saved one);
- :mod:`course_utils.nn.adam` — :class:`NumpyAdam` and :class:`NumpySGD`, the
  optimizers of chapter 06 written in NumPy.

Example
-------
>>> from course_utils.nn import BETA_EMBEDDING_SIZES, THESIS_TABLE_5_1
>>> BETA_EMBEDDING_SIZES, THESIS_TABLE_5_1["Beta NN-150"]
((100, 128, 150), 1.149)
"""
from __future__ import annotations

import course_utils  # noqa: F401  (sets the quiet environment before TensorFlow loads)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from course_utils.nn.adam import NumpyAdam, NumpySGD  # noqa: E402
from course_utils.nn.network import (  # noqa: E402
    BETA_EMBEDDING_SIZES,
    EmbeddingRegressor,
    build_rating_network,
)
from course_utils.nn.pipeline import as_arrays, make_dataset  # noqa: E402
from course_utils.nn.store import beta_network, beta_params  # noqa: E402

# Validation RMSE of thesis Table 5.1 (its own data and split, not the course's).
THESIS_TABLE_5_1 = {
    "Beta NN-100": 1.152,
    "Beta NN-128": 1.157,
    "Beta NN-150": 1.149,
    "Ensemble-Linear": 1.130,
    "Ensemble-Ridge": 1.130,
    "ALS-Spark (Baseline)": 1.136,
}

__all__ = [
    "tf", "keras", "build_rating_network", "EmbeddingRegressor", "BETA_EMBEDDING_SIZES",
    "make_dataset", "as_arrays", "beta_network", "beta_params",
    "NumpyAdam", "NumpySGD", "THESIS_TABLE_5_1",
]
