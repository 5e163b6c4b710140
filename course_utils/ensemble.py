"""Stacking ensembles (thesis 4.1.3 and 5.2), honest about leakage.

Stacking has two levels. The *base* (level-0, the thesis's "beta") learners are
ordinary rating models; the *meta* (level-1) learner is a regression whose
inputs are the base learners' predictions and whose target is the true rating::

    r̂_ui = w_0 + w_1 · r̂¹_ui + w_2 · r̂²_ui + … + w_L · r̂ᴸ_ui

The one rule: **the meta learner may only learn from predictions the base
learners made for rows they did not train on.** A model's predictions for its
own training rows are better than its predictions for new rows, and by a
different amount for every model (the most flexible one fits its training rows
best), so a meta learner fitted on them trusts the wrong model. This module
builds the meta learner's training data (a :class:`LevelOne`) three ways:

:func:`holdout_level_one` ("blending")
    Carve a *blend* set out of the training rows; fit the base learners on the
    rest; their predictions for the blend set train the meta learner, and the
    same base models predict new rows. Simple, but the base learners lose the
    blend rows.
:func:`out_of_fold_level_one` (what scikit-learn's ``StackingRegressor`` does)
    Split the training rows into K folds (:class:`sklearn.model_selection.KFold`);
    for each fold, base learners fitted on the other K − 1 folds predict it, so
    every training row gets one *out-of-fold* prediction per learner. New rows
    are predicted by the base learners refitted on all training rows (or by the
    average of the K fold models). K times the training cost, no data lost.
:func:`held_out_level_one` (blending on ratings set aside anyway)
    Base models already fitted on all the training rows predict ratings that
    none of them trained on, such as the validation ratings, and the same
    models predict new rows. No extra fit at all, which is what makes it the
    recipe for base learners that are expensive to train to convergence
    (chapter 08's networks); the price is that the meta learner learns from the
    validation ratings, so the ensemble must be scored on a third set (test).
:func:`in_sample_level_one` (the leakage trap, for demonstration only)
    The base learners' predictions for their own training rows.

A *learner* is anything :func:`as_learner` accepts: an unfitted model with the
course's ``fit(train, valid=None)`` / ``predict(users, items)`` (copied before
every fit), or a function ``(train, valid, tag) -> fitted model``. ``tag``
names the training split (``"full"``, ``"blend"``, ``"fold2of5"``), so a
function can cache one model per split, e.g. with
:func:`course_utils.cache.load_or_fit`, keyed by their training rows.

:class:`StackingEnsemble` is the finished model, with the course's model shape.
:func:`least_squares_stack` is the meta learner written from its closed form;
the chapter checks it against scikit-learn's ``LinearRegression`` and ``Ridge``.

Example
-------
>>> import numpy as np, pandas as pd
>>> from course_utils.baselines import ItemBias, UserItemBias
>>> rng = np.random.default_rng(0)
>>> train = pd.DataFrame({"user": rng.integers(0, 40, 2000), "item": rng.integers(0, 30, 2000)})
>>> train["rating"] = np.clip(5 + train.user % 4 - train.item % 3 + rng.normal(0, 1, 2000), 1, 10)
>>> level_one = out_of_fold_level_one({"item": ItemBias(), "user+item": UserItemBias()},
...                                   train, n_folds=3, seed=0)
>>> level_one.predictions.shape            # one out-of-fold prediction per row and learner
(2000, 2)
>>> stack = StackingEnsemble.from_level_one(level_one, meta="ridge")
>>> stack.predict([0, 1], [2, 3]).shape
(2,)
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.model_selection import KFold

from course_utils.data.views import rating_arrays
from course_utils.model import Recommender

__all__ = [
    "Learner",
    "LevelOne",
    "AveragedModel",
    "StackingEnsemble",
    "as_learner",
    "predict_frame",
    "prediction_matrix",
    "blend_split",
    "fit_learners",
    "holdout_level_one",
    "out_of_fold_level_one",
    "held_out_level_one",
    "in_sample_level_one",
    "make_meta_learner",
    "least_squares_stack",
    "error_correlation",
    "RIDGE_ALPHAS",
]

Learner = Callable[[pd.DataFrame, "pd.DataFrame | None", str], Any]
"""``(train, valid, tag) -> fitted model``; ``tag`` names the training split."""

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 17))
"""The penalties ``RidgeCV`` chooses from (by efficient leave-one-out CV)."""


# --------------------------------------------------------------------------
# learners and their predictions
# --------------------------------------------------------------------------
def as_learner(spec: Any) -> Learner:
    """Turn ``spec`` into a function ``(train, valid, tag) -> fitted model``.

    ``spec`` is either such a function already, or an *unfitted* model with
    ``fit(train, valid=None)``; the model is deep-copied before every fit, so
    the K fold models and the final model never share state.

    Example
    -------
    >>> from course_utils.baselines import GlobalMean
    >>> import pandas as pd
    >>> fit = as_learner(GlobalMean())
    >>> frame = pd.DataFrame({"user": [0, 1], "item": [0, 0], "rating": [4.0, 6.0]})
    >>> model = fit(frame, None, "full")
    >>> model.predict([0], [0]).tolist()
    [5.0]
    """
    if hasattr(spec, "fit") and hasattr(spec, "predict"):
        template = spec

        def fit_copy(train: pd.DataFrame, valid: pd.DataFrame | None, tag: str) -> Any:
            return copy.deepcopy(template).fit(train, valid)

        return fit_copy
    if callable(spec):
        return spec
    raise TypeError(
        f"a base learner must be an unfitted model with fit(train, valid) and "
        f"predict(users, items), or a function (train, valid, tag) -> fitted model; "
        f"got {type(spec).__name__}")


def _check_learners(learners: Mapping[str, Any]) -> dict[str, Learner]:
    if not isinstance(learners, Mapping) or len(learners) == 0:
        raise ValueError("learners must be a non-empty dict {name: model or function}, "
                         f"got {learners!r}")
    return {str(name): as_learner(spec) for name, spec in learners.items()}


def predict_frame(model: Any, frame: pd.DataFrame, name: str = "model") -> np.ndarray:
    """``model.predict(frame.user, frame.item)`` as float64, checked for shape and NaN."""
    rating_arrays(frame, "frame", need_rating=False)
    pred = np.asarray(model.predict(frame["user"].to_numpy(), frame["item"].to_numpy()),
                      dtype=np.float64).ravel()
    if pred.shape != (len(frame),):
        raise ValueError(f"base learner {name!r} returned {pred.size} predictions for "
                         f"{len(frame)} rows; predict(users, items) must give one per pair")
    if not np.isfinite(pred).all():
        raise ValueError(f"base learner {name!r} predicted NaN or infinite ratings; "
                         "check that it handles users and items it never saw in training")
    return pred


def prediction_matrix(models: Mapping[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """One column of predictions per model for the rows of ``frame``.

    Example
    -------
    >>> from course_utils.baselines import GlobalMean
    >>> f = pd.DataFrame({"user": [0, 1], "item": [0, 0], "rating": [4.0, 6.0]})
    >>> prediction_matrix({"mean": GlobalMean().fit(f)}, f)["mean"].tolist()
    [5.0, 5.0]
    """
    return pd.DataFrame({name: predict_frame(m, frame, name) for name, m in models.items()},
                        index=frame.index)


def fit_learners(learners: Mapping[str, Any], train: pd.DataFrame,
                 valid: pd.DataFrame | None = None, tag: str = "full") -> dict[str, Any]:
    """Fit every learner on ``train`` (``valid`` for early stopping); ``{name: model}``."""
    rating_arrays(train, "train")
    return {name: fit(train, valid, tag) for name, fit in _check_learners(learners).items()}


def blend_split(train: pd.DataFrame, blend_frac: float = 0.1,
                seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the training rows at random into ``(fit_part, blend_part)``.

    The base learners train on ``fit_part``; their predictions for ``blend_part``
    (rows they never saw) train the meta learner.

    Example
    -------
    >>> f = pd.DataFrame({"user": range(10), "item": range(10), "rating": 5.0})
    >>> [len(p) for p in blend_split(f, 0.2, seed=0)]
    [8, 2]
    """
    rating_arrays(train, "train")
    if not 0.0 < blend_frac < 1.0:
        raise ValueError(f"blend_frac is the share of training rows held out for the meta "
                         f"learner, in (0, 1); got {blend_frac}")
    n_blend = int(round(len(train) * blend_frac))
    if not 0 < n_blend < len(train):
        raise ValueError(f"blend_frac={blend_frac} of {len(train)} rows leaves an empty part; "
                         "use more rows or another fraction")
    perm = np.random.default_rng(seed).permutation(len(train))
    blend_idx, fit_idx = np.sort(perm[:n_blend]), np.sort(perm[n_blend:])
    return (train.iloc[fit_idx].reset_index(drop=True),
            train.iloc[blend_idx].reset_index(drop=True))


class AveragedModel:
    """The mean prediction of several fitted models (the K fold models of one learner).

    Example
    -------
    >>> from course_utils.baselines import GlobalMean
    >>> a = GlobalMean().fit(pd.DataFrame({"user": [0], "item": [0], "rating": [4.0]}))
    >>> b = GlobalMean().fit(pd.DataFrame({"user": [0], "item": [0], "rating": [8.0]}))
    >>> AveragedModel([a, b]).predict([0], [0]).tolist()
    [6.0]
    """

    def __init__(self, models: list[Any]) -> None:
        if not models:
            raise ValueError("AveragedModel needs at least one fitted model")
        self.models = list(models)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Mean of the models' predictions for the pairs ``(users[j], items[j])``."""
        return np.mean([np.asarray(m.predict(users, items), dtype=np.float64)
                        for m in self.models], axis=0)

    def score(self, users: Any) -> np.ndarray:
        """Mean of the models' score matrices (every item, one row per user)."""
        return np.mean([np.asarray(m.score(users), dtype=np.float64) for m in self.models],
                       axis=0)


# --------------------------------------------------------------------------
# the meta learner's training data
# --------------------------------------------------------------------------
@dataclass
class LevelOne:
    """What a meta learner is fitted on, and the base models that go with it.

    Attributes
    ----------
    method
        ``"holdout"``, ``"out_of_fold"`` or ``"in_sample"`` (leaky).
    rows
        The rows the predictions are for (``user``, ``item``, ``rating``).
    predictions
        One column per base learner, one row per entry of ``rows``.
    models
        ``{name: fitted model}`` that predict *new* rows (test data) for the
        ensemble; their predictions must mean the same as ``predictions``.
    fold_models
        For out-of-fold data: ``fold_models[k][name]``, the model that predicted
        fold ``k``; ``None`` otherwise.
    folds
        For out-of-fold data: the fold (0 … K − 1) of each row; ``None`` otherwise.
    """

    method: str
    rows: pd.DataFrame
    predictions: pd.DataFrame
    models: dict[str, Any]
    fold_models: list[dict[str, Any]] | None = None
    folds: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> np.ndarray:
        """The true ratings of ``rows``."""
        return self.rows["rating"].to_numpy(np.float64)

    @property
    def names(self) -> list[str]:
        """The base learners, in column order."""
        return list(self.predictions.columns)

    def holdout_from_fold(self, k: int = 0) -> "LevelOne":
        """Blending for free: fold ``k`` as the blend set, its fold models as the base models.

        A fold model never saw its fold, so fold ``k`` with the models that
        predicted it is exactly a holdout (blend) split with ``blend_frac = 1/K``.
        """
        if self.fold_models is None or self.folds is None:
            raise ValueError(f"{self.method} level-one data has no folds; use "
                             "out_of_fold_level_one")
        if not 0 <= k < len(self.fold_models):
            raise ValueError(
                f"k must be a fold number in 0 … {len(self.fold_models) - 1}, got {k}")
        mask = self.folds == k
        return LevelOne("holdout", self.rows[mask].reset_index(drop=True),
                        self.predictions[mask].reset_index(drop=True), dict(self.fold_models[k]),
                        info={"blend_frac": float(mask.mean()), "from_fold": k,
                              "seed": self.info.get("seed")})

    def select(self, names: list[str]) -> "LevelOne":
        """The same data restricted to some base learners (e.g. to compare stacks)."""
        unknown = [n for n in names if n not in self.predictions.columns]
        if unknown:
            raise KeyError(f"no base learner(s) {unknown}; this LevelOne has {self.names}")
        return LevelOne(self.method, self.rows, self.predictions[list(names)],
                        {n: self.models[n] for n in names},
                        None if self.fold_models is None
                        else [{n: fm[n] for n in names} for fm in self.fold_models],
                        self.folds, dict(self.info))


def holdout_level_one(learners: Mapping[str, Any], train: pd.DataFrame,
                      valid: pd.DataFrame | None = None, blend_frac: float = 0.1,
                      seed: int = 42) -> LevelOne:
    """Blending: base learners fitted on ``train`` minus a blend set predict the blend set.

    Parameters
    ----------
    learners
        ``{name: learner}`` (see :func:`as_learner`); each is fitted once, with
        ``tag="blend"``, on the training rows outside the blend set.
    train
        The training rows; ``blend_frac`` of them become the blend set.
    valid
        Passed to every fit (early stopping); never predicted here.
    blend_frac, seed
        Size of the blend set and the seed that draws it (see :func:`blend_split`).

    Returns
    -------
    LevelOne
        ``rows`` is the blend set; ``models`` are the base models fitted
        without it, which also predict test rows.
    """
    fit_part, blend_part = blend_split(train, blend_frac, seed)
    models = fit_learners(learners, fit_part, valid, tag="blend")
    return LevelOne("holdout", blend_part, prediction_matrix(models, blend_part), models,
                    info={"blend_frac": blend_frac, "fit_rows": len(fit_part),
                          "blend_rows": len(blend_part), "seed": seed})


def out_of_fold_level_one(learners: Mapping[str, Any], train: pd.DataFrame,
                          valid: pd.DataFrame | None = None, n_folds: int = 5,
                          seed: int = 42, test_models: str | Mapping[str, Any] = "refit",
                          progress: Callable[[str], None] | None = None) -> LevelOne:
    """Out-of-fold predictions for every training row (K-fold cross-fitting).

    Parameters
    ----------
    learners
        ``{name: learner}`` (see :func:`as_learner`); fitted ``n_folds`` times
        with ``tag="fold<k>of<K>"`` (k from 1), each time without one fold.
    train
        The training rows; every one gets exactly one prediction per learner,
        from a model that did not train on it.
    valid
        Passed to every fit (early stopping); never predicted here.
    n_folds, seed
        ``KFold(n_splits=n_folds, shuffle=True, random_state=seed)``.
    test_models
        Which models predict new rows: ``"refit"`` fits every learner once more
        on all of ``train`` (``tag="full"``, what scikit-learn's
        ``StackingRegressor`` does); ``"average"`` averages the K fold models
        (no extra fit); or a dict ``{name: model already fitted on train}``.
    progress
        Called with a short message before every fit (e.g. ``print``).

    Returns
    -------
    LevelOne
        ``rows`` is ``train``; ``folds`` tells which fold model predicted each row.
    """
    rating_arrays(train, "train")
    fits = _check_learners(learners)
    if int(n_folds) < 2 or int(n_folds) > len(train):
        raise ValueError(f"n_folds must be between 2 and the number of training rows "
                         f"({len(train)}), got {n_folds}")
    n_folds = int(n_folds)
    splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    oof = np.full((len(train), len(fits)), np.nan)
    folds = np.full(len(train), -1, dtype=np.int64)
    fold_models: list[dict[str, Any]] = []
    for k, (fit_idx, held_idx) in enumerate(splitter.split(np.arange(len(train)))):
        fit_part = train.iloc[fit_idx].reset_index(drop=True)
        held_part = train.iloc[held_idx].reset_index(drop=True)
        tag = f"fold{k + 1}of{n_folds}"
        models = {}
        for j, (name, fit) in enumerate(fits.items()):
            if progress is not None:
                progress(f"{tag}: fitting {name} on {len(fit_part):,} rows")
            models[name] = fit(fit_part, valid, tag)
            oof[held_idx, j] = predict_frame(models[name], held_part, name)
        folds[held_idx] = k
        fold_models.append(models)

    if isinstance(test_models, Mapping):
        missing = [n for n in fits if n not in test_models]
        if missing:
            raise ValueError(f"test_models lacks the learner(s) {missing}")
        final = {n: test_models[n] for n in fits}
    elif test_models == "refit":
        final = {}
        for name, fit in fits.items():
            if progress is not None:
                progress(f"full: fitting {name} on {len(train):,} rows")
            final[name] = fit(train, valid, "full")
    elif test_models == "average":
        final = {n: AveragedModel([fm[n] for fm in fold_models]) for n in fits}
    else:
        raise ValueError(f"test_models must be 'refit', 'average' or a dict of fitted models, "
                         f"got {test_models!r}")
    return LevelOne("out_of_fold", train.reset_index(drop=True),
                    pd.DataFrame(oof, columns=list(fits)), final, fold_models, folds,
                    info={"n_folds": n_folds, "seed": seed,
                          "test_models": test_models if isinstance(test_models, str)
                          else "given"})


def held_out_level_one(models: Mapping[str, Any], held_out: pd.DataFrame) -> LevelOne:
    """Fitted models' predictions for ratings none of them trained on (chapter 08).

    Blending without a blend split: the validation ratings are already held out
    from every base model, so the models fitted on all the training rows predict
    them, and the same models predict new rows -- the level-one data and the
    final base models are the same models by construction, and nothing is
    refitted. Early stopping may have *looked at* these ratings (it chose an
    epoch on them); it did not train on them.

    Parameters
    ----------
    models
        ``{name: fitted model}``, none of them trained on ``held_out``.
    held_out
        The rows to predict (``user``, ``item``, ``rating``), e.g. the validation split.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from course_utils.baselines import ItemBias, UserBias
    >>> rng = np.random.default_rng(2)
    >>> frame = pd.DataFrame({"user": rng.integers(0, 30, 1000),
    ...                       "item": rng.integers(0, 20, 1000)})
    >>> frame["rating"] = 4.0 + frame.user % 3 + frame.item % 4 + rng.normal(0, 0.5, 1000)
    >>> train, valid = frame.iloc[:800], frame.iloc[800:]
    >>> models = {"u": UserBias().fit(train), "i": ItemBias().fit(train)}
    >>> level_one = held_out_level_one(models, valid)
    >>> level_one.method, level_one.predictions.shape, level_one.models["u"] is models["u"]
    ('holdout', (200, 2), True)
    """
    rating_arrays(held_out, "held_out")
    rows = held_out.reset_index(drop=True)
    return LevelOne("holdout", rows, prediction_matrix(dict(models), rows), dict(models),
                    info={"blend_rows": len(rows)})


def in_sample_level_one(models: Mapping[str, Any], train: pd.DataFrame) -> LevelOne:
    """**The leakage trap**: fitted models' predictions for the rows they trained on.

    Only for showing what goes wrong: a meta learner fitted on these rewards the
    learner that memorised its training rows best, not the one that predicts
    new rows best, and its training error promises more than it delivers.
    """
    rating_arrays(train, "train")
    models = dict(models)
    return LevelOne("in_sample", train.reset_index(drop=True),
                    prediction_matrix(models, train.reset_index(drop=True)), models)


# --------------------------------------------------------------------------
# the meta learner
# --------------------------------------------------------------------------
def make_meta_learner(kind: str = "linear", alphas: tuple[float, ...] = RIDGE_ALPHAS) -> Any:
    """A scikit-learn meta learner: ``"linear"`` (``LinearRegression``) or ``"ridge"``.

    ``"ridge"`` is ``RidgeCV``: it picks its penalty from ``alphas`` by efficient
    leave-one-out cross-validation on the level-one data.

    Example
    -------
    >>> type(make_meta_learner("ridge")).__name__
    'RidgeCV'
    """
    if kind == "linear":
        return LinearRegression()
    if kind == "ridge":
        return RidgeCV(alphas=alphas)
    raise ValueError(f"meta learner must be 'linear' or 'ridge', got {kind!r}")


def least_squares_stack(predictions: Any, target: Any,
                        alpha: float = 0.0) -> tuple[float, np.ndarray]:
    """The meta learner from its closed form: ``(intercept w_0, weights w)``.

    Minimises ``Σ (r - w_0 - P w)² + alpha |w|²`` (the intercept is not
    penalised, as in scikit-learn). Centring ``P`` and ``r`` removes ``w_0``;
    then ``w = (PcᵀPc + alpha I)⁻¹ Pcᵀ rc`` and ``w_0 = mean(r) - mean(P) · w``.
    ``alpha = 0`` is ordinary least squares (solved with ``lstsq``, which copes
    with nearly identical columns).

    Example
    -------
    >>> P = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 5.0], [4.0, 3.0]])
    >>> w0, w = least_squares_stack(P, 1.0 + P @ [0.5, 0.25])
    >>> round(w0, 6), np.round(w, 6).tolist()
    (1.0, [0.5, 0.25])
    """
    P = np.asarray(predictions, dtype=np.float64)
    r = np.asarray(target, dtype=np.float64).ravel()
    if P.ndim != 2 or P.shape[0] != r.size:
        raise ValueError(f"predictions must be (n_rows, n_learners) with one row per target; "
                         f"got {P.shape} for {r.size} targets")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    p_mean, r_mean = P.mean(axis=0), r.mean()
    Pc, rc = P - p_mean, r - r_mean
    if alpha == 0:
        w = np.linalg.lstsq(Pc, rc, rcond=None)[0]
    else:
        w = np.linalg.solve(Pc.T @ Pc + alpha * np.eye(P.shape[1]), Pc.T @ rc)
    return float(r_mean - p_mean @ w), w


def error_correlation(predictions: pd.DataFrame, target: Any) -> pd.DataFrame:
    """Correlation matrix of the base learners' errors ``prediction - rating``.

    Averaging helps exactly as far as errors are *not* correlated: two learners
    whose errors correlate at 1 have nothing to teach each other.

    Example
    -------
    >>> P = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 2.0]})
    >>> error_correlation(P, [1.0, 2.0, 4.0]).round(2).loc["a", "b"]
    np.float64(0.94)
    """
    r = np.asarray(target, dtype=np.float64).ravel()
    if len(predictions) != r.size:
        raise ValueError(f"{len(predictions)} prediction rows but {r.size} targets")
    return predictions.sub(r, axis=0).corr()


def _training_pairs(level_one: LevelOne) -> tuple[sparse.csr_array | None, int | None]:
    """Every (user, item) the ensemble learnt from: the base models' and the meta learner's.

    ``recommend(exclude_seen=True)`` leaves these out. With blending, the base models
    never saw the blend rows, but the ensemble did.
    """
    seen = [sparse.coo_array(m.seen_) for m in level_one.models.values()
            if getattr(m, "seen_", None) is not None]
    rows = [s.row for s in seen] + [level_one.rows["user"].to_numpy(np.int64)]
    cols = [s.col for s in seen] + [level_one.rows["item"].to_numpy(np.int64)]
    n_users = max([s.shape[0] for s in seen] + [int(rows[-1].max()) + 1])
    n_items_known = [getattr(m, "n_items_", None) for m in level_one.models.values()]
    n_items_known = [int(n) for n in n_items_known if n is not None]
    n_items = max([s.shape[1] for s in seen] + n_items_known + [int(cols[-1].max()) + 1])
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sparse.csr_array((np.ones(r.size, dtype=bool), (r, c)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    return matrix, n_items


# --------------------------------------------------------------------------
# the finished ensemble
# --------------------------------------------------------------------------
class StackingEnsemble(Recommender):
    """A stacking ensemble with the course's model shape.

    Parameters
    ----------
    learners
        ``{name: learner}`` (see :func:`as_learner`), used by :meth:`fit`.
    meta
        ``"linear"``, ``"ridge"`` or an unfitted scikit-learn regressor.
    method
        ``"out_of_fold"`` (default) or ``"holdout"``: how :meth:`fit` builds the
        meta learner's data. ``"in_sample"`` is refused (it leaks).
    n_folds, blend_frac, test_models
        See :func:`out_of_fold_level_one` and :func:`holdout_level_one`.
    clip
        Clip predictions to the range of the ratings the meta learner saw.
    seed
        Seeds the folds or the blend set.

    Attributes (after fitting)
    --------------------------
    level_one_
        The :class:`LevelOne` the meta learner was fitted on.
    meta_
        The fitted meta learner.
    weights_
        ``pd.Series``: the intercept and one weight per base learner (linear meta
        learners only).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from course_utils.baselines import ItemBias, UserBias
    >>> rng = np.random.default_rng(1)
    >>> train = pd.DataFrame({"user": rng.integers(0, 30, 900), "item": rng.integers(0, 20, 900)})
    >>> train["rating"] = 4.0 + train.user % 3 + train.item % 4
    >>> stack = StackingEnsemble({"u": UserBias(), "i": ItemBias()}, meta="linear",
    ...                          method="holdout", blend_frac=0.2).fit(train)
    >>> stack.weights_.index.tolist()
    ['intercept', 'u', 'i']
    >>> stack.recommend([0], k=3).shape
    (1, 3)
    """

    def __init__(self, learners: Mapping[str, Any] | None = None, meta: Any = "linear",
                 method: str = "out_of_fold", n_folds: int = 5, blend_frac: float = 0.1,
                 test_models: str | Mapping[str, Any] = "refit", clip: bool = True,
                 seed: int = 42) -> None:
        if method not in ("out_of_fold", "holdout"):
            raise ValueError(
                f"method must be 'out_of_fold' or 'holdout', got {method!r} (a meta learner "
                "fitted on in-sample predictions leaks; see in_sample_level_one)")
        self.learners = learners
        self.meta = meta
        self.method = method
        self.n_folds = n_folds
        self.blend_frac = blend_frac
        self.test_models = test_models
        self.clip = clip
        self.seed = seed

    _fitted_attribute = "meta_"

    def __repr__(self) -> str:
        names = list(self.learners) if self.learners else getattr(self, "names_", [])
        return f"StackingEnsemble({names}, meta={self.meta!r}, method={self.method!r})"

    # ------------------------------------------------------------------ fitting
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "StackingEnsemble":
        """Build the level-one data with :attr:`method`, then fit the meta learner."""
        if not self.learners:
            raise ValueError("StackingEnsemble.fit needs learners; or build one from "
                             "existing level-one data with StackingEnsemble.from_level_one")
        start = time.perf_counter()
        if self.method == "holdout":
            level_one = holdout_level_one(self.learners, train, valid, self.blend_frac,
                                          self.seed)
        else:
            level_one = out_of_fold_level_one(self.learners, train, valid, self.n_folds,
                                              self.seed, self.test_models)
        self.fit_meta(level_one)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def fit_meta(self, level_one: LevelOne, allow_leak: bool = False) -> "StackingEnsemble":
        """Fit only the meta learner, on ``level_one`` (the base models come with it).

        ``allow_leak=True`` is needed for in-sample level-one data: the chapter
        uses it once, to show the trap.
        """
        if level_one.method == "in_sample" and not allow_leak:
            raise ValueError("this level-one data holds in-sample predictions: a meta learner "
                             "fitted on them leaks (pass allow_leak=True only to demonstrate it)")
        start = time.perf_counter()
        meta = make_meta_learner(self.meta) if isinstance(self.meta, str) else copy.deepcopy(
            self.meta)
        y = level_one.target
        meta.fit(level_one.predictions.to_numpy(), y)
        self.meta_ = meta
        self.level_one_ = level_one
        self.models_ = dict(level_one.models)
        self.names_ = level_one.names
        self.rating_range_ = (float(y.min()), float(y.max()))
        self.seen_, self.n_items_ = _training_pairs(level_one)
        self.best_epoch_ = None  # no epochs: the meta learner is fitted in closed form
        self.fit_seconds_ = time.perf_counter() - start
        return self

    @classmethod
    def from_level_one(cls, level_one: LevelOne, meta: Any = "linear", clip: bool = True,
                       allow_leak: bool = False) -> "StackingEnsemble":
        """An ensemble whose meta learner is fitted on existing level-one data.

        Computing the (expensive) base predictions once and fitting several meta
        learners on them is how the chapter builds Ensemble-Linear and -Ridge.
        """
        method = "holdout" if level_one.method == "holdout" else "out_of_fold"
        obj = cls(None, meta=meta, method=method, clip=clip,
                  n_folds=level_one.info.get("n_folds", 5),
                  blend_frac=level_one.info.get("blend_frac", 0.1),
                  seed=level_one.info.get("seed", 42))
        obj.method_ = level_one.method
        return obj.fit_meta(level_one, allow_leak=allow_leak)

    # --------------------------------------------------------------- predicting
    def _combine(self, base: np.ndarray) -> np.ndarray:
        pred = np.asarray(self.meta_.predict(base), dtype=np.float64).ravel()
        return np.clip(pred, *self.rating_range_) if self.clip else pred

    def base_predictions(self, users: Any, items: Any) -> pd.DataFrame:
        """The base models' predictions for the pairs, one column per learner."""
        self._check_fitted()
        frame = pd.DataFrame({"user": np.asarray(users).ravel(), "item": np.asarray(items).ravel()})
        return prediction_matrix(self.models_, frame)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """The meta learner's rating for the pairs ``(users[j], items[j])``."""
        return self._combine(self.base_predictions(users, items).to_numpy())

    def combine(self, predictions: pd.DataFrame) -> np.ndarray:
        """The meta learner applied to base predictions computed already.

        ``predictions`` has (at least) one column per base learner of this
        ensemble, e.g. from :func:`prediction_matrix`; computing them once and
        combining them for several ensembles saves predicting again.
        """
        self._check_fitted()
        missing = [n for n in self.names_ if n not in predictions.columns]
        if missing:
            raise KeyError(f"predictions lack the column(s) {missing} of this ensemble's "
                           f"base learners {self.names_}")
        return self._combine(predictions[self.names_].to_numpy(np.float64))

    def score(self, users: Any) -> np.ndarray:
        """Ratings of every item, one row per user (used by ``recommend``)."""
        self._check_fitted()
        u = np.asarray(users, dtype=np.int64).ravel()
        mats = []
        for name, model in self.models_.items():
            if hasattr(model, "score"):
                mats.append(np.asarray(model.score(u), dtype=np.float64))
            else:
                if self.n_items_ is None:
                    raise RuntimeError(f"base learner {name!r} has no score(users) and the "
                                       "ensemble does not know the number of items")
                pairs = (np.repeat(u, self.n_items_), np.tile(np.arange(self.n_items_), u.size))
                mats.append(np.asarray(model.predict(*pairs), dtype=np.float64).reshape(
                    u.size, self.n_items_))
        shape = mats[0].shape
        base = np.stack([m.reshape(-1) for m in mats], axis=1)
        return self._combine(base).reshape(shape)

    @property
    def weights_(self) -> pd.Series:
        """Intercept and weights of a linear meta learner."""
        self._check_fitted()
        if not hasattr(self.meta_, "coef_"):
            raise AttributeError(f"{type(self.meta_).__name__} has no linear weights")
        return pd.Series(np.r_[self.meta_.intercept_, np.ravel(self.meta_.coef_)],
                         index=["intercept", *self.names_], name="weight")
