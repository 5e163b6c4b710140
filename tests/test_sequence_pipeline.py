"""Frames, windows and batches of course_utils.sequence.pipeline (TensorFlow only for
fresh_epochs's dataset; nothing is trained)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.data import leave_last_out, make_windows
from course_utils.sequence.pipeline import (fresh_epochs, histories_from_frame, last_windows,
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


def _epochs(data, steps, epochs):
    """The targets each epoch of a fresh_epochs stream delivers, and the inputs with them."""
    batches = list(data.take(steps * epochs).as_numpy_iterator())
    per = [batches[e * steps:(e + 1) * steps] for e in range(epochs)]
    return ([np.concatenate([b[1] for b in epoch]) for epoch in per],
            [np.concatenate([b[0]["x"] for b in epoch]) for epoch in per])


def test_fresh_epochs_bring_windows_the_earlier_epochs_did_not_see():
    n, batch, per_epoch = 50, 4, 10                    # 3 batches = 12 windows per epoch
    targets = np.arange(n)                             # a window's target is its id here
    inputs = {"x": np.arange(n) * 10}                  # a dict, as for the genre model
    data, steps = fresh_epochs(inputs, targets, batch, per_epoch, epochs=6, seed=3)
    assert steps == 3
    ids, xs = _epochs(data, steps, 6)
    for epoch_ids, epoch_x in zip(ids, xs):
        assert len(epoch_ids) == 12
        np.testing.assert_array_equal(epoch_x, epoch_ids * 10)   # inputs stay with targets
    first_pass = np.concatenate(ids)[:n]
    assert sorted(first_pass.tolist()) == list(range(n))       # every window once per pass
    assert len(set(np.concatenate(ids[:4]).tolist())) == 48    # 4 epochs: 48 different windows
    again, _ = _epochs(*fresh_epochs(inputs, targets, batch, per_epoch, epochs=6, seed=3), 6)
    for a, b in zip(ids, again):                               # seeded: the same stream
        np.testing.assert_array_equal(a, b)
