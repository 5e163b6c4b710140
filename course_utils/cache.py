"""Fitted models kept on disk, keyed by what they were trained on.

Training the networks of chapters 06–12 takes minutes, so a later chapter
reuses a model an earlier one fitted. It may do so only when the model would
come out the same: same class, same parameters (``get_params()``, which holds
the seed and every setting the profile chose), the very same training and
validation rows, and the same code (the source of ``course_utils`` and the versions
of the numerical libraries). :func:`fingerprint` hashes exactly those; :func:`load_or_fit`
looks the hash up under ``build/cache/models/`` and fits (and saves) only on a
miss. A student who changes ``SEED`` or ``DATA_SOURCE`` changes the rows, so
the hash changes and the model is trained afresh — never silently borrowed
from another split; after a library update (``git pull``) the models are trained
once more rather than loaded from what the old code fitted.

Each entry is a folder ``<Class>-<hash>/`` holding the model (``model`` plus
the class's file suffix, written by the model's own ``save``) and
``fit.json`` (class, parameters, row counts). It is written under a temporary
name and renamed into place, so an interrupted fit never leaves half an entry.

Example
-------
>>> import tempfile, pandas as pd
>>> from course_utils.baselines import UserItemBias
>>> train = pd.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1], "rating": [8, 6, 4]})
>>> folder = tempfile.mkdtemp()
>>> first = load_or_fit(UserItemBias(), train, directory=folder)
>>> again = load_or_fit(UserItemBias(), train, directory=folder)
>>> first.loaded_from_cache_, again.loaded_from_cache_
(False, True)
>>> load_or_fit(UserItemBias(reg_item=1.0), train, directory=folder).loaded_from_cache_
False
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from course_utils import paths

__all__ = ["fingerprint", "entry_dir", "load_or_fit", "cached", "store"]

M = TypeVar("M")


def _hash_value(h: "hashlib._Hash", value: Any) -> None:
    """Feed one parameter value into ``h`` (arrays by content, models by their params)."""
    if isinstance(value, np.ndarray):
        h.update(f"array{value.shape}{value.dtype}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (pd.DataFrame, pd.Series)):
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(f"{key}=".encode())
            _hash_value(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for item in value:
            _hash_value(h, item)
        h.update(b"]")
    elif hasattr(value, "get_params"):
        h.update(type(value).__name__.encode())
        _hash_value(h, value.get_params(deep=False))
    else:
        h.update(json.dumps(value, default=str).encode())
    h.update(b";")


#: installed packages whose version can change what a fit produces
_NUMERIC_PACKAGES = ("numpy", "pandas", "scipy", "numba", "tensorflow", "keras", "pyspark")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the course's library source and the numeric packages' versions.

    Part of every :func:`fingerprint`: a model that older code fitted is never loaded.
    """
    h = hashlib.sha256()
    root = Path(paths.__file__).resolve().parent  # the course_utils package
    for source in sorted(root.rglob("*.py")):
        h.update(source.relative_to(root).as_posix().encode())
        h.update(source.read_bytes())
    for package in _NUMERIC_PACKAGES:
        try:
            h.update(f"{package}={importlib.metadata.version(package)};".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{package}=none;".encode())
    return h.hexdigest()


def _hash_rows(h: "hashlib._Hash", frame: Any) -> None:
    if frame is None:
        h.update(b"none")
    elif isinstance(frame, pd.DataFrame):
        h.update(",".join(map(str, frame.columns)).encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    else:  # e.g. a list of per-user histories
        _hash_value(h, [np.asarray(x) for x in frame])


def fingerprint(model: Any, train: Any, valid: Any = None) -> str:
    """A 16-hex-digit hash of the class, its fit parameters, the rows and the code.

    Equal exactly when the class, ``get_params()`` (less runtime-only arguments
    such as a Spark session), the rows — every column, in order — and
    :func:`code_version` are equal.

    Example
    -------
    >>> import pandas as pd
    >>> from course_utils.baselines import GlobalMean
    >>> rows = pd.DataFrame({"user": [0, 1], "item": [1, 0], "rating": [7, 9]})
    >>> fingerprint(GlobalMean(), rows) == fingerprint(GlobalMean(), rows.copy())
    True
    >>> fingerprint(GlobalMean(), rows) == fingerprint(GlobalMean(), rows.iloc[::-1])
    False
    """
    h = hashlib.sha256(type(model).__qualname__.encode())
    h.update(code_version().encode())
    params = (model.fit_params() if hasattr(model, "fit_params")
              else model.get_params(deep=False))
    _hash_value(h, params)
    _hash_rows(h, train)
    _hash_rows(h, valid)
    return h.hexdigest()[:16]


def entry_dir(model: Any, train: Any, valid: Any = None,
              directory: str | Path | None = None) -> Path:
    """The cache folder of ``model`` fitted on these rows (it may not exist yet)."""
    root = Path(directory) if directory is not None else paths.cache_dir() / "models"
    return root / f"{type(model).__name__}-{fingerprint(model, train, valid)}"


def _model_file(folder: Path, model: Any) -> Path:
    return folder / f"model{getattr(model, 'file_suffix', '.pkl')}"


def store(model: M, train: Any, valid: Any = None,
          directory: str | Path | None = None) -> Path:
    """Put a model fitted on ``train`` (and ``valid``) into the cache; returns its folder.

    The entry is built in a temporary folder and renamed into place; an entry
    that already exists is left as it is (it holds the same fit).
    """
    folder = entry_dir(model, train, valid, directory)
    if folder.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        model.save(_model_file(tmp, model))
        meta = {"class": type(model).__name__, "fingerprint": folder.name.rsplit("-", 1)[1],
                "params": model.fit_params() if hasattr(model, "fit_params")
                else model.get_params(deep=False),
                "train_rows": len(train), "valid_rows": None if valid is None else len(valid),
                "fit_seconds": getattr(model, "fit_seconds_", None),
                "best_epoch": getattr(model, "best_epoch_", None)}
        (tmp / "fit.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        os.rename(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.exists():
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def cached(model: M, train: Any, valid: Any = None, *, directory: str | Path | None = None,
           **load_kwargs: Any) -> M | None:
    """The saved fit of ``model`` on exactly these rows, or ``None`` when there is none.

    For a chapter that would rather do something cheaper than fit a model an
    earlier chapter did not save (e.g. train a smaller one).
    """
    folder = entry_dir(model, train, valid, directory)
    path = _model_file(folder, model)
    if not path.exists():
        return None
    fitted = type(model).load(path, **load_kwargs)
    fitted.loaded_from_cache_ = True
    fitted.cache_dir_ = folder
    return fitted


def load_or_fit(model: M, train: Any, valid: Any = None, *, retrain: bool = False,
                directory: str | Path | None = None, **load_kwargs: Any) -> M:
    """``model`` fitted on ``train`` (and ``valid``): loaded from the cache, or fitted and saved.

    Parameters
    ----------
    model
        An unfitted model of the course (any class with ``get_params``, ``fit``,
        ``save`` and ``load``); its parameters are part of the key.
    train, valid
        What ``model.fit(train, valid)`` receives; their rows are part of the key.
    retrain
        Fit (and overwrite the entry) even when one exists.
    directory
        Another cache folder than ``build/cache/models`` (tests use one).
    load_kwargs
        Passed to ``type(model).load`` on a hit.

    Returns
    -------
    The fitted model (``model`` itself after a fit, a loaded copy on a hit), with
    ``loaded_from_cache_`` saying which, and ``cache_dir_`` its entry.
    """
    folder = entry_dir(model, train, valid, directory)
    if retrain and folder.exists():
        shutil.rmtree(folder)
    fitted = cached(model, train, valid, directory=directory, **load_kwargs)
    if fitted is None:
        fitted = model.fit(train, valid)
        store(fitted, train, valid, directory)
        fitted.loaded_from_cache_ = False
        fitted.cache_dir_ = folder
    return fitted
