"""Views and splits: explicit scores, seeded splits, sequences, leave-last-out, windows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.data import (explicit, history_length_percentiles, leave_last_out, load,
                               make_windows, sequences, split_explicit)

SAMPLE = Path(__file__).parent / "fixtures" / "data" / "kaggle_sample"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return load("kaggle", data_dir=SAMPLE, cache_dir=tmp_path_factory.mktemp("cache"))


def test_explicit_drops_zeros_and_keeps_the_rest(sample):
    ratings = explicit(sample)
    scored = sample.interactions[sample.interactions["rating"] > 0]
    assert list(ratings.columns) == ["user", "item", "rating"]
    assert len(ratings) == len(scored) == 16  # 18 kept entries, 2 of them unscored
    assert ratings["rating"].between(1, 10).all()
    np.testing.assert_array_equal(ratings["rating"].to_numpy(), scored["rating"].to_numpy())


def test_ids_are_contiguous_with_mappings_back(sample):
    inter = sample.interactions
    assert set(inter["user"]) == set(range(sample.n_users))
    assert set(inter["item"]) == set(range(sample.n_items))
    assert sample.usernames[sample.users_of(["bskai"])[0]] == "bskai"
    assert sample.item_titles[sample.items_of([5114])[0]] == "Fullmetal Alchemist: Brotherhood"
    assert sample.items_of([424242]).tolist() == [-1]


def test_split_is_a_seeded_partition():
    frame = pd.DataFrame({"user": np.arange(1000) % 37, "item": np.arange(1000) % 91,
                          "rating": np.arange(1000) % 10 + 1.0})
    train, valid, test = split_explicit(frame, 0.1, 0.2, seed=3)
    assert (len(train), len(valid), len(test)) == (700, 100, 200)
    keys = lambda f: set(zip(f["user"], f["item"], f["rating"]))  # noqa: E731
    assert keys(train) | keys(valid) | keys(test) == keys(frame)
    assert not (keys(train) & keys(test)) and not (keys(valid) & keys(test))
    again = split_explicit(frame, 0.1, 0.2, seed=3)
    pd.testing.assert_frame_equal(test, again[2])
    other = split_explicit(frame, 0.1, 0.2, seed=4)
    assert not test.equals(other[2])


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum to less than 1"):
        split_explicit(pd.DataFrame({"rating": [1.0]}), 0.6, 0.5, seed=0)


def test_sequences_follow_my_last_updated(sample):
    seqs = sequences(sample)
    red = sample.users_of(["RedvelvetDaisuki"])[0]
    # the file lists anime 1, 121, 5114; their updates are 2011-12, 2012-01, 2012-06
    assert sample.anime["anime_id"].to_numpy()[seqs[red]].tolist() == [1, 121, 5114]
    damon = sample.users_of(["Damonashu"])[0]
    # 30 (2009-12-31) before 20 (2010-05) before 1735 (2011); 6 is on hold, 121 has status 0
    assert sample.anime["anime_id"].to_numpy()[seqs[damon]].tolist() == [30, 20, 1735]
    assert sum(len(s) for s in seqs) == len(sample.interactions)


def test_leave_last_out():
    seqs = [np.array([1, 2, 3, 4]), np.array([5, 6]), np.array([7, 8, 9])]
    split = leave_last_out(seqs)
    assert split.users.tolist() == [0, 2]
    assert split.valid_items.tolist() == [3, 8] and split.test_items.tolist() == [4, 9]
    assert [t.tolist() for t in split.train] == [[1, 2], [5, 6], [7]]
    assert [t.tolist() for t in split.test_inputs] == [[1, 2, 3], [7, 8]]
    assert [t.tolist() for t in split.valid_inputs] == [[1, 2], [7]]


def _windows_by_loop(histories, L, min_context=1):
    X, y = [], []
    for h in histories:
        for t in range(min_context, len(h)):
            ctx = [i + 1 for i in h[max(0, t - L):t]]
            X.append([0] * (L - len(ctx)) + ctx)
            y.append(h[t])
    return np.array(X, dtype=np.int32).reshape(-1, L), np.array(y, dtype=np.int32)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=12), max_size=8), st.integers(1, 6),
       st.integers(1, 3))
def test_make_windows_matches_a_plain_loop(hists, L, min_context):
    histories = [np.array(h, dtype=np.int64) for h in hists]
    X, y = make_windows(histories, L, min_context=min_context)
    X2, y2 = _windows_by_loop(hists, L, min_context)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_make_windows_with_a_pad_above_the_ids():
    X, y = make_windows([np.array([0, 1, 2])], L=3, pad_id=3)
    assert X.tolist() == [[3, 3, 0], [3, 0, 1]] and y.tolist() == [1, 2]
    with pytest.raises(ValueError, match="collides"):
        make_windows([np.array([0, 5])], L=2, pad_id=5)


def test_history_length_percentiles(sample):
    seqs = sequences(sample)
    pct = history_length_percentiles(sample, (5, 10, 50))
    np.testing.assert_allclose(pct.to_numpy(), np.percentile([len(s) for s in seqs], [5, 10, 50]))
    assert pct.index.tolist() == [5, 10, 50]
