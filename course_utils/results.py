"""Record a chapter's key numbers so tests and the book read them, not outputs.

When the course runner executes a chapter it sets ``COURSE_RESULTS_FILE`` to a
JSON file beside the executed notebook; :func:`record` adds one number to it
(written atomically). In JupyterLab, without that variable, values are only
kept in memory (see :func:`recorded`).

Example
-------
>>> from course_utils import record
>>> record("rmse_global_mean", 1.234567)
1.234567
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

_MEMORY: dict[str, Any] = {}


def _to_jsonable(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"refusing to record a non-finite number: {value}")
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def results_file() -> Path | None:
    """The JSON file this kernel records into, or ``None`` (memory only)."""
    value = os.environ.get("COURSE_RESULTS_FILE")
    return Path(value) if value else None


def record(name: str, value: Any) -> Any:
    """Record ``value`` (a number, string, or list/dict of them) under ``name``."""
    clean = _to_jsonable(value)
    _MEMORY[name] = clean
    path = results_file()
    if path is not None:
        data = load_results(path) if path.exists() else {}
        data[name] = clean
        write_json_atomic(path, data)
    return value


def recorded() -> dict[str, Any]:
    """Everything recorded in this Python process so far."""
    return dict(_MEMORY)


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results JSON written by :func:`record`."""
    return json.loads(Path(path).read_text())
