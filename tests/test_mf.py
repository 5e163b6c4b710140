"""course_utils.mf: SGD and ALS matrix factorization, checked against their equations,
scikit-learn's ridge regression and finite differences."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import metrics
from course_utils.baselines import UserItemBias
from course_utils.config import get_profile
from course_utils.mf import (
    ALSMatrixFactorization,
    FactorModel,
    SGDMatrixFactorization,
    sgd_epoch,
    sgd_epoch_python,
)


def low_rank_ratings(n_users=300, n_items=120, rank=3, per_user=30, noise=0.5, seed=0):
    """Biased low-rank ratings on a 1–10 scale; returns train, test and the noiseless truth."""
    rng = np.random.default_rng(seed)
    P = rng.normal(0, 0.7, (n_users, rank))
    Q = rng.normal(0, 0.7, (n_items, rank))
    bu, bi = rng.normal(0, 0.6, n_users), rng.normal(0, 0.5, n_items)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    truth = 6.5 + bu[users] + bi[items] + np.sum(P[users] * Q[items], axis=1)
    rating = np.clip(truth + rng.normal(0, noise, users.size), 1, 10)
    frame = pd.DataFrame({"user": users, "item": items, "rating": rating, "truth": truth})
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_test = len(frame) // 5
    return frame.iloc[n_test:].reset_index(drop=True), frame.iloc[:n_test].reset_index(drop=True)


@pytest.fixture(scope="module")
def data():
    return low_rank_ratings()


def _rmse(model, frame):
    return metrics.rmse(frame["rating"], model.predict(frame["user"], frame["item"]))


# --------------------------------------------------------------------------
# SGD: the compiled loop is the reference loop, and the reference is eqs. 4.3–4.5
# --------------------------------------------------------------------------
@pytest.mark.parametrize("biases", [True, False])
def test_compiled_epoch_equals_python_epoch(biases):
    rng = np.random.default_rng(1)
    u, i = rng.integers(0, 7, 50), rng.integers(0, 5, 50)
    r = rng.integers(1, 11, 50).astype(float)
    order = rng.permutation(50)
    start = {"user_factors": rng.normal(0, 0.3, (7, 4)), "item_factors": rng.normal(0, 0.3, (5, 4)),
             "user_bias": rng.normal(0, 0.1, 7), "item_bias": rng.normal(0, 0.1, 5)}
    a = {k: x.copy() for k, x in start.items()}
    b = {k: x.copy() for k, x in start.items()}
    rest = dict(mu=6.0, lr=0.05, reg=0.1, reg_bias=0.02, biases=biases)
    sgd_epoch_python(u, i, r, order, **a, **rest)
    sgd_epoch(u, i, r, order, **b, **rest)
    for x, y, s in zip(a.values(), b.values(), start.values()):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
        if biases or x.ndim == 2:
            assert not np.allclose(x, s), "the epoch must change the parameters"


def test_one_sgd_step_is_a_gradient_step():
    """Eqs. 4.4–4.5 move (g_i, h_u) by -lr/2 times the gradient of one term of eq. 4.2."""
    rng = np.random.default_rng(2)
    g, h = rng.normal(size=3), rng.normal(size=3)
    r, lr, reg = 7.0, 1e-3, 0.3

    def term(gv, hv):
        return (r - gv @ hv) ** 2 + reg * (gv @ gv + hv @ hv)

    eps = 1e-6
    grad_g = np.array([(term(g + eps * e, h) - term(g - eps * e, h)) / (2 * eps) for e in np.eye(3)])
    grad_h = np.array([(term(g, h + eps * e) - term(g, h - eps * e)) / (2 * eps) for e in np.eye(3)])
    G, H = g[None, :].copy(), h[None, :].copy()
    sgd_epoch_python([0], [0], [r], [0], user_factors=H, item_factors=G, user_bias=np.zeros(1),
                     item_bias=np.zeros(1), mu=0.0, lr=lr, reg=reg, reg_bias=reg, biases=False)
    np.testing.assert_allclose(G[0] - g, -lr / 2 * grad_g, rtol=1e-6)
    np.testing.assert_allclose(H[0] - h, -lr / 2 * grad_h, rtol=1e-6)


def test_sgd_python_and_compiled_models_agree(data):
    train, _ = data
    small = train.iloc[:2000]
    kw = dict(rank=4, lr=0.02, reg=0.05, epochs=3, seed=3)
    fast = SGDMatrixFactorization(**kw).fit(small)
    slow = SGDMatrixFactorization(compiled=False, **kw).fit(small)
    np.testing.assert_allclose(fast.user_factors_, slow.user_factors_, atol=1e-10)
    np.testing.assert_allclose(fast.history_["loss"], slow.history_["loss"], rtol=1e-10)


def test_sgd_learns_the_interaction(data):
    train, test = data
    bias = UserItemBias().fit(train)
    sgd = SGDMatrixFactorization(rank=4, lr=0.02, reg=0.05, epochs=30, seed=0).fit(train, test)
    floor = metrics.rmse(test["rating"], np.clip(test["truth"], 1, 10))
    # closes at least three quarters of the gap between the bias baseline and the floor
    assert _rmse(sgd, test) < floor + 0.25 * (_rmse(bias, test) - floor)
    curve = sgd.history_["train_rmse"]
    assert curve[-1] < curve[0]
    assert len(sgd.history_["valid_rmse"]) == 30
    assert list(sgd.history_frame().columns) == ["train_rmse", "valid_rmse", "loss", "seconds"]


def test_sgd_diverges_loudly():
    train = pd.DataFrame({"user": [0, 1, 0], "item": [0, 1, 1], "rating": [9.0, 1.0, 5.0]})
    with pytest.raises(FloatingPointError, match="lower lr"):
        SGDMatrixFactorization(rank=2, lr=50.0, epochs=50, global_mean=False).fit(train)


# --------------------------------------------------------------------------
# ALS: every half step is a ridge regression (checked against scikit-learn)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("biases", [True, False])
def test_als_user_step_is_sklearn_ridge(data, weighted, biases):
    from sklearn.linear_model import Ridge

    train, _ = data
    reg = 0.3 if weighted else 3.0
    model = ALSMatrixFactorization(rank=4, reg=reg, epochs=2, weighted_reg=weighted,
                                   biases=biases, seed=0).fit(train)
    G = model.item_factors_
    design = np.hstack([G, np.ones((G.shape[0], 1))]) if biases else G
    for user in (0, 17, 123):
        rows = train[train["user"] == user]
        items = rows["item"].to_numpy()
        target = rows["rating"].to_numpy() - model.mu_ - model.item_bias_[items]
        alpha = reg * len(rows) if weighted else reg
        ridge = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky").fit(design[items], target)
        want = ridge.coef_
        got = model.user_factors_[user]
        if biases:
            got = np.append(got, model.user_bias_[user])
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_als_never_increases_the_objective(data):
    train, _ = data
    for weighted in (True, False):
        model = ALSMatrixFactorization(rank=6, reg=0.1 if weighted else 2.0, epochs=8,
                                       weighted_reg=weighted).fit(train)
        loss = np.array(model.history_["loss"])
        assert np.all(np.diff(loss) <= 1e-9 * loss[:-1])


def test_als_learns_the_interaction(data):
    train, test = data
    bias = UserItemBias().fit(train)
    als = ALSMatrixFactorization(rank=4, reg=0.05, epochs=10).fit(train, test)
    floor = metrics.rmse(test["rating"], np.clip(test["truth"], 1, 10))
    assert _rmse(als, test) < floor + 0.25 * (_rmse(bias, test) - floor)


def test_als_and_sgd_minimise_the_same_objective(data):
    """With the same λ, SGD and weighted ALS reach about the same value of eq. 4.2."""
    train, _ = data
    kw = dict(rank=4, reg=0.1, seed=0)
    als = ALSMatrixFactorization(epochs=30, **kw).fit(train)
    sgd = SGDMatrixFactorization(lr=0.01, epochs=150, **kw).fit(train)
    assert sgd.history_["loss"][-1] == pytest.approx(als.history_["loss"][-1], rel=0.02)


def test_als_memory_batches_do_not_change_the_result(data, monkeypatch):
    import course_utils.mf as mf

    train, _ = data
    full = ALSMatrixFactorization(rank=3, reg=0.1, epochs=2).fit(train)
    original = mf._ridge_solve_all
    monkeypatch.setattr(mf, "_ridge_solve_all",
                        lambda *a, **k: original(*a, max_bytes=8 * 16 * 7, **k))
    tiny = ALSMatrixFactorization(rank=3, reg=0.1, epochs=2).fit(train)
    np.testing.assert_allclose(full.user_factors_, tiny.user_factors_, atol=1e-10)


def test_als_needs_positive_reg():
    model = ALSMatrixFactorization(reg=0.0)  # __init__ only stores; fit checks
    with pytest.raises(ValueError, match="reg > 0"):
        model.fit(pd.DataFrame({"user": [0], "item": [0], "rating": [5.0]}))


def test_plain_eq_4_1_has_no_bias_terms(data):
    train, _ = data
    model = ALSMatrixFactorization(rank=3, reg=0.1, epochs=2, biases=False,
                                   global_mean=False).fit(train)
    assert model.mu_ == 0.0
    assert not model.user_bias_.any() and not model.item_bias_.any()
    u, i = train["user"].to_numpy()[:5], train["item"].to_numpy()[:5]
    want = np.sum(model.user_factors_[u] * model.item_factors_[i], axis=1)
    np.testing.assert_allclose(model.predict(u, i), np.clip(want, *model.rating_range_))


# --------------------------------------------------------------------------
# the common model shape
# --------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [SGDMatrixFactorization, ALSMatrixFactorization])
def test_seeded(data, cls):
    train, _ = data
    a = cls(rank=3, epochs=2, seed=5) if cls is ALSMatrixFactorization else cls(rank=3, epochs=2, seed=5)
    b = cls(rank=3, epochs=2, seed=5) if cls is ALSMatrixFactorization else cls(rank=3, epochs=2, seed=5)
    c = cls(rank=3, epochs=2, seed=6) if cls is ALSMatrixFactorization else cls(rank=3, epochs=2, seed=6)
    a.fit(train), b.fit(train), c.fit(train)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    assert not np.allclose(a.user_factors_, c.user_factors_)


@pytest.mark.parametrize("cls", [SGDMatrixFactorization, ALSMatrixFactorization])
def test_unknown_users_and_items_fall_back_to_biases(data, cls):
    train, _ = data
    train = train[(train["user"] != 5) & (train["item"] != 7)]
    model = cls(rank=3, n_users=310, n_items=130).fit(train)
    mu, bu, bi = model.mu_, model.user_bias_, model.item_bias_
    pred = model.predict([5, 0, 5, 305, 0], [0, 7, 7, 0, 125])
    want = [mu + bi[0], mu + bu[0], mu, mu + bi[0], mu + bu[0]]
    np.testing.assert_allclose(pred, np.clip(want, *model.rating_range_))
    # ids beyond anything the model was built for behave the same
    np.testing.assert_allclose(model.predict([10_000], [0]), np.clip(mu + bi[0], *model.rating_range_))
    assert not model.user_factors_[5].any()


def test_unknown_pairs_without_global_mean_get_the_training_mean(data):
    train, _ = data
    model = ALSMatrixFactorization(rank=3, biases=False, global_mean=False).fit(train)
    assert model.predict([10_000], [0])[0] == pytest.approx(train["rating"].mean())


@pytest.mark.parametrize("cls", [SGDMatrixFactorization, ALSMatrixFactorization])
def test_recommend_shape_and_exclusion(data, cls):
    train, _ = data
    model = cls(rank=3).fit(train)
    users = [0, 1, 2]
    recs = model.recommend(users, k=10)
    assert recs.shape == (3, 10)
    for row, user in zip(recs, users):
        seen = set(train.loc[train["user"] == user, "item"])
        assert not seen & set(row.tolist())
        scores = model.predict(np.full(model.n_items_, user), np.arange(model.n_items_))
        unseen = [i for i in np.argsort(-scores, kind="stable") if i not in seen]
        assert set(row.tolist()) == set(unseen[:10]) or np.allclose(
            np.sort(scores[row])[::-1], np.sort(scores[unseen[:10]])[::-1])
    assert model.recommend(users, k=5, exclude_seen=False).shape == (3, 5)


def test_score_matches_predict(data):
    train, _ = data
    model = ALSMatrixFactorization(rank=3, n_items=125, n_users=305).fit(train)
    users = np.array([0, 3, 303])
    scores = model.score(users)
    for row, user in enumerate(users):
        np.testing.assert_allclose(
            scores[row], model.predict(np.full(125, user), np.arange(125)), atol=1e-12)


def test_save_and_load_round_trip(data, tmp_path):
    train, test = data
    model = ALSMatrixFactorization(rank=3, epochs=3).fit(train)
    path = model.save(tmp_path / "als.npz")
    loaded = ALSMatrixFactorization.load(path)
    assert type(loaded) is ALSMatrixFactorization and loaded.get_params() == model.get_params()
    assert type(FactorModel.load(path)) is FactorModel
    with pytest.raises(TypeError, match="holds a ALSMatrixFactorization"):
        SGDMatrixFactorization.load(path)
    np.testing.assert_array_equal(model.predict(test["user"], test["item"]),
                                  loaded.predict(test["user"], test["item"]))
    np.testing.assert_array_equal(model.recommend([0, 9], k=7), loaded.recommend([0, 9], k=7))
    assert loaded.history_["loss"] == model.history_["loss"]
    with pytest.raises(FileNotFoundError, match="load_or_fit"):
        FactorModel.load(tmp_path / "nothing.npz")


def test_from_arrays_predicts_dot_products():
    H = np.array([[1.0, 2.0]])
    G = np.array([[3.0, 4.0], [0.0, 1.0]])
    model = FactorModel.from_arrays(H, G, mu=1.0)
    np.testing.assert_allclose(model.predict([0, 0], [0, 1]), [12.0, 3.0])


@pytest.mark.parametrize("bad, match", [
    (pd.DataFrame({"user": [0], "item": [0]}), "lacks the column"),
    (pd.DataFrame({"user": [0.5], "item": [0], "rating": [3.0]}), "integer ids"),
    (pd.DataFrame({"user": [0, 1], "item": [0, 0], "rating": [3.0, np.nan]}), "row 1"),
    (pd.DataFrame({"user": [], "item": [], "rating": []}), "empty"),
])
def test_bad_input_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        ALSMatrixFactorization().fit(bad)


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        SGDMatrixFactorization().predict([0], [0])


@pytest.mark.parametrize("cls, kw", [(SGDMatrixFactorization, dict(epochs=40, lr=0.05, reg=0.0)),
                                     (ALSMatrixFactorization, dict(epochs=25, reg=0.01, weighted_reg=False))])
def test_early_stopping_keeps_the_best_epoch(data, cls, kw):
    """A model made to overfit stops early and keeps the parameters of its best epoch."""
    train, test = data
    valid = test.iloc[: len(test) // 2]
    model = cls(rank=16, patience=3, **kw).fit(train, valid)
    curve = model.history_["valid_rmse"]
    assert model.best_epoch_ == int(np.argmin(curve)) + 1
    assert len(curve) == model.best_epoch_ + 3  # stopped after 3 epochs without progress
    assert _rmse(model, valid) == pytest.approx(min(curve), rel=1e-12)


def test_recommend_ranks_unclipped_scores():
    """Two items both predicted above 10 keep their order (clipping would tie them)."""
    H = np.array([[1.0]])
    G = np.array([[11.0], [12.0], [5.0]])
    model = FactorModel.from_arrays(H, G, rating_range=(1.0, 10.0))
    assert model.predict([0, 0], [0, 1]).tolist() == [10.0, 10.0]
    assert model.recommend([0], k=2, exclude_seen=False).tolist() == [[1, 0]]


# --------------------------------------------------------------------------
# chapter 04 at the ci profile: the numbers it recorded
# --------------------------------------------------------------------------
@pytest.mark.notebooks
def test_chapter_04_numbers(chapter_results):
    r = chapter_results("04_matrix_factorization")
    # the factor model beats the strongest baseline, which beats the global mean
    assert r["rmse_als"] < r["rmse_user_item_bias"] < r["rmse_global_mean"]
    assert r["rmse_sgd"] < r["rmse_user_bias"]
    # nothing beats the generator's truth: floor < oracle (true anime factors) < learned
    assert r["noise_floor"] < r["item_oracle_rmse"] < r["rmse_als"]
    # the compiled loop is what makes SGD usable
    assert r["sgd_updates_per_s_numba"] > 20 * r["sgd_updates_per_s_python"]
    # rank and λ are chosen from the profile's ranges (or the starting values)
    mf_cfg = get_profile("ci")["mf"]
    assert r["als_best_rank"] in mf_cfg["sweep_ranks"] + [mf_cfg["als_rank"]]
    assert r["sgd_best_rank"] in mf_cfg["sweep_ranks"] + [mf_cfg["rank"]]
    assert r["als_best_reg"] in mf_cfg["sweep_regs"] and r["sgd_best_reg"] in mf_cfg["sweep_regs"]
    # the library copy of the search (chapters 06-08 call it) chooses the same models
    assert r["library_choice_difference"] == 0.0


@pytest.mark.parametrize("profile", ["ci", "book", "full"])
def test_chapter_04_ranges_are_wide_enough_for_real_data(profile):
    """Issue 21: λ log-spaced over at least three decades, ranks up to 64 or more, at
    every profile (a profile may make the grid coarser, not narrower)."""
    mf_cfg = get_profile(profile)["mf"]
    regs, ranks = np.array(mf_cfg["sweep_regs"]), mf_cfg["sweep_ranks"]
    assert regs.max() / regs.min() >= 1000
    steps = np.diff(np.log10(regs))
    assert (steps > 0).all() and steps.max() <= np.log10(10 / 3)  # 1-3-10 steps or finer
    assert max(ranks) >= 64


def test_recommend_skips_items_without_training_ratings(data):
    train, _ = data
    model = ALSMatrixFactorization(rank=3, n_items=130).fit(train[train["item"] != 4])
    recs = model.recommend(np.arange(20), k=model.n_items_ - 1, exclude_seen=False)
    assert not (recs == 4).any()
    assert (recs >= 120).sum() == 0  # items 120..129 were never rated either
