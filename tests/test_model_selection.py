"""The library copy of chapter 04's two-step search (course_utils.model_selection)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import model_selection
from course_utils.config import get_profile
from course_utils.mf import ALSMatrixFactorization

pytestmark = pytest.mark.unit


@pytest.fixture
def frames():
    rng = np.random.default_rng(3)
    n_users, n_items, k = 40, 25, 2
    H, G = rng.normal(size=(n_users, k)), rng.normal(size=(n_items, k))
    pairs = pd.DataFrame({"user": rng.integers(0, n_users, 900),
                          "item": rng.integers(0, n_items, 900)}).drop_duplicates()
    score = 6 + (H[pairs["user"]] * G[pairs["item"]]).sum(axis=1) + rng.normal(0, 0.5, len(pairs))
    pairs["rating"] = np.clip(np.round(score), 1, 10)
    cut = int(0.8 * len(pairs))
    return pairs.iloc[:cut].reset_index(drop=True), pairs.iloc[cut:].reset_index(drop=True)


def test_search_is_lambda_first_then_ranks_at_the_best_lambda(frames, tmp_path):
    train, valid = frames
    make = lambda k, lam: ALSMatrixFactorization(rank=k, reg=lam, epochs=4, seed=0)
    regs, ranks = [0.01, 0.1, 1.0], [1, 2, 4]
    scores, models = model_selection.two_step_search(
        make, train, valid, regs=regs, ranks=ranks, start_rank=2, directory=tmp_path)
    # the same numbers as fitting every candidate by hand
    by_hand = {(2, lam): min(make(2, lam).fit(train, valid).history_["valid_rmse"])
               for lam in regs}
    best_lam = min(by_hand, key=by_hand.get)[1]
    for k in ranks:
        by_hand.setdefault((k, best_lam),
                           min(make(k, best_lam).fit(train, valid).history_["valid_rmse"]))
    assert scores.to_dict() == pytest.approx(by_hand, abs=1e-12)
    assert set(models) == set(by_hand)


def test_chosen_mf_reads_the_candidates_back_from_the_cache(frames, tmp_path):
    train, valid = frames
    settings = dict(get_profile("ci")["mf"], sweep_ranks=[1, 2], sweep_regs=[0.03, 0.3],
                    als_rank=2, als_reg=0.3, rank=2, reg=0.3, epochs=3, als_iterations=3)
    sizes = dict(seed=0, n_users=40, n_items=25, directory=tmp_path)
    for kind in ("ALS", "SGD"):
        first = model_selection.chosen_mf(kind, train, valid, settings, **sizes)
        again = model_selection.chosen_mf(kind, train, valid, settings, **sizes)
        assert not first.loaded_from_cache_
        assert again.loaded_from_cache_
        assert (again.rank, again.reg) == (first.rank, first.reg)
        assert again.search_scores_.min() == first.search_scores_.min()
        assert (first.rank, first.reg) == first.search_scores_.idxmin()


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="'ALS' or 'SGD'"):
        model_selection.mf_maker("SVD", {}, seed=0, n_users=1, n_items=1)
