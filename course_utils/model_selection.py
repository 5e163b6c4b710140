"""Rank and λ chosen on validation data: chapter 04's two-step search, as a library.

Chapter 04 writes this search in its cells (``choose``) and explains it: λ over
a log-spaced range at the starting rank, then every rank at the best λ, each
model judged by its best validation RMSE. This module is the checked copy that
chapters 06–08 call, so that the matrix factorization they compare networks
with is the one chapter 04 *chose* for the data at hand, not a value typed for
the course's generator. Every candidate goes through
:func:`course_utils.cache.load_or_fit`, so after chapter 04 has run (it stores
its candidates) the search costs a few file reads; on a new seed or data source
it trains afresh.

:func:`two_step_search`
    The search for any model maker ``make(rank, λ)``.
:func:`chosen_mf`
    Chapter 04's ALS or SGD matrix factorization, built exactly as chapter 04
    builds it from the profile's ``mf`` settings, chosen by the search.

Example
-------
>>> import numpy as np, pandas as pd, tempfile
>>> from course_utils.mf import ALSMatrixFactorization
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"user": rng.integers(0, 30, 300), "item": rng.integers(0, 20, 300),
...                       "rating": rng.integers(1, 11, 300)}).drop_duplicates(["user", "item"])
>>> train, valid = frame.iloc[:200], frame.iloc[200:]
>>> make = lambda k, lam: ALSMatrixFactorization(rank=k, reg=lam, epochs=3, seed=0)
>>> scores, models = two_step_search(make, train, valid, regs=[0.1, 1.0], ranks=[2, 4],
...                                  start_rank=2, directory=tempfile.mkdtemp())
>>> sorted(scores.index)                       # 2 λ's at rank 2, then rank 4 at the best λ
[(2, 0.1), (2, 1.0), (4, 1.0)]
>>> scores.idxmin() in models
True
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import pandas as pd

from course_utils import mf
from course_utils.cache import load_or_fit

__all__ = ["two_step_search", "chosen_mf", "mf_maker"]

M = TypeVar("M")


def _best_valid(model: Any) -> float:
    """The best validation RMSE of a model fitted with ``valid`` (its early-stopping score)."""
    return float(min(model.history_["valid_rmse"]))


def two_step_search(make: Callable[[int, float], M], train: pd.DataFrame,
                    valid: pd.DataFrame, *, regs: Sequence[float], ranks: Sequence[int],
                    start_rank: int, fitted: Mapping[tuple[int, float], M] | None = None,
                    directory: str | Path | None = None) -> tuple[pd.Series, dict]:
    """λ over ``regs`` at ``start_rank``, then every rank of ``ranks`` at the best λ.

    Parameters
    ----------
    make
        ``make(rank, lam)`` returns an unfitted model (with ``history_["valid_rmse"]``
        after ``fit(train, valid)``).
    train, valid
        The rows every candidate is fitted on and judged by.
    regs, ranks, start_rank
        The grid (chapter 04: the profile's ``sweep_regs``, ``sweep_ranks`` and
        starting rank).
    fitted
        Models already trained, by ``(rank, λ)``; they are candidates too.
    directory
        Another model cache than ``build/cache/models`` (tests use one).

    Returns
    -------
    scores
        Best validation RMSE of every candidate, indexed by ``(rank, λ)``, sorted.
    models
        The fitted candidates, by ``(rank, λ)``; ``models[scores.idxmin()]`` is the choice.
    """
    models = dict(fitted or {})

    def fit(rank: int, lam: float) -> None:
        if (rank, lam) not in models:
            models[(rank, lam)] = load_or_fit(make(rank, lam), train, valid, directory=directory)

    for lam in regs:
        fit(start_rank, lam)
    best_lam = min(regs, key=lambda lam: _best_valid(models[(start_rank, lam)]))
    for rank in ranks:
        fit(rank, best_lam)
    scores = pd.Series({key: _best_valid(model) for key, model in models.items()})
    scores.index.names = ["rank", "λ"]
    return scores.sort_index(), models


def mf_maker(kind: str, settings: Mapping[str, Any], *, seed: int, n_users: int,
             n_items: int) -> Callable[[int, float], Any]:
    """``make(rank, lam)`` for chapter 04's ``"ALS"`` or ``"SGD"``, from the profile's ``mf`` settings."""
    if kind not in ("ALS", "SGD"):
        raise ValueError(f"kind must be 'ALS' or 'SGD', not {kind!r}")
    sizes = dict(n_users=n_users, n_items=n_items, seed=seed, patience=settings["patience"])
    if kind == "ALS":
        return lambda rank, lam: mf.ALSMatrixFactorization(
            rank=rank, reg=lam, reg_bias=settings["als_reg_bias"],
            epochs=settings["als_iterations"], init_std=0.3, **sizes)
    return lambda rank, lam: mf.SGDMatrixFactorization(
        rank=rank, lr=settings["lr"], reg=lam, reg_bias=settings["reg"],
        epochs=settings["epochs"], **sizes)


def chosen_mf(kind: str, train: pd.DataFrame, valid: pd.DataFrame,
              settings: Mapping[str, Any], *, seed: int, n_users: int, n_items: int,
              directory: str | Path | None = None) -> Any:
    """Chapter 04's matrix factorization with the rank and λ its search chooses on ``valid``.

    ``settings`` is the profile's ``mf`` block. The candidates, and the model of the
    profile's starting settings, are those chapter 04 fits, built the same way, so
    they come from the model cache once chapter 04 has run. The returned model
    carries ``search_scores_`` (the validation RMSE of every candidate).
    """
    make = mf_maker(kind, settings, seed=seed, n_users=n_users, n_items=n_items)
    start_rank = settings["als_rank"] if kind == "ALS" else settings["rank"]
    start_reg = settings["als_reg"] if kind == "ALS" else settings["reg"]
    scores, models = two_step_search(make, train, valid, regs=settings["sweep_regs"],
                                     ranks=settings["sweep_ranks"], start_rank=start_rank,
                                     fitted={(start_rank, start_reg): load_or_fit(
                                         make(start_rank, start_reg), train, valid,
                                         directory=directory)},
                                     directory=directory)
    model = models[scores.idxmin()]
    model.search_scores_ = scores
    return model
