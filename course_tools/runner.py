"""Execute chapters with papermill: ``course run [CHAPTER...] --profile P``.

Each chapter's MyST source is converted by jupytext into a notebook under
``build/ipynb/``, executed by papermill into ``build/executed/<profile>/``
with the profile injected as parameters, and timed. Numbers the chapter
records (:func:`course_utils.record`) land in ``<chapter>.results.json``
beside the executed notebook; wall time, peak memory and status of every run
in ``stats.json`` (read by the book's execution-statistics page).

Example
-------
>>> from course_tools.runner import resolve_chapters
>>> [p.stem for p in resolve_chapters(["00"])]
['00_getting_started']
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil

from course_utils import paths
from course_utils.config import check_source, resolve_profile_name
from course_utils.results import write_json_atomic


def _kernel_manager_class():
    """A kernel manager that encrypts the kernel's loopback traffic.

    ipykernel 7.3+ prints a warning at every start when its sockets are
    unencrypted; provisioning CurveZMQ keys is the fix that also silences it.
    """
    from jupyter_client.manager import KernelManager

    class LocalKernelManager(KernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

    return LocalKernelManager


class ChapterNotFound(ValueError):
    """A chapter name given on the command line matches no notebook."""


@dataclass
class ChapterRun:
    """The outcome of executing one chapter."""

    chapter: str
    profile: str
    status: str  # "ok" or "failed"
    wall_s: float
    peak_rss_mb: float
    output: str
    error: str = ""
    finished_at: str = ""
    source: str = "synthetic"


def resolve_chapters(names: list[str] | None) -> list[Path]:
    """Chapter sources for names like ``03``, ``03_evaluation`` or a path."""
    available = paths.chapters()
    if not names:
        return available
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in available if p.stem == stem or p.stem.startswith(stem + "_")
                   or p.stem.split("_", 1)[0] == stem]
        if len(matches) != 1:
            listing = ", ".join(p.stem for p in available)
            raise ChapterNotFound(f"no single chapter matches {name!r}; chapters: {listing}")
        chosen.append(matches[0])
    return chosen


def to_ipynb(source: Path, out_dir: Path | None = None) -> Path:
    """Convert a MyST chapter to ``.ipynb`` with jupytext; return its path."""
    import jupytext

    out_dir = out_dir or paths.build_dir() / "ipynb"
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source)
    target = out_dir / (source.stem + ".ipynb")
    jupytext.write(notebook, target, fmt="ipynb")
    return target


class _PeakMemory:
    """Poll the resident memory of this process's children (kernel, JVM...)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> "_PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def output_dir(profile: str, data_source: str = "synthetic") -> Path:
    """Where a run's notebooks, numbers and ``stats.json`` go.

    Runs on a real source get their own folder (``build/executed/book-kaggle_cooper``),
    so they never replace the synthetic outputs that the book and the tests read.
    """
    return paths.executed_dir(profile if data_source == "synthetic" else f"{profile}-{data_source}")


def results_path(chapter: str, profile: str, data_source: str = "synthetic") -> Path:
    """Where ``record`` writes a chapter's numbers for a profile (and source)."""
    return output_dir(profile, data_source) / f"{chapter}.results.json"


def _describe_failure(chapter: str, exc: Exception) -> str:
    cell = getattr(exc, "exec_count", None)
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    where = f"cell [{cell}]" if cell is not None else "start-up"
    return f"{chapter}: {where} raised {ename}: {evalue}".strip()


def run_chapter(source: Path, profile: str, seed: int = 42,
                data_source: str = "synthetic", timeout: int | None = None,
                data_dir: str | Path | None = None) -> ChapterRun:
    """Execute one chapter with papermill and return its :class:`ChapterRun`.

    ``data_dir`` is the folder of a real source's files (``kaggle`` or
    ``kaggle_cooper``) when they are not in ``data/<source>/``; the chapter's
    ``load()`` finds it in the ``COURSE_DATA_DIR`` environment variable.
    """
    import papermill

    from course_utils.data.load import DATA_DIR_VARIABLE

    profile = resolve_profile_name(profile)
    check_source(data_source)
    if data_dir is not None and data_source == "synthetic":
        raise ValueError("--data-dir is for the real sources: use it with --source kaggle "
                         "or --source kaggle_cooper")
    out_dir = output_dir(profile, data_source)
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = to_ipynb(source)
    output = out_dir / notebook.name
    results = results_path(source.stem, profile, data_source)
    results.unlink(missing_ok=True)

    env_before = dict(os.environ)
    os.environ.update({"COURSE_RESULTS_FILE": str(results), "COURSE_PROFILE": profile,
                       "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    if data_dir is not None:
        os.environ[DATA_DIR_VARIABLE] = str(Path(data_dir).resolve())
    start, error = time.perf_counter(), ""
    try:
        with _PeakMemory() as memory:
            papermill.execute_notebook(
                str(notebook), str(output),
                parameters={"PROFILE": profile, "SEED": seed, "DATA_SOURCE": data_source},
                kernel_name="python3", cwd=str(paths.notebooks_dir()),
                progress_bar=False, log_output=False, execution_timeout=timeout,
                kernel_manager_class=_kernel_manager_class(),
            )
    except Exception as exc:  # papermill wraps cell errors; report, don't crash
        error = _describe_failure(source.stem, exc)
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    run = ChapterRun(
        chapter=source.stem, profile=profile, status="failed" if error else "ok",
        wall_s=round(time.perf_counter() - start, 1),
        peak_rss_mb=round(memory.peak / 2**20, 1), output=str(output), error=error,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        source=data_source,
    )
    _update_stats(run)
    return run


def _update_stats(run: ChapterRun) -> None:
    stats_file = output_dir(run.profile, run.source) / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    stats[run.chapter] = asdict(run)
    write_json_atomic(stats_file, stats)


def format_table(runs: list[ChapterRun]) -> str:
    """A plain-text timing table of chapter runs."""
    lines = [f"{'chapter':32} {'profile':8} {'status':7} {'wall s':>8} {'peak MB':>8}"]
    for r in runs:
        lines.append(f"{r.chapter:32} {r.profile:8} {r.status:7} {r.wall_s:8.1f} {r.peak_rss_mb:8.0f}")
    lines.append(f"{'total':32} {'':8} {'':7} {sum(r.wall_s for r in runs):8.1f}")
    return "\n".join(lines)


def run_chapters(names: list[str] | None, profile: str, seed: int = 42,
                 data_source: str = "synthetic", timeout: int | None = None,
                 echo=print, data_dir: str | Path | None = None) -> list[ChapterRun]:
    """Execute chapters in reading order; failures are reported, not raised."""
    runs = []
    for source in resolve_chapters(names):
        echo(f"running {source.stem} at profile {profile} ...", flush=True)
        run = run_chapter(source, profile, seed, data_source, timeout, data_dir=data_dir)
        if run.error:
            echo(f"  FAILED  {run.error}", flush=True)
        runs.append(run)
    return runs
