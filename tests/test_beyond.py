"""Chapter 12's models: genre context and causal self-attention (course_utils.sequence)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tensorflow  # noqa: F401  (pinned dependency: missing means failure)

import keras  # noqa: E402

from course_utils.sequence.attention import (SelfAttentionModel, build_sasrec,  # noqa: E402
                                             sasrec_sequence)
from course_utils.sequence.context import (GenreContextModel, build_genre_context,  # noqa: E402
                                           genre_table)

N_ITEMS, N_GENRES, L = 15, 4, 5
GENRES = (np.random.default_rng(0).random((N_ITEMS, N_GENRES)) < 0.4).astype(np.float32)


def _frame(n_users: int = 30, length: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    starts = rng.integers(0, N_ITEMS, n_users)
    items = (starts[:, None] + np.arange(length)[None, :]) % N_ITEMS
    frame = pd.DataFrame({"user": np.repeat(np.arange(n_users), length), "item": items.ravel(),
                          "timestamp": np.tile(np.arange(length), n_users)})
    last = frame["timestamp"] == length - 1
    return frame[~last], frame[last]


def test_genre_table_pads_row_zero():
    table = genre_table(GENRES)
    assert table.shape == (N_ITEMS + 1, N_GENRES)
    assert not table[0].any() and np.array_equal(table[1:], GENRES)
    with pytest.raises(ValueError, match="n_items, n_genres"):
        genre_table(GENRES[0])


def test_genre_context_shapes_and_frozen_lookup():
    net = build_genre_context(N_ITEMS, GENRES, seq_len=L, embedding_dim=6, genre_dim=3,
                              units=(5,))
    assert net.input_shape == (None, L) and net.output_shape == (None, N_ITEMS)
    lookup = net.get_layer("genre_table")
    assert not lookup.trainable
    windows = np.array([[0, 0, 1, 2, 3]], dtype="int32")
    multi_hot = keras.Model(net.input, lookup.output).predict(windows, verbose=0)
    assert multi_hot.shape == (1, L, N_GENRES)
    np.testing.assert_array_equal(multi_hot[0, 2:], GENRES[[0, 1, 2]])  # input = item + 1
    assert not multi_hot[0, :2].any()  # padding has no genres
    assert net.get_layer("item_and_genres").output.shape[-1] == 6 + 3
    with pytest.raises(ValueError, match="one genre row per catalogue item"):
        build_genre_context(N_ITEMS + 1, GENRES, seq_len=L)


def test_genre_context_model_fits_recommends_and_keeps_the_table_frozen(tmp_path):
    train, valid = _frame()
    model = GenreContextModel(GENRES, seq_len=L, epochs=2, batch_size=32, embedding_dim=6,
                              genre_dim=3, units=(8,), seed=3).fit(train, valid)
    recs = model.recommend([0, 1, 2], k=4)
    assert recs.shape == (3, 4)
    np.testing.assert_array_equal(model.model_.get_layer("genre_table").get_weights()[0][1:],
                                  GENRES)
    path = model.save(tmp_path / "gc.keras")
    again = GenreContextModel.load(path, histories=train)
    np.testing.assert_allclose(again.score([0, 1]), model.score([0, 1]), rtol=1e-5)


def test_sasrec_shapes():
    net = build_sasrec(N_ITEMS, seq_len=L, embedding_dim=8, n_blocks=2, n_heads=2)
    assert net.input_shape == (None, L) and net.output_shape == (None, N_ITEMS)
    with pytest.raises(ValueError, match="divisible by n_heads"):
        build_sasrec(N_ITEMS, seq_len=L, embedding_dim=6, n_heads=4)


@pytest.mark.parametrize("t", [0, 2, 3])
def test_attention_is_causal(t):
    """The output at position t does not change when any input after t changes."""
    keras.utils.set_random_seed(0)
    inp, seq = sasrec_sequence(L, N_ITEMS, embedding_dim=8, n_blocks=2, n_heads=2, dropout=0.0)
    encoder = keras.Model(inp, seq)
    rng = np.random.default_rng(t)
    x = rng.integers(0, N_ITEMS + 1, size=(6, L)).astype("int32")
    x[:, 0] = 0  # include padding
    changed = x.copy()
    changed[:, t + 1:] = (x[:, t + 1:] % N_ITEMS) + 1  # every later item replaced
    a, b = encoder.predict(x, verbose=0), encoder.predict(changed, verbose=0)
    np.testing.assert_allclose(a[:, :t + 1], b[:, :t + 1], rtol=1e-5, atol=1e-6)
    assert np.abs(a[:, t + 1:] - b[:, t + 1:]).max() > 1e-4  # the later outputs do move


def test_self_attention_model_fits_saves_and_loads(tmp_path):
    train, valid = _frame()
    model = SelfAttentionModel(n_items=N_ITEMS, seq_len=L, epochs=2, batch_size=32,
                               embedding_dim=8, n_blocks=1, n_heads=2, seed=2).fit(train, valid)
    assert model.recommend([0, 1], k=3).shape == (2, 3)
    assert model.architecture == "sasrec" and model.get_params()["n_blocks"] == 1
    again = SelfAttentionModel.load(model.save(tmp_path / "sa.keras"), histories=train)
    np.testing.assert_allclose(again.score([0]), model.score([0]), rtol=1e-5)


@pytest.mark.notebooks
def test_chapter_12_alignment_table(chapter_results):
    results = chapter_results("12_beyond_the_thesis")
    table = results["alignment_table"]
    for name, row in table.items():
        assert 0 < row["coverage"] <= 1, name
        assert 0 <= row["off_taste_share"] <= 1, name
    assert {"GRU (ids)", "GRU + genres", "Self-attention", "MostPopular"} <= set(table)
    # a random list reaches more of the catalogue than any trained ranking
    assert table["Random"]["coverage"] >= max(row["coverage"] for row in table.values())
    assert results["causal_max_change_before_4"] == 0.0
    low, high = results["recall20_genre_gain_ci"]
    assert low <= high


@pytest.mark.notebooks
def test_chapter_12_networks_end_by_early_stopping(chapter_results):
    """Epochs are a ceiling: every network stops `patience` epochs after its best one."""
    from course_utils.config import get_profile

    results = chapter_results("12_beyond_the_thesis")
    patience = get_profile("ci")["sequence"]["patience"]
    for key in ("gru_ids", "gru_genres", "self_attention"):
        best, run, ceiling = results[f"{key}_epochs"]
        assert run < ceiling, key
        assert run == best + patience, key


@pytest.mark.notebooks
def test_chapter_11_alignment_covers_every_model(chapter_results):
    results = chapter_results("11_recommending_for_a_user")
    names = results["alignment_models"]
    assert {"Random", "MostPopular", "UserItemBias", "Ensemble-Ridge", "BiLSTM",
            "GRU"} <= set(names)
    coverage = {k: v for k, v in results.items() if k.startswith("coverage_")}
    assert len(coverage) == len(names)
    assert all(0 < v <= 1 for v in coverage.values())
    # a rating model's list leans on what everyone scores well; a sequence model's does not
    overlap = results["overlap_with_item_bias"]
    assert overlap["Ensemble-Ridge"] > overlap["BiLSTM"]


@pytest.mark.notebooks
def test_chapter_11_written_alignment_agrees_with_the_library(chapter_results):
    results = chapter_results("11_recommending_for_a_user")
    # the same float64 shares, averaged in another order: they differ by a few ulps of 1
    assert results["compare_models_max_diff"] <= 1e-14
    assert results["genre_alignment_max_diff"] <= 1e-14


@pytest.mark.notebooks
def test_chapter_12_written_models_agree_with_the_library(chapter_results):
    results = chapter_results("12_beyond_the_thesis")
    for name in ("genre_context", "self_attention"):
        mine, library = results[f"{name}_params"]
        assert mine == library > 0, name
        # the same layers in the same order with the library's weights: bit-identical on CPU
        assert results[f"{name}_max_diff"] == 0.0, name
    # NumPy's head (partly float64) against Keras's float32 head: a few float32 roundings
    # of the largest output (eps = 1.2e-7); the attention weights lie in [0, 1]
    eps = float(np.finfo(np.float32).eps)
    assert results["attention_toy_max_diff"] <= 4 * eps * results["attention_toy_scale"]
    assert results["attention_toy_weights_max_diff"] <= 4 * eps


@pytest.mark.notebooks
def test_chapter_11_runs_without_watch_order(tmp_path):
    """On the CooperUnion sample (no timestamps) chapter 11 skips its sequence parts,
    says so in one printed line, and runs the rest."""
    import nbformat
    from test_data_chapters import FIXTURES, _run_on

    results = _run_on("11_recommending_for_a_user", "kaggle_cooper",
                      FIXTURES / "cooper_sample", tmp_path)
    names = set(results["alignment_models"])
    assert {"Random", "MostPopular", "UserItemBias", "MF (SGD)", "MF (ALS)"} <= names
    assert not names & {"BiLSTM", "GRU", "ItemToItemMarkov"}
    assert "recent_alignment" not in results
    assert results["compare_models_max_diff"] <= 1e-14
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("name") == "stderr"]
    lines = [line for o in outputs if o.get("output_type") == "stream"
             for line in o["text"].splitlines()]
    skipped = [line for line in lines if line.startswith("Skipped:")]
    assert len(skipped) == 1 and "no timestamps" in skipped[0], skipped
