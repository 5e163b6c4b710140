"""Profiles: how big the data is and how long models train.

A chapter never hard-codes a size or an epoch count; it asks its profile.

``ci``
    The whole course in a few minutes on 2 cores: every code path runs,
    numbers are small-sample and noisy.
``book``
    What the published book shows: big enough for every model to show its
    character (about a million ratings), within the course's time budget.
``full``
    The real MyAnimeList data at full size, for a big machine or a cluster.

Example
-------
>>> from course_utils.config import get_profile
>>> cfg = get_profile("ci")
>>> cfg.name, cfg.seed
('ci', 42)
>>> cfg["data"]["n_users"] > 0
True
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

PROFILE_NAMES = ("ci", "book", "full")
DATA_SOURCES = ("synthetic", "kaggle", "kaggle_cooper")
DEFAULT_SEED = 42

# One dictionary per profile, one section per part of the course. Each section
# is owned by the module of the same name (data, mf, spark, nn, sequence, ...).
_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "ci": {
        "data": {"n_users": 1_500, "n_items": 600, "mean_history": 30},
        "split": {"valid_frac": 0.1, "test_frac": 0.1, "seq_len": 18, "min_history": 3},
        # mf: SGD (rank, lr, reg, epochs) and ALS (als_*) of chapter 04, the starting values;
        # its tuning: λ over sweep_regs (log-spaced, three decades) at the starting rank, then
        # the ranks of sweep_ranks (up to 64; ci: the same range as book) at the best λ
        "mf": {"rank": 8, "epochs": 12, "lr": 0.02, "reg": 0.1,
               "als_rank": 8, "als_reg": 0.3, "als_reg_bias": 0.2, "als_iterations": 10,
               "patience": 2, "sweep_ranks": [4, 16, 64],
               "sweep_regs": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
               "python_ratings": 3_000},
        # spark: Spark's ALS of chapter 05 (same split); grid_* its tuning: λ (Spark's
        # regParam, ALS-WR scaling) log-spaced over three decades at rank grid_first_rank,
        # then the ranks at the best λ (ci: the same range as book, coarser)
        "spark": {"rank": 10, "max_iter": 5, "reg": 0.1, "num_blocks": 4,
                  "grid_first_rank": 16, "grid_ranks": [4, 16, 64],
                  "grid_regs": [0.01, 0.1, 1.0, 10.0], "grid_max_iter": 5, "top_k": 10},
        # nn: the beta networks of chapters 06-07 (thesis 5.1); demo_* the side studies
        # (loss swap, dropout sweep) on a sample of demo_rows training ratings; epochs is
        # a ceiling: early stopping (patience) ends training before it (at book after about
        # 33-36 epochs: benchmarks/bench_nn.py --converge and the chapters)
        "nn": {"epochs": 30, "batch_size": 512, "embedding_sizes": [100, 128, 150],
               "dense_units": [128], "dropout": 0.5, "learning_rate": 0.001, "loss": "mae",
               "patience": 3, "no_dropout_epochs": 6, "demo_rows": 10_000, "demo_epochs": 4,
               "dropout_sweep": [0.0, 0.2, 0.5, 0.8]},
        # sequence: next-item models of chapters 10-12 (window length: split.seq_len);
        # max_sequences = training windows per epoch, fresh each epoch (None: all of them);
        # epochs = a ceiling: early stopping (patience) ends the training; min_delta (default
        # 0) = the least fall of the validation loss that counts as an improvement
        "sequence": {"embedding_dim": 64, "max_valid": 1_000, "patience": 2,
                     "lstm": {"units": [64, 32], "dropout": 0.2, "learning_rate": 0.01,
                              "epochs": 8, "batch_size": 512, "max_sequences": 12_000},
                     "gru": {"units": [64], "dropout": 0.2, "learning_rate": 0.003,
                             "epochs": 20, "batch_size": 256, "max_sequences": 12_000}},
        # beyond: chapters 11-12 (evaluation users, list length, chapter 12's genre and
        # attention sizes); chapter 12's networks train with sequence.gru's settings
        "beyond": {"eval_users": 400, "k": 10, "genre_dim": 8, "n_blocks": 1, "n_heads": 2,
                   "dropout": 0.2},
        "ensemble": {"n_folds": 3},
    },
    "book": {
        "data": {"n_users": 8_000, "n_items": 3_000, "mean_history": 240},
        "split": {"valid_frac": 0.1, "test_frac": 0.1, "seq_len": 18, "min_history": 3},
        "mf": {"rank": 8, "epochs": 20, "lr": 0.02, "reg": 0.05,
               "als_rank": 4, "als_reg": 0.02, "als_reg_bias": 0.02, "als_iterations": 15,
               "patience": 2, "sweep_ranks": [4, 16, 64],
               "sweep_regs": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
               "python_ratings": 20_000},
        "spark": {"rank": 10, "max_iter": 10, "reg": 0.1, "num_blocks": 4,
                  "grid_first_rank": 16, "grid_ranks": [4, 16, 32, 64],
                  "grid_regs": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], "grid_max_iter": 5,
                  "top_k": 10},
        "nn": {"epochs": 80, "batch_size": 1024, "embedding_sizes": [100, 128, 150],
               "dense_units": [128], "dropout": 0.5, "learning_rate": 0.001, "loss": "mae",
               "patience": 3, "no_dropout_epochs": 6, "demo_rows": 100_000, "demo_epochs": 6,
               "dropout_sweep": [0.0, 0.2, 0.5, 0.8]},
        "sequence": {"embedding_dim": 64, "max_valid": 2_000, "patience": 2,
                     "lstm": {"units": [200, 100], "dropout": 0.2, "learning_rate": 0.01,
                              "epochs": 60, "batch_size": 512, "max_sequences": 24_000,
                              "min_delta": 0.02},
                     "gru": {"units": [100], "dropout": 0.2, "learning_rate": 0.005,
                             "epochs": 40, "batch_size": 512, "max_sequences": 40_000}},
        "beyond": {"eval_users": 3_000, "k": 10, "genre_dim": 16, "n_blocks": 1, "n_heads": 2,
                   "dropout": 0.2},
        "ensemble": {"n_folds": 3},
    },
    "full": {
        "data": {"n_users": 200_000, "n_items": 12_000, "mean_history": 100},
        "split": {"valid_frac": 0.1, "test_frac": 0.1, "seq_len": 18, "min_history": 3},
        "mf": {"rank": 16, "epochs": 30, "lr": 0.01, "reg": 0.05,
               "als_rank": 16, "als_reg": 0.05, "als_reg_bias": 0.02, "als_iterations": 15,
               "patience": 2, "sweep_ranks": [8, 16, 32, 64, 128],
               "sweep_regs": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
               "python_ratings": 20_000},
        "spark": {"rank": 10, "max_iter": 20, "reg": 0.1, "num_blocks": 16,
                  "grid_first_rank": 32, "grid_ranks": [8, 16, 32, 64, 128],
                  "grid_regs": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], "grid_max_iter": 15,
                  "top_k": 10},
        "nn": {"epochs": 80, "batch_size": 4096, "embedding_sizes": [100, 128, 150],
               "dense_units": [128], "dropout": 0.5, "learning_rate": 0.001, "loss": "mae",
               "patience": 3, "no_dropout_epochs": 20, "demo_rows": 2_000_000,
               "demo_epochs": 10, "dropout_sweep": [0.0, 0.2, 0.5, 0.8]},
        "sequence": {"embedding_dim": 128, "max_valid": None, "patience": 3,
                     "lstm": {"units": [200, 100], "dropout": 0.2, "learning_rate": 0.001,
                              "epochs": 30, "batch_size": 1024, "max_sequences": None},
                     "gru": {"units": [100], "dropout": 0.2, "learning_rate": 0.001,
                             "epochs": 30, "batch_size": 1024, "max_sequences": None}},
        "beyond": {"eval_users": 20_000, "k": 10, "genre_dim": 16, "n_blocks": 2, "n_heads": 2,
                   "dropout": 0.2},
        "ensemble": {"n_folds": 5},
    },
}


class ProfileError(ValueError):
    """An unknown profile or data source was asked for."""


@dataclass(frozen=True)
class Profile:
    """The settings of one profile; ``profile["nn"]`` gives one section."""

    name: str
    seed: int = DEFAULT_SEED
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getitem__(self, section: str) -> dict[str, Any]:
        try:
            return self.sections[section]
        except KeyError:
            raise KeyError(
                f"profile {self.name!r} has no section {section!r}; "
                f"sections: {', '.join(sorted(self.sections))}"
            ) from None


def resolve_profile_name(name: str | None = None) -> str:
    """``name``, else ``$COURSE_PROFILE``, else ``"book"``; validated."""
    chosen = name or os.environ.get("COURSE_PROFILE") or "book"
    if chosen not in PROFILE_NAMES:
        raise ProfileError(
            f"unknown profile {chosen!r}: choose one of {', '.join(PROFILE_NAMES)} "
            "(set PROFILE in the notebook's first cell, --profile on the command "
            "line, or the COURSE_PROFILE environment variable)"
        )
    return chosen


def check_source(source: str) -> str:
    """Validate a ``DATA_SOURCE`` value and return it."""
    if source not in DATA_SOURCES:
        raise ProfileError(
            f"unknown data source {source!r}: choose one of {', '.join(DATA_SOURCES)}"
        )
    return source


def get_profile(name: str | None = None, seed: int | None = None) -> Profile:
    """The :class:`Profile` called ``name`` (see :func:`resolve_profile_name`)."""
    chosen = resolve_profile_name(name)
    sections = {k: dict(v) for k, v in _SETTINGS[chosen].items()}
    return Profile(chosen, DEFAULT_SEED if seed is None else int(seed), sections)
