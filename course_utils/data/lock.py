"""A file lock, so that two processes never generate or cache the same data at once.

Several notebooks (or test workers) may call ``load()`` at the same moment; the
second one waits for the first and then finds the files ready.

Example
-------
>>> from pathlib import Path
>>> import tempfile
>>> with file_lock(Path(tempfile.mkdtemp()) / "demo"):
...     pass
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, atomic renames still protect
    fcntl = None


@contextlib.contextmanager
def file_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` (beside ``target``) while inside."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
