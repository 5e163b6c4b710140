"""Framework hygiene shared by every chapter: quiet logs, seeds, one plot style.

TensorFlow and Spark print start-up banners and warnings that would end up in
the stored outputs of a notebook. The environment variables below must be set
*before* TensorFlow is imported, so :mod:`course_utils` sets them on import.

Example
-------
>>> from course_utils.hygiene import seed_everything
>>> rng = seed_everything(42)
>>> float(rng.random()) == float(seed_everything(42).random())
True
"""
from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ log lines of TensorFlow
    "TF_ENABLE_ONEDNN_OPTS": "0",  # the oneDNN banner (only this removes it)
    "SPARK_LOCAL_IP": "127.0.0.1",  # no hostname warning, loopback only
}

# Warnings silenced by name, each for a stated reason; every other warning shows
# (notebooks/CONVENTIONS.md). (category, message regex) pairs.
KNOWN_WARNINGS = [
    # Keras 3.15 calls np.array() on TensorFlow variables when it saves or loads a
    # model, and TF's __array__ lacks NumPy 2's `copy` keyword; the files are fine
    # and the fix belongs to Keras.
    (DeprecationWarning, "__array__ implementation doesn't accept a copy keyword"),
]


def quiet_frameworks() -> None:
    """Set the environment variables that keep TensorFlow and Spark quiet."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("py4j").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    for category, message in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if imported) TensorFlow/Keras; return a Generator.

    TensorFlow is only seeded when it is already imported, so calling this
    never pays TensorFlow's import time in a chapter that does not use it.
    """
    import sys

    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
    return np.random.default_rng(seed)


def plot_style() -> None:
    """One matplotlib style for the whole course (set once per chapter)."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 11,
            "savefig.bbox": "tight",
        }
    )
