"""Tests of course_utils.ensemble: honest stacking, checked against scikit-learn."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import StackingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, cross_val_predict

from course_utils.baselines import GlobalMean, ItemBias, UserBias, UserItemBias
from course_utils.ensemble import (AveragedModel, StackingEnsemble, as_learner, blend_split,
                                   error_correlation, held_out_level_one, holdout_level_one,
                                   in_sample_level_one,
                                   least_squares_stack, make_meta_learner,
                                   out_of_fold_level_one, prediction_matrix)
from course_utils.metrics import rmse


def ratings(n_users: int = 60, n_items: int = 40, n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Distinct (user, item) pairs, so a pair identifies a row."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(n_users * n_items, size=n, replace=False)
    frame = pd.DataFrame({"user": cells // n_items, "item": cells % n_items})
    signal = 5.5 + 0.8 * (frame.user % 5 - 2) - 0.6 * (frame.item % 4 - 1.5)
    frame["rating"] = np.clip(np.round(signal + rng.normal(0, 1.0, n)), 1, 10)
    return frame


def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


# --------------------------------------------------------------------------
# spies: base learners that record what they were fitted on and asked about
# --------------------------------------------------------------------------
class Spy:
    """Predicts the training mean; remembers its training rows and every queried row."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.queried: set[tuple[int, int]] = set()

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "Spy":
        self.trained_on = pairs(train)
        self.valid_rows = 0 if valid is None else len(valid)
        self.mean = float(train["rating"].mean())
        return self

    def predict(self, users, items) -> np.ndarray:
        self.queried |= set(zip(np.asarray(users).tolist(), np.asarray(items).tolist()))
        return np.full(len(users), self.mean)


def spy_learner(log: list[Spy]):
    def fit(train, valid, tag):
        spy = Spy(tag).fit(train, valid)
        log.append(spy)
        return spy
    return fit


@pytest.fixture
def data():
    frame = ratings()
    rng = np.random.default_rng(1)
    test_mask = rng.random(len(frame)) < 0.15
    return frame[~test_mask].reset_index(drop=True), frame[test_mask].reset_index(drop=True)


def test_out_of_fold_no_base_learner_sees_its_own_prediction_targets(data):
    train, _ = data
    log_a, log_b = [], []
    level_one = out_of_fold_level_one({"a": spy_learner(log_a), "b": spy_learner(log_b)},
                                      train, n_folds=4, seed=3, test_models="average")
    for log in (log_a, log_b):
        assert [s.tag for s in log] == ["fold1of4", "fold2of4", "fold3of4", "fold4of4"]
        for spy in log:
            assert spy.queried, "every fold model predicts its held-out fold"
            assert not (spy.queried & spy.trained_on)
            # together, what a fold model trained on and predicted is the whole train set
            assert spy.queried | spy.trained_on == pairs(train)
    # the held-out folds partition the training rows: one prediction per row and learner
    assert set().union(*(s.queried for s in log_a)) == pairs(train)
    assert sum(len(s.queried) for s in log_a) == len(train)
    assert level_one.predictions.notna().all().all()
    assert sorted(np.unique(level_one.folds).tolist()) == [0, 1, 2, 3]
    # each row's prediction came from the model of its own fold
    fold_means = np.array([s.mean for s in log_a])
    np.testing.assert_array_equal(level_one.predictions["a"].to_numpy(),
                                  fold_means[level_one.folds])


def test_out_of_fold_refit_trains_final_models_on_all_rows(data):
    train, test = data
    log = []
    valid = test.iloc[:10]
    level_one = out_of_fold_level_one({"spy": spy_learner(log)}, train, valid, n_folds=3, seed=0)
    assert [s.tag for s in log] == ["fold1of3", "fold2of3", "fold3of3", "full"]
    assert level_one.models["spy"] is log[-1]
    assert log[-1].trained_on == pairs(train) and not log[-1].queried
    assert all(s.valid_rows == len(valid) for s in log)  # valid is passed, never predicted


def test_out_of_fold_folds_are_sklearn_kfold(data):
    train, _ = data
    level_one = out_of_fold_level_one({"mean": GlobalMean()}, train, n_folds=5, seed=7,
                                      test_models="average")
    splitter = KFold(n_splits=5, shuffle=True, random_state=7)
    for k, (_, held) in enumerate(splitter.split(np.arange(len(train)))):
        np.testing.assert_array_equal(np.flatnonzero(level_one.folds == k), held)


def test_holdout_blend_rows_are_never_trained_on(data):
    train, _ = data
    log = []
    level_one = holdout_level_one({"spy": spy_learner(log)}, train, blend_frac=0.25, seed=5)
    (spy,) = log
    assert spy.tag == "blend"
    blend = pairs(level_one.rows)
    assert spy.queried == blend
    assert not (spy.trained_on & blend)
    assert spy.trained_on | blend == pairs(train)
    assert len(level_one.rows) == round(0.25 * len(train))


def test_holdout_from_fold_is_a_blend_split(data):
    train, _ = data
    log = []
    level_one = out_of_fold_level_one({"spy": spy_learner(log)}, train, n_folds=3, seed=1,
                                      test_models="average")
    blend = level_one.holdout_from_fold(1)
    assert blend.method == "holdout" and blend.models["spy"] is log[1]
    assert pairs(blend.rows) == log[1].queried
    assert not (pairs(blend.rows) & log[1].trained_on)
    assert blend.info["blend_frac"] == pytest.approx(len(blend.rows) / len(train))


def test_blend_split_is_seeded_and_disjoint(data):
    train, _ = data
    a1, b1 = blend_split(train, 0.2, seed=1)
    a2, b2 = blend_split(train, 0.2, seed=1)
    pd.testing.assert_frame_equal(b1, b2)
    assert not (pairs(a1) & pairs(b1)) and len(a1) + len(b1) == len(train)
    assert pairs(blend_split(train, 0.2, seed=2)[1]) != pairs(b1)


# --------------------------------------------------------------------------
# against scikit-learn
# --------------------------------------------------------------------------
class ItemMean(RegressorMixin, BaseEstimator):
    """scikit-learn estimator on X = [user, item]: the item's mean rating."""

    def __init__(self, column: int = 1) -> None:
        self.column = column

    def fit(self, X, y):
        ids = np.asarray(X)[:, self.column].astype(int)
        y = np.asarray(y, dtype=float)
        self.mean_ = float(y.mean())
        n = ids.max() + 1
        counts = np.bincount(ids, minlength=n)
        sums = np.bincount(ids, weights=y, minlength=n)
        self.table_ = np.where(counts > 0, sums / np.maximum(counts, 1), self.mean_)
        return self

    def predict(self, X):
        ids = np.asarray(X)[:, self.column].astype(int)
        inside = ids < self.table_.size
        return np.where(inside, self.table_[np.where(inside, ids, 0)], self.mean_)


class CourseShaped:
    """The same estimator with the course's fit(frame) / predict(users, items)."""

    def __init__(self, column: int) -> None:
        self.column = column

    def fit(self, train, valid=None):
        self.est_ = ItemMean(self.column).fit(train[["user", "item"]].to_numpy(), train["rating"])
        return self

    def predict(self, users, items):
        return self.est_.predict(np.column_stack([users, items]))


def test_out_of_fold_matches_cross_val_predict(data):
    train, _ = data
    level_one = out_of_fold_level_one({"item": CourseShaped(1)}, train, n_folds=4, seed=2,
                                      test_models="average")
    expected = cross_val_predict(ItemMean(1), train[["user", "item"]].to_numpy(), train["rating"],
                                 cv=KFold(4, shuffle=True, random_state=2))
    np.testing.assert_allclose(level_one.predictions["item"].to_numpy(), expected)


@pytest.mark.parametrize("meta", ["linear", "ridge"])
def test_stacking_matches_sklearn_stacking_regressor(data, meta):
    train, test = data
    final = LinearRegression() if meta == "linear" else make_meta_learner("ridge")
    reference = StackingRegressor(
        [("user", ItemMean(0)), ("item", ItemMean(1))], final_estimator=final,
        cv=KFold(3, shuffle=True, random_state=4)).fit(train[["user", "item"]].to_numpy(),
                                                       train["rating"])
    ours = StackingEnsemble({"user": CourseShaped(0), "item": CourseShaped(1)}, meta=meta,
                            n_folds=3, seed=4, clip=False).fit(train)
    np.testing.assert_allclose(ours.predict(test["user"], test["item"]),
                               reference.predict(test[["user", "item"]].to_numpy()), rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 30.0])
def test_least_squares_stack_matches_sklearn(data, alpha):
    train, _ = data
    P = prediction_matrix({"u": UserBias().fit(train), "i": ItemBias().fit(train),
                           "ui": UserItemBias().fit(train)}, train).to_numpy()
    y = train["rating"].to_numpy()
    w0, w = least_squares_stack(P, y, alpha)
    ref = LinearRegression().fit(P, y) if alpha == 0 else Ridge(alpha=alpha).fit(P, y)
    np.testing.assert_allclose(w, ref.coef_, rtol=1e-7, atol=1e-10)
    assert w0 == pytest.approx(ref.intercept_, rel=1e-9)


def test_error_correlation_is_the_correlation_of_residuals():
    rng = np.random.default_rng(0)
    y = rng.normal(5, 1, 200)
    P = pd.DataFrame({"a": y + rng.normal(0, 1, 200), "b": y + rng.normal(0, 1, 200)})
    corr = error_correlation(P, y)
    expected = np.corrcoef(P["a"] - y, P["b"] - y)[0, 1]
    assert corr.loc["a", "b"] == pytest.approx(expected, rel=1e-12)
    assert corr.loc["a", "a"] == pytest.approx(1.0)


# --------------------------------------------------------------------------
# the leakage trap
# --------------------------------------------------------------------------
class Memoriser:
    """Remembers every training rating exactly; the training mean for anything else."""

    def fit(self, train, valid=None):
        self.table_ = {(u, i): r for u, i, r in train[["user", "item", "rating"]].itertuples(
            index=False)}
        self.mean_ = float(train["rating"].mean())
        return self

    def predict(self, users, items):
        return np.array([self.table_.get((u, i), self.mean_)
                         for u, i in zip(np.asarray(users).tolist(), np.asarray(items).tolist())])


def test_in_sample_meta_learner_trusts_the_memoriser_and_loses_on_test(data):
    train, test = data
    learners = {"memoriser": Memoriser(), "biases": UserItemBias()}
    models = {name: as_learner(spec)(train, None, "full") for name, spec in learners.items()}
    leaky = StackingEnsemble.from_level_one(in_sample_level_one(models, train), "linear",
                                            allow_leak=True)
    honest = StackingEnsemble.from_level_one(
        out_of_fold_level_one(learners, train, n_folds=5, seed=0, test_models=models), "linear")
    assert leaky.weights_["memoriser"] > 0.9          # it fits its training rows exactly
    assert honest.weights_["biases"] > leaky.weights_["biases"]
    leaky_train = rmse(train["rating"], leaky.predict(train["user"], train["item"]))
    leaky_test = rmse(test["rating"], leaky.predict(test["user"], test["item"]))
    honest_test = rmse(test["rating"], honest.predict(test["user"], test["item"]))
    assert leaky_train < honest_test < leaky_test


def test_leaky_level_one_is_refused_without_allow_leak(data):
    train, _ = data
    leak = in_sample_level_one({"m": GlobalMean().fit(train)}, train)
    with pytest.raises(ValueError, match="leaks"):
        StackingEnsemble.from_level_one(leak)
    with pytest.raises(ValueError, match="leaks"):
        StackingEnsemble({"m": GlobalMean()}, method="in_sample")


# --------------------------------------------------------------------------
# the finished model
# --------------------------------------------------------------------------
def test_stacking_ensemble_model_shape(data):
    train, test = data
    stack = StackingEnsemble({"u": UserBias(), "i": ItemBias()}, meta="ridge",
                             method="holdout", blend_frac=0.2, seed=0).fit(train)
    pred = stack.predict(test["user"], test["item"])
    assert pred.shape == (len(test),)
    assert pred.min() >= train["rating"].min() and pred.max() <= train["rating"].max()
    scores = stack.score([3, 4])
    users = np.repeat([3, 4], scores.shape[1])
    items = np.tile(np.arange(scores.shape[1]), 2)
    np.testing.assert_allclose(scores.ravel(), stack.predict(users, items))
    top = stack.recommend([3, 4], k=5)
    assert top.shape == (2, 5)
    seen = pairs(train)
    assert not any((u, int(i)) in seen for u, row in zip([3, 4], top) for i in row)
    assert list(stack.weights_.index) == ["intercept", "u", "i"]


def test_averaged_model_averages():
    f = ratings(n=200)
    a, b = UserBias().fit(f.iloc[:100]), ItemBias().fit(f.iloc[100:])
    users, items = f["user"].to_numpy()[:7], f["item"].to_numpy()[:7]
    np.testing.assert_allclose(AveragedModel([a, b]).predict(users, items),
                               (a.predict(users, items) + b.predict(users, items)) / 2)


# --------------------------------------------------------------------------
# clear errors
# --------------------------------------------------------------------------
def test_bad_inputs_give_clear_errors(data):
    train, _ = data
    with pytest.raises(ValueError, match="blend_frac"):
        blend_split(train, 1.5)
    with pytest.raises(ValueError, match="n_folds"):
        out_of_fold_level_one({"m": GlobalMean()}, train, n_folds=1)
    with pytest.raises(ValueError, match="non-empty"):
        out_of_fold_level_one({}, train)
    with pytest.raises(TypeError, match="base learner"):
        as_learner(42)
    with pytest.raises(ValueError, match="lacks the column"):
        holdout_level_one({"m": GlobalMean()}, train.drop(columns="rating"))
    with pytest.raises(ValueError, match="meta learner"):
        make_meta_learner("lasso")

    class Broken:
        def fit(self, train, valid=None):
            return self

        def predict(self, users, items):
            return np.full(len(users), np.nan)

    with pytest.raises(ValueError, match="'broken' predicted NaN"):
        holdout_level_one({"broken": Broken()}, train)


# --------------------------------------------------------------------------
# the chapter, executed at the ci profile
# --------------------------------------------------------------------------
@pytest.mark.notebooks
def test_chapter_08_stacking_relationships(chapter_results):
    r = chapter_results("08_stacking")
    # the leaky meta learner's training error promises more than it delivers on test
    assert r["rmse_leaky_train"] < r["rmse_leaky_test"]
    # ... and the same base learners stacked honestly do better on test
    assert r["rmse_trap_honest_test"] < r["rmse_leaky_test"]
    # honest stacks are fitted on unseen predictions: they beat the global mean and
    # never fall below the noise floor of the synthetic data
    for key in ("rmse_ensemble_linear", "rmse_ensemble_ridge", "rmse_cheap_stack_oof",
                "rmse_cheap_stack_held_out"):
        assert r["noise_floor"] < r[key] < r["rmse_global_mean"]
    # every base network also lies between the floor and the global mean
    for d in (100, 128, 150):
        assert r["noise_floor"] < r[f"rmse_nn_{d}"] < r["rmse_global_mean"]
    # the from-scratch meta learner is the library's
    assert r["meta_weights_max_abs_diff"] < 1e-6
    # the chapter's K-fold loop gives the library's out-of-fold columns for the bias model
    # and the MF: the same folds and the same deterministic fits, so the same float64
    # numbers (observed: identical; 1e-12 leaves room for summation order only)
    assert r["oof_loop_vs_library_max_diff"] < 1e-12
    # the MF base learner has the rank and λ chapter 04's search chose (issue 21)
    ch04 = chapter_results("04_matrix_factorization")
    assert (r["mf_rank"], r["mf_reg"]) == (ch04["sgd_best_rank"], ch04["sgd_best_reg"])


# --------------------------------------------------------------------------
# chapter 08's recipe for the beta networks (shared with chapter 11)
# --------------------------------------------------------------------------
def test_held_out_level_one_uses_the_fitted_models_themselves(data):
    """Blending on held-out ratings: the meta learner learns from the very models that
    predict new rows, and nothing is refitted."""
    train, test = data
    valid, test = test.iloc[: len(test) // 2], test.iloc[len(test) // 2:]
    models = {"u": UserBias().fit(train), "i": ItemBias().fit(train)}
    level_one = held_out_level_one(models, valid)
    assert level_one.method == "holdout"
    assert all(level_one.models[n] is models[n] for n in models)
    np.testing.assert_array_equal(level_one.target, valid["rating"].to_numpy(np.float64))
    for name, model in models.items():
        np.testing.assert_array_equal(level_one.predictions[name],
                                      model.predict(valid["user"], valid["item"]))
    stack = StackingEnsemble.from_level_one(level_one, "linear")
    ref = LinearRegression().fit(level_one.predictions.to_numpy(), level_one.target)
    np.testing.assert_allclose(stack.weights_.to_numpy(), np.r_[ref.intercept_, ref.coef_])
    # on held-out ratings the stack is at least as good as its better member (least squares
    # with both members as inputs can always copy one of them)
    fitted = rmse(valid["rating"], stack.combine(level_one.predictions))
    assert fitted <= min(rmse(valid["rating"], level_one.predictions[n]) for n in models) + 1e-12
    with pytest.raises(ValueError, match="held_out"):
        held_out_level_one(models, valid.drop(columns="rating"))


@pytest.mark.notebooks
def test_chapters_08_and_11_build_the_same_ridge_ensemble(chapter_results):
    """Both fit the ridge meta learner on ens.held_out_level_one of chapter 07's networks
    and the validation ratings: same networks (from the cache), same weights."""
    ch08 = chapter_results("08_stacking")
    ch11 = chapter_results("11_recommending_for_a_user")
    assert ch11["ensemble_ridge_weights"].keys() == ch08["ensemble_ridge_weights"].keys()
    for name, weight in ch08["ensemble_ridge_weights"].items():
        assert ch11["ensemble_ridge_weights"][name] == pytest.approx(weight, rel=1e-6, abs=1e-9)
