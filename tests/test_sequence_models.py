"""Keras next-item models of course_utils.sequence.models, on tiny hand-made data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tensorflow  # noqa: F401  (pinned dependency: missing means failure)

from course_utils.baselines import MostPopular  # noqa: E402
from course_utils.metrics import recall_at_k  # noqa: E402
from course_utils.sequence.cells import GRUWeights, gru_forward  # noqa: E402
from course_utils.sequence.models import NextItemModel, build_bilstm, build_gru  # noqa: E402

N_ITEMS = 30


def _cyclic_frame(n_users: int = 60, length: int = 9, seed: int = 0) -> pd.DataFrame:
    """Users walk the cycle 0 → 1 → … → 29 → 0 from a random start: the next item is known."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, N_ITEMS, n_users)
    items = (starts[:, None] + np.arange(length)[None, :]) % N_ITEMS
    return pd.DataFrame({"user": np.repeat(np.arange(n_users), length),
                         "item": items.ravel(),
                         "timestamp": np.tile(np.arange(length), n_users)})


def _split(frame: pd.DataFrame):
    last = frame.groupby("user")["timestamp"].transform("max")
    return frame[frame["timestamp"] < last], frame[frame["timestamp"] == last]


def _small(arch: str, **kw) -> NextItemModel:
    units = (16, 8) if arch == "bilstm" else (16,)
    args = dict(n_items=N_ITEMS, seq_len=4, epochs=12, batch_size=32, embedding_dim=8,
                units=units, dropout=0.0, learning_rate=0.03, patience=3, seed=1)
    args.update(kw)
    return NextItemModel(arch, **args)


def test_bilstm_has_the_thesis_shape():
    model = build_bilstm(n_items=300, seq_len=18, embedding_dim=32)
    assert model.output_shape == (None, 300)
    names = [layer.name for layer in model.layers]
    assert "encoder_bilstm1" in names and "encoder_bilstm2" in names
    d, n1, n2 = 32, 200, 100
    lstm = lambda i, n: 4 * (i * n + n * n + n)  # noqa: E731  (weights of one LSTM)
    expected = (301 * d + 2 * lstm(d, n1) + 2 * lstm(2 * n1, n2) + (2 * n2 + 1) * 300)
    assert model.count_params() == expected


def test_padding_is_masked():
    """A window with leading padding scores like the unpadded window (GRU checked in NumPy)."""
    model = build_gru(n_items=20, seq_len=6, embedding_dim=4, units=(5,), dropout=0.0)
    window = np.array([[0, 0, 0, 3, 9, 4]], dtype=np.int32)
    emb = model.get_layer("item_embedding").get_weights()[0]
    w = GRUWeights.from_keras(model.get_layer("encoder_gru1"))
    _, h = gru_forward(emb[window[:, 3:]], w)  # only the three real items
    dense_w, dense_b = model.get_layer("next_item").get_weights()
    np.testing.assert_allclose(np.asarray(model(window)), h @ dense_w + dense_b, atol=1e-5)


@pytest.fixture(scope="module")
def data():
    return _split(_cyclic_frame())


@pytest.fixture(scope="module")
def fitted(data):
    """One trained model of each architecture, shared by the tests below (training is slow)."""
    train, valid = data
    return {arch: _small(arch).fit(train, valid) for arch in ("gru", "bilstm")}


@pytest.mark.parametrize("arch", ["gru", "bilstm"])
def test_learns_a_deterministic_next_item(arch, data, fitted):
    train, valid = data
    model = fitted[arch]
    assert model.history_["loss"][-1] < 0.5 * np.log(N_ITEMS)   # far below chance
    assert model.best_epoch_ >= 1
    rec = model.recommend(valid["user"].to_numpy(), k=1)
    pop = MostPopular(n_items=N_ITEMS).fit(train).recommend(valid["user"].to_numpy(), k=1)
    truth = valid["item"].to_numpy()
    assert recall_at_k(rec, truth, 1) >= 0.9
    assert recall_at_k(pop, truth, 1) < 0.3


def test_same_seed_same_training(data):
    train, valid = data
    a = _small("gru", epochs=2).fit(train, valid)
    b = _small("gru", epochs=2).fit(train, valid)
    assert a.history_["loss"] == b.history_["loss"]
    np.testing.assert_array_equal(a.score([0, 1]), b.score([0, 1]))


def test_min_delta_sets_what_counts_as_an_improvement(data):
    train, valid = data
    plateau = _small("gru", epochs=8, patience=2).fit(train, valid)
    val = plateau.history_["val_loss"]
    # min_delta 0: the restored epoch is the lowest validation loss
    assert plateau.best_epoch_ == int(np.argmin(val)) + 1
    # an improvement must be at least this large, so only the first epoch counts
    # (the loss does fall: see the plateau run above)
    assert val[1] < val[0]
    strict = _small("gru", epochs=8, patience=2, min_delta=1e6).fit(train, valid)
    assert strict.best_epoch_ == 1
    assert len(strict.history_["loss"]) == 1 + 2
    np.testing.assert_array_equal(strict.score([0, 1]),
                                  _small("gru", epochs=1).fit(train, valid).score([0, 1]))


def test_scores_recommend_observe_and_predict(data):
    train, valid = data
    model = _small("gru", epochs=1).fit(train, valid)
    scores = model.score([0, 3])
    assert scores.shape == (2, N_ITEMS)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(model.predict([3, 0], [5, 7]), [scores[1, 5], scores[0, 7]])
    rec = model.recommend([0], k=N_ITEMS)
    seen = set(train.loc[train["user"] == 0, "item"])
    assert set(rec[0][rec[0] >= 0]).isdisjoint(seen)
    assert (rec[0] == -1).sum() == len(seen)
    # observing the validation item changes the input window and the seen items
    before = model.histories_[0].copy()
    model.observe(valid)
    assert len(model.histories_[0]) == len(before) + 1
    np.testing.assert_allclose(model.score([0]), model.score_histories([model.histories_[0]]))
    # a brand-new user (no history) is scored from padding only
    assert model.score([10_000]).shape == (1, N_ITEMS)


def test_save_and_load_round_trip(tmp_path, data, fitted):
    train, valid = data
    model = fitted["bilstm"]
    path = model.save(tmp_path / "m.keras")
    assert path.with_suffix(".json").exists()
    again = NextItemModel.load(path, histories=train)
    np.testing.assert_allclose(again.score([0, 5]), model.score([0, 5]), rtol=1e-6)
    assert again.history_ == model.history_
    np.testing.assert_array_equal(again.recommend([0, 5], 3), model.recommend([0, 5], 3))
    bare = NextItemModel.load(path)  # the histories saved with the model come back
    np.testing.assert_array_equal(bare.recommend([0, 5], 3), model.recommend([0, 5], 3))
    with pytest.raises(ValueError, match=".keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError, match="load_or_fit"):
        NextItemModel.load(tmp_path / "nothing-here.keras")


def test_clear_errors(data):
    train, valid = data
    with pytest.raises(ValueError, match="bilstm"):
        NextItemModel("transformer").fit(train)
    with pytest.raises(ValueError, match="one row per user"):
        _small("gru").fit(train, pd.concat([valid, valid]))
    with pytest.raises(RuntimeError, match="not fitted"):
        _small("gru").recommend([0], 2)
