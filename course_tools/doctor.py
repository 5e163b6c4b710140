"""The environment check: ``course doctor`` and chapter 00 print the same table.

Each check returns a :class:`Check` with a status (``ok``, ``warn`` or
``fail``), what was found, and — when something is wrong — how to fix it.

Example
-------
>>> from course_tools.doctor import check_profile
>>> check_profile("book").status
'ok'
>>> check_profile("huge").status
'fail'
"""
from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course_utils import paths
from course_utils.config import DATA_SOURCES, ProfileError, resolve_profile_name

MIN_JAVA = 17
KAGGLE_FILES = ("AnimeList.csv", "UserList.csv", "UserAnimeList.csv")
COOPER_FILES = ("anime.csv", "rating.csv")


@dataclass
class Check:
    """One line of the environment check."""

    name: str
    status: str  # "ok", "warn" or "fail"
    found: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] == (3, 11):
        return Check("Python", "ok", version)
    return Check("Python", "fail", version,
                 "the course is pinned for Python 3.11: install it and run `make test` again")


def check_packages(names: tuple[str, ...] = ("numpy", "pandas", "pyarrow", "sklearn",
                                              "matplotlib", "papermill", "jupytext")) -> Check:
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        return Check("Python packages", "fail", "missing: " + ", ".join(missing),
                     "run `make install` (or `pip install -e .`) in the repository")
    return Check("Python packages", "ok", f"{len(names)} core packages import")


def check_tensorflow() -> Check:
    try:
        import tensorflow as tf
    except ImportError as exc:
        return Check("TensorFlow", "fail", str(exc), "run `make install`")
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    return Check("TensorFlow", "ok", f"{tf.__version__} on {', '.join(devices)}")


def find_java(java_home: str | None = None, path: str | None = None) -> tuple[str | None, int | None]:
    """The ``java`` executable Spark will use and its major version.

    Spark looks at ``JAVA_HOME`` first, then ``PATH``; so does this function.
    """
    java_home = os.environ.get("JAVA_HOME") if java_home is None else java_home
    candidates = []
    if java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    found = shutil.which("java", path=os.environ.get("PATH") if path is None else path)
    if found:
        candidates.append(found)
    for exe in candidates:
        if not Path(exe).exists():
            continue
        try:
            out = subprocess.run([exe, "-version"], capture_output=True, text=True,
                                 timeout=30).stderr
        except OSError:
            continue
        match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
        if match:
            major = int(match.group(1))
            if major == 1 and match.group(2):  # "1.8" means Java 8
                major = int(match.group(2))
            return exe, major
    return None, None


def check_java(java_home: str | None = None, path: str | None = None) -> Check:
    exe, major = find_java(java_home, path)
    if exe is None:
        return Check("Java (for Spark)", "fail", "no java found on JAVA_HOME or PATH",
                     f"install a JDK {MIN_JAVA} (e.g. `apt-get install openjdk-{MIN_JAVA}-jdk-headless`"
                     f" or `conda install openjdk={MIN_JAVA}`) and set JAVA_HOME to it")
    if major < MIN_JAVA:
        return Check("Java (for Spark)", "fail", f"Java {major} at {exe}",
                     f"Spark 4 needs Java {MIN_JAVA} or newer: install it and set JAVA_HOME")
    return Check("Java (for Spark)", "ok", f"Java {major} at {exe}")


def check_pyspark() -> Check:
    try:
        import pyspark
    except ImportError as exc:
        return Check("PySpark", "fail", str(exc), "run `make install`")
    return Check("PySpark", "ok", pyspark.__version__)


def check_profile(profile: str | None) -> Check:
    try:
        name = resolve_profile_name(profile)
    except ProfileError as exc:
        return Check("Profile", "fail", str(profile), str(exc))
    return Check("Profile", "ok", name)


def check_data(source: str = "synthetic", data_dir: Path | None = None,
               profile: str | None = None, seed: int = 42) -> Check:
    """Are the raw files of ``source`` where the loader will look?"""
    data_dir = Path(data_dir) if data_dir else paths.data_dir()
    if source not in DATA_SOURCES:
        return Check("Data", "fail", f"unknown source {source!r}",
                     f"choose one of {', '.join(DATA_SOURCES)}")
    if source == "synthetic":
        try:
            name = resolve_profile_name(profile)
        except ProfileError as exc:
            return Check("Data", "fail", "no valid profile", str(exc))
        folder = data_dir / "generated" / f"{name}-seed{seed}"
        if (folder / "UserAnimeList.csv").exists():
            return Check("Data", "ok", f"synthetic {name} data in {folder}")
        return Check("Data", "warn", f"synthetic {name} data not generated yet ({folder})",
                     f"nothing to do: the first chapter generates it; or run `course data generate --profile {name}`")
    folder = data_dir / source
    needed = KAGGLE_FILES if source == "kaggle" else COOPER_FILES
    missing = [f for f in needed if not (folder / f).exists()]
    if missing:
        dataset = ("azathoth42/myanimelist" if source == "kaggle"
                   else "CooperUnion/anime-recommendations-database")
        return Check("Data", "fail", f"missing in {folder}: {', '.join(missing)}",
                     f"download with `kaggle datasets download -d {dataset}` and unzip into {folder}"
                     " (see data/README.md)")
    return Check("Data", "ok", f"{source} files in {folder}")


def run_checks(profile: str | None = None, source: str = "synthetic",
               with_tensorflow: bool = True) -> list[Check]:
    """All checks, in the order a student should fix them."""
    checks = [check_python(), check_packages()]
    if with_tensorflow:
        checks.append(check_tensorflow())
    checks += [check_pyspark(), check_java(), check_profile(profile),
               check_data(source, profile=profile)]
    return checks


def format_checks(checks: list[Check]) -> str:
    """The table ``course doctor`` prints."""
    mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    lines = []
    for c in checks:
        lines.append(f"[{mark[c.status]}] {c.name:18} {c.found}")
        if c.fix:
            lines.append(f"       fix: {c.fix}")
    return "\n".join(lines)
