"""Checks for chapter 08 (stacking beta learners).

``08.oof``: ``my_out_of_fold(make_model, frame, n_folds, seed)`` returns one
prediction per row of ``frame``, each made by a fresh model that did not train
on that row (scikit-learn ``KFold(n_folds, shuffle=True, random_state=seed)``).

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("08.oof", lambda make_model, frame, n_folds, seed: None).passed
False
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from course_utils import ensemble as ens
from course_utils.baselines import UserItemBias
from course_utils.exercises.registry import Wrong, call, exercise

_N_USERS, _N_ITEMS = 60, 40


def _small_frame() -> pd.DataFrame:
    """A seeded toy rating frame: enough rows for 3 folds of a bias model."""
    rng = np.random.default_rng(0)
    users = rng.integers(0, _N_USERS, 1_500)
    items = rng.integers(0, _N_ITEMS, 1_500)
    ratings = np.clip(np.round(7 + rng.normal(0, 1, _N_USERS)[users]
                               + rng.normal(0, 1, _N_ITEMS)[items]
                               + rng.normal(0, 1, 1_500)), 1, 10)
    return pd.DataFrame({"user": users, "item": items, "rating": ratings.astype("float32")})


_small = _small_frame()


def _bias_factory():
    return UserItemBias(n_users=_N_USERS, n_items=_N_ITEMS)


def _solution(make_model, frame, n_folds, seed):
    out = np.full(len(frame), np.nan)
    for fit_idx, held_idx in KFold(n_folds, shuffle=True, random_state=seed).split(frame):
        model = make_model().fit(frame.iloc[fit_idx])
        held = frame.iloc[held_idx]
        out[held_idx] = model.predict(held["user"].to_numpy(), held["item"].to_numpy())
    return out


def _in_sample(make_model, frame, n_folds, seed):  # the leakage trap
    model = make_model().fit(frame)
    return model.predict(frame["user"].to_numpy(), frame["item"].to_numpy())


def _returns_none(make_model, frame, n_folds, seed):
    return None


@exercise("08.oof", title="out-of-fold predictions", right=[_solution],
          wrong=[(_in_sample, "frame.iloc[held_idx]"), (_returns_none, "return the array")])
def check_oof(answer):
    got = call(answer, _bias_factory, _small, 3, 0)
    got = np.asarray(got, dtype=float).ravel() if got is not None else None
    if got is None:
        raise Wrong("my_out_of_fold returned None", hint="return the array of predictions")
    if got.shape != (len(_small),):
        raise Wrong(f"expected one prediction per row ({len(_small)}), got shape {got.shape}",
                    hint="fill an array of len(frame) with each fold's predictions")
    if not np.isfinite(got).all():
        raise Wrong("some rows got no prediction (NaN)",
                    hint="every row belongs to exactly one held-out fold; predict it there")
    expected = ens.out_of_fold_level_one({"m": _bias_factory()}, _small, n_folds=3, seed=0,
                                         test_models="average").predictions["m"].to_numpy()
    leak = ens.prediction_matrix({"m": _bias_factory().fit(_small)}, _small)["m"].to_numpy()
    if np.allclose(got, leak):
        raise Wrong("these are in-sample predictions: the model predicted rows it trained on",
                    hint="fit on frame.iloc[fit_idx] and predict only frame.iloc[held_idx]")
    if not np.allclose(got, expected, atol=1e-8):
        raise Wrong("the predictions differ from out-of-fold predictions with these folds",
                    hint="use KFold(n_splits, shuffle=True, random_state=seed).split(...) and "
                         "a fresh model from make_model() for every fold")
