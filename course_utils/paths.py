"""Where the course keeps things on disk.

Everything generated lives under two git-ignored folders of the repository:
``data/`` (raw files: the synthetic dataset, or the Kaggle files you download)
and ``build/`` (parquet caches, executed notebooks, the book, saved models).

Outside a checkout (for example a chapter opened in Colab), the root is the
current working folder; set ``COURSE_HOME`` to choose another one.

Example
-------
>>> from course_utils import paths
>>> paths.build_dir().name
'build'
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The course's root folder (``COURSE_HOME``, the checkout, or the cwd)."""
    if os.environ.get("COURSE_HOME"):
        return Path(os.environ["COURSE_HOME"]).resolve()
    here = Path(__file__).resolve().parents[1]
    if (here / "pyproject.toml").exists() and (here / "notebooks").is_dir():
        return here
    return Path.cwd().resolve()


def notebooks_dir() -> Path:
    """The chapters' sources (MyST markdown notebooks)."""
    return repo_root() / "notebooks"


def data_dir() -> Path:
    """Raw data files (generated or downloaded); never modified by the course."""
    return repo_root() / "data"


def build_dir() -> Path:
    """Everything the course generates: caches, executed notebooks, the book."""
    return repo_root() / "build"


def cache_dir() -> Path:
    """Parquet caches of cleaned data and saved models."""
    return build_dir() / "cache"


def executed_dir(profile: str) -> Path:
    """Executed notebooks and their recorded results for one profile."""
    return build_dir() / "executed" / profile


def chapters() -> list[Path]:
    """Chapter sources in reading order (``notebooks/NN_name.md``)."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.md"))
