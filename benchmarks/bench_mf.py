"""How fast is matrix factorization: pure Python vs numba, NumPy ALS vs Spark ALS.

Three measurements, one run:

1. **SGD updates per second** (eqs. 4.3–4.5 with biases): the pure-Python
   reference ``course_utils.mf.sgd_epoch_python`` on ``--python-ratings`` ratings,
   and the numba-compiled ``sgd_epoch`` on all of them, at ranks 8 and 32.
2. **NumPy ALS vs Spark ALS at equal settings** on the same ratings (the book
   profile's synthetic data by default): rank 10, λ = 0.1 with Spark's weighting
   ("ALS-WR", no biases), 10 iterations; fit time and test RMSE of both.
3. **Spark ALS at growing sizes** (default 1M and 5M ratings; ``--big`` adds
   20M): synthetic ratings generated inside Spark (``spark.range`` plus seeded
   random columns: 100 ratings per user on average, 20,000 items with a skewed
   popularity), rank 10, 10 iterations. The NumPy ALS is timed on the same
   ratings, collected to the driver, for comparison.

Fit times exclude Spark's start-up and the conversion of the data (the frame is
cached and counted first). The machine's load average is printed: on a busy
machine every time is inflated.

Usage::

    nice .venv/bin/python benchmarks/bench_mf.py [--sizes 1e6,5e6] [--big] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from course_utils import metrics, mf, paths


def sgd_speed(rank: int, python_ratings: int, n_ratings: int, seed: int = 0) -> dict:
    """Updates per second of the pure-Python and the compiled SGD epoch."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 20_000, 3_000
    users = rng.integers(0, n_users, n_ratings)
    items = rng.integers(0, n_items, n_ratings)
    ratings = rng.integers(1, 11, n_ratings).astype(np.float64)

    def run(epoch, n):
        G = rng.normal(0, 0.1, (n_items, rank))
        H = rng.normal(0, 0.1, (n_users, rank))
        b_u, b_i = np.zeros(n_users), np.zeros(n_items)
        order = rng.permutation(n_ratings)[:n]
        start = time.perf_counter()
        epoch(users, items, ratings, order, G, H, b_u, b_i, 7.0, 0.01, 0.05, 0.05, True)
        return n / (time.perf_counter() - start)

    run(mf.sgd_epoch, 10)  # compile (or load numba's cache) before timing
    python = run(mf.sgd_epoch_python, python_ratings)
    compiled = max(run(mf.sgd_epoch, n_ratings) for _ in range(3))
    return {"rank": rank, "python_updates_per_s": python, "numba_updates_per_s": compiled}


def equal_settings(spark, profile: str, seed: int) -> dict:
    """NumPy ALS-WR and Spark ALS on the course data, same rank, λ and iterations."""
    from course_utils.data import explicit, load, split_explicit
    from course_utils.spark import SparkALS

    ds = load(profile=profile, seed=seed)
    train, _, test = split_explicit(explicit(ds), 0.1, 0.1, seed=seed)
    rank, reg, iterations = 10, 0.1, 10
    spark_model = SparkALS(rank=rank, reg=reg, epochs=iterations, num_blocks=4, seed=seed,
                           spark=spark).fit(train)
    start = time.perf_counter()
    numpy_model = mf.ALSMatrixFactorization(
        rank=rank, reg=reg, epochs=iterations, weighted_reg=True, biases=False,
        global_mean=False, init_std=1 / np.sqrt(rank), seed=seed).fit(train)
    numpy_seconds = time.perf_counter() - start
    rmse = {name: metrics.rmse(test["rating"], model.predict(test["user"], test["item"]))
            for name, model in (("spark", spark_model), ("numpy", numpy_model))}
    return {"profile": profile, "n_ratings": len(train), "rank": rank, "reg": reg,
            "iterations": iterations, "spark_seconds": spark_model.fit_seconds_,
            "numpy_seconds": numpy_seconds, "spark_rmse": rmse["spark"],
            "numpy_rmse": rmse["numpy"]}


def synthetic_spark_ratings(spark, n: int, seed: int):
    """``n`` ratings made by Spark itself: no pandas frame, no driver memory."""
    from pyspark.sql import functions as F

    n_users = max(1, n // 100)
    n_items = 20_000
    return (spark.range(n)
            .select((F.rand(seed) * n_users).cast("int").alias("user"),
                    (F.pow(F.rand(seed + 1), 2) * n_items).cast("int").alias("item"),
                    (F.floor(F.rand(seed + 2) * 10) + 1).cast("float").alias("rating")))


def scaling(spark, n: int, seed: int, with_numpy: bool) -> dict:
    from course_utils.spark import SparkALS

    frame = synthetic_spark_ratings(spark, n, seed).cache()
    frame.count()
    model = SparkALS(rank=10, reg=0.1, epochs=10, num_blocks=4, seed=seed, spark=spark)
    model.fit(frame)
    row = {"n_ratings": n, "spark_seconds": model.fit_seconds_}
    if with_numpy:
        local = frame.toPandas()
        start = time.perf_counter()
        mf.ALSMatrixFactorization(rank=10, reg=0.1, epochs=10, biases=False,
                                  global_mean=False, seed=seed).fit(local)
        row["numpy_seconds"] = time.perf_counter() - start
        del local
    frame.unpersist()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,5e6", help="ratings for the Spark scaling runs")
    parser.add_argument("--big", action="store_true", help="also 20 million ratings")
    parser.add_argument("--profile", default="book", help="data of the equal-settings run")
    parser.add_argument("--python-ratings", type=int, default=20_000)
    parser.add_argument("--no-numpy-scaling", action="store_true",
                        help="time only Spark at the scaling sizes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", default=str(paths.build_dir() / "benchmarks" / "bench_mf.json"))
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    if args.big:
        sizes.append(20_000_000)

    from course_tools.spark_session import get_spark, stop_spark

    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "numpy": version("numpy"), "numba": version("numba"),
                          "pyspark": version("pyspark"),
                          "load_average_start": os.getloadavg()[0]}}
    print("SGD updates per second ...", file=sys.stderr)
    report["sgd"] = [sgd_speed(rank, args.python_ratings, 1_000_000) for rank in (8, 32)]
    spark = get_spark("local[*]")
    print("NumPy ALS vs Spark ALS at equal settings ...", file=sys.stderr)
    report["equal_settings"] = equal_settings(spark, args.profile, args.seed)
    report["scaling"] = []
    for n in sizes:
        print(f"Spark ALS on {n:,} ratings ...", file=sys.stderr)
        report["scaling"].append(scaling(spark, n, args.seed, not args.no_numpy_scaling))
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))  # keep what we have
    stop_spark()
    report["machine"]["load_average_end"] = os.getloadavg()[0]
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(format_report(report))
    return 0


def format_report(report: dict) -> str:
    m = report["machine"]
    lines = [f"Measured on: {m['cpus']} CPUs, Python {m['python']}, numpy {m['numpy']}, "
             f"numba {m['numba']}, pyspark {m['pyspark']}; load average "
             f"{m['load_average_start']:.1f} at the start, "
             f"{m.get('load_average_end', float('nan')):.1f} at the end", "",
             "| SGD (eqs. 4.3–4.5, biases) | pure Python | numba | speed-up |",
             "| --- | ---: | ---: | ---: |"]
    for row in report["sgd"]:
        lines.append(f"| rank {row['rank']} | {row['python_updates_per_s']:,.0f} updates/s | "
                     f"{row['numba_updates_per_s']:,.0f} updates/s | "
                     f"{row['numba_updates_per_s'] / row['python_updates_per_s']:,.0f}× |")
    e = report["equal_settings"]
    lines += ["", f"| ALS, rank {e['rank']}, λ = {e['reg']} (λ n_u), {e['iterations']} iterations, "
                  f"{e['n_ratings']:,} ratings ({e['profile']} data) | fit | test RMSE |",
              "| --- | ---: | ---: |",
              f"| NumPy (`ALSMatrixFactorization`) | {e['numpy_seconds']:.1f} s | {e['numpy_rmse']:.4f} |",
              f"| Spark (`SparkALS`, local[*]) | {e['spark_seconds']:.1f} s | {e['spark_rmse']:.4f} |"]
    lines += ["", "| ratings (rank 10, 10 iterations) | Spark ALS fit | NumPy ALS fit |",
              "| ---: | ---: | ---: |"]
    for row in report["scaling"]:
        numpy_time = f"{row['numpy_seconds']:.1f} s" if "numpy_seconds" in row else "—"
        lines.append(f"| {row['n_ratings']:,} | {row['spark_seconds']:.1f} s | {numpy_time} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
