"""The NumPy cells of course_utils.sequence.cells agree with Keras' layers."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.sequence import cells
from course_utils.sequence.cells import (GRUWeights, LSTMWeights, RNNWeights, gru_forward,
                                         lstm_forward, rnn_forward, rnn_state_jacobians)

import keras

B, T, D, N = 3, 6, 5, 4
TOL = 1e-5


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    # row 0: no padding; row 1: two padded steps in front; row 2: one at the end
    mask = np.ones((B, T), dtype=bool)
    mask[1, :2] = False
    mask[2, -1] = False
    return rng, x, mask


def _keras_run(layer, x, mask=None):
    seq = np.asarray(layer(x, mask=None if mask is None else mask))
    return seq


def _random_keras_weights(layer, rng):
    """Non-trivial weights (biases too) so that every term of the equations counts."""
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32)
                       for w in layer.get_weights()])


@pytest.mark.parametrize("with_mask", [False, True])
def test_rnn_matches_keras(data, with_mask):
    rng, x, mask = data
    layer = keras.layers.SimpleRNN(N, return_sequences=True)
    layer.build((None, T, D))
    _random_keras_weights(layer, rng)
    m = mask if with_mask else None
    ours, h_T = rnn_forward(x, RNNWeights.from_keras(layer), mask=m)
    np.testing.assert_allclose(ours, _keras_run(layer, x, m), atol=TOL)
    np.testing.assert_allclose(h_T, ours[:, -1], atol=0)


@pytest.mark.parametrize("with_mask", [False, True])
def test_lstm_matches_keras(data, with_mask):
    rng, x, mask = data
    layer = keras.layers.LSTM(N, return_sequences=True, return_state=True)
    layer.build((None, T, D))
    _random_keras_weights(layer, rng)
    m = mask if with_mask else None
    seq, h_k, c_k = (np.asarray(a) for a in layer(x, mask=m))
    ours, (h_T, c_T) = lstm_forward(x, LSTMWeights.from_keras(layer), mask=m)
    np.testing.assert_allclose(ours, seq, atol=TOL)
    np.testing.assert_allclose(h_T, h_k, atol=TOL)
    np.testing.assert_allclose(c_T, c_k, atol=TOL)


@pytest.mark.parametrize("with_mask", [False, True])
def test_gru_matches_keras(data, with_mask):
    rng, x, mask = data
    layer = keras.layers.GRU(N, return_sequences=True)
    layer.build((None, T, D))
    _random_keras_weights(layer, rng)
    m = mask if with_mask else None
    ours, _ = gru_forward(x, GRUWeights.from_keras(layer), mask=m)
    np.testing.assert_allclose(ours, _keras_run(layer, x, m), atol=TOL)


def test_weights_round_trip_into_keras(data):
    """Weights made in NumPy load into Keras and give the same outputs."""
    rng, x, _ = data
    w = LSTMWeights.init(D, N, rng)
    layer = keras.layers.LSTM(N, return_sequences=True)
    layer.build((None, T, D))
    layer.set_weights([a.astype(np.float32) for a in w.to_keras()])
    np.testing.assert_allclose(lstm_forward(x, w)[0], np.asarray(layer(x)), atol=TOL)


def test_keras_initial_forget_bias_is_one():
    layer = keras.layers.LSTM(N)
    layer.build((None, T, D))
    b = LSTMWeights.from_keras(layer).b
    np.testing.assert_array_equal(b[N : 2 * N], 1.0)
    np.testing.assert_array_equal(LSTMWeights.init(D, N, np.random.default_rng(0)).b, b)


def test_masked_steps_carry_the_state(data):
    rng, x, mask = data
    w = GRUWeights.init(D, N, rng)
    seq, _ = gru_forward(x, w, mask=mask)
    np.testing.assert_array_equal(seq[1, :2], 0.0)          # nothing before the first item
    np.testing.assert_array_equal(seq[2, -1], seq[2, -2])   # padding after: state kept
    # leading padding is the same as starting later
    alone, _ = gru_forward(x[1:2, 2:], w)
    np.testing.assert_allclose(seq[1, 2:], alone[0], atol=1e-12)


def test_state_jacobians_match_autodiff():
    import tensorflow as tf
    rng = np.random.default_rng(3)
    w = RNNWeights.init(2, 3, rng)
    w = RNNWeights(w.W, 1.5 * w.U, rng.normal(0, 0.1, 3))
    x = rng.normal(size=(5, 2))
    ours = rnn_state_jacobians(x, w)
    W, U, b = (tf.constant(a) for a in (w.W, w.U, w.b))
    h = [tf.zeros((1, 3), tf.float64)]
    with tf.GradientTape(persistent=True) as tape:
        for t in range(5):
            tape.watch(h[-1])
            h.append(tf.tanh(tf.constant(x[t : t + 1]) @ W + h[-1] @ U + b))
        last = h[-1]
    for t in range(5):
        jac = tape.jacobian(last, h[t + 1])[0, :, 0, :].numpy()  # (out, in)
        assert ours[t] == pytest.approx(np.linalg.norm(jac, 2), rel=1e-9)


def test_vanishing_and_exploding():
    rng = np.random.default_rng(0)
    x = np.zeros((30, 1))
    small = RNNWeights(np.zeros((1, 4)), 0.5 * np.linalg.qr(rng.normal(size=(4, 4)))[0],
                       np.zeros(4))
    norms = rnn_state_jacobians(x, small)
    assert norms[0] == pytest.approx(0.5 ** 29)  # orthogonal U times 0.5, tanh'(0) = 1
    big = RNNWeights(np.zeros((1, 4)), 2.0 * np.eye(4), np.zeros(4))
    assert rnn_state_jacobians(x, big)[0] == pytest.approx(2.0 ** 29)


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="4 gate"):
        LSTMWeights(np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="reset_after"):
        GRUWeights(np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9))
    w = RNNWeights.init(2, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="features"):
        rnn_forward(np.zeros((1, 4, 5)), w)
    with pytest.raises(ValueError, match="mask"):
        rnn_forward(np.zeros((1, 4, 2)), w, mask=np.ones((1, 3), bool))


def test_sigmoid_is_stable():
    z = np.array([-800.0, -1.0, 0.0, 2.0, 800.0])
    with np.errstate(over="raise"):
        s = cells.sigmoid(z)
    from scipy.special import expit

    np.testing.assert_allclose(s, expit(z), rtol=1e-15, atol=0)


def test_the_gru_cho_reference_is_kerass_reset_before_gru():
    """The checker of exercise 09.gru_cho agrees with keras.layers.GRU(reset_after=False)."""
    import keras

    from course_utils.exercises.ch09 import _gru_cho_right

    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 1, 5)).astype("float32")
    h0 = rng.normal(size=(4, 6)).astype("float32")
    layer = keras.layers.GRU(6, reset_after=False)
    out = layer(x, initial_state=[h0]).numpy()
    W, U, b = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    ours = _gru_cho_right(x[:, 0].astype(np.float64), h0.astype(np.float64), W, U, b)
    assert np.abs(ours - out).max() < 1e-5
