"""The thesis's future work (7.2), done: a next-item model that also reads genres.

The id-only network of chapter 10 sees an anime only through its learned item
embedding. Here each step of the window also carries the anime's genres: a
multi-hot row (its first three genres, as in thesis chapter 6), projected by a
small dense layer (a "genre embedding": the sum of one learned vector per
genre) and concatenated with the item embedding::

    items (L,) ──► item embedding (L, d) ─────────────┐
         └──► genre table (L, G) ──► Dense (L, g) ────┴► concat (L, d + g) ► LSTM/GRU ► softmax

The genre table is a *frozen* embedding layer whose rows are the multi-hot
genres (row 0, the padding, is all zeros): genres are a fixed fact about an
anime, so the network looks them up itself from the same integer window. The
model therefore keeps the input, the training loop and the ``recommend`` of
:class:`~course_utils.sequence.models.NextItemModel` unchanged; only
:meth:`GenreContextModel.build` differs. The parts come from
:mod:`course_utils.sequence.models` (``sequence_input``,
``recurrent_encoder``, ``next_item_head``, ``compile_next_item``).

Example
-------
>>> import numpy as np
>>> genres = np.eye(4, 3, dtype=np.float32)          # 4 anime, 3 genres
>>> net = build_genre_context(n_items=4, item_genres=genres, seq_len=5,
...                           embedding_dim=8, genre_dim=2, units=(6,))  # doctest: +SKIP
>>> net.output_shape  # doctest: +SKIP
(None, 4)
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import course_utils  # noqa: F401  (quiet TensorFlow first)
import keras
import numpy as np

from course_utils.sequence.models import (NextItemModel, compile_next_item, next_item_head,
                                          recurrent_encoder, sequence_input)

# Scoring several freshly built networks one after another makes TensorFlow log
# "triggered tf.function retracing" warnings into notebook outputs (speed, not
# correctness).
logging.getLogger("tensorflow").setLevel(logging.ERROR)

__all__ = ["genre_table", "build_genre_context", "GenreContextModel"]


def genre_table(item_genres: np.ndarray) -> np.ndarray:
    """The lookup table of the window layout: row ``i + 1`` = genres of item ``i``, row 0 = 0.

    Example
    -------
    >>> genre_table(np.array([[1, 0], [0, 1]], dtype=np.float32)).tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    g = np.asarray(item_genres, dtype=np.float32)
    if g.ndim != 2:
        raise ValueError(f"item_genres must be (n_items, n_genres), got shape {g.shape}")
    return np.vstack([np.zeros((1, g.shape[1]), np.float32), g])


def build_genre_context(n_items: int, item_genres: np.ndarray, seq_len: int = 18,
                        embedding_dim: int = 64, genre_dim: int = 16, cell: str = "gru",
                        units: Sequence[int] = (100,), bidirectional: bool = False,
                        dropout: float = 0.2, learning_rate: float = 1e-3) -> Any:
    """Item embedding ⧺ genre embedding → recurrent encoder → next-item softmax.

    Parameters
    ----------
    n_items
        Catalogue size ``N`` (the softmax width).
    item_genres
        ``(n_items, n_genres)`` multi-hot genres
        (:func:`course_utils.analysis.genre_matrix`).
    genre_dim
        Width of the genre embedding concatenated to the item embedding.
    cell, units, bidirectional, dropout
        As in :func:`~course_utils.sequence.models.recurrent_encoder`
        (``"lstm"``, ``(200, 100)``, ``True`` gives the thesis's BiLSTM).

    Example
    -------
    >>> net = build_genre_context(5, np.eye(5, 2, dtype=np.float32), seq_len=3,
    ...                           embedding_dim=4, genre_dim=2, units=(4,))  # doctest: +SKIP
    >>> [w.name for w in net.get_layer("genre_table").weights]  # doctest: +SKIP
    ['embeddings']
    """
    table = genre_table(item_genres)
    if len(table) != n_items + 1:
        raise ValueError(f"item_genres has {len(table) - 1} rows but n_items is {n_items}: "
                         "give one genre row per catalogue item")
    inputs, items = sequence_input(seq_len, n_items, embedding_dim)
    lookup = keras.layers.Embedding(n_items + 1, table.shape[1], trainable=False,
                                    name="genre_table")
    multi_hot = lookup(inputs)  # (batch, L, n_genres): the genres of each step
    lookup.set_weights([table])
    genre_vectors = keras.layers.Dense(genre_dim, use_bias=False,
                                       name="genre_embedding")(multi_hot)
    x = keras.layers.Concatenate(name="item_and_genres")([items, genre_vectors])
    h = recurrent_encoder(x, cell, units, bidirectional=bidirectional, dropout=dropout)
    model = keras.Model(inputs, next_item_head(h, n_items), name=f"{cell}_genres")
    return compile_next_item(model, learning_rate)


class GenreContextModel(NextItemModel):
    """:class:`NextItemModel` whose network also reads each anime's genres.

    Parameters
    ----------
    item_genres
        ``(n_items, n_genres)`` multi-hot genres; ``n_items`` is taken from it.
    cell, bidirectional, genre_dim
        See :func:`build_genre_context`.
    n_items, seq_len, epochs, ..., learning_rate
        As for :class:`NextItemModel` (``n_items`` defaults to the rows of
        ``item_genres``).

    Example
    -------
    >>> model = GenreContextModel(G, seq_len=18, epochs=3, units=(64,))  # doctest: +SKIP
    >>> model.fit(train, valid).recommend([0, 1], k=10).shape  # doctest: +SKIP
    (2, 10)
    """

    def __init__(self, item_genres: np.ndarray | None = None, cell: str = "gru",
                 bidirectional: bool = False, genre_dim: int = 16, n_items: int | None = None,
                 seq_len: int = 18, epochs: int = 10, batch_size: int = 256,
                 max_sequences: int | None = None, max_valid: int | None = None,
                 patience: int = 2, seed: int = 42, embedding_dim: int = 64,
                 units: Sequence[int] | None = None, dropout: float = 0.2,
                 learning_rate: float = 1e-3) -> None:
        self.item_genres = item_genres
        self.cell = cell
        self.bidirectional = bidirectional
        self.genre_dim = genre_dim
        self.n_items = n_items
        self.seq_len = seq_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_sequences = max_sequences
        self.max_valid = max_valid
        self.patience = patience
        self.seed = seed
        self.embedding_dim = embedding_dim
        self.units = units
        self.dropout = dropout
        self.learning_rate = learning_rate

    @property
    def architecture(self) -> str:  # type: ignore[override]
        """``"<cell>_genres"`` (a name for tables and saved files)."""
        return f"{self.cell}_genres"

    def _validate(self) -> None:
        if self.item_genres is None:
            raise ValueError("GenreContextModel needs item_genres (one multi-hot row per "
                             "anime, e.g. course_utils.analysis.genre_matrix(ds.anime)[0])")

    def _catalogue_size(self) -> int:
        self._validate()
        return int(self.n_items or len(self.item_genres))

    def build(self) -> Any:
        genres = np.asarray(self.item_genres, np.float32)
        if len(genres) != self.n_items_:
            raise ValueError(f"item_genres has {len(genres)} rows but the training "
                             f"data has {self.n_items_} items")
        return build_genre_context(self.n_items_, genres, int(self.seq_len),
                                   genre_dim=int(self.genre_dim), cell=self.cell,
                                   bidirectional=bool(self.bidirectional), **self._build_args())
