"""The beta networks of a profile: their settings, and a constructor for them.

:func:`beta_params` reads the ``nn`` section of a chapter's profile;
:func:`beta_network` builds the (unfitted) :class:`EmbeddingRegressor` of one
embedding size. Fitting goes through :func:`course_utils.cache.load_or_fit`,
which reuses a network saved by an earlier chapter only when it was trained on
exactly the same rows with exactly the same settings. Chapter 07 trains the
three beta networks; chapter 08 (stacking) gets the very same networks back in
a second::

    from course_utils.cache import load_or_fit
    from course_utils.nn import beta_network
    nets = {d: load_or_fit(beta_network(cfg, d), train, valid)
            for d in cfg["nn"]["embedding_sizes"]}

Example
-------
>>> from course_utils.nn.store import beta_network
>>> net = beta_network({"epochs": 5, "dropout": 0.5, "seed": 1}, 128)
>>> net.embedding_size, net.epochs, net.seed
(128, 5, 1)
"""
from __future__ import annotations

from typing import Any

from course_utils.nn.network import EmbeddingRegressor

__all__ = ["beta_params", "beta_network"]

# keys of cfg["nn"] that are EmbeddingRegressor arguments
_MODEL_KEYS = ("dense_units", "dropout", "embedding_dropout", "learning_rate", "loss", "epochs",
               "batch_size", "patience")


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


def beta_network(cfg: Any, embedding_size: int, **overrides: Any) -> EmbeddingRegressor:
    """The unfitted beta network of ``embedding_size`` with the profile's settings.

    ``overrides`` replace any :class:`EmbeddingRegressor` argument (for example
    ``epochs=3, patience=None`` for a fixed number of epochs).
    """
    return EmbeddingRegressor(**beta_params(cfg, embedding_size, **overrides))
