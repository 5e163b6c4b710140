"""course_utils.recommend: top-k against a full sort, exclusion, batching."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from course_utils.recommend import (
    TopKMixin,
    recommend,
    scores_from_predict,
    seen_matrix,
    top_k,
)


def full_sort_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Reference: sort every row by (score desc, item id asc) and cut at k."""
    out = np.full((scores.shape[0], k), -1)
    for r, row in enumerate(scores):
        order = sorted(range(row.size), key=lambda i: (-row[i], i))
        order = [i for i in order if row[i] != -np.inf][:k]
        out[r, : len(order)] = order
    return out


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(1, 25), st.integers(1, 30), st.randoms(use_true_random=False))
def test_matches_full_sort_with_distinct_scores(n_users, n_items, k, rnd):
    scores = np.array([rnd.sample(range(1000), n_items) for _ in range(n_users)], dtype=float)
    np.testing.assert_array_equal(top_k(scores, k), full_sort_top_k(scores, k))


@settings(max_examples=100, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 20)),
              elements=st.integers(0, 3)),
       st.integers(1, 25))
def test_ties_give_the_same_scores_and_a_sorted_order(int_scores, k):
    scores = int_scores.astype(float)
    got = top_k(scores, k)
    want = full_sort_top_k(scores, k)
    # the k best scores are the same; within them, ties are ordered by item id
    rows = np.arange(scores.shape[0])[:, None]
    width = min(k, scores.shape[1])
    np.testing.assert_array_equal(scores[rows, got[:, :width]], scores[rows, want[:, :width]])
    for r in range(scores.shape[0]):
        keys = [(-scores[r, i], i) for i in got[r, :width]]
        assert keys == sorted(keys)
        assert len(set(got[r, :width])) == width


def test_exclusion_forms_agree_and_pad():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.8, 0.2, 0.6, 0.4]])
    as_lists = [[1], [0, 2]]
    mask = np.zeros_like(scores, dtype=bool)
    mask[0, 1] = mask[1, 0] = mask[1, 2] = True
    as_sparse = sparse.csr_array(mask)
    want = np.array([[3, 2, 0, -1], [3, 1, -1, -1]])
    for exclude in (as_lists, mask, as_sparse, sparse.csr_matrix(mask)):
        np.testing.assert_array_equal(top_k(scores, 4, exclude), want)


def test_minus_inf_is_never_recommended_and_input_untouched():
    scores = np.array([[1.0, -np.inf, 3.0]])
    before = scores.copy()
    assert top_k(scores, 3).tolist() == [[2, 0, -1]]
    top_k(scores, 2, exclude=[[2]])
    np.testing.assert_array_equal(scores, before)
    one_d = np.array([1.0, 5.0, 3.0])
    top_k(one_d, 2, exclude=[[1]])
    assert one_d.tolist() == [1.0, 5.0, 3.0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: top_k(np.array([[np.nan, 1.0]]), 1), "NaN"),
        (lambda: top_k(np.ones((2, 3)), 0), "positive integer"),
        (lambda: top_k(np.ones((2, 3)), 1, exclude=[[0]]), "1 lists but scores has 2"),
        (lambda: top_k(np.ones((1, 3)), 1, exclude=[[5]]), "outside the catalogue"),
        (lambda: top_k(np.ones((1, 3)), 1, exclude=np.zeros((1, 2), bool)), "shape"),
        (lambda: top_k(np.ones((2, 3, 1)), 1), "2-D"),
        (lambda: seen_matrix(pd.DataFrame({"user": [0]})), "no column 'item'"),
        (lambda: recommend(lambda u: np.ones(3), [0, 1], 1), "one row of item scores"),
    ],
)
def test_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_seen_matrix_and_batched_recommend():
    rng = np.random.default_rng(0)
    n_users, n_items = 57, 40
    frame = pd.DataFrame({"user": rng.integers(0, n_users, 300),
                          "item": rng.integers(0, n_items, 300)})
    seen = seen_matrix(frame, n_users, n_items)
    dense = np.zeros((n_users, n_items), bool)
    dense[frame["user"], frame["item"]] = True
    np.testing.assert_array_equal(seen.toarray(), dense)

    table = rng.random((n_users, n_items))
    users = rng.permutation(n_users)
    got = recommend(lambda u: table[u], users, k=10, seen=seen, batch_size=8)
    np.testing.assert_array_equal(got, top_k(table[users], 10, exclude=dense[users]))
    assert not dense[users[:, None], np.where(got >= 0, got, 0)][got >= 0].any()


def test_users_unknown_to_seen_have_nothing_excluded():
    seen = seen_matrix(pd.DataFrame({"user": [0], "item": [1]}), 1, 3)
    scores = lambda u: np.tile([1.0, 3.0, 2.0], (len(u), 1))  # noqa: E731
    assert recommend(scores, [0, 5], k=2, seen=seen).tolist() == [[2, 0], [1, 2]]


def test_scores_from_predict_and_mixin():
    class Linear(TopKMixin):
        seen_ = seen_matrix(pd.DataFrame({"user": [0, 1], "item": [3, 0]}), 2, 4)

        def predict(self, users, items):
            return np.asarray(items, float) - np.asarray(users, float)

        def score(self, users):
            return scores_from_predict(self.predict, users, 4)

    model = Linear()
    np.testing.assert_array_equal(model.score([1]), [[-1, 0, 1, 2]])
    assert model.recommend([0, 1], k=2).tolist() == [[2, 1], [3, 2]]
    assert model.recommend([0], k=2, exclude_seen=False).tolist() == [[3, 2]]


def test_unfitted_mixin_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        TopKMixin().recommend([0], 1)
