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

from typing import Any, Callable

import pandas as pd

from course_utils.nn.network import EmbeddingRegressor

__all__ = ["beta_params", "beta_network", "beta_network_learner"]

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


def beta_network_learner(cfg: Any, embedding_size: int, *, epochs: int | None = None,
                         directory: Any = None, **overrides: Any) -> Callable[..., Any]:
    """A base learner for :mod:`course_utils.ensemble`: the beta network of
    ``embedding_size``, fitted as ``fit(train, valid, tag)``, reusing saved networks.

    Every fit goes through :func:`course_utils.cache.load_or_fit`, keyed by the
    training rows and the settings: a saved network is reused only when it was
    trained on exactly these rows, so a network that saw other data (for
    example the blend or held-out fold) is never taken by mistake.

    - ``tag == "full"``: ``load_or_fit(beta_network(cfg, embedding_size), train,
      valid)``, the very call of chapter 07, so its saved network comes back
      without training.
    - any other tag (``"blend"``, ``"fold2of3"``): with ``epochs`` given, the
      network trains for exactly that many epochs without early stopping and
      without looking at ``valid`` (the chapter uses the epoch count early
      stopping chose for the full network).

    Parameters
    ----------
    cfg
        The chapter's profile (its ``nn`` section and seed).
    embedding_size
        100, 128 or 150 for the thesis's networks.
    epochs
        Fixed epochs for the non-``full`` fits (``None``: the profile's, with
        early stopping on ``valid``).
    directory
        Another cache folder than ``build/cache/models`` (tests use one).
    overrides
        More :class:`~course_utils.nn.EmbeddingRegressor` arguments for the
        non-``full`` fits (e.g. ``n_users``, ``n_items``).

    Example
    -------
    >>> fit = beta_network_learner(cfg, 128, epochs=3)          # doctest: +SKIP
    >>> net = fit(fold_train, valid, "fold1of3")                # doctest: +SKIP
    """
    def fit(train: pd.DataFrame, valid: pd.DataFrame | None, tag: str) -> Any:
        from course_utils.cache import load_or_fit

        if tag == "full":
            return load_or_fit(beta_network(cfg, embedding_size), train, valid,
                               directory=directory)
        extra = dict(overrides)
        if epochs is not None:
            extra.update(epochs=int(epochs), patience=None)
            valid = None
        return load_or_fit(beta_network(cfg, embedding_size, **extra), train, valid,
                           directory=directory)

    return fit
