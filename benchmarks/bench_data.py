"""How fast and how lean is the data layer? Generation, loading, caching, streaming.

Measured, each step in its own Python process (so its peak memory is its own):

1. ``generate book``: the book profile's synthetic files (goal: < 30 s on 2 cores);
2. ``load book (CSV → parquet)``: validate, clean and cache them (first load);
3. ``load book (cache)``: the same load from the parquet cache (goal: < 2 s);
4. ``generate scale``: a large dataset streamed to disk in chunks (bounded memory);
5. ``stream CSV → parquet``: the loader's pyarrow reader over the scale
   UserAnimeList.csv, written batch by batch with a ParquetWriter;
6. ``load scale``: the full loader (validation + cleaning + cache) on it;
7. ``load scale as real data``: the same files loaded as ``source="kaggle"``,
   the path the real files take (no ground truth to map), whose peak memory per
   row read is extrapolated to the real file's 80 million rows;
8. ``pandas.read_csv``: the same file read whole by plain pandas, for comparison.

The default scale size is small enough for a laptop run (about 3 million
list entries); ``--full`` uses the ``full`` profile's size (about 20 million).
Wall-clock seconds depend on what else runs on the machine, so CPU seconds
(user + system, all threads of the step) are reported beside them.

Usage::

    nice .venv/bin/python benchmarks/bench_data.py            # default sizes
    nice .venv/bin/python benchmarks/bench_data.py --full     # scale = full profile
    nice .venv/bin/python benchmarks/bench_data.py --skip-book --scale-users 50000
    nice .venv/bin/python benchmarks/bench_data.py --quality book   # learnable signal
    nice .venv/bin/python benchmarks/bench_data.py --skip-book --reuse DIR   # scale files in DIR

Files go to ``build/bench-data/`` and are deleted afterwards unless ``--keep``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


# ----------------------------------------------------------------------------
# the steps (each runs in a child process: `bench_data.py --step NAME ...`)
# ----------------------------------------------------------------------------
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its threads so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _count_rows(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            n += block.count(b"\n")
    return n - 1


def step(name: str, folder: Path, cache: Path, a: argparse.Namespace) -> dict:
    from course_utils.data import generate, load

    base = _peak_mb()
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    out: dict = {}
    if name == "generate_book":
        generate("book", a.seed, out_dir=folder, overwrite=True)
        out["rows"] = _count_rows(folder / "UserAnimeList.csv")
    elif name in ("load_book", "load_book_cached", "load_scale", "load_scale_real"):
        ds = load("kaggle" if name == "load_scale_real" else "synthetic", data_dir=folder,
                  cache_dir=cache)
        out["rows"] = int(ds.meta["rows_read"])
        out["kept"] = len(ds.interactions)
    elif name == "generate_scale":
        generate(a.scale_profile, a.seed, out_dir=folder, overwrite=True, n_users=a.scale_users,
                 n_items=a.scale_items, mean_history=a.scale_history)
        out["rows"] = _count_rows(folder / "UserAnimeList.csv")
    elif name == "stream_parquet":
        import pyarrow.parquet as pq

        from course_utils.data import read, schema

        writer, rows = None, 0
        for _, batch in read.iter_lists(folder / "UserAnimeList.csv", schema.LIST_NEEDED,
                                        schema.LIST_OPTIONAL):
            if writer is None:
                writer = pq.ParquetWriter(cache / "lists.parquet", batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        writer.close()
        out["rows"] = rows
    elif name == "pandas_read_csv":
        import pandas as pd

        frame = pd.read_csv(folder / "UserAnimeList.csv")
        out["rows"] = len(frame)
    else:
        raise ValueError(name)
    out["seconds"] = time.perf_counter() - t0
    out["cpu_s"] = _cpu_s() - cpu0
    out["peak_mb"] = _peak_mb()
    out["baseline_mb"] = base
    return out


def run_step(name: str, folder: Path, cache: Path, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(HERE), "--step", name, "--folder", str(folder), "--cache", str(cache),
           "--seed", str(a.seed), "--scale-profile", a.scale_profile,
           "--scale-users", str(a.scale_users), "--scale-items", str(a.scale_items),
           "--scale-history", str(a.scale_history)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"step {name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["step"] = name
    print(f"  {name:<18} {result['seconds']:8.2f} s (cpu {result['cpu_s']:7.2f} s)   "
          f"peak {result['peak_mb']:7.0f} MB   rows {result['rows']:,}", flush=True)
    return result


# ----------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------
LABELS = {
    "generate_book": "generate book (CSV files)",
    "load_book": "load book: CSV → clean → parquet cache",
    "load_book_cached": "load book from the parquet cache",
    "generate_scale": "generate scale (streamed in chunks)",
    "stream_parquet": "scale: pyarrow stream CSV → parquet",
    "load_scale": "scale: load (validate, clean, cache)",
    "load_scale_real": "scale: load as real data (no truth)",
    "pandas_read_csv": "scale: plain pandas.read_csv",
}


REAL_ROWS = 80_076_112  # list entries of the real UserAnimeList.csv


def extrapolate(r: dict, rows: int = REAL_ROWS) -> tuple[float, float]:
    """(bytes per row read above the step's start, peak MB extrapolated to ``rows``).

    Everything above the start is counted as growing with the rows, fixed
    buffers included, so the extrapolation errs on the high side.

    Example
    -------
    >>> extrapolate({"peak_mb": 300.0, "baseline_mb": 100.0, "rows": 2**20}, rows=2**21)
    (200.0, 500.0)
    """
    per_row = (r["peak_mb"] - r["baseline_mb"]) * 2**20 / r["rows"]
    return per_row, r["baseline_mb"] + per_row * rows / 2**20


def slope(small: dict, large: dict, rows: int = REAL_ROWS) -> tuple[float, float]:
    """(bytes per additional row read, peak MB extrapolated to ``rows``) from two sizes.

    The growth of the peak between two file sizes leaves out what does not
    grow with the file (Python, the libraries, fixed buffers).

    Example
    -------
    >>> slope({"peak_mb": 300.0, "rows": 2**20}, {"peak_mb": 400.0, "rows": 2**21}, rows=2**22)
    (100.0, 600.0)
    """
    per_row = (large["peak_mb"] - small["peak_mb"]) * 2**20 / (large["rows"] - small["rows"])
    return per_row, large["peak_mb"] + per_row * (rows - large["rows"]) / 2**20


def table(results: list[dict]) -> str:
    lines = ["| step | rows | wall s | CPU s | rows/s (wall) | peak memory (MB) | bytes/row read "
             "| peak at 80 M rows (GB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    real = sorted((r for r in results if r["step"] == "load_scale_real"), key=lambda r: r["rows"])
    for r in results:
        extra = "| | "
        if r is real[-1:][0] if real else False:
            if len(real) > 1:  # the growth between the smallest and this size
                per_row, peak = slope(real[0], r)
                extra = f"| {per_row:.0f} (growth from {real[0]['rows'] / 1e6:.1f} M) | {peak / 1024:.1f} "
            else:
                per_row, peak = extrapolate(r)
                extra = f"| {per_row:.0f} | {peak / 1024:.1f} "
        elif r["step"].startswith("load_scale"):
            per_row, peak = extrapolate(r)
            extra = f"| {per_row:.0f} | {peak / 1024:.1f} "
        lines.append(f"| {LABELS[r['step']]} | {r['rows']:,} | {r['seconds']:.1f} | "
                     f"{r['cpu_s']:.1f} | {r['rows'] / r['seconds']:,.0f} | {r['peak_mb']:,.0f} {extra}|")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# --quality: is there something to learn? (independent, minimal implementations)
# ----------------------------------------------------------------------------
def _als(u, i, r, n_users, n_items, k, lam, iters=15, seed=0):
    """Biased ALS: alternate ridge solves for (p_u, b_u) and (q_i, b_i); returns a predictor."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mu = r.mean()
    P, Q = rng.normal(0, 0.1, (n_users, k)), rng.normal(0, 0.1, (n_items, k))
    bu, bi = np.zeros(n_users), np.zeros(n_items)

    def solve(rows, cols, n_rows, X, target):
        order = np.argsort(rows, kind="stable")
        rows, cols, target = rows[order], cols[order], target[order]
        d = X.shape[1]
        G, b = np.zeros((n_rows, d, d)), np.zeros((n_rows, d))
        for s in range(0, len(rows), 200_000):  # sum of outer products, group by group
            sl = slice(s, s + 200_000)
            Xc, rr = X[cols[sl]], rows[sl]
            starts = np.r_[0, np.flatnonzero(rr[1:] != rr[:-1]) + 1]
            G[rr[starts]] += np.add.reduceat(Xc[:, :, None] * Xc[:, None, :], starts, axis=0)
            b[rr[starts]] += np.add.reduceat(Xc * target[sl, None], starts, axis=0)
        return np.linalg.solve(G + lam * np.eye(d), b[..., None])[..., 0]

    for _ in range(iters):
        W = solve(u, i, n_users, np.c_[Q, np.ones(n_items)], r - mu - bi[i])
        P, bu = W[:, :k], W[:, k]
        W = solve(i, u, n_items, np.c_[P, np.ones(n_users)], r - mu - bu[u])
        Q, bi = W[:, :k], W[:, k]
    return lambda uu, ii: mu + bu[uu] + bi[ii] + np.einsum("ij,ij->i", P[uu], Q[ii])


def quality(profile: str, seed: int) -> list[tuple[str, str, float]]:
    """RMSE of global mean / biases / ALS vs the noise floor; Recall@20 of popularity / Markov / oracle."""
    import numpy as np
    from scipy.sparse import coo_matrix

    from course_utils.data import explicit, leave_last_out, load, sequences, split_explicit

    ds = load(profile=profile, seed=seed)
    train, _, test = split_explicit(explicit(ds), 0.1, 0.1, seed)
    u, i, r = (train[c].to_numpy() for c in ("user", "item", "rating"))
    tu, ti, tr = (test[c].to_numpy() for c in ("user", "item", "rating"))
    rmse = lambda pred: float(np.sqrt(np.mean((tr - pred) ** 2)))  # noqa: E731
    mu = r.mean()
    bu, bi = np.zeros(ds.n_users), np.zeros(ds.n_items)
    for _ in range(10):  # user + item biases, shrunk by 5 pseudo-counts
        bi = np.bincount(i, r - mu - bu[u], ds.n_items) / (np.bincount(i, minlength=ds.n_items) + 5)
        bu = np.bincount(u, r - mu - bi[i], ds.n_users) / (np.bincount(u, minlength=ds.n_users) + 5)
    rows = [("ratings", "test RMSE: global mean", rmse(mu)),
            ("ratings", "test RMSE: user + item bias", rmse(mu + bu[tu] + bi[ti])),
            ("ratings", "test RMSE: ALS rank 4, λ 2", rmse(_als(u, i, r, ds.n_users, ds.n_items, 4, 2.0)(tu, ti))),
            ("ratings", "test RMSE: noise floor (truth)", ds.truth.rmse_floor(test))]
    split = leave_last_out(sequences(ds))
    inputs, targets = split.test_inputs, split.test_items
    pop = np.bincount(np.concatenate(inputs), minlength=ds.n_items).astype(float)
    a = np.concatenate([s[:-1] for s in inputs])
    b = np.concatenate([s[1:] for s in inputs])
    markov = coo_matrix((np.ones(len(a)), (a, b)), shape=(ds.n_items, ds.n_items)).tocsr()
    last = np.array([s[-1] for s in inputs])

    def recall(scores_of, k=20):
        hits = 0
        for lo in range(0, len(inputs), 1000):
            block = np.arange(lo, min(lo + 1000, len(inputs)))
            S = scores_of(block)
            for row, j in enumerate(block):
                S[row, inputs[j]] = -np.inf  # full catalogue, seen items excluded
            top = np.argpartition(-S, k - 1, axis=1)[:, :k]
            hits += int((top == targets[block][:, None]).any(axis=1).sum())
        return hits / len(inputs)

    rows += [("next item", "Recall@20: most popular", recall(lambda bl: np.tile(pop, (len(bl), 1)))),
             ("next item", "Recall@20: item-to-item Markov", recall(
                 lambda bl: markov[last[bl]].toarray() + 1e-9 * pop[None, :])),
             ("next item", "Recall@20: oracle (truth)", recall(
                 lambda bl: ds.truth.next_item_probabilities(split.users[bl], [inputs[j] for j in bl])))]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="scale size = the full profile (~20M rows)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scale-users", type=int, default=30_000)
    p.add_argument("--scale-items", type=int, default=8_000)
    p.add_argument("--scale-history", type=float, default=100.0)
    p.add_argument("--scale-profile", default="full")
    p.add_argument("--quality", metavar="PROFILE", help="instead: check what the data lets models learn")
    p.add_argument("--skip-book", action="store_true")
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--skip-pandas", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--reuse", metavar="DIR", nargs="+", default=None,
                   help="take the scale files from the last DIR (generated before) instead of "
                        "generating; earlier DIRs (smaller files) are loaded as real data too, "
                        "and the growth of the peak between the sizes is extrapolated")
    p.add_argument("--out", default=None, help="default: build/bench-data")
    p.add_argument("--step", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.step:
        print(json.dumps(step(a.step, Path(a.folder), Path(a.cache), a)))
        return 0
    from course_utils import paths
    from course_utils.config import get_profile

    if a.quality:
        print(f"| signal | measure ({a.quality} profile, seed {a.seed}) | value |\n| --- | --- | ---: |")
        for kind, name, value in quality(a.quality, a.seed):
            print(f"| {kind} | {name} | {value:.4f} |", flush=True)
        return 0

    if a.full:
        d = get_profile("full")["data"]
        a.scale_users, a.scale_items, a.scale_history = d["n_users"], d["n_items"], d["mean_history"]
    root = Path(a.out) if a.out else paths.build_dir() / "bench-data"
    root.mkdir(parents=True, exist_ok=True)
    print(f"bench_data: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; files in {root}", flush=True)
    results = []
    try:
        if not a.skip_book:
            book, cache = root / "book", root / "cache-book"
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir(parents=True)
            for name in ("generate_book", "load_book", "load_book_cached"):
                results.append(run_step(name, book, cache, a))
        scale, cache = root / "scale", root / "cache-scale"
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        steps = [] if a.skip_scale else ["generate_scale", "stream_parquet", "load_scale",
                                         "load_scale_real"]
        if a.reuse:
            scale = Path(a.reuse[-1])
            steps = [s for s in steps if s != "generate_scale"]
            for smaller in a.reuse[:-1]:
                results.append(run_step("load_scale_real", Path(smaller), cache, a))
        if steps and not a.skip_pandas:
            steps.append("pandas_read_csv")
        for name in steps:
            if name == "pandas_read_csv":
                import psutil

                size = (scale / "UserAnimeList.csv").stat().st_size
                if psutil.virtual_memory().available < 8 * size:
                    print(f"  skipping pandas.read_csv: needs ~{8 * size / 2**30:.1f} GiB free")
                    continue
            results.append(run_step(name, scale, cache, a))
    finally:
        if not a.keep:
            shutil.rmtree(root / "book", ignore_errors=True)
            shutil.rmtree(root / "scale", ignore_errors=True)
            for c in ("cache-book", "cache-scale"):
                shutil.rmtree(root / c, ignore_errors=True)
    md = table(results)
    print()
    print(md)
    (paths.build_dir()).mkdir(exist_ok=True)
    (paths.build_dir() / "bench_data.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
