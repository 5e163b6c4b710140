"""Chapter 10's networks trained to early stopping with other settings: epochs, time, Recall@20.

The question behind the ``book`` profile's GRU and BiLSTM settings (issue 15): does a
larger batch or Adam step reach early stopping sooner without losing Recall@20? Each
``--set`` run trains one of ``chapter_models(cfg)`` (the chapter's own network and
settings) with the given settings replaced, on the profile's synthetic data, stops by
its early-stopping rule, and scores Recall@20 on every test user's held-out anime
exactly as chapter 10 does (validation anime observed, watched anime masked). The
first run is the profile's own setting, so every comparison is in the same run.

Usage::

    nice .venv/bin/python benchmarks/bench_next_item_settings.py gru \\
        --set batch_size=256,learning_rate=0.003 --set batch_size=512,learning_rate=0.005

Prints one JSON line per run, then a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import course_utils  # noqa: E402,F401  (quiet TensorFlow)
from course_utils import metrics  # noqa: E402
from course_utils.config import get_profile  # noqa: E402
from course_utils.data import leave_last_out, load, sequences  # noqa: E402
from course_utils.sequence.models import NextItemModel, chapter_models  # noqa: E402
from course_utils.sequence.pipeline import split_frames  # noqa: E402


def parse_settings(text: str) -> dict:
    """``"batch_size=512,learning_rate=0.005"`` -> ``{"batch_size": 512, "learning_rate": 0.005}``."""
    out = {}
    for pair in filter(None, text.split(",")):
        key, _, value = pair.partition("=")
        out[key.strip()] = json.loads(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architecture", choices=("gru", "bilstm"))
    parser.add_argument("--set", action="append", default=[], type=parse_settings,
                        help="settings to replace, e.g. batch_size=512,learning_rate=0.005")
    parser.add_argument("--profile", default="book")
    a = parser.parse_args(argv)

    cfg = get_profile(a.profile)
    ds = load(source="synthetic", profile=cfg.name, seed=cfg.seed)
    split = leave_last_out(sequences(ds))
    train, valid, _ = split_frames(split)
    base = chapter_models(cfg, ds.n_items)[a.architecture].get_params()
    rows = []
    for changes in [{}] + a.set:
        model = NextItemModel(**{**base, **changes})
        start = time.perf_counter()
        model.fit(train, valid)
        seconds = time.perf_counter() - start
        model.observe(valid)
        recall = metrics.evaluate(model.recommend(split.users, 20), split.test_items,
                                  ["recall@20"])["recall@20"]
        rows.append({"settings": changes or "profile's", "batch": model.batch_size,
                     "Adam step": model.learning_rate, "epochs": len(model.history_["loss"]),
                     "best": model.best_epoch_, "lowest val. loss": min(model.history_["val_loss"]),
                     "s per epoch": float(np.mean(model.epoch_seconds_)), "s": seconds,
                     "recall@20": recall})
        print(json.dumps(rows[-1], default=str), flush=True)
    print(f"\n{a.architecture}, {cfg.name} profile, {len(split.users):,} test users; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print("| batch | Adam step | epochs run (best) | lowest val. loss | s per epoch | s | Recall@20 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['batch']} | {r['Adam step']:g} | {r['epochs']} ({r['best']}) | "
              f"{r['lowest val. loss']:.3f} | {r['s per epoch']:.1f} | {r['s']:.0f} | "
              f"{r['recall@20']:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
