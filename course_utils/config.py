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
        "mf": {"rank": 16, "epochs": 15, "lr": 0.01, "reg": 0.05},
        "spark": {"rank": 10, "max_iter": 5, "reg": 0.1},
        "nn": {"epochs": 4, "batch_size": 1024, "embedding_sizes": [100, 128, 150]},
        "sequence": {"epochs": 3, "batch_size": 256, "max_sequences": 20_000},
        "ensemble": {"n_folds": 3, "max_fold_epochs": None},
    },
    "book": {
        "data": {"n_users": 8_000, "n_items": 3_000, "mean_history": 240},
        "split": {"valid_frac": 0.1, "test_frac": 0.1, "seq_len": 18, "min_history": 3},
        "mf": {"rank": 32, "epochs": 30, "lr": 0.01, "reg": 0.05},
        "spark": {"rank": 10, "max_iter": 10, "reg": 0.1},
        "nn": {"epochs": 30, "batch_size": 1024, "embedding_sizes": [100, 128, 150]},
        "sequence": {"epochs": 20, "batch_size": 256, "max_sequences": 200_000},
        "ensemble": {"n_folds": 3, "max_fold_epochs": 6},
    },
    "full": {
        "data": {"n_users": 200_000, "n_items": 12_000, "mean_history": 100},
        "split": {"valid_frac": 0.1, "test_frac": 0.1, "seq_len": 18, "min_history": 3},
        "mf": {"rank": 64, "epochs": 40, "lr": 0.01, "reg": 0.05},
        "spark": {"rank": 10, "max_iter": 20, "reg": 0.1},
        "nn": {"epochs": 50, "batch_size": 4096, "embedding_sizes": [100, 128, 150]},
        "sequence": {"epochs": 30, "batch_size": 1024, "max_sequences": None},
        "ensemble": {"n_folds": 5, "max_fold_epochs": None},
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
