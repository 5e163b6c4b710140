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
shape (:mod:`course_utils.model`): ``fit(train, valid=None)``,
``predict(users, items)``, ``recommend(users, k, exclude_seen=True)``, plus
``save``/``load`` (native ``.keras`` files, loaded in safe mode).
:func:`chapter_models` gives chapter 10's two networks with a profile's
settings; :func:`course_utils.cache.load_or_fit` fits or reuses them.

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

from course_utils.data import make_windows
from course_utils.hygiene import seed_everything
from course_utils.model import Recommender, atomic_path
from course_utils.recommend import seen_matrix, top_k
from course_utils.sequence.pipeline import (fresh_epochs, histories_from_frame, last_windows,
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
    "chapter_models",
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
                      unroll: bool = False, name: str = "encoder") -> Any:
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
    unroll
        Write the ``seq_len`` time steps out as one graph instead of a
        ``while`` loop (Keras's ``unroll``). Same model; on two CPU cores and
        the course's 18-step windows it trains within about 10 % of the loop's
        speed (``benchmarks/bench_sequence.py``), traces more slowly, costs
        memory that grows with ``seq_len`` and rules out the cuDNN kernels, so
        the course keeps Keras's default, ``False``.
    """
    if cell not in _CELLS:
        raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
    if not units:
        raise ValueError("units must list at least one layer size")
    for j, n in enumerate(units):
        last = j == len(units) - 1
        layer = _CELLS[cell](int(n), return_sequences=not last, unroll=unroll,
                             name=f"{name}_{cell}{j + 1}")
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
                 learning_rate: float = 1e-3, unroll: bool = False) -> Any:
    """The thesis's next-anime network (5.3): embedding → BiLSTM(200) → BiLSTM(100) → softmax.

    Example
    -------
    >>> build_bilstm(n_items=50, seq_len=5, units=(8, 4)).output_shape  # doctest: +SKIP
    (None, 50)
    """
    inputs, x = sequence_input(seq_len, n_items, embedding_dim)
    h = recurrent_encoder(x, "lstm", units, bidirectional=True, dropout=dropout,
                          unroll=unroll)
    model = keras.Model(inputs, next_item_head(h, n_items), name="bilstm")
    return compile_next_item(model, learning_rate)


def build_gru(n_items: int, seq_len: int = 18, embedding_dim: int = 64,
              units: Sequence[int] = (100,), dropout: float = 0.2,
              learning_rate: float = 1e-3, unroll: bool = False) -> Any:
    """A GRU4Rec-style network: embedding → GRU (left to right only) → softmax."""
    inputs, x = sequence_input(seq_len, n_items, embedding_dim)
    h = recurrent_encoder(x, "gru", units, bidirectional=False, dropout=dropout,
                          unroll=unroll)
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
class NextItemModel(Recommender):
    """A next-item network with the course's model shape (:mod:`course_utils.model`).

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
        ``patience``, best weights restored; ``best_epoch_`` counts from 1)
        usually stops sooner.
    max_sequences
        Windows per epoch (``None``: all of them, every epoch). Every epoch
        takes the next ``max_sequences`` windows of a shuffled pass over *all*
        the training windows, so an epoch sees windows the earlier ones did not
        (until a pass is used up and a new shuffled pass begins): a small epoch
        budget covers many histories instead of showing the same sample again.
    max_valid
        Validate on at most this many users' windows (``None``: all).
    min_delta
        The least fall of the validation loss (nats) that counts as an
        improvement for early stopping (Keras's ``EarlyStopping(min_delta=)``):
        0 waits for a plateau; a small positive value stops a network whose
        loss still creeps down by less than that per epoch (the book
        profile's BiLSTM, whose long slow tail costs minutes per step gained).
    seed
        Seeds the sampling, the weights, dropout and the shuffling.
    embedding_dim, units, dropout, learning_rate
        Passed to the builder (``units=None``: the builder's default layers).

    Attributes (after ``fit``)
    --------------------------
    model_
        The Keras model.
    history_
        ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch.
    epoch_seconds_, fit_seconds_
        Wall time of each epoch, and of ``fit``.
    n_train_windows_, n_windows_available_
        Windows per epoch, and windows the training histories hold in all.
    histories_
        Each user's items in time order (the model's input at ``recommend``).
    """

    _fitted_attribute = "model_"
    file_suffix = ".keras"
    min_delta: float = 0.0  # the default for variants whose __init__ does not take it

    def __init__(self, architecture: str = "bilstm", n_items: int | None = None,
                 seq_len: int = 18, epochs: int = 10, batch_size: int = 256,
                 max_sequences: int | None = None, max_valid: int | None = None,
                 patience: int = 2, seed: int = 42, embedding_dim: int = 64,
                 units: Sequence[int] | None = None, dropout: float = 0.2,
                 learning_rate: float = 1e-3, min_delta: float = 0.0) -> None:
        self.architecture = architecture
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
        self.min_delta = min_delta

    # -- hooks a variant may override ----------------------------------------
    def _build_args(self) -> dict[str, Any]:
        """The builder's keyword arguments from the parameters."""
        args = {"embedding_dim": int(self.embedding_dim), "dropout": float(self.dropout),
                "learning_rate": float(self.learning_rate)}
        if self.units is not None:
            args["units"] = tuple(int(u) for u in self.units)
        return args

    def _catalogue_size(self) -> int:
        """The smallest catalogue the model must cover (before looking at ``train``)."""
        return int(self.n_items or 0)

    def _validate(self) -> None:
        if self.architecture not in BUILDERS:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of "
                             f"{', '.join(sorted(BUILDERS))}")

    def build(self) -> Any:
        """A fresh, compiled Keras network."""
        return BUILDERS[self.architecture](n_items=self.n_items_, seq_len=int(self.seq_len),
                                           **self._build_args())

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
        self._validate()
        start = time.perf_counter()
        seed_everything(int(self.seed))
        rng = np.random.default_rng(int(self.seed))
        histories = histories_from_frame(train)
        max_item = int(train["item"].max()) + 1 if len(train) else 0
        self.n_items_ = max(self._catalogue_size(), max_item)
        X, y = make_windows(histories, int(self.seq_len))
        if len(y) == 0:
            raise ValueError("the training frame gives no window: every user needs at "
                             "least two items in train")
        self.model_ = self.build()
        timer = EpochTimer()
        callbacks: list[Any] = [timer]
        val_data, stopper = None, None
        if valid is not None:
            Xv, yv = self._valid_windows(histories, valid, rng)
            val_data = to_dataset(self.model_inputs(Xv), yv, 1024)
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=int(self.patience),
                min_delta=float(self.min_delta), restore_best_weights=True)
            callbacks.append(stopper)
        per_epoch = len(y) if self.max_sequences is None else min(int(self.max_sequences), len(y))
        if per_epoch < len(y):  # every epoch takes windows the earlier ones did not see
            data, steps = fresh_epochs(self.model_inputs(X), y, int(self.batch_size), per_epoch,
                                       int(self.epochs), seed=int(self.seed))
        else:
            data, steps = to_dataset(self.model_inputs(X), y, int(self.batch_size), shuffle=True,
                                     seed=int(self.seed)), None
        history = self.model_.fit(data, validation_data=val_data, epochs=int(self.epochs),
                                  steps_per_epoch=steps, callbacks=callbacks, verbose=0,
                                  shuffle=False)
        self.epoch_seconds_ = list(timer.seconds)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        # the epoch whose weights were restored (with min_delta > 0, the last one
        # that improved by at least min_delta, not always the lowest loss)
        self.best_epoch_ = int(stopper.best_epoch) + 1 if stopper is not None else None
        self.n_train_windows_ = int(per_epoch)        # per epoch
        self.n_windows_available_ = int(len(y))
        self._set_histories(histories)
        self.fit_seconds_ = time.perf_counter() - start
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
        return last_windows(hist, int(self.seq_len)), items.astype(np.int32)

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
        super()._check_fitted()
        if not hasattr(self, "histories_"):
            raise RuntimeError("this model has no user histories yet: call observe(frame) "
                               "with the users' items, or use score_histories(...)")

    def score_histories(self, histories: Sequence[np.ndarray], batch_size: int = 1024
                        ) -> np.ndarray:
        """Next-item probabilities after each history, shape ``(len(histories), n_items)``."""
        Recommender._check_fitted(self)
        windows = last_windows(list(histories), int(self.seq_len))
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
    def save(self, path: str | Path) -> Path:
        """Save the network (``path``, a ``.keras`` file) and two files beside it.

        ``<stem>.json`` holds the parameters and the training history,
        ``<stem>.npz`` the users' histories (so that the loaded model recommends
        like this one) and any array parameter (a genre table). Each file is
        written atomically.
        """
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"save to a file ending in .keras (native Keras format), got {path}")
        params = self.get_params(deep=False)
        arrays = {f"param_{k}": v for k, v in params.items() if isinstance(v, np.ndarray)}
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()
                  if not isinstance(v, np.ndarray)}
        with warnings.catch_warnings():
            # Keras 3.15 writes TensorFlow variables with np.array(variable), which NumPy 2
            # flags because TF's __array__ lacks the `copy` keyword; the file is unaffected.
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message="__array__ implementation doesn't accept a copy")
            with atomic_path(path) as tmp:
                self.model_.save(tmp)
        meta = {"class": type(self).__name__, "params": params, "n_items_": self.n_items_,
                "history": getattr(self, "history_", {}),
                "epoch_seconds": getattr(self, "epoch_seconds_", []),
                "best_epoch": getattr(self, "best_epoch_", None),
                "fit_seconds": getattr(self, "fit_seconds_", None),
                "n_train_windows": getattr(self, "n_train_windows_", None),
                "n_windows_available": getattr(self, "n_windows_available_", None),
                "keras_version": keras.__version__}
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
        lengths = np.array([len(h) for h in self.histories_], dtype=np.int64)
        items = (np.concatenate(self.histories_) if len(lengths) else np.zeros(0, np.int64))
        with atomic_path(path.with_suffix(".npz")) as tmp:
            np.savez_compressed(tmp, history_lengths=lengths, history_items=items, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, histories: pd.DataFrame | None = None) -> "NextItemModel":
        """Load a model saved by :meth:`save` (safe mode: no code is deserialised).

        The users' histories saved with the model come back with it; pass
        ``histories`` (a frame like ``train``) to replace them.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"no saved model at {path}: fit the model and save() it first "
                "(or use course_utils.cache.load_or_fit)")
        meta = json.loads(path.with_suffix(".json").read_text())
        if meta.get("class", cls.__name__) != cls.__name__:
            raise TypeError(f"{path} holds a {meta['class']}, not a {cls.__name__}")
        params = dict(meta["params"])
        with np.load(path.with_suffix(".npz")) as data:
            params.update({k[len("param_"):]: data[k] for k in data.files
                           if k.startswith("param_")})
            lengths, items = data["history_lengths"], data["history_items"]
        model = cls(**params)
        model.n_items_ = int(meta["n_items_"])
        model.model_ = keras.saving.load_model(path, safe_mode=True)
        model.history_ = meta.get("history", {})
        model.epoch_seconds_ = meta.get("epoch_seconds", [])
        model.best_epoch_ = meta.get("best_epoch")
        model.fit_seconds_ = meta.get("fit_seconds")
        model.n_train_windows_ = meta.get("n_train_windows")
        model.n_windows_available_ = meta.get("n_windows_available")
        if histories is not None:
            model._set_histories(histories_from_frame(histories))
        else:
            model._set_histories(np.split(items, np.cumsum(lengths)[:-1]) if len(lengths)
                                 else [])
        return model


def chapter_models(cfg: Any, n_items: int) -> dict[str, NextItemModel]:
    """Chapter 10's two networks, unfitted, with the profile's settings.

    ``{"bilstm": ..., "gru": ...}``, built from the ``sequence`` section of
    ``cfg`` (and its ``split.seq_len`` and seed). Chapters 11 and 12 ask
    :func:`course_utils.cache.load_or_fit` (or :func:`course_utils.cache.cached`)
    for the same models on the same rows to reuse what chapter 10 trained.

    Example
    -------
    >>> cfg = {"sequence": {"embedding_dim": 8, "max_valid": 10, "patience": 1,
    ...                     "lstm": {"units": [4, 2], "epochs": 1},
    ...                     "gru": {"units": [4], "epochs": 1}}, "split": {"seq_len": 5}}
    >>> chapter_models(cfg, n_items=30)["gru"].get_params()["units"]
    [4]
    """
    seq = cfg["sequence"]
    common = dict(n_items=int(n_items), seq_len=int(cfg["split"]["seq_len"]),
                  embedding_dim=seq["embedding_dim"], max_valid=seq["max_valid"],
                  patience=seq["patience"], seed=int(getattr(cfg, "seed", 42)))
    return {"bilstm": NextItemModel("bilstm", **common, **seq["lstm"]),
            "gru": NextItemModel("gru", **common, **seq["gru"])}
