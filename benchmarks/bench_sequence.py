"""Training time per epoch of the next-item networks: BiLSTM vs GRU, loop vs unrolled, softmax over N.

For each catalogue size ``N`` the script builds the thesis's bidirectional LSTM
(200 → 100 units) and the GRU (100 units) of :mod:`course_utils.sequence.models`,
and trains each on the same random windows (length 18, every item id drawn
uniformly, some windows left-padded so that masking works as in the chapters)
for one untimed epoch (graph tracing) and ``--epochs`` timed ones, once with the
recurrence as a ``while`` loop over the time steps (Keras's default) and once
unrolled (``unroll=True``; the course keeps the loop). Reported: seconds per epoch
and per 1,000 windows, and the first epoch's extra cost. (XLA is not among the options: Keras
turns ``jit_compile`` off whenever TensorFlow's op determinism is on, which the course
needs for reproducible numbers; see ``model_supports_jit`` in Keras's trainer.)

The softmax layer has ``hidden × N`` weights and its product costs
``hidden × N`` multiply-adds per window, so with a large catalogue the output
layer, not the recurrence, dominates — the numbers show where that happens.

Usage::

    nice .venv/bin/python benchmarks/bench_sequence.py                  # N = 1,000, 3,000, 14,000
    nice .venv/bin/python benchmarks/bench_sequence.py --sizes 3000 --windows 20000

Prints a Markdown table (paste it into benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import course_utils  # noqa: E402,F401  (quiet TensorFlow before it is imported)
from course_utils.hygiene import seed_everything  # noqa: E402


def random_windows(n: int, n_items: int, L: int, rng: np.random.Generator):
    """Windows of ``item + 1`` ids, a quarter of them left-padded, and random targets."""
    X = rng.integers(1, n_items + 1, size=(n, L)).astype(np.int32)
    short = rng.random(n) < 0.25
    lengths = rng.integers(1, L, size=n)
    X[short] = np.where(np.arange(L)[None, :] < (L - lengths[short])[:, None], 0, X[short])
    y = rng.integers(0, n_items, size=n).astype(np.int32)
    return X, y


def time_model(name: str, n_items: int, X, y, batch_size: int, epochs: int,
               unroll: bool) -> dict:
    from course_utils.sequence.models import EpochTimer, build_bilstm, build_gru
    from course_utils.sequence.pipeline import to_dataset

    seed_everything(0)
    build = {"BiLSTM 200→100": lambda: build_bilstm(n_items, X.shape[1], unroll=unroll),
             "GRU 100": lambda: build_gru(n_items, X.shape[1], unroll=unroll)}[name]
    model = build()
    data = to_dataset(X, y, batch_size, shuffle=True, seed=0)
    timer = EpochTimer()
    model.fit(data, epochs=1 + epochs, callbacks=[timer], verbose=0, shuffle=False)
    later = float(np.median(timer.seconds[1:]))
    return {"model": name, "N": n_items, "params": model.count_params(),
            "steps": "unrolled" if unroll else "loop",
            "first": timer.seconds[0], "epoch": later, "per_1k": 1000 * later / len(y)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 3_000, 14_000],
                        help="catalogue sizes N (softmax width)")
    parser.add_argument("--windows", type=int, default=5_120, help="training windows per epoch")
    parser.add_argument("--seq-len", type=int, default=18)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs (after one untimed)")
    a = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    rows = []
    for n_items in a.sizes:
        X, y = random_windows(a.windows, n_items, a.seq_len, rng)
        for name in ("GRU 100", "BiLSTM 200→100"):
            for unroll in (False, True):
                rows.append(time_model(name, n_items, X, y, a.batch_size, a.epochs, unroll))
                r = rows[-1]
                print(f"  N={n_items:,} {name} ({r['steps']}): {r['epoch']:.1f} s/epoch "
                      f"(first {r['first']:.1f} s)", file=sys.stderr, flush=True)

    load_end = os.getloadavg()[0]
    print(f"Measured on: {a.windows:,} windows of length {a.seq_len}, batch {a.batch_size}, "
          f"embedding 64; tensorflow {tf.__version__}, keras {keras.__version__}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {load_start:.1f} at the start, {load_end:.1f} at the end\n")
    print("| N (softmax) | model | time steps | parameters | first epoch (s) | later epoch (s) "
          "| s per 1,000 windows |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['N']:,} | {r['model']} | {r['steps']} | {r['params']:,} | "
              f"{r['first']:.1f} | {r['epoch']:.1f} | {r['per_1k']:.2f} |")
    by = {(r["model"], r["N"], r["steps"]): r["epoch"] for r in rows}
    print()
    for n_items in a.sizes:
        ratio = by[("BiLSTM 200→100", n_items, "unrolled")] / by[("GRU 100", n_items, "unrolled")]
        gain = {m: by[(m, n_items, "loop")] / by[(m, n_items, "unrolled")]
                for m in ("BiLSTM 200→100", "GRU 100")}
        print(f"N = {n_items:,}: the BiLSTM epoch takes {ratio:.1f}× the GRU's; unrolling makes "
              f"the BiLSTM {gain['BiLSTM 200→100']:.2f}× and the GRU {gain['GRU 100']:.2f}× "
              "as fast as the loop.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
