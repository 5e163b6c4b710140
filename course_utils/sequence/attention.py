"""Beyond the thesis: a small self-attention next-item model in the spirit of SASRec.

SASRec (Kang & McAuley, 2018) replaces the recurrence with causal
self-attention: every position of the window looks at all *earlier* positions
at once and takes a learned, weighted average of them. The model here::

    items (L,) ─► item embedding + position embedding ─► dropout
        ─► [causal multi-head self-attention ─► add & layer norm
            ─► feed-forward (ReLU) ─► add & layer norm] × n_blocks
        ─► the last position's vector ─► next-item logits (N)

"Causal" means position ``t`` may attend only to positions ``≤ t``
(``keras.layers.MultiHeadAttention(..., use_causal_mask=True)``): the output
at ``t`` never depends on what comes after it, which is what lets SASRec train
on every position of a sequence at once. Here, as for the recurrent models,
the window is left-padded and only the last position predicts (the same
protocol and the same :class:`~course_utils.sequence.models.NextItemModel`
training loop), so causality is a property we test rather than one the
training objective needs.

The head and the loss are :func:`~course_utils.sequence.models.next_item_head`
and :func:`~course_utils.sequence.models.compile_next_item`.

Example
-------
>>> net = build_sasrec(n_items=50, seq_len=6, embedding_dim=8, n_heads=2)  # doctest: +SKIP
>>> net.output_shape  # doctest: +SKIP
(None, 50)
"""
from __future__ import annotations

import logging
from typing import Any

import course_utils  # noqa: F401  (quiet TensorFlow first)
import keras
from keras import ops

from course_utils.sequence.models import NextItemModel, compile_next_item, next_item_head

# Scoring several freshly built networks one after another makes TensorFlow log
# "triggered tf.function retracing" warnings through Python logging, straight into
# notebook outputs; they are about speed, not correctness.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

__all__ = ["PositionEmbedding", "LastStep", "attention_encoder", "build_sasrec",
           "SelfAttentionModel"]


@keras.saving.register_keras_serializable(package="course_utils")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position ``0 … L-1`` to a ``(batch, L, d)`` sequence.

    Attention alone is blind to order (it sees a set); the position vectors
    tell it which item came when.
    """

    def __init__(self, seq_len: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seq_len, self.dim = int(seq_len), int(dim)

    def build(self, input_shape: Any) -> None:
        self.positions = self.add_weight(shape=(self.seq_len, self.dim),
                                         initializer="glorot_uniform", name="positions")

    def call(self, x: Any) -> Any:
        return x + self.positions[None, :, :]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seq_len": self.seq_len, "dim": self.dim}


@keras.saving.register_keras_serializable(package="course_utils")
class LastStep(keras.layers.Layer):
    """The vector of the last position, ``(batch, L, d) → (batch, d)`` (the newest item)."""

    def call(self, x: Any) -> Any:
        return x[:, -1, :]


def attention_encoder(x: Any, n_blocks: int = 2, n_heads: int = 2, dropout: float = 0.2,
                      ff_dim: int | None = None, name: str = "block") -> Any:
    """``n_blocks`` causal self-attention blocks (post-norm, as in the Transformer).

    Parameters
    ----------
    x
        ``(batch, L, d)`` embedded sequence.
    n_blocks, n_heads
        Depth and heads (SASRec: 2 blocks, 1 head; ``d`` must divide by ``n_heads``).
    dropout
        Rate inside attention and after each sub-layer.
    ff_dim
        Width of the feed-forward layer (default ``d``).

    Returns
    -------
    ``(batch, L, d)``: one vector per position, each depending only on positions
    up to it.
    """
    d = int(x.shape[-1])
    if d % n_heads:
        raise ValueError(f"the embedding size {d} must be divisible by n_heads={n_heads}")
    for b in range(1, n_blocks + 1):
        attn = keras.layers.MultiHeadAttention(n_heads, d // n_heads, dropout=dropout,
                                               name=f"{name}{b}_attention")
        a = attn(x, x, use_causal_mask=True)
        a = keras.layers.Dropout(dropout, name=f"{name}{b}_attention_dropout")(a)
        x = keras.layers.LayerNormalization(name=f"{name}{b}_norm1")(
            keras.layers.Add(name=f"{name}{b}_residual1")([x, a]))
        f = keras.layers.Dense(ff_dim or d, activation="relu", name=f"{name}{b}_ff1")(x)
        f = keras.layers.Dense(d, name=f"{name}{b}_ff2")(f)
        f = keras.layers.Dropout(dropout, name=f"{name}{b}_ff_dropout")(f)
        x = keras.layers.LayerNormalization(name=f"{name}{b}_norm2")(
            keras.layers.Add(name=f"{name}{b}_residual2")([x, f]))
    return x


def sasrec_sequence(seq_len: int, n_items: int, embedding_dim: int = 64, n_blocks: int = 2,
                    n_heads: int = 2, dropout: float = 0.2) -> tuple[Any, Any]:
    """Input window and its encoded sequence ``(batch, L, d)`` (before taking the last step)."""
    inputs = keras.Input(shape=(seq_len,), dtype="int32", name="items")
    # No mask_zero: padding (id 0) is a learned "nothing watched yet" token, as in
    # SASRec. With a padding mask, Keras gives a query whose keys are all masked
    # (a padded position under the causal mask) a uniform weight over *every*
    # key, future ones included, and the block would no longer be causal.
    x = keras.layers.Embedding(n_items + 1, embedding_dim, name="item_embedding")(inputs)
    x = PositionEmbedding(seq_len, embedding_dim, name="position_embedding")(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    return inputs, attention_encoder(x, n_blocks, n_heads, dropout)


def build_sasrec(n_items: int, seq_len: int = 18, embedding_dim: int = 64, n_blocks: int = 2,
                 n_heads: int = 2, dropout: float = 0.2, learning_rate: float = 1e-3) -> Any:
    """The compiled self-attention next-item network (see the module docstring).

    Example
    -------
    >>> build_sasrec(n_items=30, seq_len=5, embedding_dim=8).output_shape  # doctest: +SKIP
    (None, 30)
    """
    inputs, seq = sasrec_sequence(seq_len, n_items, embedding_dim, n_blocks, n_heads, dropout)
    h = LastStep(name="last_step")(seq)
    model = keras.Model(inputs, next_item_head(h, n_items), name="sasrec")
    return compile_next_item(model, learning_rate)


class SelfAttentionModel(NextItemModel):
    """:class:`NextItemModel` with the self-attention network (same fit / recommend / save).

    Parameters as :class:`NextItemModel` (no ``architecture`` or ``units``), plus
    the network's ``n_blocks`` and ``n_heads`` (see :func:`build_sasrec`).

    Example
    -------
    >>> model = SelfAttentionModel(seq_len=18, epochs=3, embedding_dim=32)  # doctest: +SKIP
    >>> model.fit(train, valid).recommend([0], k=10).shape  # doctest: +SKIP
    (1, 10)
    """

    architecture = "sasrec"

    def __init__(self, n_items: int | None = None, seq_len: int = 18, epochs: int = 10,
                 batch_size: int = 256, max_sequences: int | None = None,
                 max_valid: int | None = None, patience: int = 2, seed: int = 42,
                 embedding_dim: int = 64, n_blocks: int = 2, n_heads: int = 2,
                 dropout: float = 0.2, learning_rate: float = 1e-3) -> None:
        self.n_items = n_items
        self.seq_len = seq_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_sequences = max_sequences
        self.max_valid = max_valid
        self.patience = patience
        self.seed = seed
        self.embedding_dim = embedding_dim
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.dropout = dropout
        self.learning_rate = learning_rate

    def _validate(self) -> None:
        pass

    def build(self) -> Any:
        return build_sasrec(self.n_items_, int(self.seq_len), int(self.embedding_dim),
                            int(self.n_blocks), int(self.n_heads), float(self.dropout),
                            float(self.learning_rate))
