"""course_utils.nn: the builder, the model shape, the pipeline, save/load, NumPy Adam."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import course_utils  # noqa: F401  (quiet TensorFlow before it loads)
from course_utils.cache import fingerprint, load_or_fit
from course_utils.config import get_profile
from course_utils.nn import (EmbeddingRegressor, NumpyAdam, NumpySGD, beta_network, beta_params,
                             build_rating_network, keras, make_dataset, tf)


def structured_frame(n_users: int = 60, n_items: int = 40, n: int = 2000,
                     seed: int = 0) -> pd.DataFrame:
    """Ratings with user and item effects and a rank-2 interaction, plus noise."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    bu, bi = rng.normal(0, 1, n_users), rng.normal(0, 1, n_items)
    p, q = rng.normal(0, 1, (n_users, 2)), rng.normal(0, 1, (n_items, 2))
    r = 6 + bu[users] + bi[items] + (p[users] * q[items]).sum(1) + rng.normal(0, 0.5, n)
    return pd.DataFrame({"user": users.astype(np.int32), "item": items.astype(np.int32),
                         "rating": np.clip(np.round(r), 1, 10).astype(np.float32)})


@pytest.fixture(scope="module")
def frames():
    f = structured_frame()
    return f.iloc[:1600].reset_index(drop=True), f.iloc[1600:].reset_index(drop=True)


SMALL = dict(embedding_size=8, dense_units=(16,), epochs=3, batch_size=256, seed=3)


@pytest.fixture(scope="module")
def fitted(frames):
    train, valid = frames
    return EmbeddingRegressor(**SMALL).fit(train, valid)


# ----------------------------------------------------------------------------- builder
def test_builder_has_the_thesis_architecture():
    net = build_rating_network(50, 20, embedding_size=6, dense_units=(12, 4), dropout=0.5)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("Embedding") == 2 and kinds.count("Flatten") == 2
    assert "Concatenate" in kinds
    assert kinds.count("Dropout") == 2  # after each hidden layer
    assert net.get_layer("dropout_1").rate == 0.5
    with_input_dropout = build_rating_network(50, 20, embedding_size=6, dense_units=(12, 4),
                                              embedding_dropout=0.2)
    assert with_input_dropout.get_layer("dropout_0").rate == 0.2
    dense = [layer for layer in net.layers if type(layer).__name__ == "Dense"]
    assert [d.units for d in dense] == [12, 4, 1]
    assert [d.activation.__name__ for d in dense] == ["relu", "relu", "linear"]
    assert net.get_layer("user_embedding").input_dim == 50
    assert net.get_layer("item_embedding").output_dim == 6
    # 50*6 + 20*6 embeddings, 12*12+12, 12*4+4, 4+1
    assert net.count_params() == 300 + 120 + 156 + 52 + 5
    assert net.name == "beta_nn_6"


def test_builder_compiles_mae_loss_adam_and_rmse_metric():
    net = build_rating_network(5, 5, embedding_size=2, dense_units=(2,))
    assert isinstance(net.optimizer, keras.optimizers.Adam)
    assert float(net.optimizer.learning_rate) == pytest.approx(0.001)
    assert net.loss == "mean_absolute_error"
    out = net({"user": np.array([[0], [4]]), "item": np.array([[1], [2]])}, training=False)
    assert tuple(out.shape) == (2, 1)


def test_builder_without_dropout_and_with_initial_rating():
    net = build_rating_network(5, 5, embedding_size=2, dense_units=(3,), dropout=0.0,
                               initial_rating=7.5)
    assert not [layer for layer in net.layers if type(layer).__name__ == "Dropout"]
    assert float(net.get_layer("score").bias.numpy()[0]) == 7.5


@pytest.mark.parametrize("kwargs, phrase", [
    ({"dropout": 1.0}, "dropout"),
    ({"embedding_dropout": -0.1}, "embedding_dropout"),
    ({"loss": "rmse"}, "loss"),
    ({"embedding_size": 0}, "embedding_size"),
    ({"dense_units": (8, 0)}, "dense_units"),
])
def test_builder_rejects_bad_arguments(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase):
        build_rating_network(5, 5, **kwargs)


# ----------------------------------------------------------------------------- pipeline
def test_pipeline_batches_every_row_once_per_epoch(frames):
    train, _ = frames
    ds = make_dataset(train, batch_size=300, shuffle=True, seed=1)
    seen = []
    for inputs, target in ds:
        assert inputs["user"].shape[1:] == (1,) and target.shape[1:] == (1,)
        seen.append(np.c_[inputs["user"].numpy(), inputs["item"].numpy(), target.numpy()])
    rows = np.concatenate(seen)
    assert len(rows) == len(train)
    expected = train[["user", "item", "rating"]].to_numpy(np.float64)
    key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    np.testing.assert_array_equal(key(rows.astype(np.float64)), key(expected))


def test_pipeline_shuffle_is_seeded_and_changes_every_epoch(frames):
    train, _ = frames
    first = lambda ds: [b[0]["user"].numpy().ravel() for b in ds]  # noqa: E731
    a = make_dataset(train, batch_size=400, seed=5)
    b = make_dataset(train, batch_size=400, seed=5)
    epoch1, epoch2 = first(a), first(a)
    np.testing.assert_array_equal(np.concatenate(epoch1), np.concatenate(first(b)))
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(epoch2))
    ordered = make_dataset(train, batch_size=400, shuffle=False)
    np.testing.assert_array_equal(np.concatenate(first(ordered)), train["user"].to_numpy())


@pytest.mark.parametrize("frame, phrase", [
    (pd.DataFrame({"user": [0], "item": [1]}), "rating"),
    (pd.DataFrame({"user": [0.5], "item": [1], "rating": [3.0]}), "integer ids"),
    (pd.DataFrame({"user": [-1], "item": [1], "rating": [3.0]}), "negative"),
    (pd.DataFrame({"user": [0], "item": [1], "rating": [np.nan]}), "NaN"),
    (pd.DataFrame({"user": [], "item": [], "rating": []}, dtype=int), "empty"),
])
def test_bad_frames_get_clear_errors(frame, phrase):
    with pytest.raises(ValueError, match=phrase):
        make_dataset(frame)


# ----------------------------------------------------------------------------- model
def test_fit_records_history_and_learns(frames, fitted):
    train, valid = frames
    h = fitted.history_
    for key in ("loss", "val_loss", "rmse", "val_rmse", "mae", "val_mae"):
        assert len(h[key]) == fitted.epochs_run_
    assert h["loss"][-1] < h["loss"][0]
    mean_rmse = float(np.sqrt(np.mean((valid["rating"] - train["rating"].mean()) ** 2)))
    assert fitted.evaluate(valid)["rmse"] < mean_rmse
    assert fitted.best_epoch_ == int(np.argmin(h["val_loss"])) + 1
    best_val_rmse = h["val_rmse"][fitted.best_epoch_ - 1]
    assert fitted.evaluate(valid)["rmse"] == pytest.approx(best_val_rmse, rel=1e-4)


def test_fit_is_deterministic_for_a_seed(frames, fitted):
    train, valid = frames
    again = EmbeddingRegressor(**SMALL).fit(train, valid)
    assert again.history_ == fitted.history_
    np.testing.assert_array_equal(again.predict([0, 1, 2], [3, 4, 5]),
                                  fitted.predict([0, 1, 2], [3, 4, 5]))


def test_numpy_input_path_trains_the_same_network(frames):
    train, valid = frames
    model = EmbeddingRegressor(**SMALL, use_pipeline=False).fit(train, valid)
    assert model.epochs_run_ == SMALL["epochs"]
    assert model.history_["loss"][-1] < model.history_["loss"][0]


def test_early_stopping_restores_the_best_epoch(frames):
    """Without dropout and with a large step the validation loss turns up early;
    Keras's EarlyStopping stops ``patience`` epochs later and restores the best weights."""
    train, valid = frames
    model = EmbeddingRegressor(embedding_size=32, dense_units=(64,), dropout=0.0,
                               learning_rate=0.1, epochs=40, batch_size=256, patience=2,
                               seed=0, clip=False).fit(train, valid)
    h = model.history_
    assert model.epochs_run_ < 40
    assert model.best_epoch_ == model.epochs_run_ - 2
    restored = model.model_.evaluate(make_dataset(valid, 4096, shuffle=False), verbose=0,
                                     return_dict=True)
    assert restored["loss"] == pytest.approx(min(h["val_loss"]), rel=1e-5)


def test_predict_clips_and_checks_ids(fitted):
    pred = fitted.predict(np.arange(10), np.arange(10))
    lo, hi = fitted.rating_range_
    assert pred.min() >= lo and pred.max() <= hi
    with pytest.raises(ValueError, match="outside the embedding table"):
        fitted.predict([fitted.n_users_], [0])
    with pytest.raises(ValueError, match="pairs"):
        fitted.predict([0, 1], [0])
    with pytest.raises(RuntimeError, match="not fitted"):
        EmbeddingRegressor().predict([0], [0])


def test_recommend_ranks_unseen_items_by_predicted_rating(frames, fitted):
    train, _ = frames
    recs = fitted.recommend([0, 1], k=5)
    assert recs.shape == (2, 5)
    seen0 = set(train.loc[train.user == 0, "item"])
    assert not seen0 & set(recs[0])
    scores = fitted.score([0])[0]
    assert np.all(np.diff(scores[recs[0]]) <= 1e-6)  # best first
    assert recs[0, 0] == max(set(range(fitted.n_items_)) - seen0, key=lambda i: scores[i])


# ----------------------------------------------------------------------------- save/load
def test_save_and_load_round_trip(tmp_path, fitted):
    path = fitted.save(tmp_path / "m.keras", extra={"note": "test"})
    assert path.exists() and path.with_suffix(".json").exists()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["best_epoch_"] == fitted.best_epoch_ and meta["extra"] == {"note": "test"}
    back = EmbeddingRegressor.load(path)
    users, items = np.arange(20) % fitted.n_users_, np.arange(20) % fitted.n_items_
    np.testing.assert_array_equal(back.predict(users, items), fitted.predict(users, items))
    assert back.history_ == fitted.history_
    np.testing.assert_array_equal(back.recommend([0, 3], k=4), fitted.recommend([0, 3], k=4))
    assert back.get_params() == fitted.get_params()


def test_save_refuses_other_formats(tmp_path, fitted):
    with pytest.raises(ValueError, match=".keras"):
        fitted.save(tmp_path / "m.h5")


def test_load_uses_safe_mode(tmp_path, fitted):
    """A .keras file with a Lambda layer (arbitrary Python code) is refused."""
    inp = keras.Input(shape=(1,))
    evil = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp))
    path = tmp_path / "evil.keras"
    evil.save(path)
    (tmp_path / "evil.json").write_text(
        (fitted.save(tmp_path / "ok.keras").with_suffix(".json")).read_text())
    with pytest.raises(ValueError, match="safe_mode"):
        EmbeddingRegressor.load(path)


def test_load_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_or_fit"):
        EmbeddingRegressor.load(tmp_path / "nothing.keras")


def test_load_or_fit_caches_and_retrains_when_data_change(tmp_path, frames):
    train, valid = frames
    cfg = {"nn": {"epochs": 1, "batch_size": 512, "dense_units": [8], "dropout": 0.5}}
    first = load_or_fit(beta_network(cfg, 4), train, valid, directory=tmp_path)
    assert not first.loaded_from_cache_
    assert sorted(p.name for p in first.cache_dir_.iterdir()) == [
        "fit.json", "model.json", "model.keras", "model.seen.npz"]
    second = load_or_fit(beta_network(cfg, 4), train, valid, directory=tmp_path)
    assert second.loaded_from_cache_
    np.testing.assert_array_equal(second.predict([1, 2], [3, 4]), first.predict([1, 2], [3, 4]))
    assert (second.best_epoch_, second.epochs_run_) == (first.best_epoch_, first.epochs_run_)
    changed = train.assign(rating=train["rating"].where(train.index != 0, 1.0))
    third = load_or_fit(beta_network(cfg, 4), changed, valid, directory=tmp_path)
    assert not third.loaded_from_cache_


def test_beta_params_and_fingerprint(frames):
    train, valid = frames
    cfg = get_profile("ci", seed=7)
    params = beta_params(cfg, 128)
    assert params["embedding_size"] == 128 and params["seed"] == 7
    assert params["epochs"] == cfg["nn"]["epochs"]
    net = EmbeddingRegressor(**params)  # every key is a constructor argument
    assert fingerprint(net, train, valid) == fingerprint(beta_network(cfg, 128), train.copy(), valid)
    assert fingerprint(net, train, valid) != fingerprint(net, train, None)
    assert fingerprint(net, train, valid) != fingerprint(beta_network(cfg, 128, seed=8), train, valid)


def test_every_profile_configures_three_beta_networks():
    for name in ("ci", "book", "full"):
        nn = get_profile(name)["nn"]
        assert list(nn["embedding_sizes"]) == [100, 128, 150]
        assert nn["patience"] == 3 and nn["dropout"] == 0.5 and nn["learning_rate"] == 0.001
        EmbeddingRegressor(**beta_params(get_profile(name), 100))


# ----------------------------------------------------------------------------- NumPy Adam
def _keras_trajectory(w0: np.ndarray, grad_fn, steps: int, **adam) -> np.ndarray:
    var = keras.Variable(w0.copy(), dtype="float64")
    opt = keras.optimizers.Adam(**adam)
    path = []
    for _ in range(steps):
        g = tf.constant(grad_fn(np.asarray(var.numpy())), dtype=tf.float64)
        opt.apply_gradients([(g, var)])
        path.append(np.asarray(var.numpy()).copy())
    return np.array(path)


def _numpy_trajectory(w0: np.ndarray, grad_fn, steps: int, opt) -> np.ndarray:
    w, path = w0.copy(), []
    for _ in range(steps):
        w = opt.step(w, grad_fn(w))
        path.append(w.copy())
    return np.array(path)


def _least_squares_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(0, 0.1, 50)
    return (lambda w: 2 * X.T @ (X @ w - y) / len(y)), np.zeros(4)


def test_numpy_adam_matches_keras_to_floating_point_precision():
    grad, w0 = _least_squares_problem()
    ours = _numpy_trajectory(w0, grad, 200, NumpyAdam(learning_rate=0.01))
    theirs = _keras_trajectory(w0, grad, 200, learning_rate=0.01)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_numpy_adam_on_a_list_of_parameters_matches_keras():
    rng = np.random.default_rng(1)
    a0, b0 = rng.normal(size=(3, 2)), rng.normal(size=2)
    opt = NumpyAdam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    va, vb = keras.Variable(a0.copy(), dtype="float64"), keras.Variable(b0.copy(), dtype="float64")
    kopt = keras.optimizers.Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-6)
    a, b = a0.copy(), b0.copy()
    for _ in range(30):
        ga, gb = 2 * a + 1, np.cos(b)  # gradients of a**2 + a and sin(b)
        a, b = opt.step([a, b], [ga, gb])
        kopt.apply_gradients([(tf.constant(2 * va.numpy() + 1), va),
                              (tf.constant(np.cos(vb.numpy())), vb)])
    np.testing.assert_allclose(a, va.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b, vb.numpy(), rtol=1e-12)


def test_the_three_placements_of_epsilon_differ_only_slightly():
    grad, w0 = _least_squares_problem()
    paths = {p: _numpy_trajectory(w0, grad, 100, NumpyAdam(0.01, eps_placement=p))
             for p in ("keras", "paper", "thesis")}
    # paper vs thesis: only where eps sits (eps = 1e-7 next to gradients of order 1)
    assert 0 < np.abs(paths["paper"] - paths["thesis"]).max() < 1e-6
    # keras vs paper: also Keras's float32 learning rate and betas in the bias correction
    assert 0 < np.abs(paths["keras"] - paths["paper"]).max() < 1e-4


def test_numpy_adam_first_step_is_learning_rate_times_sign():
    opt = NumpyAdam(learning_rate=0.1, eps_placement="paper", epsilon=0.0)
    w = opt.step(np.array([1.0, 1.0, -3.0]), np.array([5.0, -0.01, 2.0]))
    np.testing.assert_allclose(w, [0.9, 1.1, -3.1])


def test_numpy_optimizers_validate_their_inputs():
    with pytest.raises(ValueError, match="eps_placement"):
        NumpyAdam(eps_placement="nowhere")
    with pytest.raises(ValueError, match="shape"):
        NumpyAdam().step(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="learning_rate"):
        NumpySGD(learning_rate=0)
    np.testing.assert_allclose(NumpySGD(0.5).step([np.ones(2)], [np.ones(2)])[0], [0.5, 0.5])
