"""course_utils.metrics: hand-computed cases, properties, and two references.

References: scikit-learn (``ndcg_score``, ``mean_squared_error``,
``mean_absolute_error``) and ``ranx`` (NDCG, MRR, recall, precision, hit rate,
MAP). Where ``ranx`` defines a corner differently, the comparison is limited to
the cases where both definitions coincide:

- ``ranx``'s AP divides by ``|relevant|``; ours by ``min(|relevant|, k)`` (the
  issue's convention), so MAP is compared on users with ``|relevant| <= k``;
- a ``ranx`` run is a dict, so it cannot hold a duplicate item: duplicates are
  tested against the plain-Python reference below instead.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils import metrics as M

NAMES = M.RANKING_METRICS
FUNCS = {
    "recall": M.recall_at_k,
    "precision": M.precision_at_k,
    "hit_rate": M.hit_rate_at_k,
    "ndcg": M.ndcg_at_k,
    "mrr": M.mrr_at_k,
    "map": M.map_at_k,
}


# --------------------------------------------------------------------------
# a plain-Python reference, written straight from the conventions
# --------------------------------------------------------------------------
def reference(name: str, recs: list[int], rel: set[int], k: int) -> float:
    """One user's metric, the slow and obvious way (nan without relevant items)."""
    if not rel:
        return math.nan
    seen: set[int] = set()
    hit_ranks = []
    for rank, item in enumerate(recs[:k], start=1):
        if item >= 0 and item in rel and item not in seen:
            hit_ranks.append(rank)
        seen.add(item)
    if name == "recall":
        return len(hit_ranks) / len(rel)
    if name == "precision":
        return len(hit_ranks) / k
    if name == "hit_rate":
        return float(bool(hit_ranks))
    if name == "ndcg":
        dcg = sum(1 / math.log2(r + 1) for r in hit_ranks)
        idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(rel), k) + 1))
        return dcg / idcg
    if name == "mrr":
        return 1 / hit_ranks[0] if hit_ranks else 0.0
    if name == "map":
        return sum((j + 1) / r for j, r in enumerate(hit_ranks)) / min(len(rel), k)
    raise ValueError(name)


def reference_mean(name, recs, rels, k):
    values = [reference(name, r, s, k) for r, s in zip(recs, rels)]
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values)


# --------------------------------------------------------------------------
# hand-computed toy cases
# --------------------------------------------------------------------------
def test_toy_case_by_hand():
    recs, rel = [[1, 2, 3, 4, 5]], [{2, 5, 9}]  # hits at ranks 2 and 5
    assert M.recall_at_k(recs, rel, 5) == pytest.approx(2 / 3)
    assert M.precision_at_k(recs, rel, 5) == pytest.approx(2 / 5)
    assert M.hit_rate_at_k(recs, rel, 5) == 1.0
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg_at_k(recs, rel, 5) == pytest.approx(dcg / idcg)
    assert M.mrr_at_k(recs, rel, 5) == pytest.approx(1 / 2)
    assert M.map_at_k(recs, rel, 5) == pytest.approx((1 / 2 + 2 / 5) / 3)
    # at k = 1 nothing is hit
    for name in NAMES:
        assert FUNCS[name](recs, rel, 1) == 0.0


def test_fewer_than_k_recommendations():
    recs, rel = [[7]], [{7}]
    assert M.recall_at_k(recs, rel, 5) == 1.0
    assert M.precision_at_k(recs, rel, 5) == pytest.approx(1 / 5)  # hits / k
    assert M.ndcg_at_k(recs, rel, 5) == 1.0
    assert M.mrr_at_k(recs, rel, 5) == 1.0
    assert M.map_at_k(recs, rel, 5) == 1.0


def test_duplicate_counts_once():
    recs, rel = [[3, 3, 4]], [{3, 4}]  # the second 3 is a wasted slot
    assert M.recall_at_k(recs, rel, 3) == 1.0
    assert M.precision_at_k(recs, rel, 3) == pytest.approx(2 / 3)
    assert M.ndcg_at_k(recs, rel, 3) == pytest.approx(
        (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert M.map_at_k(recs, rel, 3) == pytest.approx((1 + 2 / 3) / 2)
    # duplicates inside one user's list do not affect another user
    assert M.recall_at_k([[3, 3], [3, 1]], [{3, 1}, {3, 1}], 2, per_user=True).tolist() == [0.5, 1.0]


def test_users_without_relevant_items_are_left_out():
    recs, rel = [[1], [2]], [{1}, set()]
    assert M.recall_at_k(recs, rel, 1) == 1.0
    per_user = M.recall_at_k(recs, rel, 1, per_user=True)
    assert per_user[0] == 1.0 and math.isnan(per_user[1])
    with pytest.raises(ValueError, match="no user has a relevant item"):
        M.recall_at_k([[1]], [set()], 1)


def test_ap_and_ndcg_normalise_by_min_relevant_k():
    recs, rel = [[1, 2]], [{1, 2, 3, 4}]
    assert M.map_at_k(recs, rel, 2) == 1.0
    assert M.ndcg_at_k(recs, rel, 2) == 1.0
    assert M.recall_at_k(recs, rel, 2) == 0.5


def test_thesis_chance_level():
    # thesis 5.3: "if we just random-uniformly guess ... our expected loss is 9.51"
    value = M.uniform_cross_entropy(13_597)
    assert value == pytest.approx(-math.log(1 / 13_597), rel=1e-12)
    assert 9.51 <= value < 9.52  # the thesis truncates 9.5176 to two decimals


# --------------------------------------------------------------------------
# input forms
# --------------------------------------------------------------------------
def test_input_forms_agree():
    recs_list = [[4, 1, 2], [0, 3], [2, 2, 1]]
    recs_arr = np.array([[4, 1, 2], [0, 3, -1], [2, 2, 1]])
    targets = np.array([2, 5, 1])
    sets = [{2}, {5}, {1}]
    padded = np.array([[2, -1], [5, -1], [1, -1]])
    for name, f in FUNCS.items():
        expected = reference_mean(name, recs_list, sets, 3)
        assert f(recs_list, sets, 3) == pytest.approx(expected)
        assert f(recs_arr, targets, 3) == pytest.approx(expected)
        assert f(recs_arr, padded, 3) == pytest.approx(expected)
        assert f(recs_arr.astype(float), [[2], [5], [1]], 3) == pytest.approx(expected)
        assert f(recs_list, [2, 5, 1], 3) == pytest.approx(expected)  # bare ids


def test_evaluate_matches_the_functions():
    rng = np.random.default_rng(0)
    recs = rng.integers(0, 50, size=(30, 25))
    rel = [set(rng.integers(0, 50, size=rng.integers(1, 6)).tolist()) for _ in range(30)]
    report = M.evaluate(recs, rel, ["ndcg@5", "recall@20", "mrr@20", "map@10", "precision@3"])
    assert report["ndcg@5"] == pytest.approx(M.ndcg_at_k(recs, rel, 5))
    assert report["recall@20"] == pytest.approx(M.recall_at_k(recs, rel, 20))
    assert report["mrr@20"] == pytest.approx(M.mrr_at_k(recs, rel, 20))
    assert report["map@10"] == pytest.approx(M.map_at_k(recs, rel, 10))
    assert report["precision@3"] == pytest.approx(M.precision_at_k(recs, rel, 3))
    with pytest.raises(ValueError, match="recall@20"):
        M.evaluate(recs, rel, ["recal@20"])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: M.recall_at_k([[1]], [{1}, {2}], 1), "1 users but relevant has 2"),
        (lambda: M.recall_at_k([[1]], [{1}], 0), "positive integer"),
        (lambda: M.recall_at_k([[1]], [{1}], 2.0), "positive integer"),
        (lambda: M.recall_at_k([[1.5]], [{1}], 1), "integer item ids"),
        (lambda: M.recall_at_k(np.array([1, 2]), [{1}], 1), "must be 2-D"),
        (lambda: M.recall_at_k([], [], 1), "empty"),
        (lambda: M.rmse([1, 2], [1]), "2 values but y_pred has 1"),
        (lambda: M.mae([], []), "empty"),
        (lambda: M.rmse([1, np.nan], [1, 2]), "y_true contains NaN"),
        (lambda: M.coverage_at_k([[5]], 3, 1), "n_items is 3"),
        (lambda: M.popularity_at_k([[5]], [1, 2], 1), "only 2 entries"),
        (lambda: M.hit_matrix([[1]], [{1}], 1, method="fast"), "method must be"),
    ],
)
def test_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# --------------------------------------------------------------------------
# rating metrics and beyond-accuracy measures
# --------------------------------------------------------------------------
def test_rating_metrics_match_sklearn():
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    rng = np.random.default_rng(1)
    y = rng.integers(1, 11, size=500).astype(float)
    p = y + rng.normal(0, 1.3, size=500)
    assert M.rmse(y, p) == pytest.approx(math.sqrt(mean_squared_error(y, p)), rel=1e-12)
    assert M.mae(y, p) == pytest.approx(mean_absolute_error(y, p), rel=1e-12)


def test_rmse_punishes_an_outlier_more_than_mae():
    y = np.array([7, 8, 6, 9, 7.0])
    small = y + np.array([1, -1, 1, -1, 1.0])  # five errors of 1
    outlier = y + np.array([0, 0, 0, 0, 5.0])  # one error of 5, same total
    assert M.mae(small, y) == M.mae(outlier, y) == 1.0
    assert M.rmse(small, y) == 1.0
    assert M.rmse(outlier, y) == pytest.approx(math.sqrt(5))


def test_coverage_and_popularity():
    recs = np.array([[0, 1, -1], [1, 2, 3]])
    assert M.coverage_at_k(recs, n_items=8, k=2) == pytest.approx(3 / 8)
    assert M.coverage_at_k(recs, n_items=8, k=3) == pytest.approx(4 / 8)
    pop = np.array([10.0, 6, 2, 0, 0, 0, 0, 0])
    # user 0: (10 + 6) / 2 = 8, user 1: (6 + 2 + 0) / 3
    assert M.popularity_at_k(recs, pop, k=3) == pytest.approx((8 + 8 / 3) / 2)


# --------------------------------------------------------------------------
# property tests
# --------------------------------------------------------------------------
N_ITEMS = 30


@st.composite
def ranking_cases(draw, allow_duplicates=True, min_len=0):
    n_users = draw(st.integers(1, 8))
    item = st.integers(0, N_ITEMS - 1)
    recs = draw(st.lists(
        st.lists(item, min_size=min_len, max_size=15, unique=not allow_duplicates),
        min_size=n_users, max_size=n_users))
    rels = draw(st.lists(st.sets(item, max_size=8), min_size=n_users, max_size=n_users))
    if not any(rels):
        rels[0] = {draw(item)}
    k = draw(st.integers(1, 20))
    return recs, rels, k


@settings(max_examples=150, deadline=None)
@given(ranking_cases())
def test_matches_plain_python_reference(case):
    recs, rels, k = case
    for name, f in FUNCS.items():
        got = f(recs, rels, k, per_user=True)
        want = np.array([reference(name, r, s, k) for r, s in zip(recs, rels)])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@settings(max_examples=100, deadline=None)
@given(ranking_cases())
def test_both_hit_methods_agree(case):
    recs, rels, k = case
    a = M.hit_matrix(recs, rels, k, method="columns")
    b = M.hit_matrix(recs, rels, k, method="table")
    np.testing.assert_array_equal(a.dense(), b.dense())
    np.testing.assert_array_equal(a.n_relevant, b.n_relevant)


def test_both_hit_methods_agree_over_many_table_blocks():
    # a catalogue of 20,000 items makes the lookup table hold ~100 users per block
    rng = np.random.default_rng(11)
    recs = rng.integers(-1, 20_000, size=(1_000, 30))
    recs[:, 5] = recs[:, 2]  # some duplicates
    rels = [set(rng.integers(0, 20_000, size=rng.integers(0, 12)).tolist()) | {int(r[3])}
            for r in recs]
    a = M.hit_matrix(recs, rels, 30, method="columns")
    b = M.hit_matrix(recs, rels, 30, method="table")
    np.testing.assert_array_equal(a.dense(), b.dense())
    assert a.rows.size > 900


@settings(max_examples=100, deadline=None)
@given(ranking_cases())
def test_bounds(case):
    recs, rels, k = case
    for f in FUNCS.values():
        value = f(recs, rels, k)
        assert 0.0 <= value <= 1.0 + 1e-12


@settings(max_examples=100, deadline=None)
@given(ranking_cases())
def test_recall_and_hit_rate_grow_with_k(case):
    recs, rels, k = case
    for f in (M.recall_at_k, M.hit_rate_at_k):
        assert f(recs, rels, k) <= f(recs, rels, k + 1) + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sets(st.integers(0, N_ITEMS - 1), min_size=1, max_size=10),
                min_size=1, max_size=8),
       st.randoms(use_true_random=False))
def test_perfect_ranking_scores_one(rels, rnd):
    recs = []
    for rel in rels:
        first = sorted(rel)
        rnd.shuffle(first)
        rest = [i for i in range(N_ITEMS) if i not in rel]
        recs.append(first + rest)
    for k in (1, 3, 10):
        assert M.ndcg_at_k(recs, rels, k) == pytest.approx(1.0)
        assert M.map_at_k(recs, rels, k) == pytest.approx(1.0)
        assert M.mrr_at_k(recs, rels, k) == 1.0
        assert M.hit_rate_at_k(recs, rels, k) == 1.0
    longest = max(len(r) for r in rels)
    assert M.recall_at_k(recs, rels, longest) == pytest.approx(1.0)


# --------------------------------------------------------------------------
# references: scikit-learn and ranx on many random cases
# --------------------------------------------------------------------------
def random_cases(seed: int, n_users: int = 300, n_items: int = 60):
    """Distinct-item lists of random lengths and relevant sets of random sizes."""
    rng = np.random.default_rng(seed)
    recs, rels = [], []
    for _ in range(n_users):
        length = int(rng.integers(1, 40))
        recs.append(rng.permutation(n_items)[:length].tolist())
        rels.append(set(rng.choice(n_items, size=int(rng.integers(1, 12)), replace=False).tolist()))
    return recs, rels


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 5, 20])
def test_ndcg_matches_sklearn(seed, k):
    from sklearn.metrics import ndcg_score

    n_items = 60
    recs, rels = random_cases(seed, n_items=n_items)
    # sklearn ranks every item by score: give the list's items decreasing positive
    # scores and the rest 0, and keep users whose list fills the top k
    keep = [i for i, r in enumerate(recs) if len(r) >= k]
    y_true = np.zeros((len(keep), n_items))
    y_score = np.zeros((len(keep), n_items))
    for row, u in enumerate(keep):
        y_true[row, list(rels[u])] = 1
        y_score[row, recs[u]] = np.arange(len(recs[u]), 0, -1)
    ours = M.ndcg_at_k([recs[u] for u in keep], [rels[u] for u in keep], k)
    assert ours == pytest.approx(ndcg_score(y_true, y_score, k=k), rel=1e-10)


# ranx's own numba kernels warn about a uint64 -> int64 cast of its hashed ids
RANX_WARNING = "ignore:unsafe cast from uint64 to int64"


@pytest.fixture(scope="module")
def ranx():
    import ranx  # a pinned test dependency: its absence is a failure, not a skip

    return ranx


def ranx_inputs(ranx, recs, rels):
    # zero-padded query ids: ranx orders its per-query scores by query id
    qrels = ranx.Qrels({f"u{u:07d}": {str(i): 1 for i in rel} for u, rel in enumerate(rels)})
    run = ranx.Run({f"u{u:07d}": {str(i): float(len(r) - j) for j, i in enumerate(r)}
                    for u, r in enumerate(recs)})
    return qrels, run


@pytest.mark.filterwarnings(RANX_WARNING)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [1, 5, 20])
def test_metrics_match_ranx(ranx, seed, k):
    recs, rels = random_cases(100 + seed)
    qrels, run = ranx_inputs(ranx, recs, rels)
    names = {"ndcg": "ndcg", "mrr": "mrr", "recall": "recall",
             "precision": "precision", "hit_rate": "hit_rate"}
    theirs = ranx.evaluate(qrels, run, [f"{n}@{k}" for n in names.values()],
                           return_mean=False, threads=1)
    for ours_name, theirs_name in names.items():
        ours = FUNCS[ours_name](recs, rels, k, per_user=True)
        np.testing.assert_allclose(ours, theirs[f"{theirs_name}@{k}"], rtol=1e-10,
                                   err_msg=ours_name)
    # MAP: ranx divides AP by |relevant|, we by min(|relevant|, k): compare where equal
    both = np.array([len(r) <= k for r in rels])
    if both.any():
        ap = ranx.evaluate(qrels, run, f"map@{k}", return_mean=False, threads=1)
        np.testing.assert_allclose(M.map_at_k(recs, rels, k, per_user=True)[both],
                                   np.asarray(ap)[both], rtol=1e-10)


@pytest.mark.filterwarnings(RANX_WARNING)
def test_map_differs_from_ranx_only_by_the_normaliser(ranx):
    recs, rels = [[1, 2]], [{1, 2, 3, 4}]
    qrels, run = ranx_inputs(ranx, recs, rels)
    theirs = ranx.evaluate(qrels, run, "map@2", threads=1)
    assert M.map_at_k(recs, rels, 2) == pytest.approx(theirs * 4 / 2)


@pytest.mark.filterwarnings(RANX_WARNING)
def test_one_relevant_item_per_user_matches_ranx(ranx):
    """The leave-last-out case of every sequence chapter: 2-D array + 1-D targets."""
    rng = np.random.default_rng(7)
    n_users, n_items, k = 500, 200, 20
    recs = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    targets = rng.integers(0, n_items, n_users)
    qrels, run = ranx_inputs(ranx, recs.tolist(), [{int(t)} for t in targets])
    theirs = ranx.evaluate(qrels, run, ["ndcg@5", "recall@20", "mrr@20"], threads=1)
    ours = M.evaluate(recs, targets, ["ndcg@5", "recall@20", "mrr@20"])
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-10)


def test_errata_numbers_are_right():
    """book/errata/ndcg.md quotes these values of eq. 4.10 and of NDCG: recompute them."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "book" / "errata" / "ndcg.md").read_text()
    cases = [(1, [1]), (1, [2]), (5, [1, 2, 3, 4, 5]), (5, [4, 5])]
    for n_rel, ranks in cases:
        dcg_ln = sum(1 / math.log(r + 1) for r in ranks)
        dcg_2 = sum(1 / math.log2(r + 1) for r in ranks)
        relevant = set(range(100, 100 + n_rel - len(ranks))) | {r for r in ranks}
        recs = [r if r in ranks else -1 for r in range(1, 6)]
        ndcg = M.ndcg_at_k([recs], [relevant], 5)
        row = f"| {dcg_ln:.3f} | {dcg_2:.3f} | {ndcg:.3f} |"
        assert row in text, f"errata row {row} missing from book/errata/ndcg.md"
