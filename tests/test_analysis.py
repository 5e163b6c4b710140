"""Genre profiles, alignment, popularity and coverage (course_utils.analysis)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cosine as scipy_cosine
from scipy.spatial.distance import jensenshannon

from course_utils import metrics
from course_utils.analysis import (beyond_accuracy, compare_models, cosine_similarity,
                                   genre_affinity, genre_alignment, genre_distributions,
                                   genre_matrix, jensen_shannon)

ANIME = pd.DataFrame({"genres": [["Action", "Comedy", "Drama", "Sports"], ["Drama"],
                                 ["Comedy", "Romance"], [], ["Action"]]})


def test_genre_matrix_keeps_the_first_three_genres():
    G, names = genre_matrix(ANIME, top=3)
    assert names == ["Action", "Comedy", "Drama", "Romance"]  # "Sports" is only 4th
    assert G.shape == (5, 4)
    assert G[0].tolist() == [1, 1, 1, 0]
    assert G[3].sum() == 0  # no genres: a zero row
    G_all, names_all = genre_matrix(ANIME, top=None)
    assert "Sports" in names_all and G_all[0].sum() == 4


def test_genre_matrix_names_the_missing_column():
    with pytest.raises(ValueError, match="no column 'genres'"):
        genre_matrix(pd.DataFrame({"title": ["x"]}))


def test_affinity_counts_anime_per_genre_largest_first():
    G, names = genre_matrix(ANIME)
    aff = genre_affinity([0, 1, 2, -1], G, names)
    assert aff.to_dict() == {"Comedy": 2, "Drama": 2, "Action": 1, "Romance": 1}


def test_distributions_sum_to_one_and_ignore_padding():
    G, _ = genre_matrix(ANIME)
    d = genre_distributions(np.array([[0, 1, -1], [3, -1, -1]]), G)
    assert np.isclose(d[0].sum(), 1.0) and d[0].tolist() == pytest.approx([0.25, 0.25, 0.5, 0])
    assert d[1].sum() == 0  # only a genre-less anime: zeros, not NaN
    with pytest.raises(ValueError, match="beyond the genre matrix"):
        genre_distributions([[7]], G)


def test_similarities_match_scipy():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(6), 20), rng.dirichlet(np.ones(6), 20)
    q[0, :3] = 0
    q[0] /= q[0].sum()
    js = jensen_shannon(p, q)
    expected = np.array([jensenshannon(a, b, base=2) ** 2 for a, b in zip(p, q)])
    np.testing.assert_allclose(js, expected, rtol=1e-9, atol=1e-12)
    cos = cosine_similarity(p, q)
    np.testing.assert_allclose(cos, [1 - scipy_cosine(a, b) for a, b in zip(p, q)], rtol=1e-9)
    assert jensen_shannon([[1.0, 0.0]], [[0.0, 1.0]])[0] == 1.0
    assert jensen_shannon(p[:1], p[:1])[0] == pytest.approx(0.0, abs=1e-12)


def test_alignment_favourite_share_per_user():
    G = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.float32)
    histories = [np.array([0, 0, 3]), np.array([2])]
    recs = np.array([[3, 2], [1, -1]])
    out = genre_alignment(histories, recs, G, n_favourite=1)
    # user 0's favourite genre is 0: item 3 has it, item 2 does not; user 1 likes genre 2 only
    assert out["favourite_share"].tolist() == [0.5, 0.0]
    assert out["cosine"].iloc[1] == 0.0 and out["js"].iloc[1] == 1.0
    # item 2 (genre 2) shares nothing with user 0's genres {0, 1}; item 1 nothing with {2}
    assert out["off_taste_share"].tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="one row per history"):
        genre_alignment(histories, recs[:1], G)


def test_beyond_accuracy_reuses_the_metrics_module():
    G = np.eye(4, dtype=np.float32)
    recs = np.array([[0, 1], [1, 2]])
    pop = np.array([0.9, 0.5, 0.1, 0.0])
    out = beyond_accuracy(recs, [np.array([0]), np.array([1])], G, pop, k=2)
    assert out["coverage"] == metrics.coverage_at_k(recs, 4, 2) == 0.75
    assert out["popularity"] == metrics.popularity_at_k(recs, pop, 2)
    table = compare_models({"a": recs, "b": recs[:, ::-1]}, [np.array([0]), np.array([1])],
                           G, pop, k=2)
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "genre_cosine"] == pytest.approx(table.loc["b", "genre_cosine"])
