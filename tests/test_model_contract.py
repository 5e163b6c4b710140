"""One contract for every model family (course_utils.model): each case fits on tiny data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from course_utils import baselines, metrics, mf
from course_utils.ensemble import StackingEnsemble


@pytest.fixture(scope="module")
def ratings():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 25, 500), "item": rng.integers(0, 15, 500)})
    frame["rating"] = (4.0 + frame.user % 3 + frame.item % 4).astype(float)
    frame["timestamp"] = np.arange(len(frame))
    return frame.iloc[:400].reset_index(drop=True), frame.iloc[400:].reset_index(drop=True)


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(20), 8)
    items = (users + np.tile(np.arange(8), 20)) % 12
    train = pd.DataFrame({"user": users, "item": items, "timestamp": np.arange(users.size)})
    valid = pd.DataFrame({"user": np.arange(20), "item": rng.integers(0, 12, 20)})
    return train, valid


def _nn():
    from course_utils.nn import EmbeddingRegressor
    return EmbeddingRegressor(embedding_size=4, dense_units=(4,), epochs=2, batch_size=64)


def _seq(kind):
    def make():
        from course_utils.sequence.models import NextItemModel
        from course_utils.sequence.attention import SelfAttentionModel
        from course_utils.sequence.context import GenreContextModel
        small = dict(seq_len=4, epochs=2, embedding_dim=4, batch_size=32)
        if kind == "sasrec":
            return SelfAttentionModel(n_blocks=1, n_heads=1, **small)
        if kind == "genres":
            genres = np.eye(12, 3, dtype=np.float32)
            return GenreContextModel(genres, genre_dim=2, units=(4,), **small)
        return NextItemModel(kind, units=(4,), **small)
    return make


def _spark():
    from course_tools.spark_session import get_spark
    from course_utils.spark import SparkALS
    return SparkALS(rank=2, epochs=2, num_blocks=1, spark=get_spark())


integration = pytest.mark.integration
EXPLICIT = {
    "sgd": lambda: mf.SGDMatrixFactorization(rank=2, epochs=5, patience=1),
    "als": lambda: mf.ALSMatrixFactorization(rank=2, epochs=5, patience=1),
    "global_mean": baselines.GlobalMean,
    "user_bias": baselines.UserBias,
    "item_bias": baselines.ItemBias,
    "user_item_bias": lambda: baselines.UserItemBias(epochs=2),
    "stacking": lambda: StackingEnsemble({"u": baselines.UserBias(), "i": baselines.ItemBias()},
                                         method="holdout", blend_frac=0.2),
}
IMPLICIT = {
    "random": baselines.Random,
    "most_popular": baselines.MostPopular,
    "markov": baselines.ItemToItemMarkov,
}
CASES = ([pytest.param(make, "explicit", id=name) for name, make in EXPLICIT.items()]
         + [pytest.param(make, "implicit", id=name) for name, make in IMPLICIT.items()]
         + [pytest.param(_nn, "explicit", id="embedding_regressor", marks=integration),
            pytest.param(_spark, "explicit", id="spark_als", marks=integration)]
         + [pytest.param(_seq(k), "sequence", id=f"next_item_{k}", marks=integration)
            for k in ("gru", "bilstm", "sasrec", "genres")])
# the validation curve each model chooses its epoch on (the others: Keras's val_loss)
VALID_CURVE = {"sgd": "valid_rmse", "als": "valid_rmse"}
# models that choose an epoch on the validation data
SELECTS_EPOCH = {"sgd", "als", "embedding_regressor", "next_item_gru", "next_item_bilstm",
                 "next_item_sasrec", "next_item_genres"}


@pytest.mark.parametrize("make, kind", CASES)
def test_model_contract(make, kind, request, ratings, sequences, tmp_path):
    name = request.node.callspec.id
    if name == "spark_als":  # leave no session behind: other files start their own
        from course_tools.spark_session import stop_spark
        request.addfinalizer(stop_spark)
    train, valid = sequences if kind == "sequence" else ratings
    model = make()
    params = model.get_params()

    # __init__ stores its arguments; clone round-trips them
    copy = clone(model)
    assert type(copy) is type(model) and copy.get_params().keys() == params.keys()
    with pytest.raises(RuntimeError, match="not fitted"):
        copy.predict([0], [0])

    # fit returns self; learned attributes; best_epoch_ None without validation data
    assert model.fit(train) is model
    assert model.fit_seconds_ > 0
    assert model.best_epoch_ is None
    assert model.get_params().keys() == params.keys()

    # with validation data, best_epoch_ is the epoch (from 1) of the lowest validation
    # curve, and the model keeps that epoch's parameters (or None if no epoch is chosen)
    with_valid = clone(model).fit(train, valid)
    if name in SELECTS_EPOCH:
        curve = with_valid.history_[VALID_CURVE.get(name, "val_loss")]
        assert with_valid.best_epoch_ == int(np.argmin(curve)) + 1
        # early stopping: training ends `patience` epochs after the best one, or at the budget
        fit_params = with_valid.get_params()
        assert len(curve) == min(fit_params["epochs"],
                                 with_valid.best_epoch_ + fit_params["patience"])
        best = curve[with_valid.best_epoch_ - 1]
        if name in ("sgd", "als"):          # the validation RMSE of the kept parameters
            kept = metrics.rmse(valid["rating"], with_valid.predict(valid["user"], valid["item"]))
            assert kept == pytest.approx(best, rel=1e-9)
        elif name == "embedding_regressor":  # its loss is the MAE (float32 inside Keras)
            kept = metrics.mae(valid["rating"], with_valid.predict(valid["user"], valid["item"]))
            assert kept == pytest.approx(best, rel=1e-4)
    else:
        assert with_valid.best_epoch_ is None

    # predict, score, recommend; save/load reproduces them
    users = np.array([0, 1, 2, 3])
    items = np.array([3, 2, 1, 0])
    path = model.save(tmp_path / f"model{model.file_suffix}")
    loaded = type(model).load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params(deep=False).keys() == params.keys()
    np.testing.assert_allclose(loaded.predict(users, items), model.predict(users, items),
                               rtol=1e-6, atol=1e-6)
    assert model.score(users).shape == (4, model.n_items_)
    np.testing.assert_array_equal(loaded.recommend(users, k=3), model.recommend(users, k=3))
    assert loaded.fit_seconds_ == pytest.approx(model.fit_seconds_)
