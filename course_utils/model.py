"""The one shape every model of the course has.

Every recommender — the baselines, matrix factorization, Spark's ALS, the
rating networks, the stacking ensembles and the next-item networks — follows
scikit-learn's conventions, so that a student who knows one knows them all:

- ``__init__`` only stores its arguments, unchanged, under their own names;
  ``get_params()`` / ``set_params()`` read them from the signature and
  ``sklearn.base.clone(model)`` makes an unfitted copy;
- ``fit(train, valid=None)`` checks the data, learns, and returns ``self``;
- what ``fit`` learns ends in ``_`` (``user_factors_``, ``model_``, …);
- ``predict(users, items)`` scores pairs, ``score(users)`` scores every item
  for each user, ``recommend(users, k)`` ranks them (seen items left out);
- ``save(path)`` writes a fitted model, ``cls.load(path)`` reads it back and
  predicts exactly as before;
- ``fit_seconds_`` is the wall time of ``fit`` and ``best_epoch_`` the epoch
  (counted from 1) whose parameters the model kept by watching the validation
  data; ``None`` when ``fit`` had no validation data, or when the model does not
  choose an epoch on it (the baselines, the ensembles, Spark's ALS).

A model that trains in passes over the data calls their number ``epochs``
(an SGD sweep, one ALS alternation of items then users, one Keras epoch, one
back-fitting sweep of the bias baseline): the most passes ``fit`` may run;
early stopping may end it sooner.

:func:`course_utils.cache.load_or_fit` saves and reuses fitted models through
``save``/``load``, keyed by the training rows and ``get_params()``.

Example
-------
>>> import pandas as pd
>>> from sklearn.base import clone
>>> from course_utils.baselines import UserItemBias
>>> train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1], "rating": [8, 6, 4]})
>>> model = UserItemBias(epochs=3)
>>> model.fit(train) is model, model.best_epoch_, clone(model).get_params()["epochs"]
(True, None, 3)
"""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from course_utils.recommend import TopKMixin

__all__ = ["Recommender", "atomic_path", "check_ids"]

M = TypeVar("M", bound="Recommender")


def check_ids(values: Any, name: str) -> np.ndarray:
    """User or item ids as a flat ``int64`` array; a clear error for anything else.

    >>> check_ids([3, 0, 2], "users").tolist()
    [3, 0, 2]
    >>> check_ids([1.5], "items")
    Traceback (most recent call last):
    TypeError: items must be integer ids, got dtype float64
    """
    ids = np.asarray(values).ravel()
    if ids.size == 0:
        return ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer ids, got dtype {ids.dtype}")
    if ids.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {ids.min()}")
    return ids.astype(np.int64)


class atomic_path:
    """A temporary file beside ``path`` that becomes ``path`` only when the block succeeds.

    A crash (or a student's interrupt) half-way through writing never leaves a
    truncated file under the final name: the temporary file is renamed over
    ``path`` (``os.replace``, atomic on one file system) at the end, or removed.

    Example
    -------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "numbers.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("1 2 3")
    >>> target.read_text()
    '1 2 3'
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.",
                                    suffix=self.path.suffix)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


class Recommender(TopKMixin, BaseEstimator):
    """Base class of every model: the conventions of the module docstring.

    A subclass writes ``__init__`` (store the arguments), ``fit``, ``predict``
    and ``score``; ``recommend`` comes from
    :class:`course_utils.recommend.TopKMixin`. ``save``/``load`` default to
    pickling the fitted object (small NumPy models); models with Keras or Spark
    parts override them.

    ``_fitted_attribute`` names the attribute that only a fitted model has;
    :meth:`_check_fitted` raises a clear error without it.
    """

    _fitted_attribute: str = "seen_"
    #: suffix of the file :meth:`save` writes (used by the model cache)
    file_suffix: str = ".pkl"
    #: constructor arguments that do not change what ``fit`` learns (the cache ignores them)
    _runtime_params: tuple[str, ...] = ()

    # -- the fitted state -------------------------------------------------------
    def _check_fitted(self) -> None:
        """Raise ``RuntimeError`` naming the fix when the model is not fitted."""
        if getattr(self, self._fitted_attribute, None) is None:
            name = type(self).__name__
            raise RuntimeError(f"{name} is not fitted yet: call fit(train) first "
                               f"(or {name}.load(path) for a saved one)")

    def fit(self: M, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> M:
        """Learn from ``train`` (early stopping, if any, watches ``valid``); returns ``self``."""
        raise NotImplementedError

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """One score per pair ``(users[j], items[j])``."""
        raise NotImplementedError

    # -- persistence --------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (atomically) and return the path."""
        self._check_fitted()
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        return path

    @classmethod
    def load(cls: type[M], path: str | Path) -> M:
        """Read a model written by :meth:`save` (only open files you or the course wrote)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no saved model at {path}: fit the model and save() it "
                                    "first (or use course_utils.cache.load_or_fit)")
        model = pickle.loads(path.read_bytes())
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def fit_params(self) -> dict[str, Any]:
        """``get_params()`` without the runtime-only arguments: what decides the fit."""
        return {k: v for k, v in self.get_params(deep=False).items()
                if k not in self._runtime_params}
