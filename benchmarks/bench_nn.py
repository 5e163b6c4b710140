"""How fast does a beta network train: tf.data pipeline vs NumPy arrays, and batch size.

One run, one table. The network is the thesis's Beta NN-128 as the course builds it
(``course_utils.nn.build_rating_network``: embeddings of 128 for every user and anime
of the book profile's data, a dense ReLU layer of 128, dropout 0.5, MAE, Adam at
0.001, op determinism on). Each configuration trains two epochs over the same
``--rows`` training ratings; the first epoch (which also traces and compiles the
training step) is not counted, the second is timed:

- **input**: the course's ``tf.data`` pipeline (``course_utils.nn.make_dataset``: the
  row numbers permuted in one step per epoch, batched, gathered in one vectorised step,
  prefetched) against plain NumPy arrays handed to ``model.fit`` (Keras slices and
  shuffles them itself) and against the pipeline the course used until 2026-12-06,
  which shuffled the row numbers through ``Dataset.shuffle`` (a buffer as large as the
  data, filled one row number at a time: ``buffer_shuffled_dataset`` below);
- **batch size** 256 … 4096 with the pipeline;
- **steps per execution** 1 and 32 (how many training steps Keras runs per call of its
  compiled function; ``EmbeddingRegressor`` uses 32).

(XLA is not among the options: Keras turns ``jit_compile`` off whenever TensorFlow's op
determinism is on, which the course needs for reproducible numbers; see
``model_supports_jit`` in Keras's trainer.)

Reported per configuration: wall-clock and CPU seconds of the timed epoch (CPU time
counts all threads; on a machine shared with other jobs, wall time is inflated while
CPU time much less so) and training examples per second of wall time.

With ``--converge`` it answers the other question, how long until early stopping ends
training: ``EmbeddingRegressor`` (the class the chapters use) trains Beta NN-128 on the
whole training split of the profile, with early stopping (patience 3) on its validation
split and at most ``--max-epochs`` epochs, once with the ``book`` profile's setting
(batch 1,024, Adam at the thesis's 0.001, ``tf.data``) and once with the faster
alternative of a larger batch with a scaled step (batch 4,096, Adam at 0.003, NumPy arrays).
Reported: epochs run, best epoch, whether early stopping ended it, best validation MAE,
test RMSE and wall time.

Usage::

    nice .venv/bin/python benchmarks/bench_nn.py [--rows 300000] [--profile book] [--json FILE]
    nice .venv/bin/python benchmarks/bench_nn.py --converge [--max-epochs 80]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import course_utils  # noqa: F401  (quiet TensorFlow)
from course_utils.data import explicit, load, split_explicit
from course_utils.hygiene import seed_everything
from course_utils.nn import build_rating_network, keras, make_dataset, tf
from course_utils.nn.pipeline import as_arrays


class EpochTimer(keras.callbacks.Callback):
    """Wall and CPU seconds of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.wall.append(time.perf_counter() - self._wall)
        self.cpu.append(time.process_time() - self._cpu)


def buffer_shuffled_dataset(frame, batch_size: int, seed: int):
    """The course's pipeline before 2026-12-06: row numbers through ``Dataset.shuffle``."""
    inputs, target = as_arrays(frame)
    users, items, ratings = (tf.constant(inputs["user"]), tf.constant(inputs["item"]),
                             tf.constant(target))

    def gather(index):
        return ({"user": tf.gather(users, index), "item": tf.gather(items, index)},
                tf.gather(ratings, index))

    ds = tf.data.Dataset.range(len(frame)).shuffle(len(frame), seed=seed,
                                                    reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                                    deterministic=True).prefetch(tf.data.AUTOTUNE)


INPUTS = {"tf.data": "tf.data", "numpy": "NumPy arrays",
          "buffer": "tf.data, Dataset.shuffle (before)"}


def measure(frame, n_users: int, n_items: int, batch_size: int, kind: str,
            steps_per_execution: int, seed: int = 42) -> dict:
    """Train two epochs; return the timing of the second.

    ``kind``: a key of ``INPUTS`` — the course's pipeline, NumPy arrays, or the earlier
    ``Dataset.shuffle`` pipeline.
    """
    seed_everything(seed)
    model = build_rating_network(n_users, n_items, embedding_size=128, dense_units=(128,),
                                 dropout=0.5, initial_rating=float(frame["rating"].mean()),
                                 steps_per_execution=steps_per_execution)
    timer = EpochTimer()
    if kind != "numpy":
        data = (buffer_shuffled_dataset(frame, batch_size, seed) if kind == "buffer"
                else make_dataset(frame, batch_size, shuffle=True, seed=seed))
        model.fit(data, epochs=2, shuffle=False, callbacks=[timer], verbose=0)
    else:
        x, y = as_arrays(frame)
        model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=True, callbacks=[timer],
                  verbose=0)
    return {"batch size": batch_size, "input": INPUTS[kind],
            "steps per execution": steps_per_execution,
            "wall s/epoch": timer.wall[1], "CPU s/epoch": timer.cpu[1],
            "examples/s": len(frame) / timer.wall[1]}


def converge(profile: str, max_epochs: int, settings: list[tuple[int, float, bool]]) -> list[dict]:
    """Train Beta NN-128 until early stopping (or ``max_epochs``) once per setting."""
    from course_utils.metrics import rmse
    from course_utils.nn import EmbeddingRegressor

    ds = load(source="synthetic", profile=profile, seed=42)
    train, valid, test = split_explicit(explicit(ds), 0.1, 0.1, seed=42)
    rows = []
    for batch_size, lr, pipeline in settings:
        net = EmbeddingRegressor(embedding_size=128, dense_units=(128,), dropout=0.5,
                                 learning_rate=lr, epochs=max_epochs, batch_size=batch_size,
                                 patience=3, use_pipeline=pipeline, seed=42,
                                 n_users=ds.n_users, n_items=ds.n_items).fit(train, valid)
        rows.append({"batch size": batch_size, "learning rate": lr,
                     "input": "tf.data" if pipeline else "NumPy arrays",
                     "epochs run": net.epochs_run_, "best epoch": net.best_epoch_,
                     "stopped early": net.epochs_run_ < max_epochs,
                     "best valid MAE": min(net.history_["val_loss"]),
                     "test RMSE": rmse(test["rating"], net.predict_frame(test)),
                     "wall s": net.fit_seconds_, "s/epoch": net.fit_seconds_ / net.epochs_run_,
                     "val_loss": net.history_["val_loss"]})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nMeasured on: {len(train):,} training and {len(valid):,} validation ratings "
          f"({profile} profile), Beta NN-128, at most {max_epochs} epochs, patience 3; "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}\n")
    print("| batch size | Adam step | input | epochs run | best epoch | stopped early | "
          "best valid MAE | test RMSE | wall s | s/epoch |")
    print("| ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['batch size']:,} | {r['learning rate']:g} | {r['input']} | {r['epochs run']} | "
              f"{r['best epoch']} | {'yes' if r['stopped early'] else 'no'} | "
              f"{r['best valid MAE']:.4f} | {r['test RMSE']:.4f} | {r['wall s']:.0f} | "
              f"{r['s/epoch']:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="training ratings per epoch")
    parser.add_argument("--profile", default="book", help="whose synthetic data to use")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--converge", action="store_true",
                        help="train to early stopping: the book setting against a larger batch and step")
    parser.add_argument("--max-epochs", type=int, default=80)
    args = parser.parse_args()
    if args.converge:
        rows = converge(args.profile, args.max_epochs, [(1024, 0.001, True), (4096, 0.003, False)])
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"rows": rows, "load_average": os.getloadavg()[0]}, fh, indent=2)
        return

    ds = load(source="synthetic", profile=args.profile, seed=42)
    train, _, _ = split_explicit(explicit(ds), 0.1, 0.1, seed=42)
    frame = train.sample(n=min(args.rows, len(train)), random_state=0).reset_index(drop=True)

    configs = [(1024, "tf.data", 32), (1024, "numpy", 32), (1024, "buffer", 32),
               (1024, "tf.data", 1)]
    configs += [(b, "tf.data", 32) for b in (256, 512, 2048, 4096)]
    rows = []
    for batch_size, kind, spe in configs:
        rows.append(measure(frame, ds.n_users, ds.n_items, batch_size, kind, spe))
        print(json.dumps(rows[-1]), flush=True)

    load_avg = os.getloadavg()[0]
    print(f"\nMeasured on: {len(frame):,} training ratings per epoch; {ds.n_users:,} users × "
          f"{ds.n_items:,} anime ({args.profile} profile), Beta NN-128; TensorFlow "
          f"{tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; load average {load_avg:.1f}\n")
    print("| batch size | input | steps per execution | wall s/epoch | CPU s/epoch | examples/s |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for r in sorted(rows, key=lambda r: (r["batch size"], r["input"], r["steps per execution"])):
        print(f"| {r['batch size']:,} | {r['input']} | {r['steps per execution']} | "
              f"{r['wall s/epoch']:.1f} | {r['CPU s/epoch']:.1f} | {r['examples/s']:,.0f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "load_average": load_avg, "n_rows": len(frame)}, fh,
                      indent=2)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
