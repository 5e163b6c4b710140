"""Trained beta networks on disk, so later chapters reuse them instead of retraining.

A beta network for a profile lives at
``build/cache/models/<profile>/beta_nn_<embedding size>.keras`` (Keras's native
format), with ``beta_nn_<d>.json`` (parameters, history, best epoch and a
*fingerprint* of the training data and settings) and ``beta_nn_<d>.seen.npz``
beside it.

:func:`load_or_train` is what chapters call: it loads the saved network when its
fingerprint matches the data and settings asked for, and otherwise trains one
and saves it. Chapter 07 trains the three beta networks; chapter 08 (stacking)
gets the very same networks back in a second::

    from course_utils.nn import load_or_train
    nets = {d: load_or_train(train, valid, cfg, embedding_size=d)
            for d in cfg["nn"]["embedding_sizes"]}

Example
-------
>>> from course_utils.nn.store import model_path
>>> model_path("ci", 128).relative_to(model_path("ci", 128).parents[3]).as_posix()
'cache/models/ci/beta_nn_128.keras'
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from course_utils import paths
from course_utils.nn.network import EmbeddingRegressor

__all__ = ["model_path", "fingerprint", "beta_params", "load_or_train"]

# keys of cfg["nn"] that are EmbeddingRegressor arguments
_MODEL_KEYS = ("dense_units", "dropout", "embedding_dropout", "learning_rate", "loss", "epochs",
               "batch_size", "patience")


def model_path(profile: str, embedding_size: int, directory: str | Path | None = None,
               prefix: str = "beta_nn") -> Path:
    """Where the beta network of ``embedding_size`` is stored for ``profile``."""
    folder = Path(directory) if directory is not None else (
        paths.cache_dir() / "models" / str(profile))
    return folder / f"{prefix}_{int(embedding_size)}.keras"


def fingerprint(train: pd.DataFrame, valid: pd.DataFrame | None,
                params: dict[str, Any]) -> str:
    """A short hash of the training rows, the validation rows and the settings.

    Two calls give the same fingerprint exactly when the frames hold the same
    (user, item, rating) rows in the same order and the settings are equal.
    """
    h = hashlib.sha256()
    for frame in (train, valid):
        if frame is None:
            h.update(b"none")
            continue
        for col in ("user", "item"):
            h.update(frame[col].to_numpy(np.int64).tobytes())
        h.update(frame["rating"].to_numpy(np.float64).tobytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def beta_params(cfg: Any, embedding_size: int, **overrides: Any) -> dict[str, Any]:
    """The :class:`EmbeddingRegressor` arguments of a beta network for a profile.

    ``cfg`` is the chapter's profile (``course_utils.start(...)``) or a plain dict
    with the keys of the ``nn`` section; the seed comes from ``cfg.seed``.
    """
    section = cfg["nn"] if not isinstance(cfg, dict) or "nn" in cfg else cfg
    params = {k: section[k] for k in _MODEL_KEYS if k in section}
    if "dense_units" in params:
        params["dense_units"] = tuple(params["dense_units"])
    params["embedding_size"] = int(embedding_size)
    params["seed"] = int(getattr(cfg, "seed", section.get("seed", 42)))
    params.update(overrides)
    return params


def load_or_train(train: pd.DataFrame, valid: pd.DataFrame | None, cfg: Any,
                  embedding_size: int, *, retrain: bool = False,
                  directory: str | Path | None = None, prefix: str = "beta_nn",
                  **overrides: Any) -> EmbeddingRegressor:
    """The beta network of ``embedding_size``: loaded from the cache, or trained and saved.

    Parameters
    ----------
    train, valid
        The training and validation frames (early stopping watches ``valid``).
    cfg
        The chapter's profile: its ``nn`` section gives the settings, its name the
        cache folder and its seed the seed.
    embedding_size
        100, 128 or 150 for the thesis's three networks.
    retrain
        Train even when a matching saved model exists.
    directory
        Another folder than ``build/cache/models/<profile>`` (tests use one).
    prefix
        File-name prefix (``beta_nn``); use another one for variants such as
        a network without dropout, so that they never overwrite a beta network.
    overrides
        Arguments of :class:`EmbeddingRegressor` that replace the profile's.

    Returns
    -------
    EmbeddingRegressor
        Fitted; ``loaded_from_cache_`` says whether it was loaded.
    """
    params = beta_params(cfg, embedding_size, **overrides)
    key = fingerprint(train, valid, params)
    profile = getattr(cfg, "name", "custom")
    path = model_path(profile, embedding_size, directory, prefix)
    meta_file = path.with_suffix(".json")
    if not retrain and path.exists() and meta_file.exists():
        stored = json.loads(meta_file.read_text()).get("extra", {}).get("fingerprint")
        if stored == key:
            model = EmbeddingRegressor.load(path)
            model.loaded_from_cache_ = True
            return model
    model = EmbeddingRegressor(**params).fit(train, valid)
    model.save(path, extra={"fingerprint": key, "train_rows": len(train),
                            "valid_rows": 0 if valid is None else len(valid),
                            "profile": profile})
    model.loaded_from_cache_ = False
    return model
