"""Next-item models in Keras: the thesis's bidirectional LSTM and a GRU4Rec-style GRU.

A model reads the last ``L`` items of a history and scores every item of the
catalogue as the next one: a softmax over all ``N`` anime, trained with the
sparse categorical cross-entropy (thesis eq. 4.9; ``ln N`` is the loss of a
uniform guess).

The network is built from three small functions, so that variants (chapter 12
adds genre context and self-attention) reuse the parts:

- :func:`sequence_input`: the integer window and its masked item embedding;
- :func:`recurrent_encoder`: stacked (optionally bidirectional) LSTM/GRU layers
  with dropout, ending in one vector per window;
- :func:`next_item_head`: one logit per item; :func:`compile_next_item` adds
  Adam and the loss.

:func:`build_bilstm` (thesis 5.3: 200 then 100 units, bidirectional) and
:func:`build_gru` (one unidirectional GRU layer, as in GRU4Rec) put them
together. :class:`NextItemModel` wraps a built network in the course's model
shape: ``fit(train, valid=None)``, ``predict(users, items)``,
``recommend(users, k, exclude_seen=True)``, plus ``save``/``load`` (native
``.keras`` files, loaded in safe mode).

Importing this module imports TensorFlow (5-10 s); import :mod:`course_utils`
first (it silences TensorFlow's start-up logs).

Example
-------
>>> import pandas as pd
>>> train = pd.DataFrame({"user": [0, 0, 0, 1, 1], "item": [0, 1, 2, 0, 1],
...                       "timestamp": [0, 1, 2, 0, 1]})
>>> model = NextItemModel("gru", n_items=4, seq_len=3, epochs=2,
...                       embedding_dim=8, units=(8,)).fit(train)  # doctest: +SKIP
>>> model.recommend([1], k=2).shape  # doctest: +SKIP
(1, 2)
"""
from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import course_utils  # noqa: F401  (sets TensorFlow's quiet environment first)
import keras
import numpy as np
import pandas as pd
from scipy.special import softmax

from course_utils import paths
from course_utils.hygiene import seed_everything
from course_utils.recommend import TopKMixin, seen_matrix, top_k
from course_utils.sequence.pipeline import (histories_from_frame, last_windows, sample_windows,
                                            to_dataset)

__all__ = [
    "sequence_input",
    "recurrent_encoder",
    "next_item_head",
    "compile_next_item",
    "build_bilstm",
    "build_gru",
    "BUILDERS",
    "NextItemModel",
    "EpochTimer",
    "model_path",
    "load_model",
]

_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


# ----------------------------------------------------------------------------
# the parts of a network
# ----------------------------------------------------------------------------
def sequence_input(seq_len: int, n_items: int, embedding_dim: int = 64,
                   name: str = "items") -> tuple[Any, Any]:
    """The window input and its item embedding, with padding masked.

    The input holds ``item + 1`` and 0 for "no item" (the layout of
    :func:`course_utils.data.make_windows`); ``mask_zero=True`` makes the
    recurrent layers skip the padded steps.

    Returns
    -------
    inputs, embedded
        ``keras.Input`` of shape ``(seq_len,)`` and its embedding ``(seq_len, embedding_dim)``.
    """
    inputs = keras.Input(shape=(seq_len,), dtype="int32", name=name)
    embedded = keras.layers.Embedding(n_items + 1, embedding_dim, mask_zero=True,
                                      name="item_embedding")(inputs)
    return inputs, embedded


def recurrent_encoder(x: Any, cell: str = "lstm", units: Sequence[int] = (200, 100),
                      bidirectional: bool = False, dropout: float = 0.2,
                      name: str = "encoder") -> Any:
    """Stacked recurrent layers; the last one returns only its final state.

    Parameters
    ----------
    x
        A (masked) sequence tensor ``(batch, time, features)``.
    cell
        ``"lstm"``, ``"gru"`` or ``"rnn"``.
    units
        Units per layer, first to last (thesis: ``(200, 100)``).
    bidirectional
        Wrap each layer in ``keras.layers.Bidirectional`` (outputs concatenated,
        so a bidirectional layer of ``n`` units gives ``2n`` features).
    dropout
        Rate of a ``Dropout`` layer after each recurrent layer (0 for none).
    """
    if cell not in _CELLS:
        raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
    if not units:
        raise ValueError("units must list at least one layer size")
    for j, n in enumerate(units):
        last = j == len(units) - 1
        layer = _CELLS[cell](int(n), return_sequences=not last, name=f"{name}_{cell}{j + 1}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"{name}_bi{cell}{j + 1}")
        x = layer(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{j + 1}")(x)
    return x


def next_item_head(h: Any, n_items: int, name: str = "next_item") -> Any:
    """One logit per catalogue item (the softmax is inside the loss)."""
    return keras.layers.Dense(n_items, name=name)(h)


def compile_next_item(model: Any, learning_rate: float = 1e-3, top_k: int = 20) -> Any:
    """Adam + sparse categorical cross-entropy over the whole catalogue (eq. 4.9).

    The targets are item ids (not one-hot vectors): the *sparse* loss computes
    the same number as the thesis's categorical cross-entropy without building
    an ``N``-wide one-hot row per example. A top-``k`` hit rate is tracked too
    (on the validation windows it is Recall@k without excluding seen items).
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseTopKCategoricalAccuracy(k=top_k, name=f"hit_at_{top_k}")],
    )
    return model


def build_bilstm(n_items: int, seq_len: int = 18, embedding_dim: int = 64,
                 units: Sequence[int] = (200, 100), dropout: float = 0.2,
                 learning_rate: float = 1e-3) -> Any:
    """The thesis's next-anime network (5.3): embedding → BiLSTM(200) → BiLSTM(100) → softmax.

    Example
    -------
    >>> build_bilstm(n_items=50, seq_len=5, units=(8, 4)).output_shape  # doctest: +SKIP
    (None, 50)
    """
    inputs, x = sequence_input(seq_len, n_items, embedding_dim)
    h = recurrent_encoder(x, "lstm", units, bidirectional=True, dropout=dropout)
    model = keras.Model(inputs, next_item_head(h, n_items), name="bilstm")
    return compile_next_item(model, learning_rate)


def build_gru(n_items: int, seq_len: int = 18, embedding_dim: int = 64,
              units: Sequence[int] = (100,), dropout: float = 0.2,
              learning_rate: float = 1e-3) -> Any:
    """A GRU4Rec-style network: embedding → GRU (left to right only) → softmax."""
    inputs, x = sequence_input(seq_len, n_items, embedding_dim)
    h = recurrent_encoder(x, "gru", units, bidirectional=False, dropout=dropout)
    model = keras.Model(inputs, next_item_head(h, n_items), name="gru")
    return compile_next_item(model, learning_rate)


BUILDERS: dict[str, Callable[..., Any]] = {"bilstm": build_bilstm, "gru": build_gru}


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every training epoch in ``seconds``."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


# ----------------------------------------------------------------------------
# the recommender
# ----------------------------------------------------------------------------
class NextItemModel(TopKMixin):
    """A next-item network with the course's model shape.

    Parameters
    ----------
    architecture
        A key of :data:`BUILDERS` (``"bilstm"``, ``"gru"``).
    n_items
        Catalogue size (default: largest item id in ``train`` + 1).
    seq_len
        Window length ``L`` (thesis: 18).
    epochs, batch_size
        Training length; with a validation frame, early stopping (patience
        ``patience``, best weights restored) usually stops sooner.
    max_sequences
        Train on at most this many windows, drawn at random (``None``: all).
    max_valid
        Validate on at most this many users' windows (``None``: all).
    seed
        Seeds the sampling, the weights, dropout and the shuffling.
    **build_kwargs
        Passed to the builder (``embedding_dim``, ``units``, ``dropout``,
        ``learning_rate``).

    Attributes (after ``fit``)
    --------------------------
    model_
        The Keras model.
    history_
        ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch.
    epoch_seconds_
        Wall time of each epoch.
    histories_
        Each user's items in time order (the model's input at ``recommend``).
    """

    def __init__(self, architecture: str = "bilstm", n_items: int | None = None,
                 seq_len: int = 18, epochs: int = 10, batch_size: int = 256,
                 max_sequences: int | None = None, max_valid: int | None = None,
                 patience: int = 2, seed: int = 42, **build_kwargs: Any) -> None:
        if architecture not in BUILDERS:
            raise ValueError(f"unknown architecture {architecture!r}; choose one of "
                             f"{', '.join(sorted(BUILDERS))}")
        self.architecture = architecture
        self.n_items = n_items
        self.seq_len = int(seq_len)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.max_sequences = max_sequences
        self.max_valid = max_valid
        self.patience = int(patience)
        self.seed = int(seed)
        self.build_kwargs = {k: (list(v) if isinstance(v, tuple) else v)
                             for k, v in build_kwargs.items()}

    # -- hooks a variant may override ----------------------------------------
    def build(self) -> Any:
        """A fresh, compiled Keras network."""
        return BUILDERS[self.architecture](n_items=self.n_items_, seq_len=self.seq_len,
                                           **self.build_kwargs)

    def model_inputs(self, windows: np.ndarray) -> Any:
        """What the network reads for a batch of windows (a variant may add inputs)."""
        return windows

    # -- training ------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> "NextItemModel":
        """Train on every user's history in ``train``; stop early on ``valid``.

        Parameters
        ----------
        train
            Columns ``user``, ``item`` (ids from 0) and ``timestamp`` (or rows
            already in watch order).
        valid
            One row per user: the item that came right after the user's
            training history (leave-last-out). The window before it is the
            validation input; its loss drives early stopping.
        """
        seed_everything(self.seed)
        rng = np.random.default_rng(self.seed)
        histories = histories_from_frame(train)
        max_item = int(train["item"].max()) + 1 if len(train) else 0
        self.n_items_ = max(self.n_items or 0, max_item)
        X, y = sample_windows(histories, self.seq_len, self.max_sequences, rng)
        if len(y) == 0:
            raise ValueError("the training frame gives no window: every user needs at "
                             "least two items in train")
        self.model_ = self.build()
        timer = EpochTimer()
        callbacks: list[Any] = [timer]
        val_data = None
        if valid is not None:
            Xv, yv = self._valid_windows(histories, valid, rng)
            val_data = to_dataset(self.model_inputs(Xv), yv, 1024)
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True))
        data = to_dataset(self.model_inputs(X), y, self.batch_size, shuffle=True, seed=self.seed)
        start = time.perf_counter()
        history = self.model_.fit(data, validation_data=val_data, epochs=self.epochs,
                                  callbacks=callbacks, verbose=0, shuffle=False)
        self.fit_seconds_ = time.perf_counter() - start
        self.epoch_seconds_ = list(timer.seconds)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        losses = self.history_.get("val_loss", self.history_["loss"])
        self.best_epoch_ = int(np.argmin(losses)) + 1
        self.n_train_windows_ = int(len(y))
        self._set_histories(histories)
        return self

    def _valid_windows(self, histories: list[np.ndarray], valid: pd.DataFrame,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        for col in ("user", "item"):
            if col not in valid.columns:
                raise ValueError(f"valid has no column {col!r} (columns: {list(valid.columns)})")
        users = valid["user"].to_numpy(np.int64)
        if len(np.unique(users)) != len(users):
            raise ValueError("valid must hold one row per user (the item after the training "
                             "history, as in leave_last_out); found repeated users")
        items = valid["item"].to_numpy(np.int64)
        if self.max_valid is not None and len(users) > self.max_valid:
            keep = np.sort(rng.choice(len(users), size=int(self.max_valid), replace=False))
            users, items = users[keep], items[keep]
        hist = [histories[u] if u < len(histories) else np.zeros(0, np.int64) for u in users]
        return last_windows(hist, self.seq_len), items.astype(np.int32)

    def _set_histories(self, histories: list[np.ndarray]) -> None:
        self.histories_ = [np.asarray(h, dtype=np.int64) for h in histories]
        lengths = [len(h) for h in self.histories_]
        frame = pd.DataFrame({"user": np.repeat(np.arange(len(lengths)), lengths),
                              "item": np.concatenate(self.histories_) if lengths
                              else np.zeros(0, np.int64)})
        self.seen_ = seen_matrix(frame, len(lengths), self.n_items_)

    def observe(self, events: pd.DataFrame) -> "NextItemModel":
        """Append new events (``user``, ``item``[, ``timestamp``]) to the histories.

        Nothing is retrained: the next ``recommend`` just reads the longer
        histories (as a deployed model does when a user watches something).
        """
        self._check_fitted()
        n_users = max(len(self.histories_), int(events["user"].max()) + 1 if len(events) else 0)
        new = histories_from_frame(events, n_users)
        old = self.histories_ + [np.zeros(0, np.int64)] * (n_users - len(self.histories_))
        self._set_histories([np.concatenate([a, b]) for a, b in zip(old, new)])
        return self

    # -- scoring -------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) "
                               "first (or NextItemModel.load(path))")
        if not hasattr(self, "histories_"):
            raise RuntimeError("this model has no user histories yet: call observe(frame) "
                               "with the users' items, or use score_histories(...)")

    def score_histories(self, histories: Sequence[np.ndarray], batch_size: int = 1024
                        ) -> np.ndarray:
        """Next-item probabilities after each history, shape ``(len(histories), n_items)``."""
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) first")
        windows = last_windows(list(histories), self.seq_len)
        if len(windows) == 0:
            return np.zeros((0, self.n_items_), dtype=np.float32)
        logits = self.model_.predict(self.model_inputs(windows), batch_size=batch_size,
                                     verbose=0)
        return softmax(np.asarray(logits, dtype=np.float64), axis=1)

    def score(self, users: Any) -> np.ndarray:
        """Next-item probabilities for users, from their stored histories."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64).ravel()
        empty = np.zeros(0, np.int64)
        return self.score_histories([self.histories_[u] if u < len(self.histories_) else empty
                                     for u in users])

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """The probability that ``items[j]`` is user ``users[j]``'s next item."""
        u = np.asarray(users, dtype=np.int64).ravel()
        i = np.asarray(items, dtype=np.int64).ravel()
        if u.shape != i.shape:
            raise ValueError(f"users has {u.size} ids but items has {i.size}; pass pairs")
        uniq, inverse = np.unique(u, return_inverse=True)
        return self.score(uniq)[inverse, i]

    def recommend(self, users: Any, k: int, exclude_seen: bool = True,
                  batch_size: int = 2048) -> np.ndarray:
        """Top-``k`` next items for users, from their stored histories (seen ones excluded)."""
        self._check_fitted()
        return super().recommend(users, k, exclude_seen=exclude_seen, batch_size=batch_size)

    def recommend_histories(self, histories: Sequence[np.ndarray], k: int,
                            exclude_seen: bool = True) -> np.ndarray:
        """Top-``k`` next items after each history (e.g. a user who is not in ``train``)."""
        scores = self.score_histories(histories)
        return top_k(scores, k, exclude=[np.asarray(h) for h in histories]
                     if exclude_seen else None)

    # -- saving --------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The constructor arguments (what :meth:`load` needs to rebuild the wrapper)."""
        return {"architecture": self.architecture, "n_items": self.n_items_,
                "seq_len": self.seq_len, "epochs": self.epochs, "batch_size": self.batch_size,
                "max_sequences": self.max_sequences, "max_valid": self.max_valid,
                "patience": self.patience, "seed": self.seed, **self.build_kwargs}

    def save(self, path: str | Path) -> Path:
        """Save the network (``path``, a ``.keras`` file) and a JSON sidecar beside it.

        The sidecar (same name, ``.json``) holds the parameters and the training
        history; user histories are data, not model, and are not saved.
        """
        if not hasattr(self, "model_"):
            raise RuntimeError("nothing to save: fit the model first")
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"save to a file ending in .keras (native Keras format), got {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # Keras 3.15 writes TensorFlow variables with np.array(variable), which NumPy 2
            # flags because TF's __array__ lacks the `copy` keyword; the file is unaffected.
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message="__array__ implementation doesn't accept a copy")
            self.model_.save(path)
        meta = {"class": type(self).__name__, "params": self.params(),
                "history": getattr(self, "history_", {}),
                "epoch_seconds": getattr(self, "epoch_seconds_", []),
                "best_epoch": getattr(self, "best_epoch_", None),
                "n_train_windows": getattr(self, "n_train_windows_", None),
                "keras_version": keras.__version__}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path, histories: pd.DataFrame | None = None) -> "NextItemModel":
        """Load a model saved by :meth:`save` (safe mode: no code is deserialised).

        Pass ``histories`` (a frame like ``train``) to be able to call
        ``recommend(users, ...)``; :meth:`score_histories` works without it.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"no saved model at {path}; run the chapter that trains it "
                "(10_next_item_prediction) at this profile first")
        meta = json.loads(path.with_suffix(".json").read_text())
        params = dict(meta["params"])
        model = cls(**params)
        model.n_items_ = int(params["n_items"])
        model.model_ = keras.saving.load_model(path, safe_mode=True)
        model.history_ = meta.get("history", {})
        model.epoch_seconds_ = meta.get("epoch_seconds", [])
        model.best_epoch_ = meta.get("best_epoch")
        model.n_train_windows_ = meta.get("n_train_windows")
        if histories is not None:
            model._set_histories(histories_from_frame(histories))
        return model


def model_path(name: str, profile: str) -> Path:
    """Where chapter 10 saves a trained model: ``build/cache/models/<profile>/<name>.keras``.

    Example
    -------
    >>> model_path("bilstm", "ci").parts[-3:]
    ('models', 'ci', 'bilstm.keras')
    """
    return paths.cache_dir() / "models" / profile / f"{name}.keras"


def load_model(name: str, profile: str, histories: pd.DataFrame | None = None
               ) -> NextItemModel:
    """Load the model ``name`` (``"bilstm"``, ``"gru"``) that chapter 10 saved for ``profile``.

    Example
    -------
    >>> lstm = load_model("bilstm", "book", histories=train)  # doctest: +SKIP
    >>> lstm.recommend([0], k=5)  # doctest: +SKIP
    """
    return NextItemModel.load(model_path(name, profile), histories)
