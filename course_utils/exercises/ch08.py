"""Checks for chapter 08 (stacking base learners).

``08.blend``: ``my_blend(make_model, frame, blend_frac, seed)`` holds out a
random blend set of ``round(blend_frac * len(frame))`` rows (drawn with
``seed``), fits one fresh model on all the other rows, and returns
``(blend_rows, predictions)``: the positions of the blend rows in ``frame`` and
that model's predictions for them, in the same order. The chapter writes the
K-fold loop in its main text; this is the one-split variant (blending). Any
seeded random draw is accepted; the checker refits the model on the rows the
answer left in and compares.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("08.blend", lambda make_model, frame, blend_frac, seed: None).passed
False
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from course_utils.baselines import UserItemBias
from course_utils.exercises.registry import Wrong, call, exercise

_N_USERS, _N_ITEMS = 60, 40
_BLEND_FRAC = 0.2  # 300 of the 1,500 rows: round() and ceil() agree


def _small_frame() -> pd.DataFrame:
    """A seeded toy rating frame: enough rows for a bias model fitted on 80 % of them."""
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


def _predict(model, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict(frame["user"].to_numpy(), frame["item"].to_numpy()),
                      dtype=float).ravel()


def _solution(make_model, frame, blend_frac, seed):
    n_blend = round(blend_frac * len(frame))
    blend_rows = np.random.default_rng(seed).permutation(len(frame))[:n_blend]
    model = make_model().fit(frame.drop(frame.index[blend_rows]))
    return blend_rows, _predict(model, frame.iloc[blend_rows])


def _solution_sklearn(make_model, frame, blend_frac, seed):
    fit_rows, blend_rows = train_test_split(np.arange(len(frame)), test_size=blend_frac,
                                            random_state=seed)
    model = make_model().fit(frame.iloc[fit_rows])
    return blend_rows, _predict(model, frame.iloc[blend_rows])


def _in_sample(make_model, frame, blend_frac, seed):  # the leakage trap again
    blend_rows = np.random.default_rng(seed).permutation(len(frame))[:round(blend_frac * len(frame))]
    model = make_model().fit(frame)
    return blend_rows, _predict(model, frame.iloc[blend_rows])


def _first_rows(make_model, frame, blend_frac, seed):  # not drawn at random
    blend_rows = np.arange(round(blend_frac * len(frame)))
    model = make_model().fit(frame.drop(frame.index[blend_rows]))
    return blend_rows, _predict(model, frame.iloc[blend_rows])


def _misaligned(make_model, frame, blend_frac, seed):  # rows sorted, predictions not
    blend_rows, predictions = _solution(make_model, frame, blend_frac, seed)
    return np.sort(blend_rows), predictions


def _returns_none(make_model, frame, blend_frac, seed):
    return None


def _answer(answer, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Call the answer on the toy frame; check the shape of what it returns."""
    got = call(answer, _bias_factory, _small, _BLEND_FRAC, seed)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"my_blend returned {type(got).__name__}, not a pair",
                    hint="return the pair (blend_rows, predictions)")
    rows, predictions = (np.asarray(part) for part in got)
    n_blend = round(_BLEND_FRAC * len(_small))
    if rows.ndim != 1 or rows.dtype.kind not in "iu":
        raise Wrong(f"blend_rows has dtype {rows.dtype} and shape {rows.shape}",
                    hint="blend_rows are integer positions in frame, one per blend row")
    if rows.size != n_blend or np.unique(rows).size != rows.size:
        raise Wrong(f"expected {n_blend} different blend rows (blend_frac {_BLEND_FRAC} of "
                    f"{len(_small)}), got {rows.size} ({np.unique(rows).size} different)",
                    hint="hold out round(blend_frac * len(frame)) distinct rows")
    if rows.min() < 0 or rows.max() >= len(_small):
        raise Wrong("blend_rows holds positions outside the frame",
                    hint="use positions 0 … len(frame) - 1 (frame.iloc, not labels)")
    predictions = predictions.astype(float).ravel()
    if predictions.shape != rows.shape:
        raise Wrong(f"{rows.size} blend rows but {predictions.size} predictions",
                    hint="predict exactly the blend rows, one prediction each")
    return rows, predictions


@exercise("08.blend", title="a blend set from scratch", right=[_solution, _solution_sklearn],
          wrong=[(_in_sample, "fit make_model() on the other rows"),
                 (_first_rows, "at random"),
                 (_misaligned, "same order"),
                 (_returns_none, "return the pair")])
def check_blend(answer):
    rows, predictions = _answer(answer, seed=0)
    again, _ = _answer(answer, seed=0)
    other, _ = _answer(answer, seed=1)
    if not np.array_equal(rows, again):
        raise Wrong("two calls with the same seed held out different rows",
                    hint="draw the blend rows from a generator seeded with `seed`")
    if np.array_equal(np.sort(rows), np.sort(other)):
        raise Wrong("seeds 0 and 1 held out the same rows",
                    hint="draw the blend rows at random, with the seed "
                         "(np.random.default_rng(seed).permutation or train_test_split)")
    held = _small.iloc[rows]
    if np.allclose(predictions, _predict(_bias_factory().fit(_small), held)):
        raise Wrong("these are in-sample predictions: the model trained on the blend rows",
                    hint="fit make_model() on the other rows only (frame.drop or frame.iloc)")
    expected = _predict(_bias_factory().fit(_small.drop(_small.index[rows])), held)
    if not np.allclose(predictions, expected, atol=1e-8):
        raise Wrong("the predictions differ from those of a model fitted on the other rows",
                    hint="return the predictions in the same order as blend_rows: "
                         "predictions[j] is for row blend_rows[j]")
