"""How fast are the course's ranking metrics? Beside ranx, in the same run.

Scores ``--users`` top-``--k`` lists (default 100,000 × 100, ids from a
14,000-item catalogue) with NDCG, recall, MRR and MAP at ``k``, twice:

1. one held-out item per user (leave-last-out, the sequence chapters);
2. 1–10 relevant items per user (a padded ``(users, 10)`` array).

``course_utils.metrics`` is timed on a 2-D id array; ranx on its fastest input,
3-D ``[id, score]`` / ``[id, relevance]`` arrays handed to its numba kernels
(building its ``Qrels``/``Run`` objects from dicts is not counted). ranx's
first call compiles (or loads from numba's cache), so both its first and its
best later time are shown. The script checks that both give the same numbers
(MAP only where ``|relevant| <= k``: ranx divides AP by ``|relevant|``).

Usage::

    nice .venv/bin/python benchmarks/bench_metrics.py [--users 100000] [--k 100]
"""
from __future__ import annotations

import argparse
from importlib.metadata import version
import os
import platform
import time
import warnings

import numpy as np

from course_utils import metrics as M

METRICS = ("ndcg", "recall", "mrr", "map")


def make_case(n_users: int, k: int, n_items: int, max_relevant: int, seed: int):
    """Ranked lists without duplicates, and padded relevant sets (-1 = padding)."""
    rng = np.random.default_rng(seed)
    # distinct items per row: k draws from a shuffled catalogue (cheap for many rows)
    offsets = rng.integers(0, n_items, n_users)[:, None]
    steps = np.cumsum(rng.integers(1, n_items // k, (n_users, k)), axis=1)
    recs = (offsets + steps) % n_items
    recs = recs[np.arange(n_users)[:, None], rng.permuted(np.tile(np.arange(k), (n_users, 1)), axis=1)]
    n_rel = rng.integers(1, max_relevant + 1, n_users)
    # make a share of the relevant items real hits, so the metrics are not all zero
    rel = rng.integers(0, n_items, (n_users, max_relevant))
    lucky = rng.random(n_users) < 0.3
    rel[lucky, 0] = recs[lucky, rng.integers(0, k, lucky.sum())]
    rel = np.where(np.arange(max_relevant)[None, :] < n_rel[:, None], rel, -1)
    # no duplicate relevant ids within a row (ranx qrels are sets too)
    srt = np.sort(rel, axis=1)
    dup = np.zeros_like(rel, dtype=bool)
    dup[:, 1:] = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    rel = np.where(dup, -1, srt)
    return recs.astype(np.int64), rel


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def ours(recs, rel, k):
    return M.evaluate(recs, rel, [f"{m}@{k}" for m in METRICS])


def ranx_arrays(recs, rel):
    n, k = recs.shape
    run = np.empty((n, k, 2))
    run[:, :, 0] = recs
    run[:, :, 1] = np.arange(k, 0, -1)  # scores, best first
    # ranx needs one qrels array per user of its own length: a numba typed List
    from numba.typed import List

    qrels = List()
    for row in rel:
        ids = row[row >= 0].astype(np.float64)
        qrels.append(np.column_stack([ids, np.ones_like(ids)]))
    return qrels, run


def theirs(ranx_metrics, qrels, run, k):
    return {f"{m}@{k}": ranx_metrics[m](qrels, run, k) for m in METRICS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--items", type=int, default=14_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety warnings inside ranx
        from ranx import metrics as rm
    import_s = time.perf_counter() - t0
    ranx_metrics = {"ndcg": rm.ndcg, "recall": rm.recall, "mrr": rm.reciprocal_rank,
                    "map": rm.average_precision}

    import numba

    print(f"# {args.users:,} users × top-{args.k}, catalogue {args.items:,}; "
          f"numpy {np.__version__}, ranx {version('ranx')}, numba {numba.__version__} "
          f"({numba.get_num_threads()} threads), {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}; "
          f"ranx import {import_s:.1f} s\n")
    print("| case | what is timed | course_utils.metrics | ranx, first call | ranx, best later |")
    print("| --- | --- | ---: | ---: | ---: |")
    for label, max_rel in (("1 relevant item (leave-last-out)", 1), ("1–10 relevant items", 10)):
        recs, rel = make_case(args.users, args.k, args.items, max_rel, seed=0)
        targets = rel[:, 0] if max_rel == 1 else rel
        ours_s, ours_out = best_of(lambda: ours(recs, targets, args.k), args.repeat)
        qrels, run = ranx_arrays(recs, rel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            theirs(ranx_metrics, qrels, run, args.k)
            first_s = time.perf_counter() - start
            ranx_s, ranx_out = best_of(lambda: theirs(ranx_metrics, qrels, run, args.k),
                                       args.repeat)
        for m in ("ndcg", "recall", "mrr"):
            key = f"{m}@{args.k}"
            assert np.isclose(ours_out[key], np.mean(ranx_out[key]), rtol=1e-9), key
        small = (rel >= 0).sum(axis=1) <= args.k
        ours_map = M.map_at_k(recs, targets, args.k, per_user=True)
        assert np.allclose(ours_map[small], ranx_out[f"map@{args.k}"][small], rtol=1e-9)
        print(f"| {label} | NDCG, recall, MRR, MAP @{args.k} | {ours_s:.3f} s | "
              f"{first_s:.2f} s | {ranx_s:.3f} s |")
    print("\nSame values from both (checked). Times are wall-clock seconds, best of "
          f"{args.repeat}.")


if __name__ == "__main__":
    main()
