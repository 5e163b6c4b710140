"""Recurrent cells written in NumPy: the forward pass of RNN, LSTM and GRU.

Each function is the textbook equation, one line per gate, with the weight
layout of the matching Keras layer so that weights can be copied across and the
outputs compared (``tests/test_sequence_cells.py`` does exactly that, to 1e-5).

Notation (one time step, a batch of ``B`` rows, ``d`` inputs, ``n`` units)::

    x_t : (B, d)      input at step t
    h_t : (B, n)      hidden state (the output of the cell)
    c_t : (B, n)      LSTM cell state (the "long-term memory")
    W   : (d, G*n)    input kernel      (Keras ``kernel``)
    U   : (n, G*n)    recurrent kernel  (Keras ``recurrent_kernel``)
    b   : (G*n,)      bias              (GRU: two rows, input and recurrent)

with ``G`` = 1 (RNN), 4 (LSTM: gates i, f, candidate g, o) or 3 (GRU: z, r,
candidate). Inputs are row vectors, so a product reads ``x_t @ W``.

Masking: a boolean ``mask`` of shape ``(B, T)`` marks real steps. At a masked
(padded) step the state is carried over unchanged, which is what Keras does
when an ``Embedding(mask_zero=True)`` feeds the recurrent layer.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> w = LSTMWeights.init(input_dim=3, units=4, rng=rng)
>>> x = rng.normal(size=(2, 5, 3))          # batch 2, 5 steps, 3 features
>>> h_seq, (h_T, c_T) = lstm_forward(x, w)
>>> h_seq.shape, h_T.shape
((2, 5, 4), (2, 4))
>>> bool(np.allclose(h_seq[:, -1], h_T))
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "sigmoid",
    "RNNWeights",
    "LSTMWeights",
    "GRUWeights",
    "rnn_step",
    "lstm_step",
    "gru_step",
    "rnn_forward",
    "lstm_forward",
    "gru_forward",
    "rnn_state_jacobians",
]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-z))``, computed without overflow.

    Example
    -------
    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _glorot(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (rows + cols))
    return rng.uniform(-limit, limit, size=(rows, cols))


def _weights_of(layer: Any) -> list[np.ndarray]:
    """The weights of a Keras recurrent layer (or its cell), as float64 arrays."""
    cell = getattr(layer, "cell", layer)
    values = [np.asarray(w, dtype=np.float64) for w in cell.get_weights()]
    if len(values) != 3:
        raise ValueError(
            f"expected kernel, recurrent_kernel and bias in {type(layer).__name__}, "
            f"got {len(values)} arrays; build the layer with use_bias=True"
        )
    return values


def _check_shapes(name: str, W: np.ndarray, U: np.ndarray, gates: int) -> None:
    n = U.shape[0]
    if U.shape != (n, gates * n) or W.shape[1] != gates * n:
        raise ValueError(
            f"{name}: kernel {W.shape} and recurrent kernel {U.shape} do not fit "
            f"{gates} gate(s) of {n} units (expected (d, {gates * n}) and ({n}, {gates * n}))"
        )


@dataclass(frozen=True)
class RNNWeights:
    """Weights of a simple (Elman) RNN cell: ``W (d, n)``, ``U (n, n)``, ``b (n,)``."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        _check_shapes("RNN", self.W, self.U, 1)

    @property
    def units(self) -> int:
        return self.U.shape[0]

    @classmethod
    def init(cls, input_dim: int, units: int, rng: np.random.Generator) -> "RNNWeights":
        """Random weights (Glorot-uniform kernels, zero bias)."""
        return cls(_glorot(rng, input_dim, units), _glorot(rng, units, units), np.zeros(units))

    @classmethod
    def from_keras(cls, layer: Any) -> "RNNWeights":
        """Copy the weights of a built ``keras.layers.SimpleRNN``."""
        return cls(*_weights_of(layer))

    def to_keras(self) -> list[np.ndarray]:
        """The list for ``keras_layer.set_weights(...)``."""
        return [self.W, self.U, self.b]


@dataclass(frozen=True)
class LSTMWeights:
    """Weights of an LSTM cell; columns in Keras order: input, forget, candidate, output."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        _check_shapes("LSTM", self.W, self.U, 4)

    @property
    def units(self) -> int:
        return self.U.shape[0]

    @classmethod
    def init(cls, input_dim: int, units: int, rng: np.random.Generator,
             forget_bias: float = 1.0) -> "LSTMWeights":
        """Random weights; the forget gate's bias starts at ``forget_bias`` (as in Keras)."""
        b = np.zeros(4 * units)
        b[units : 2 * units] = forget_bias
        return cls(_glorot(rng, input_dim, 4 * units), _glorot(rng, units, 4 * units), b)

    @classmethod
    def from_keras(cls, layer: Any) -> "LSTMWeights":
        """Copy the weights of a built ``keras.layers.LSTM``."""
        return cls(*_weights_of(layer))

    def to_keras(self) -> list[np.ndarray]:
        return [self.W, self.U, self.b]


@dataclass(frozen=True)
class GRUWeights:
    """Weights of a GRU cell (Keras' ``reset_after=True`` form); columns: update, reset, candidate.

    ``b`` has two rows: ``b[0]`` is added to ``x @ W`` and ``b[1]`` to ``h @ U``
    (the second bias is what lets the reset gate act *after* the matrix product).
    """

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def __post_init__(self) -> None:
        _check_shapes("GRU", self.W, self.U, 3)
        if self.b.shape != (2, self.W.shape[1]):
            raise ValueError(
                f"GRU bias must have shape (2, {self.W.shape[1]}) (input and recurrent "
                f"bias; Keras reset_after=True), got {self.b.shape}"
            )

    @property
    def units(self) -> int:
        return self.U.shape[0]

    @classmethod
    def init(cls, input_dim: int, units: int, rng: np.random.Generator) -> "GRUWeights":
        return cls(_glorot(rng, input_dim, 3 * units), _glorot(rng, units, 3 * units),
                   np.zeros((2, 3 * units)))

    @classmethod
    def from_keras(cls, layer: Any) -> "GRUWeights":
        """Copy the weights of a built ``keras.layers.GRU`` (``reset_after=True``)."""
        return cls(*_weights_of(layer))

    def to_keras(self) -> list[np.ndarray]:
        return [self.W, self.U, self.b]


# ----------------------------------------------------------------------------
# one step
# ----------------------------------------------------------------------------
def rnn_step(x_t: np.ndarray, h_prev: np.ndarray, w: RNNWeights) -> np.ndarray:
    """``h_t = tanh(x_t W + h_{t-1} U + b)``."""
    return np.tanh(x_t @ w.W + h_prev @ w.U + w.b)


def lstm_step(x_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray,
              w: LSTMWeights) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step; returns ``(h_t, c_t)``.

    ::

        i_t = sigmoid(x_t W_i + h_{t-1} U_i + b_i)     input gate: what to write
        f_t = sigmoid(x_t W_f + h_{t-1} U_f + b_f)     forget gate: what to keep
        g_t = tanh   (x_t W_g + h_{t-1} U_g + b_g)     candidate memory
        o_t = sigmoid(x_t W_o + h_{t-1} U_o + b_o)     output gate: what to show
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)
    """
    n = w.units
    z = x_t @ w.W + h_prev @ w.U + w.b            # all four pre-activations at once
    i = sigmoid(z[:, :n])                        # input gate
    f = sigmoid(z[:, n : 2 * n])                 # forget gate
    g = np.tanh(z[:, 2 * n : 3 * n])             # candidate memory
    o = sigmoid(z[:, 3 * n :])                   # output gate
    c = f * c_prev + i * g                       # new long-term memory
    h = o * np.tanh(c)                           # new hidden state
    return h, c


def gru_step(x_t: np.ndarray, h_prev: np.ndarray, w: GRUWeights) -> np.ndarray:
    """One GRU step (Keras convention, ``reset_after=True``); returns ``h_t``.

    ::

        z_t = sigmoid(x_t W_z + b_z + h_{t-1} U_z + b'_z)      update gate
        r_t = sigmoid(x_t W_r + b_r + h_{t-1} U_r + b'_r)      reset gate
        n_t = tanh(x_t W_n + b_n + r_t * (h_{t-1} U_n + b'_n))  candidate
        h_t = z_t * h_{t-1} + (1 - z_t) * n_t

    This last line is Cho et al.'s (2014, eq. 7), Keras's and PyTorch's: the old
    state is kept where ``z`` is close to 1. Chung et al. (2014) write
    ``(1 - z) h_{t-1} + z n_t``, the same model with ``z`` renamed ``1 - z``.
    Cho et al. apply the reset gate before the recurrent product
    (``reset_after=False`` in Keras); Keras's default applies it after.
    """
    n = w.units
    xw = x_t @ w.W + w.b[0]                      # input part of all three
    hu = h_prev @ w.U + w.b[1]                   # recurrent part of all three
    z = sigmoid(xw[:, :n] + hu[:, :n])           # update gate
    r = sigmoid(xw[:, n : 2 * n] + hu[:, n : 2 * n])  # reset gate
    cand = np.tanh(xw[:, 2 * n :] + r * hu[:, 2 * n :])  # candidate state
    return z * h_prev + (1.0 - z) * cand


# ----------------------------------------------------------------------------
# a whole sequence
# ----------------------------------------------------------------------------
def _prepare(x: np.ndarray, mask: np.ndarray | None, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, time, features), got {x.shape}")
    if x.shape[2] != input_dim:
        raise ValueError(f"x has {x.shape[2]} features but the kernel expects {input_dim}")
    if mask is None:
        mask = np.ones(x.shape[:2], dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask must have shape {x.shape[:2]} (batch, time), got {mask.shape}")
    return x, mask


def _initial(state: np.ndarray | None, batch: int, units: int) -> np.ndarray:
    return np.zeros((batch, units)) if state is None else np.asarray(state, dtype=np.float64)


def rnn_forward(x: np.ndarray, w: RNNWeights, h0: np.ndarray | None = None,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run a simple RNN over ``x`` (batch, time, features).

    Returns ``(h_seq, h_T)``: the hidden state after every step, shape
    ``(B, T, n)``, and the final state ``(B, n)``.

    Example
    -------
    >>> w = RNNWeights(W=np.eye(1), U=np.zeros((1, 1)), b=np.zeros(1))
    >>> h_seq, h_T = rnn_forward(np.zeros((1, 3, 1)), w)
    >>> h_T.tolist()
    [[0.0]]
    """
    x, mask = _prepare(x, mask, w.W.shape[0])
    h = _initial(h0, x.shape[0], w.units)
    out = np.empty((x.shape[0], x.shape[1], w.units))
    for t in range(x.shape[1]):
        keep = mask[:, t : t + 1]
        h = np.where(keep, rnn_step(x[:, t], h, w), h)
        out[:, t] = h
    return out, h


def lstm_forward(x: np.ndarray, w: LSTMWeights, h0: np.ndarray | None = None,
                 c0: np.ndarray | None = None, mask: np.ndarray | None = None
                 ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Run an LSTM over ``x``; returns ``(h_seq, (h_T, c_T))``."""
    x, mask = _prepare(x, mask, w.W.shape[0])
    h = _initial(h0, x.shape[0], w.units)
    c = _initial(c0, x.shape[0], w.units)
    out = np.empty((x.shape[0], x.shape[1], w.units))
    for t in range(x.shape[1]):
        keep = mask[:, t : t + 1]
        h_new, c_new = lstm_step(x[:, t], h, c, w)
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        out[:, t] = h
    return out, (h, c)


def gru_forward(x: np.ndarray, w: GRUWeights, h0: np.ndarray | None = None,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run a GRU over ``x``; returns ``(h_seq, h_T)``."""
    x, mask = _prepare(x, mask, w.W.shape[0])
    h = _initial(h0, x.shape[0], w.units)
    out = np.empty((x.shape[0], x.shape[1], w.units))
    for t in range(x.shape[1]):
        keep = mask[:, t : t + 1]
        h = np.where(keep, gru_step(x[:, t], h, w), h)
        out[:, t] = h
    return out, h


# ----------------------------------------------------------------------------
# backpropagation through time, one factor at a time
# ----------------------------------------------------------------------------
def rnn_state_jacobians(x: np.ndarray, w: RNNWeights,
                        h0: np.ndarray | None = None) -> np.ndarray:
    """Norms of ``d h_T / d h_t`` for a simple RNN, for every ``t`` (one sequence).

    Backpropagation through time multiplies one Jacobian per step. With row-vector
    states, ``h_s = tanh(x_s W + h_{s-1} U + b)``, and ``J_s[j, i] = d h_s[j] / d h_{s-1}[i]``
    (chapter 09's convention)::

        J_s = d h_s / d h_{s-1} = diag(1 - h_s^2) U^T
        d h_T / d h_t = J_T J_{T-1} ... J_{t+1}

    so the gradient that reaches step ``t`` from the loss at step ``T`` shrinks
    (vanishes) or grows (explodes) geometrically in ``T - t``, depending on
    the size of ``U`` and on how saturated ``tanh`` is.

    Parameters
    ----------
    x
        One sequence, shape ``(T, d)``.
    w
        RNN weights.

    Returns
    -------
    numpy.ndarray
        Shape ``(T,)``: entry ``t`` is the spectral norm of ``d h_T / d h_t``
        (the last entry, ``t = T``, is 1).

    Example
    -------
    >>> w = RNNWeights(W=np.zeros((1, 2)), U=0.5 * np.eye(2), b=np.zeros(2))
    >>> rnn_state_jacobians(np.zeros((4, 1)), w).round(4).tolist()  # 0.5 per step
    [0.125, 0.25, 0.5, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be one sequence of shape (time, features), got {x.shape}")
    h_seq, _ = rnn_forward(x[None], w, None if h0 is None else np.asarray(h0)[None])
    h_seq = h_seq[0]
    T, n = h_seq.shape
    norms = np.empty(T)
    J = np.eye(n)  # d h_T / d h_T
    norms[-1] = 1.0
    for t in range(T - 1, 0, -1):
        # J_t = diag(1 - h_t^2) U^T; multiply on the right: J_T ... J_t
        step = (1.0 - h_seq[t] ** 2)[:, None] * w.U.T
        J = J @ step
        norms[t - 1] = np.linalg.norm(J, 2)
    return norms
