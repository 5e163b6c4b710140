"""Frames, windows and batches of course_utils.sequence.pipeline (no TensorFlow needed)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import leave_last_out, make_windows
from course_utils.sequence.pipeline import (histories_from_frame, last_windows, sample_windows,
                                            split_frames)


@pytest.fixture
def seqs():
    rng = np.random.default_rng(1)
    return [rng.choice(50, size=n, replace=False) for n in (2, 3, 7, 25, 40)]


def test_split_frames_round_trip(seqs):
    split = leave_last_out(seqs)
    train, valid, test = split_frames(split)
    assert list(train.columns) == ["user", "item", "timestamp"]
    # train + valid + test, sorted by time, gives back every user's full sequence
    full = histories_from_frame(pd.concat([test, train, valid]), n_users=len(seqs))
    for ours, original in zip(full, seqs):
        np.testing.assert_array_equal(ours, original)
    np.testing.assert_array_equal(valid["user"], split.users)
    np.testing.assert_array_equal(test["item"], split.test_items)


def test_histories_from_frame_orders_by_time_and_keeps_empty_users():
    f = pd.DataFrame({"user": [2, 2, 0, 2], "item": [9, 8, 1, 7], "timestamp": [5, 1, 3, 1]})
    h = histories_from_frame(f, n_users=4)
    assert [x.tolist() for x in h] == [[1], [], [8, 7, 9], []]  # ties keep row order


def test_histories_from_frame_errors():
    with pytest.raises(ValueError, match="column 'item'"):
        histories_from_frame(pd.DataFrame({"user": [0]}))
    with pytest.raises(ValueError, match="n_users"):
        histories_from_frame(pd.DataFrame({"user": [3], "item": [0]}), n_users=2)


def test_last_window_is_the_window_make_windows_gives_the_next_item(seqs):
    L = 6
    for h in seqs:
        X, y = make_windows([np.append(h, 999)], L)
        np.testing.assert_array_equal(last_windows([h], L)[0], X[-1])
        assert y[-1] == 999


def test_sample_windows_is_a_seeded_subset(seqs):
    X_all, y_all = make_windows(seqs, 5)
    X, y = sample_windows(seqs, 5, max_sequences=10, rng=np.random.default_rng(3))
    X2, y2 = sample_windows(seqs, 5, max_sequences=10, rng=np.random.default_rng(3))
    assert X.shape == (10, 5)
    np.testing.assert_array_equal(X, X2)
    rows = {tuple(r) + (t,) for r, t in zip(X_all.tolist(), y_all.tolist())}
    assert all(tuple(r) + (t,) in rows for r, t in zip(X.tolist(), y.tolist()))
    X3, _ = sample_windows(seqs, 5, max_sequences=None, rng=np.random.default_rng(0))
    assert len(X3) == len(X_all)
