"""The cleaning helpers against plain pandas / numpy references."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from course_utils.data import clean
from course_utils.data.truth import expected_score


def _rows(user, anime, ts) -> clean.ListArrays:
    n = len(user)
    # the episodes column carries each row's position in the file, to see which rows survive
    return clean.ListArrays(np.asarray(user, np.int32), np.asarray(anime, np.int32),
                            np.zeros(n, np.int8), np.full(n, 2, np.int8),
                            np.arange(n, dtype=np.int32), np.zeros(n, np.int8), np.asarray(ts, np.int64))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 3)), max_size=40))
def test_drop_duplicates_keeps_the_latest_like_pandas(entries):
    user = [e[0] for e in entries]
    anime = [e[1] for e in entries]
    ts = [e[2] for e in entries]
    report = clean.Report()
    got = clean.drop_duplicates(_rows(user, anime, ts), report, "f.csv")
    frame = pd.DataFrame({"user": user, "anime": anime, "ts": ts, "pos": range(len(user))})
    expected = (frame.sort_values("ts", kind="stable")
                .drop_duplicates(["user", "anime"], keep="last").sort_values("pos"))
    assert got.episodes.tolist() == expected["pos"].tolist()
    assert report.removed["duplicate_rows"] == len(frame) - len(expected)


def test_lookup_both_ways():
    ids = np.array([3, 7, 20, 21])
    values = np.array([20, 4, 3, 21, 99, -1, 7])
    expected = [2, -1, 0, 3, -1, -1, 1]
    assert clean.lookup(ids, values).tolist() == expected
    big = ids * 10**9  # beyond the lookup table: binary search
    assert clean.lookup(big, values * 10**9).tolist() == expected


def test_interpolated_expected_rating_matches_the_formula():
    from course_utils.data.truth import Truth

    rng = np.random.default_rng(0)
    n = 20_000  # above the size where Truth interpolates
    truth = Truth(mu=7.0, noise_sd=0.9, user_bias=rng.normal(0, 1, n), item_bias=np.zeros(1),
                  user_factors=np.zeros((n, 2)), item_factors=np.zeros((1, 2)),
                  item_pick_logit=np.zeros(1), taste_scale=1.0, item_successor=np.full(1, -1),
                  item_franchise=np.zeros(1), user_continuation=np.zeros(n),
                  phase_drift=np.zeros((0, 2)), user_phase_offset=np.zeros(n + 1, int),
                  user_row_offset=np.zeros(n + 1, int), record_draw=None, record_phase=None,
                  phase_len=25)
    users, items = np.arange(n), np.zeros(n, int)
    exact = expected_score(truth.latent_rating(users, items), 0.9)
    np.testing.assert_allclose(truth.expected_rating(users, items), exact, atol=1e-6)
