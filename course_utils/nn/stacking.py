"""Chapter 08's stacking recipe for the beta networks, shared with chapter 11.

Both chapters stack the three beta networks of chapter 07 with
:func:`course_utils.ensemble.out_of_fold_level_one`; this module holds the two
choices that make it one recipe, so the two chapters build the same ensemble
(and chapter 11 reads chapter 08's fold networks from the model cache):

1. **How long a fold network trains.** As many gradient steps as its full
   network made up to the epoch early stopping kept: a fold holds ``(K-1)/K``
   of the training rows, so ``ceil(best_epoch * K / (K-1))`` epochs, at most
   the profile's ``ensemble.max_fold_epochs`` (``None``: no cap). No early
   stopping, and the validation ratings are never looked at.
2. **Which models predict new ratings.** When no fold network was capped, the
   full networks: they made the same number of steps as the fold networks the
   meta learner learnt from. When the cap binds, the fold networks are weaker
   than the full ones, so the meta learner's weights fit *them*; the average of
   the ``K`` fold networks (``test_models="average"``) then predicts, which is
   consistent by construction.

Example
-------
>>> class Net: best_epoch_ = 4
>>> fold_epochs({"NN-100": Net()}, n_folds=3)
{'NN-100': 6}
>>> fold_epochs({"NN-100": Net()}, n_folds=3, cap=2)
{'NN-100': 2}
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import pandas as pd

from course_utils.nn.store import beta_network_learner

__all__ = ["fold_epochs", "beta_level_one"]


def fold_epochs(networks: Mapping[str, Any], n_folds: int,
                cap: int | None = None) -> dict[str, int]:
    """Epochs of each fold network: ``min(ceil(best_epoch * K / (K - 1)), cap)``."""
    if int(n_folds) < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    out = {}
    for name, net in networks.items():
        best = getattr(net, "best_epoch_", None)
        if not best:
            raise ValueError(f"{name} has no best epoch: fit it with validation data first")
        matched = math.ceil(int(best) * int(n_folds) / (int(n_folds) - 1))
        out[name] = min(matched, int(cap)) if cap else matched
    return out


def beta_level_one(cfg: Any, networks: Mapping[str, Any], train: pd.DataFrame,
                   valid: pd.DataFrame, *, n_users: int, n_items: int,
                   extra_learners: Mapping[str, Any] | None = None,
                   extra_models: Mapping[str, Any] | None = None,
                   directory: Any = None,
                   progress: Callable[[str], None] | None = None) -> Any:
    """Out-of-fold level-one data for the beta ``networks`` (and ``extra_learners``).

    Parameters
    ----------
    cfg
        The chapter's profile: ``ensemble.n_folds``, ``ensemble.max_fold_epochs``,
        its ``nn`` settings and seed.
    networks
        ``{"NN-100": fitted EmbeddingRegressor, ...}`` of chapter 07, in the order of
        ``cfg["nn"]["embedding_sizes"]``.
    extra_learners
        More base learners (``fit(train, valid, tag)`` callables), e.g. chapter 08's MF.
    extra_models
        Those learners already fitted on all of ``train`` (used as their test models
        when the recipe predicts with full models; missing ones are fitted then).
    directory
        Another model cache than ``build/cache/models`` for the fold networks (tests).
    progress
        Passed to :func:`~course_utils.ensemble.out_of_fold_level_one`.

    Returns
    -------
    LevelOne
        Its ``info`` adds ``fold_epochs``, ``matched_epochs`` (without the cap),
        ``capped`` (the networks whose cap bound) and ``test_models``
        (``"full networks"`` or ``"fold networks averaged"``).
    """
    from course_utils import ensemble as ens

    sizes = [int(d) for d in cfg["nn"]["embedding_sizes"]]
    if len(sizes) != len(networks):
        raise ValueError(f"{len(networks)} networks for {len(sizes)} embedding sizes")
    k = int(cfg["ensemble"]["n_folds"])
    cap = cfg["ensemble"].get("max_fold_epochs")
    matched = fold_epochs(networks, k)
    epochs = fold_epochs(networks, k, cap)
    capped = [name for name in networks if epochs[name] < matched[name]]
    learners = {name: beta_network_learner(cfg, d, epochs=epochs[name], directory=directory,
                                           n_users=n_users, n_items=n_items)
                for name, d in zip(networks, sizes)}
    learners.update(extra_learners or {})
    if capped:
        test_models: Any = "average"
    else:
        test_models = dict(networks)
        for name, fit in (extra_learners or {}).items():
            given = (extra_models or {}).get(name)
            test_models[name] = given if given is not None else fit(train, valid, "full")
    level_one = ens.out_of_fold_level_one(learners, train, valid, n_folds=k,
                                          seed=int(getattr(cfg, "seed", 42)),
                                          test_models=test_models, progress=progress)
    level_one.info.update(fold_epochs=epochs, matched_epochs=matched, capped=capped,
                          test_models=("fold networks averaged" if capped
                                       else "full networks"))
    return level_one
