"""The embedding network of thesis 4.1.2 and 5.1, and a model class around it.

The architecture (the thesis's "beta" networks)::

    user id ─ Embedding(n_users, d) ─ Flatten ─┐
                                               ├─ Concatenate ─ Dense(ReLU) ─ Dropout ─ … ─ Dense(1) → score
    item id ─ Embedding(n_items, d) ─ Flatten ─┘

trained with the mean absolute error (eq. 4.6) as loss, the root mean squared
error (eq. 4.8) as metric, and Adam at a learning rate of 0.001. The three beta
networks differ only in the embedding size ``d`` (100, 128, 150); all use dropout
0.5 and Keras's ``EarlyStopping(patience=3, restore_best_weights=True)``.

The thesis does not say where its dropout layers sit. Here they follow every
hidden layer; dropout on the concatenated embeddings themselves
(``embedding_dropout``, off by default) slows learning a lot on the course data,
as chapter 07 shows.

:class:`EmbeddingRegressor` wraps the network in the course's model shape:
``fit(train, valid)`` / ``predict(users, items)`` / ``recommend(users, k)``, plus
``save`` and :meth:`EmbeddingRegressor.load`.

Example
-------
>>> import numpy as np, pandas as pd
>>> from course_utils.nn import EmbeddingRegressor
>>> rng = np.random.default_rng(0)
>>> train = pd.DataFrame({"user": rng.integers(0, 30, 600), "item": rng.integers(0, 20, 600),
...                       "rating": rng.integers(1, 11, 600)})
>>> model = EmbeddingRegressor(embedding_size=8, dense_units=(8,), epochs=2,
...                            batch_size=128).fit(train)
>>> model.predict([0, 1], [3, 4]).shape, model.recommend([0], k=5).shape
((2,), (1, 5))
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import pandas as pd

from course_utils.hygiene import seed_everything
from course_utils.data.views import rating_arrays
from course_utils.model import Recommender, atomic_path
from course_utils.nn.pipeline import as_arrays, make_dataset
from course_utils.recommend import seen_matrix

__all__ = ["build_rating_network", "EmbeddingRegressor", "BETA_EMBEDDING_SIZES"]

BETA_EMBEDDING_SIZES = (100, 128, 150)  # thesis 5.1
LOSSES = ("mae", "mse", "huber")


def build_rating_network(n_users: int, n_items: int, embedding_size: int = 128,
                         dense_units: Sequence[int] = (128,), dropout: float = 0.5,
                         learning_rate: float = 0.001, loss: str = "mae",
                         initial_rating: float = 0.0, embedding_dropout: float = 0.0,
                         steps_per_execution: int = 1,
                         name: str | None = None) -> keras.Model:
    """Build and compile the embedding network of thesis 5.1.

    Parameters
    ----------
    n_users, n_items
        Rows of the two embedding tables (ids run from 0 to n - 1).
    embedding_size
        ``d``, the length of each user and item vector (the beta networks use
        100, 128 and 150).
    dense_units
        Widths of the hidden ReLU layers (eq. 4.7), e.g. ``(128,)`` or ``(128, 64)``.
    dropout
        Rate of the ``Dropout`` layer after every hidden layer (0 = none). Keras's
        rate is the share of units *dropped*; the thesis's ``p`` is the share
        *kept*, so the thesis's p = 0.5 is rate 0.5.
    learning_rate
        Adam's step size (the thesis keeps it at 0.001).
    loss
        ``"mae"`` (the thesis, eq. 4.6), ``"mse"`` or ``"huber"``.
    initial_rating
        Starting value of the output bias; the training mean makes the untrained
        network predict the global mean instead of 0.
    embedding_dropout
        Rate of a ``Dropout`` layer on the concatenated embeddings (0 = none).
    steps_per_execution
        Training steps Keras runs per call of its compiled step function; more
        than 1 saves Python overhead per batch (same updates, same numbers).
    name
        The model's name (default ``beta_nn_<embedding_size>``).

    Returns
    -------
    keras.Model
        Compiled, with the metrics ``rmse`` and ``mae``.

    Example
    -------
    >>> net = build_rating_network(50, 20, embedding_size=4, dense_units=(8,))
    >>> net.name, net.count_params()   # 50*4 + 20*4 + (8*8 + 8) + (8 + 1)
    ('beta_nn_4', 361)
    """
    for label, value in (("n_users", n_users), ("n_items", n_items),
                         ("embedding_size", embedding_size)):
        if int(value) < 1:
            raise ValueError(f"{label} must be a positive integer, got {value}")
    for label, rate in (("dropout", dropout), ("embedding_dropout", embedding_dropout)):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{label} is the share of units dropped, in [0, 1); got {rate}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if any(int(u) < 1 for u in dense_units):
        raise ValueError(f"dense_units must be positive widths, got {tuple(dense_units)}")

    user = keras.Input(shape=(1,), dtype="int32", name="user")
    item = keras.Input(shape=(1,), dtype="int32", name="item")
    user_vec = keras.layers.Flatten(name="user_flat")(
        keras.layers.Embedding(int(n_users), int(embedding_size), name="user_embedding")(user))
    item_vec = keras.layers.Flatten(name="item_flat")(
        keras.layers.Embedding(int(n_items), int(embedding_size), name="item_embedding")(item))
    x = keras.layers.Concatenate(name="concat")([user_vec, item_vec])
    if embedding_dropout > 0:
        x = keras.layers.Dropout(embedding_dropout, name="dropout_0")(x)
    for k, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(int(units), activation="relu", name=f"dense_{k}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{k}")(x)
    score = keras.layers.Dense(
        1, name="score", bias_initializer=keras.initializers.Constant(float(initial_rating)))(x)

    model = keras.Model({"user": user, "item": item}, score,
                        name=name or f"beta_nn_{int(embedding_size)}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss={"mae": "mean_absolute_error", "mse": "mean_squared_error",
              "huber": "huber"}[loss],
        metrics=[keras.metrics.RootMeanSquaredError(name="rmse"),
                 keras.metrics.MeanAbsoluteError(name="mae")],
        steps_per_execution=int(steps_per_execution),
    )
    return model


class EmbeddingRegressor(Recommender):
    """A beta network with the course's model shape (:mod:`course_utils.model`).

    Parameters
    ----------
    embedding_size, dense_units, dropout, learning_rate, loss, embedding_dropout
        The architecture and training setup (see :func:`build_rating_network`).
    epochs
        The most epochs to train; early stopping usually ends training sooner.
    batch_size
        Examples per gradient step.
    patience
        Early-stopping patience on the validation loss (thesis: 3); ``None``
        trains for all ``epochs`` (the overfitting demonstration of chapter 07).
    n_users, n_items
        Sizes of the embedding tables (default: largest id in ``train`` + 1).
        Give them when validation or test frames hold ids that ``train`` lacks.
    use_pipeline
        Feed Keras a ``tf.data`` pipeline (default) or plain NumPy arrays.
    clip
        Clip predictions to the range of the training ratings.
    seed
        Seeds weights, dropout masks and the shuffle order.

    Attributes (after ``fit``)
    --------------------------
    model_
        The trained ``keras.Model``.
    history_
        ``{"loss": [...], "val_loss": [...], "rmse": [...], "val_rmse": [...], ...}``,
        one value per epoch, as returned by ``keras.Model.fit``.
    best_epoch_
        The epoch (from 1) with the lowest validation loss, whose weights the
        model keeps; ``None`` without validation data.
    epochs_run_, fit_seconds_
        Epochs actually trained, and the wall time of ``fit``.
    """

    _fitted_attribute = "model_"
    file_suffix = ".keras"

    def __init__(self, embedding_size: int = 128, dense_units: Sequence[int] = (128,),
                 dropout: float = 0.5, learning_rate: float = 0.001, loss: str = "mae",
                 epochs: int = 30, batch_size: int = 1024, patience: int | None = 3,
                 n_users: int | None = None, n_items: int | None = None,
                 use_pipeline: bool = True, clip: bool = True, seed: int = 42,
                 embedding_dropout: float = 0.0) -> None:
        self.embedding_size = embedding_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.n_users = n_users
        self.n_items = n_items
        self.use_pipeline = use_pipeline
        self.clip = clip
        self.seed = seed
        self.embedding_dropout = embedding_dropout

    # --------------------------------------------------------------------- fit
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None,
            callbacks: Sequence[keras.callbacks.Callback] = (),
            verbose: int = 0) -> "EmbeddingRegressor":
        """Train on ``train`` (columns user, item, rating); early-stop on ``valid``.

        Without ``valid`` no early stopping happens and all ``epochs`` run.
        ``callbacks`` are added to the early-stopping callback (for example a
        ``keras.callbacks.CSVLogger``). Returns ``self``.
        """
        if int(self.epochs) < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.patience is not None and int(self.patience) < 0:
            raise ValueError(f"patience must be >= 0 or None, got {self.patience}")
        rating_arrays(train, "train")
        if valid is not None:
            rating_arrays(valid, "valid")
        start = time.perf_counter()
        frames = [train] if valid is None else [train, valid]
        self.n_users_ = max([int(f["user"].max()) + 1 for f in frames] + [self.n_users or 0])
        self.n_items_ = max([int(f["item"].max()) + 1 for f in frames] + [self.n_items or 0])
        ratings = train["rating"].to_numpy(np.float64)
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        self.mean_rating_ = float(ratings.mean())

        seed_everything(int(self.seed))  # weights, dropout masks, shuffle order
        self.model_ = build_rating_network(
            self.n_users_, self.n_items_, int(self.embedding_size),
            tuple(int(u) for u in self.dense_units), float(self.dropout),
            float(self.learning_rate), self.loss, initial_rating=self.mean_rating_,
            embedding_dropout=float(self.embedding_dropout), steps_per_execution=32)

        cbs = list(callbacks)
        if valid is not None and self.patience is not None:
            cbs.insert(0, keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=int(self.patience), restore_best_weights=True))
        batch, epochs = int(self.batch_size), int(self.epochs)
        if self.use_pipeline:
            data = make_dataset(train, batch, shuffle=True, seed=int(self.seed))
            val = None if valid is None else make_dataset(valid, max(batch, 8192),
                                                          shuffle=False)
            # the pipeline shuffles (seeded); Keras must not try to shuffle it again
            history = self.model_.fit(data, validation_data=val, epochs=epochs,
                                      shuffle=False, callbacks=cbs, verbose=verbose)
        else:
            x, y = as_arrays(train)
            val = None if valid is None else as_arrays(valid)
            history = self.model_.fit(x, y, validation_data=val, epochs=epochs,
                                      batch_size=batch, shuffle=True,
                                      callbacks=cbs, verbose=verbose)
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.epochs_run_ = len(self.history_["loss"])
        self.best_epoch_ = (int(np.argmin(self.history_["val_loss"])) + 1
                            if "val_loss" in self.history_ else None)
        self.seen_ = seen_matrix(train, self.n_users_, self.n_items_)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    # ----------------------------------------------------------------- predict

    def predict(self, users: Any, items: Any, batch_size: int = 65_536) -> np.ndarray:
        """Predicted ratings for the pairs ``(users[j], items[j])`` (dropout off)."""
        self._check_fitted()
        u = np.asarray(users).ravel()
        i = np.asarray(items).ravel()
        if u.shape != i.shape:
            raise ValueError(f"users has {u.size} ids but items has {i.size}; pass pairs")
        for label, ids, size in (("users", u, self.n_users_), ("items", i, self.n_items_)):
            if ids.size and ids.dtype.kind not in "iu":
                raise TypeError(f"{label} must be integer ids, got dtype {ids.dtype}")
            if ids.size and (ids.min() < 0 or ids.max() >= size):
                raise ValueError(
                    f"{label} holds id {int(ids.max()) if ids.max() >= size else int(ids.min())}"
                    f" outside the embedding table of {size} rows; pass n_users/n_items to "
                    "the constructor when the test data holds ids that train lacks")
        out = np.empty(u.size, dtype=np.float64)
        for start in range(0, u.size, batch_size):
            sl = slice(start, start + batch_size)
            batch = {"user": u[sl].astype(np.int32).reshape(-1, 1),
                     "item": i[sl].astype(np.int32).reshape(-1, 1)}
            out[sl] = np.asarray(self.model_(batch, training=False)).ravel()
        return np.clip(out, *self.rating_range_) if self.clip else out

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """``predict(frame.user, frame.item)``."""
        rating_arrays(frame, "frame", need_rating=False)
        return self.predict(frame["user"].to_numpy(), frame["item"].to_numpy())

    def score(self, users: Any) -> np.ndarray:
        """Predicted ratings of every item, one row per user (used by ``recommend``)."""
        self._check_fitted()
        u = np.asarray(users, dtype=np.int64).ravel()
        all_u = np.repeat(u, self.n_items_)
        all_i = np.tile(np.arange(self.n_items_, dtype=np.int64), u.size)
        return self.predict(all_u, all_i).reshape(u.size, self.n_items_)

    def evaluate(self, frame: pd.DataFrame) -> dict[str, float]:
        """RMSE (eq. 4.8) and MAE (eq. 4.6) of the clipped predictions on ``frame``."""
        from course_utils.metrics import mae, rmse

        pred = self.predict_frame(frame)
        return {"rmse": rmse(frame["rating"], pred), "mae": mae(frame["rating"], pred)}

    # -------------------------------------------------------------- save/load
    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Save to ``path`` (``.keras``, Keras's native format) plus two files beside it.

        ``<stem>.json`` holds the parameters, the history, the best epoch and
        ``extra``; ``<stem>.seen.npz`` the training items of each user (for
        ``recommend(exclude_seen=True)``). Each file is written atomically.
        """
        from scipy import sparse

        self._check_fitted()
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"{path}: use the native Keras format, a file name ending .keras")
        with atomic_path(path) as tmp:
            self.model_.save(tmp)
        params = self.get_params()
        params["dense_units"] = [int(u) for u in params["dense_units"]]
        meta = {
            "params": params,
            "n_users_": self.n_users_, "n_items_": self.n_items_,
            "rating_range_": list(self.rating_range_), "mean_rating_": self.mean_rating_,
            "history_": self.history_, "best_epoch_": self.best_epoch_,
            "epochs_run_": self.epochs_run_, "fit_seconds_": self.fit_seconds_,
            "keras_version": keras.__version__, "extra": extra or {},
        }
        with atomic_path(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
        with atomic_path(path.with_suffix(".seen.npz")) as tmp:
            sparse.save_npz(tmp, sparse.csr_matrix(self.seen_))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "EmbeddingRegressor":
        """Load a model saved by :meth:`save`, with Keras's safe mode on.

        Safe mode refuses to deserialise arbitrary Python code (``Lambda`` layers),
        so loading a file from elsewhere cannot run code hidden in it.
        """
        from scipy import sparse

        path = Path(path)
        meta_file = path.with_suffix(".json")
        for f in (path, meta_file):
            if not f.exists():
                raise FileNotFoundError(f"{f} does not exist: train the model and save() it "
                                        "first (or use course_utils.cache.load_or_fit)")
        meta = json.loads(meta_file.read_text())
        params = dict(meta["params"])
        params["dense_units"] = tuple(params["dense_units"])  # JSON stored the tuple as a list
        obj = cls(**params)
        obj.model_ = keras.saving.load_model(path, compile=True, safe_mode=True)
        obj.n_users_, obj.n_items_ = int(meta["n_users_"]), int(meta["n_items_"])
        obj.rating_range_ = tuple(meta["rating_range_"])
        obj.mean_rating_ = float(meta["mean_rating_"])
        obj.history_ = meta["history_"]
        obj.best_epoch_ = meta["best_epoch_"]
        obj.epochs_run_ = int(meta["epochs_run_"])
        obj.fit_seconds_ = float(meta["fit_seconds_"])
        obj.extra_ = meta.get("extra", {})
        seen_file = path.with_suffix(".seen.npz")
        obj.seen_ = sparse.csr_array(sparse.load_npz(seen_file)) if seen_file.exists() else None
        return obj
