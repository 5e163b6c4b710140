"""course_utils.baselines: closed forms, a library cross-check, and honest behaviour."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import metrics
from course_utils.baselines import (
    GlobalMean,
    ItemBias,
    ItemToItemMarkov,
    MostPopular,
    Random,
    UserBias,
    UserItemBias,
    expected_random_recall,
    histories_frame,
)


def biased_ratings(n_users=200, n_items=80, n_rows=4000, seed=0):
    """Ratings with true user and item biases plus noise, on a 1–10 scale."""
    rng = np.random.default_rng(seed)
    bu, bi = rng.normal(0, 1.0, n_users), rng.normal(0, 1.2, n_items)
    pairs = np.unique(np.column_stack([rng.integers(0, n_users, n_rows),
                                       rng.integers(0, n_items, n_rows)]), axis=0)
    u, i = pairs[:, 0], pairs[:, 1]
    r = np.clip(np.round(7 + bu[u] + bi[i] + rng.normal(0, 0.8, u.size)), 1, 10)
    frame = pd.DataFrame({"user": u, "item": i, "rating": r}).sample(frac=1, random_state=seed)
    n_test = len(frame) // 5
    return frame.iloc[n_test:].reset_index(drop=True), frame.iloc[:n_test].reset_index(drop=True)


# --------------------------------------------------------------------------
# explicit
# --------------------------------------------------------------------------
def test_global_mean():
    train, _ = biased_ratings()
    model = GlobalMean().fit(train)
    assert model.predict([0, 5], [3, 1]).tolist() == [train["rating"].mean()] * 2


@pytest.mark.parametrize("reg", [0.0, 3.0])
def test_user_and_item_bias_are_shrunk_means(reg):
    train, _ = biased_ratings()
    mu = train["rating"].mean()
    for cls, col in ((UserBias, "user"), (ItemBias, "item")):
        model = cls(reg=reg).fit(train)
        grouped = (train["rating"] - mu).groupby(train[col])
        want = grouped.sum() / (grouped.count() + reg)
        got = model.user_bias_ if col == "user" else model.item_bias_
        np.testing.assert_allclose(got[want.index.to_numpy()], want.to_numpy(), rtol=1e-10)


def test_user_item_bias_matches_sklearn_ridge():
    """The alternating closed-form passes converge to the ridge solution."""
    from scipy import sparse
    from sklearn.linear_model import Ridge

    train, _ = biased_ratings(n_users=60, n_items=30, n_rows=900)
    reg = 4.0
    model = UserItemBias(reg_user=reg, reg_item=reg, epochs=300, clip=False).fit(train)
    n_u, n_i = model.n_users_, model.n_items_
    rows = np.arange(len(train))
    design = sparse.hstack([
        sparse.csr_matrix((np.ones(len(train)), (rows, train["user"])), shape=(len(train), n_u)),
        sparse.csr_matrix((np.ones(len(train)), (rows, train["item"])), shape=(len(train), n_i)),
    ]).tocsr()
    ridge = Ridge(alpha=reg, fit_intercept=False, solver="sparse_cg", tol=1e-12, max_iter=10_000)
    ridge.fit(design, train["rating"].to_numpy() - model.mu_)
    np.testing.assert_allclose(model.user_bias_, ridge.coef_[:n_u], atol=1e-6)
    np.testing.assert_allclose(model.item_bias_, ridge.coef_[n_u:], atol=1e-6)


def test_loss_never_increases_and_valid_history():
    train, test = biased_ratings()
    model = UserItemBias(epochs=8).fit(train, valid=test)
    assert len(model.loss_history_) == len(model.valid_rmse_history_) == 8
    assert np.all(np.diff(model.loss_history_) <= 1e-9 * model.loss_history_[0])


def test_bias_models_beat_the_global_mean():
    train, test = biased_ratings()
    score = {cls.__name__: metrics.rmse(test["rating"],
                                        cls().fit(train).predict(test["user"], test["item"]))
             for cls in (GlobalMean, UserBias, ItemBias, UserItemBias)}
    assert score["UserItemBias"] < min(score["UserBias"], score["ItemBias"])
    assert max(score["UserBias"], score["ItemBias"]) < score["GlobalMean"]


def test_unknown_ids_fall_back_to_mu_and_clipping():
    train = pd.DataFrame({"user": [0, 1], "item": [0, 1], "rating": [1.0, 10.0]})
    model = UserItemBias(reg_user=0.0, reg_item=0.0).fit(train)
    assert model.predict([7], [9]).tolist() == [model.mu_]
    assert model.predict([1], [1])[0] <= 10.0
    no_clip = UserItemBias(reg_user=0.0, reg_item=0.0, clip=False).fit(train)
    wide = no_clip.predict([1], [1])[0]
    assert wide == pytest.approx(no_clip.mu_ + no_clip.user_bias_[1] + no_clip.item_bias_[1])


def test_explicit_recommend_excludes_seen():
    train, _ = biased_ratings()
    model = UserItemBias().fit(train)
    recs = model.recommend(np.arange(10), k=5)
    assert recs.shape == (10, 5)
    seen = model.seen_.toarray()
    assert not seen[np.arange(10)[:, None], recs].any()
    # without exclusion, everybody gets the items with the largest biases
    top = np.argsort(-model.item_bias_, kind="stable")[:5]
    assert set(model.recommend([0], 5, exclude_seen=False)[0]) == set(top)


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"user": [0], "item": [0]}), "lacks the column"),
        (pd.DataFrame({"user": [0.5], "item": [0], "rating": [3]}), "integer ids"),
        (pd.DataFrame({"user": [], "item": [], "rating": []}), "empty"),
    ],
)
def test_clear_errors(frame, message):
    with pytest.raises(ValueError, match=message):
        UserItemBias().fit(frame)


def test_predict_before_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        GlobalMean().predict([0], [0])


# --------------------------------------------------------------------------
# implicit
# --------------------------------------------------------------------------
def test_random_reaches_k_over_n():
    n_users, n_items, k = 4000, 200, 20
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"user": np.repeat(np.arange(n_users), 5),
                          "item": rng.integers(0, n_items, n_users * 5)})
    target = rng.integers(0, n_items, n_users)
    model = Random(seed=1, n_items=n_items).fit(train)
    recs = model.recommend(np.arange(n_users), k, exclude_seen=False)
    recall = metrics.recall_at_k(recs, target, k)
    p = k / n_items
    assert expected_random_recall(k, n_items) == p
    assert abs(recall - p) < 4 * np.sqrt(p * (1 - p) / n_users)
    # same seed, same lists
    again = Random(seed=1, n_items=n_items).fit(train).recommend(np.arange(n_users), k, False)
    np.testing.assert_array_equal(recs, again)


def test_expected_random_recall_per_user():
    assert expected_random_recall(10, [20, 5]) == pytest.approx((0.5 + 1.0) / 2)
    with pytest.raises(ValueError):
        expected_random_recall(10, [0])


def test_most_popular_orders_by_distinct_users():
    # item 2: 3 users (one of them twice), item 0: 2 users, item 1: 1 user
    train = pd.DataFrame({"user": [0, 1, 2, 2, 0, 1, 3], "item": [2, 2, 2, 2, 0, 0, 1]})
    model = MostPopular().fit(train)
    assert model.popularity_.tolist() == [2, 1, 3]
    assert model.recommend([3], 3, exclude_seen=False).tolist() == [[2, 0, 1]]
    assert model.recommend([3], 3).tolist() == [[2, 0, -1]]
    assert model.recommend([9], 2).tolist() == [[2, 0]]  # unknown user: nothing seen


def test_markov_counts_successors_in_time_order():
    frame = pd.DataFrame({
        "user": [0, 0, 0, 1, 1, 2, 2, 3],
        "item": [5, 1, 2, 1, 3, 1, 3, 0],
        "timestamp": [3, 1, 2, 1, 2, 1, 2, 1],  # user 0 watched 1, 2, 5
    }).sample(frac=1, random_state=0)
    model = ItemToItemMarkov(n_items=6).fit(frame)
    t = model.transitions_.toarray()
    assert t[1, 2] == 1 and t[2, 5] == 1 and t[1, 3] == 2 and t.sum() == 4
    assert model.last_item_.tolist() == [5, 3, 3, 0]
    # after item 1: 3 (twice) before 2 (once); the rest by popularity
    ranked = model.score_after([1])[0]
    assert np.argsort(-ranked)[:2].tolist() == [3, 2]
    # no successor known: popularity order, the same as MostPopular
    pop = MostPopular(n_items=6).fit(frame)
    assert (model.recommend([3], 6, exclude_seen=False).tolist()
            == pop.recommend([3], 6, exclude_seen=False).tolist())
    np.testing.assert_allclose(model.predict([0, 0], [1, 2]), model.score([0])[0, [1, 2]])


def test_histories_input_equals_frame_input():
    histories = [np.array([4, 2, 3]), np.array([2, 3]), np.array([], dtype=int), np.array([1])]
    frame = histories_frame(histories)
    a = ItemToItemMarkov().fit(histories)
    b = ItemToItemMarkov().fit(frame.sample(frac=1, random_state=1))
    np.testing.assert_array_equal(a.transitions_.toarray(), b.transitions_.toarray())
    np.testing.assert_array_equal(a.recommend([0, 1, 2, 3], 3), b.recommend([0, 1, 2, 3], 3))


def test_markov_beats_popularity_on_chains():
    """Where items follow each other (franchises), the Markov model finds the sequel."""
    rng = np.random.default_rng(5)
    n_users, n_items = 600, 60
    hist = []
    for _ in range(n_users):
        start = int(rng.integers(0, n_items - 6))
        hist.append(np.arange(start, start + int(rng.integers(3, 7))))  # i is followed by i + 1
    train = [h[:-1] for h in hist]
    target = np.array([h[-1] for h in hist])
    users = np.arange(n_users)
    markov = ItemToItemMarkov(n_items=n_items).fit(train).recommend(users, 10)
    popular = MostPopular(n_items=n_items).fit(train).recommend(users, 10)
    # the sequel is found exactly when that step (i -> i + 1) occurred in some training history
    steps = {(int(a), int(b)) for h in train for a, b in zip(h[:-1], h[1:])}
    findable = np.mean([(int(h[-2]), int(h[-1])) in steps for h in hist])
    assert findable > 0.9
    assert metrics.recall_at_k(markov[:, :1], target, 1) == pytest.approx(findable)
    assert metrics.recall_at_k(popular, target, 10) < 0.5
