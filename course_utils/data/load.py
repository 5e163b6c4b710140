"""``load()``: one call from raw files to a clean, cached dataset.

The same path serves every source: find the files → check their columns →
stream the lists through the cleaning rules → give users and anime contiguous
ids → cache the result as parquet. The raw files are only ever read.

Sources
-------
``synthetic``
    The embedded default: generated on first use under
    ``data/generated/<profile>-seed<seed>/`` (see :mod:`course_utils.data.generate`).
``kaggle``
    The real "MyAnimeList dataset" (azathoth42/myanimelist) in ``data/kaggle/``.
``kaggle_cooper``
    The "Anime Recommendations Database" (CooperUnion) in ``data/kaggle_cooper/``.
    It has no timestamps, so it has no watch order.

Example
-------
>>> from course_utils.data import load
>>> ds = load(profile="ci")  # doctest: +SKIP
>>> ds.interactions.columns.tolist()  # doctest: +SKIP
['user', 'item', 'rating', 'timestamp', 'status', 'watched_episodes', 'rewatching']
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from course_utils import paths
from course_utils.config import check_source
from course_utils.data import clean, read, schema
from course_utils.data.errors import (KAGGLE_COOPER_INSTRUCTIONS, KAGGLE_MAL_INSTRUCTIONS,
                                      DataFilesMissingError, DataFormatError)
from course_utils.data.truth import Truth

_FRAMES = ("interactions", "other_statuses", "anime", "users", "report")
DATA_DIR_VARIABLE = "COURSE_DATA_DIR"  # `course run --data-dir`: the real sources' folder


@dataclass
class Dataset:
    """A cleaned dataset: frames with contiguous ids, the cleaning report, the truth.

    Attributes
    ----------
    interactions
        One row per kept list entry, sorted by user then time: ``user``,
        ``item`` (ids from 0), ``rating`` (1–10, 0 = not scored),
        ``timestamp`` (from my_last_updated), ``status`` (1 or 2),
        ``watched_episodes``, ``rewatching`` (0/1).
    other_statuses
        The entries the thesis leaves out (status 3 on hold, 4 dropped,
        6 plan to watch) of the same users and anime, same columns.
    anime
        Indexed by item id: ``anime_id``, ``title``, ``type``, ``episodes``,
        ``genre`` (the file's comma-separated text), ``genres`` (a list of
        str), ``members`` and the other columns the file has.
    users
        Indexed by user id: ``username``, ``user_id`` and the other columns.
    report
        The cleaning report: ``file``, ``rule``, ``rows_removed``,
        ``rows_fixed``, ``description``.
    truth
        :class:`~course_utils.data.truth.Truth` for synthetic data, else None.
    """

    interactions: pd.DataFrame
    other_statuses: pd.DataFrame
    anime: pd.DataFrame
    users: pd.DataFrame
    report: pd.DataFrame
    truth: Truth | None
    source: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.anime)

    @property
    def has_timestamps(self) -> bool:
        return bool(self.meta.get("has_timestamps", True))

    @property
    def item_titles(self) -> np.ndarray:
        """Anime titles by item id."""
        return self.anime["title"].to_numpy()

    @property
    def usernames(self) -> np.ndarray:
        """Usernames by user id."""
        return self.users["username"].to_numpy()

    def items_of(self, anime_ids) -> np.ndarray:
        """Item ids of MyAnimeList anime ids (-1 where the anime is not in the dataset)."""
        return pd.Index(self.anime["anime_id"]).get_indexer(np.asarray(anime_ids))

    def users_of(self, usernames) -> np.ndarray:
        """User ids of usernames (-1 where the user is not in the dataset)."""
        return pd.Index(self.users["username"]).get_indexer(np.asarray(usernames))

    def __repr__(self) -> str:
        return (f"Dataset(source={self.source!r}, users={self.n_users:,}, items={self.n_items:,}, "
                f"interactions={len(self.interactions):,})")


# ----------------------------------------------------------------------------
# finding the files
# ----------------------------------------------------------------------------
def _kaggle_files(folder: Path) -> dict[str, Path | None]:
    def first(*names: str) -> Path | None:
        for n in names:
            if (folder / n).is_file():
                return folder / n
        return None

    files = {
        "anime": first(schema.ANIME_FILE, "anime_cleaned.csv"),
        "users": first(schema.USERS_FILE, schema.USERS_CLEANED_FILE),
        "users_cleaned": first(schema.USERS_CLEANED_FILE),
        "lists": first(schema.LISTS_FILE, schema.LISTS_CLEANED_FILE),
    }
    missing = [n for k, n in (("anime", schema.ANIME_FILE), ("users", schema.USERS_FILE),
                              ("lists", schema.LISTS_FILE)) if files[k] is None]
    if missing:
        raise DataFilesMissingError(
            folder / missing[0], f"not found (missing: {', '.join(missing)})",
            fix=KAGGLE_MAL_INSTRUCTIONS.format(folder=folder))
    return files


def _cooper_files(folder: Path) -> dict[str, Path | None]:
    files = {"anime": folder / schema.COOPER_ANIME_FILE, "lists": folder / schema.COOPER_RATING_FILE}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise DataFilesMissingError(
            folder / missing[0], f"not found (missing: {', '.join(missing)})",
            fix=KAGGLE_COOPER_INSTRUCTIONS.format(folder=folder))
    return files


# ----------------------------------------------------------------------------
# the cache
# ----------------------------------------------------------------------------
def _code_hash() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256(str(clean.CLEANING_VERSION).encode())
    for name in ("load.py", "read.py", "clean.py", "schema.py", "truth.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _files_hash(files: list[Path]) -> str:
    """Size and modification time of each file; the full content of small ones."""
    h = hashlib.sha256()
    for p in sorted(files):
        st = p.stat()
        h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}".encode())
        if st.st_size < (4 << 20):
            h.update(p.read_bytes())
    return h.hexdigest()


def _cache_folder(root: Path, source: str, folder: Path, inputs: list[Path], seed: int) -> Path:
    # the seed orders entries that share a timestamp, so it is part of the key
    key = hashlib.sha256((_code_hash() + _files_hash(inputs) + f"|seed={seed}").encode()).hexdigest()[:16]
    stem = f"{source}-{folder.name}-{hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:6]}"
    return root / "data" / f"{stem}-{key}"


def _write_cache(target: Path, ds: Dataset) -> None:
    """Write all frames into a temporary folder, then rename it (atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        for name in _FRAMES:
            frame = getattr(ds, name)
            if name == "anime":
                frame = frame.drop(columns=["genres"])
            _write_parquet(frame, tmp / f"{name}.parquet", index=name in ("anime", "users"))
        if ds.truth is not None:
            np.savez(tmp / "truth.npz", **ds.truth.to_arrays())
            (tmp / "truth_params.json").write_text(json.dumps(ds.truth.params, sort_keys=True))
        (tmp / "meta.json").write_text(json.dumps(ds.meta, indent=2, sort_keys=True, default=str))
        try:
            os.replace(tmp, target)
        except OSError:  # another process wrote the same cache first
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    stem = target.name.rsplit("-", 1)[0]
    for old in target.parent.glob(f"{stem}-*"):  # older versions of the same dataset
        if old != target and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _write_parquet(frame: pd.DataFrame, path: Path, index: bool, rows: int = 1 << 22) -> None:
    """Write a frame in slices of ``rows`` rows, so only one slice is ever converted to Arrow."""
    first = pa.Table.from_pandas(frame.iloc[:rows], preserve_index=index)
    with pq.ParquetWriter(path, first.schema) as writer:
        writer.write_table(first)
        del first
        for start in range(rows, len(frame), rows):
            writer.write_table(pa.Table.from_pandas(frame.iloc[start:start + rows], preserve_index=index,
                                                    schema=writer.schema))


def _read_parquet(path: Path) -> pd.DataFrame:
    table = pq.read_table(path)
    return table.to_pandas(split_blocks=True, self_destruct=True)  # no second copy of the columns


def _read_cache(folder: Path, source: str) -> Dataset:
    frames = {name: _read_parquet(folder / f"{name}.parquet") for name in _FRAMES}
    frames["anime"]["genres"] = _split_genres(frames["anime"]["genre"])
    truth = None
    if (folder / "truth.npz").exists():
        with np.load(folder / "truth.npz") as arrays:
            truth = Truth.from_arrays(dict(arrays), json.loads((folder / "truth_params.json").read_text()))
    meta = json.loads((folder / "meta.json").read_text())
    return Dataset(truth=truth, source=source, meta=meta, **frames)


def _split_genres(genre: pd.Series) -> pd.Series:
    return pd.Series([[g.strip() for g in s.split(",") if g.strip()] if isinstance(s, str) else []
                      for s in genre], index=genre.index, name="genres")


# ----------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------
def load(source: str = "synthetic", data_dir: str | Path | None = None, profile: str = "ci",
         seed: int = 42, *, cache: bool = True, cache_dir: str | Path | None = None) -> Dataset:
    """Load a cleaned dataset (generating the synthetic files if needed).

    Parameters
    ----------
    source
        ``"synthetic"`` (default), ``"kaggle"`` or ``"kaggle_cooper"``.
    data_dir
        Folder of the raw files. Default: ``data/generated/<profile>-seed<seed>``
        for synthetic data (regenerated when the generator changes),
        ``data/kaggle`` and ``data/kaggle_cooper`` for the real sources. A
        given folder that already holds generated data is used as it is.
    profile, seed
        Size and seed of the synthetic data (ignored for real data).
    cache, cache_dir
        Use (and write) the parquet cache, by default under ``build/cache/data``.
        It is rebuilt when a source file or the cleaning code changes.

    Returns
    -------
    Dataset

    Raises
    ------
    DataFormatError
        A file is missing (with download instructions) or malformed.

    Example
    -------
    >>> ds = load(profile="ci")  # doctest: +SKIP
    >>> ds.n_users, ds.n_items  # doctest: +SKIP
    (1440, 596)
    """
    check_source(source)
    if source == "synthetic":
        from course_utils.data.generate import generate, generated_dir

        folder = Path(data_dir) if data_dir is not None else generated_dir(profile, seed)
        if data_dir is None or not (folder / "generator.json").exists():
            generate(profile, seed, out_dir=folder)  # returns at once if already there
        files = _kaggle_files(folder)
        inputs = [p for p in files.values() if p is not None]
        inputs += [folder / "generator.json"] + sorted((folder / "truth").glob("*"))
    elif source == "kaggle":
        data_dir = data_dir if data_dir is not None else os.environ.get(DATA_DIR_VARIABLE) or None
        # absolute: the cached meta keeps these paths, and chapters run from notebooks/
        folder = Path(data_dir).resolve() if data_dir is not None else paths.data_dir() / "kaggle"
        files = _kaggle_files(folder)
        inputs = [p for p in files.values() if p is not None]
    else:
        data_dir = data_dir if data_dir is not None else os.environ.get(DATA_DIR_VARIABLE) or None
        # absolute: the cached meta keeps these paths, and chapters run from notebooks/
        folder = Path(data_dir).resolve() if data_dir is not None else paths.data_dir() / "kaggle_cooper"
        files = _cooper_files(folder)
        inputs = list(files.values())
    if not cache:
        return _build(source, folder, files, profile, seed)
    root = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    target = _cache_folder(root, source, folder, list(dict.fromkeys(inputs)), seed)
    if (target / "meta.json").exists():
        return _read_cache(target, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    # one builder at a time: a notebook or test worker that comes second waits, then reads
    with FileLock(target.parent / f".{target.name.rsplit('-', 1)[0]}.lock"):
        if (target / "meta.json").exists():
            return _read_cache(target, source)
        ds = _build(source, folder, files, profile, seed)
        _write_cache(target, ds)
    return ds


def _build(source: str, folder: Path, files: dict[str, Path | None], profile: str,
           seed: int) -> Dataset:
    ds = _build_cooper(files, seed) if source == "kaggle_cooper" else _build_mal(files, source, seed)
    if source == "synthetic":
        ds.truth = _map_truth(folder / "truth", ds)
    ds.source = source
    ds.meta.update(source=source, folder=str(folder),
                   profile=profile if source == "synthetic" else None,
                   seed=seed if source == "synthetic" else None)
    return ds


def _build_mal(files: dict[str, Path | None], source: str, seed: int) -> Dataset:
    anime = read.read_table(files["anime"], schema.ANIME_NEEDED, schema.ANIME_OPTIONAL,
                            types={"anime_id": pa.int64(), "episodes": pa.int64(),
                                   "members": pa.int64(), "score": pa.float64(),
                                   "scored_by": pa.int64()})
    report = clean.Report()
    anime = clean.drop_repeated_keys(anime, "anime_id", report, files["anime"].name)
    anime = anime.sort_values("anime_id", kind="stable").reset_index(drop=True)
    unescape_titles(anime, ("title", "title_english"), report, files["anime"].name)
    users = read.read_table(files["users"], schema.USER_NEEDED, schema.USER_OPTIONAL,
                            types={"user_id": pa.int64()})
    users = clean.drop_repeated_keys(users, "username", report, files["users"].name)
    cleaned = None
    if files["users_cleaned"] is not None and files["users_cleaned"] != files["users"]:
        names = read.read_table(files["users_cleaned"], ("username",))["username"]
        cleaned = users["username"].isin(set(names)).to_numpy()
    lists_path = files["lists"]
    batches = read.iter_lists(lists_path, schema.LIST_NEEDED, schema.LIST_OPTIONAL)
    kept, other = clean.stream_lists(batches, lists_path, pa.array(users["username"], pa.string()),
                                     cleaned, anime["anime_id"].to_numpy(), report)
    kept = clean.drop_duplicates(kept, report, lists_path.name)
    clean.release_freed_memory()
    clean.fix_episodes(kept, anime["episodes"].to_numpy(), report, lists_path.name)
    return _assemble(kept, other, anime, users, report, files, has_timestamps=True, seed=seed)


def unescape_titles(anime: pd.DataFrame, columns: tuple[str, ...], report: clean.Report,
                    file: str) -> None:
    """Turn HTML entities in title columns into the characters they stand for, in place.

    The scraped files write ``Gintama&#039;`` for *Gintama'* and ``&amp;`` for
    *&*. Counted per anime (a row is counted once) in the cleaning report.

    Example
    -------
    >>> frame = pd.DataFrame({"title": ["Gintama&#039;", "Tiger &amp; Bunny", "Monster"]})
    >>> report = clean.Report()
    >>> unescape_titles(frame, ("title",), report, "anime.csv")
    >>> frame["title"].tolist(), report.fixed["html_entities"]
    (["Gintama'", 'Tiger & Bunny', 'Monster'], 2)
    """
    changed = np.zeros(len(anime), bool)
    for col in columns:
        if col not in anime:
            continue
        old = anime[col]
        new = old.map(lambda v: html.unescape(v) if isinstance(v, str) and "&" in v else v)
        changed |= (new.ne(old) & old.notna()).to_numpy()
        anime[col] = new
    report.fixed["html_entities"] += int(changed.sum())
    report.files["html_entities"] = file


def tie_key(user: np.ndarray, item: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random number per (user, item): the order of entries with equal times.

    It depends on the pair and the seed only (not on the line order of the
    file), and is not monotone in the item id, so a sequel (higher id) is no
    more likely to come after its prequel than before it. (splitmix64 of the
    pair, computed in place: two arrays of 8 bytes per row at most.)

    Example
    -------
    >>> a = tie_key(np.array([0, 0]), np.array([5, 6]), seed=1)
    >>> b = tie_key(np.array([0, 0]), np.array([5, 6]), seed=2)
    >>> bool((a == tie_key(np.array([0, 0]), np.array([5, 6]), seed=1)).all()), bool((a != b).any())
    (True, True)
    """
    x = np.asarray(user).astype(np.uint64)
    x <<= np.uint64(32)
    x ^= np.asarray(item).astype(np.uint64)
    with np.errstate(over="ignore"):  # wrap-around arithmetic is the point
        x += np.uint64(((seed & 0xFFFFFFFF) * 0x9E3779B97F4A7C15) % 2**64)
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            x ^= x >> np.uint64(shift)
            x *= np.uint64(mult)
    x ^= x >> np.uint64(31)
    return x


def last_two_tied_share(frame: pd.DataFrame) -> float:
    """Share of users (with two or more entries) whose last two entries share a timestamp.

    ``frame`` is sorted by user, then time, as ``Dataset.interactions`` is.
    There the order of the last two, and so the held-out "next" anime, was
    decided by the seeded tie-break, not by the data.

    Example
    -------
    >>> t = pd.to_datetime(["2013-01-01", "2013-01-02", "2013-01-02", "2013-01-05", "2013-01-06"])
    >>> last_two_tied_share(pd.DataFrame({"user": [0, 0, 0, 1, 1], "timestamp": t}))
    0.5
    """
    user = frame["user"].to_numpy()
    ts = frame["timestamp"].to_numpy()
    last = np.flatnonzero(np.r_[user[1:] != user[:-1], True])
    has_two = last >= 1
    last = last[has_two]
    has_two = user[last - 1] == user[last]
    last = last[has_two]
    if len(last) == 0:
        return 0.0
    return float(np.mean(ts[last] == ts[last - 1]))


def _assemble(kept: clean.ListArrays, other: clean.ListArrays, anime: pd.DataFrame,
              users: pd.DataFrame, report: clean.Report, files, has_timestamps: bool,
              seed: int = 42) -> Dataset:
    """Contiguous ids, time order (ties in a seeded random order), and the final frames."""
    if len(kept) == 0:
        raise DataFormatError(files["lists"], "no entry is left after cleaning (all rows were "
                              "removed; see the rules above)",
                              fix="check that the user, anime and list files belong together")
    user_rows = np.unique(kept.user)
    anime_rows = np.unique(kept.anime)
    # the other statuses of the same users and anime (their rows of the user and anime files)
    other.user = clean.lookup(user_rows, other.user, np.int32)
    other.anime = clean.lookup(anime_rows, other.anime, np.int32)
    other.take_in_place(np.flatnonzero((other.user >= 0) & (other.anime >= 0)))
    # from here on the columns are replaced, never copied whole: the peak stays near the rows
    interactions = _ordered_frame(kept, user_rows, anime_rows, has_timestamps, seed)
    other_frame = _ordered_frame(other, None, None, has_timestamps, seed)

    anime_out = anime.iloc[anime_rows].reset_index(drop=True)
    anime_out.index.name = "item"
    anime_out["genre"] = anime_out["genre"].fillna("").astype(str)
    anime_out["genres"] = _split_genres(anime_out["genre"])
    users_out = users.iloc[user_rows].reset_index(drop=True)
    users_out.index.name = "user"
    for col in ("join_date", "last_online", "birth_date"):
        if col in users_out:
            users_out[col] = pd.to_datetime(users_out[col], errors="coerce", format="ISO8601")
    if "last_online" in users_out and has_timestamps:  # rows are in time order: the last is the latest
        user = interactions["user"].to_numpy()
        last = np.flatnonzero(np.r_[user[1:] != user[:-1], True])
        last_update = pd.Series(interactions["timestamp"].to_numpy()[last], index=user[last])
        users_out["last_online"] = clean.fix_last_online(
            users_out["last_online"], last_update.reindex(users_out.index), report, files["users"].name)
    meta = {"rows_read": report.rows_read, "has_timestamps": has_timestamps, "tie_seed": seed,
            "last_two_tied_share": last_two_tied_share(interactions) if has_timestamps else None,
            "files": {k: str(v) for k, v in files.items() if v is not None}}
    return Dataset(interactions=interactions, other_statuses=other_frame, anime=anime_out,
                   users=users_out, report=report.frame(), truth=None, source="", meta=meta)


def _ordered_frame(rows: clean.ListArrays, user_rows: np.ndarray | None,
                   anime_rows: np.ndarray | None, has_timestamps: bool, seed: int) -> pd.DataFrame:
    """Map rows to contiguous ids (unless done), order them by user and time, make the frame.

    ``rows`` is consumed: its columns are replaced one at a time, so the
    peak is the rows plus about two columns.
    """
    if user_rows is not None:
        rows.user = clean.lookup(user_rows, rows.user, np.int32)
        rows.anime = clean.lookup(anime_rows, rows.anime, np.int32)
    order = _time_order(rows.user, rows.timestamp, rows.anime, seed if has_timestamps else None)
    rows.take_in_place(order)
    del order
    return _frame(rows)


def _time_order(user: np.ndarray, ts: np.ndarray, item: np.ndarray,
                seed: int | None) -> np.ndarray:
    """Row order by user, then time, then a seeded random key (or the item id if ``seed`` is None).

    When user, time span and at least 12 bits of the tie key fit into 64 bits
    (on the real data: 19 + 29 + 16), one sort of one combined key does it,
    built slice by slice; otherwise a lexsort of the three.

    Example
    -------
    >>> _time_order(np.array([1, 0, 0]), np.array([5, 9, 9]), np.array([0, 7, 3]), seed=None)
    array([2, 1, 0])
    """
    if len(ts) == 0:
        return np.zeros(0, np.int64)
    t0 = int(ts.min())
    user_bits = max(int(user.max()), 1).bit_length()
    time_bits = max(int(ts.max()) - t0, 1).bit_length()
    tie_bits = 64 - user_bits - time_bits
    if (tie_bits < 12 or int(user.min()) < 0
            or (seed is None and max(int(item.max()), 1).bit_length() > tie_bits)):
        return np.lexsort((item if seed is None else tie_key(user, item, seed), ts, user))
    key = np.empty(len(ts), np.uint64)
    for start in range(0, len(ts), 1 << 20):  # in slices: temporaries stay small
        sl = slice(start, start + (1 << 20))
        k = user[sl].astype(np.uint64) << np.uint64(time_bits + tie_bits)
        k |= (ts[sl].astype(np.int64) - t0).astype(np.uint64) << np.uint64(tie_bits)
        if seed is None:
            k |= item[sl].astype(np.uint64)
        else:
            k |= tie_key(user[sl], item[sl], seed) >> np.uint64(64 - tie_bits)  # its top bits
        key[sl] = k
    # equal keys (a collision of the truncated tie keys) are rare; quicksort orders them
    # deterministically, and needs no buffer beyond the 8-byte index
    return np.argsort(key)


def _frame(rows: clean.ListArrays) -> pd.DataFrame:
    """The frame of ordered rows with contiguous ids; shares their arrays (no copies)."""
    missing = rows.timestamp < 0  # seconds since 1970, -1 = missing
    nanoseconds = rows.timestamp.astype(np.int64)  # a copy: rows.timestamp may be reused
    nanoseconds *= 1_000_000_000
    nanoseconds[missing] = np.iinfo(np.int64).min  # = NaT
    del missing
    columns = {
        "user": rows.user.astype(np.int32, copy=False),
        "item": rows.anime.astype(np.int32, copy=False),
        "rating": rows.score.astype(np.int8, copy=False),
        "timestamp": nanoseconds.view("datetime64[ns]"),
        "status": rows.status.astype(np.int8, copy=False),
        "watched_episodes": rows.episodes.astype(np.int32, copy=False),
        "rewatching": rows.rewatching.astype(np.int8, copy=False),
    }
    rows.timestamp = np.zeros(0, np.int64)
    return pd.DataFrame(columns, copy=False)  # copy=False: no consolidation into blocks


# ----------------------------------------------------------------------------
# the CooperUnion source
# ----------------------------------------------------------------------------
def _build_cooper(files: dict[str, Path], seed: int = 42) -> Dataset:
    raw = read.read_table(files["anime"], schema.COOPER_ANIME_COLUMNS[:1] + ("name", "genre", "type"),
                          ("episodes", "rating", "members"), types={"anime_id": pa.int64()})
    anime = pd.DataFrame({
        "anime_id": raw["anime_id"], "title": raw["name"], "type": raw["type"],
        "episodes": pd.to_numeric(raw.get("episodes"), errors="coerce").fillna(0).astype(np.int64),
        "genre": raw["genre"].fillna(""),
        "members": pd.to_numeric(raw.get("members"), errors="coerce").fillna(0).astype(np.int64),
        "score": pd.to_numeric(raw.get("rating"), errors="coerce"),
    })
    report = clean.Report()
    anime = clean.drop_repeated_keys(anime, "anime_id", report, files["anime"].name)
    anime = anime.sort_values("anime_id", kind="stable").reset_index(drop=True)
    unescape_titles(anime, ("title",), report, files["anime"].name)
    path = files["lists"]
    header = read.read_header(path)
    read.check_columns(path, header, schema.COOPER_RATING_COLUMNS)
    report.notes["status_not_1_or_2"] = "rating.csv lists only watched anime: status is set to 2"
    parts, n_minus_one = [], 0
    ids = anime["anime_id"].to_numpy()
    types = {"user_id": pa.int64(), "anime_id": pa.int64(), "rating": pa.int16()}
    for first_line, batch in _cooper_batches(path, types):
        n = batch.num_rows
        report.rows_read += n
        rating = batch.column("rating").to_numpy()
        bad = (rating < -1) | (rating > 10)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(path, f"rating {int(rating[row])} is outside -1–10 (-1 means "
                                  "'watched, not rated')", line=first_line + row, column="rating",
                                  fix="correct the rating or delete that line")
        aid = batch.column("anime_id").to_numpy()
        pos = np.searchsorted(ids, aid)
        known = pos < len(ids)
        known[known] = ids[pos[known]] == aid[known]
        report.removed["unknown_anime"] += int((~known).sum())
        n_minus_one += int((rating[known] == -1).sum())
        user = batch.column("user_id").to_numpy()[known]
        parts.append(clean.ListArrays(
            user.astype(np.int32), pos[known].astype(np.int32),
            np.maximum(rating[known], 0).astype(np.int8), np.full(known.sum(), 2, np.int8),
            np.zeros(known.sum(), np.int32), np.zeros(known.sum(), np.int8),
            np.full(known.sum(), -1, np.int64)))
    rows = clean.ListArrays.concat(parts)
    report.files["unknown_anime"] = path.name
    rows = clean.drop_duplicates(rows, report, path.name)
    report.fixed["rating_minus_one"] = n_minus_one
    user_ids = np.unique(rows.user)
    users = pd.DataFrame({"username": user_ids.astype(str), "user_id": user_ids})
    rows.user = np.searchsorted(user_ids, rows.user).astype(np.int32)
    ds = _assemble(rows, clean.ListArrays.concat([]), anime, users, report, files,
                   has_timestamps=False, seed=seed)
    extra = pd.DataFrame({"file": [path.name], "rule": ["rating_minus_one"], "rows_removed": [0],
                          "rows_fixed": [n_minus_one],
                          "description": ["rating -1, watched without a score (fixed: becomes 0, 'not scored')"]})
    ds.report = pd.concat([ds.report, extra], ignore_index=True)
    ds.interactions["timestamp"] = pd.NaT
    return ds


def _cooper_batches(path: Path, types):
    import pyarrow.csv as pacsv

    invalid = []
    reader = None
    row0 = 0
    while True:
        try:
            reader = reader or pacsv.open_csv(
                path, read_options=pacsv.ReadOptions(block_size=read.BLOCK_SIZE),
                parse_options=pacsv.ParseOptions(
                    ignore_empty_lines=False, invalid_row_handler=lambda r: invalid.append(r) or "skip"),
                convert_options=pacsv.ConvertOptions(
                    include_columns=list(types), column_types=dict.fromkeys(types, pa.float64())))
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            if invalid:
                break
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise read.non_utf8_error(path) from None
            raise read._diagnose_lists(path, list(types), types, exc) from None
        except (pa.ArrowException, OSError) as exc:
            raise DataFormatError(path, f"cannot read the file: {exc}",
                                  fix="compare it with the original file; download it again") from None
        if invalid:
            r = invalid[0]
            raise DataFormatError(path, f"malformed line: {r.actual_columns} fields instead of "
                                  f"{r.expected_columns}: {r.text[:80]!r}",
                                  line=r.number or read._find_line(path, r.text, len(types)),
                                  fix="repair or delete that line")
        for col in types:
            if batch.column(col).null_count:
                row = int(np.flatnonzero(batch.column(col).is_null().to_numpy(zero_copy_only=False))[0])
                raise DataFormatError(path, f"{col} has no value", line=row0 + row + 2, column=col,
                                      fix="fill in the value or delete that line")
        yield row0 + 2, read._typed_batch(path, batch, types, row0 + 2)
        row0 += batch.num_rows
    r = invalid[0]
    raise DataFormatError(path, f"malformed line: {r.actual_columns} fields instead of "
                          f"{r.expected_columns}: {r.text[:80]!r}",
                          line=r.number or read._find_line(path, r.text, len(types)),
                          fix="repair or delete that line")


# ----------------------------------------------------------------------------
# the truth of synthetic data, mapped to dataset ids
# ----------------------------------------------------------------------------
def _map_truth(folder: Path, ds: Dataset) -> Truth:
    t = {p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy")}
    params = json.loads((folder / "params.json").read_text())
    gen_user = pd.Index(t["user_username"]).get_indexer(ds.users["username"].to_numpy())
    gen_item = pd.Index(t["item_anime_id"]).get_indexer(ds.anime["anime_id"].to_numpy())
    n_gen_items = len(t["item_anime_id"])
    item_of_gen = np.full(n_gen_items, -1, np.int64)
    item_of_gen[gen_item] = np.arange(len(gen_item))
    succ_gen = t["item_successor"][gen_item]
    successor = np.where(succ_gen >= 0, item_of_gen[np.maximum(succ_gen, 0)], -1)
    # phase drift rows of each dataset user
    gen_off = np.r_[0, np.cumsum(t["user_phase_rows"])]
    counts = t["user_phase_rows"][gen_user]
    rows = np.concatenate([np.arange(gen_off[g], gen_off[g + 1]) for g in gen_user]) if len(gen_user) else np.zeros(0, int)
    inter = ds.interactions
    row_off = np.r_[0, np.cumsum(np.bincount(inter["user"], minlength=ds.n_users))]
    record_draw = record_phase = None
    if "record_user" in t:
        key_gen = t["record_user"].astype(np.int64) * n_gen_items + t["record_item"]
        key_ds = gen_user[inter["user"].to_numpy()].astype(np.int64) * n_gen_items + gen_item[inter["item"].to_numpy()]
        order = np.argsort(key_gen)
        pos = order[np.searchsorted(key_gen[order], key_ds)]
        record_draw = t["record_draw"][pos].astype(np.int8)
        record_phase = t["record_phase"][pos].astype(np.int16)
    truth = Truth(
        mu=float(params["mu"]), noise_sd=float(params["noise_sd"]),
        user_bias=t["user_bias"][gen_user], item_bias=t["item_bias"][gen_item],
        user_factors=t["user_factors"][gen_user], item_factors=t["item_factors"][gen_item],
        item_pick_logit=(t["item_logpop"] - t["item_sequel_penalty"])[gen_item],
        taste_scale=float(params["taste_scale"]), item_successor=successor,
        item_franchise=t["item_franchise"][gen_item],
        user_continuation=t["user_continuation"][gen_user],
        phase_drift=t["phase_drift"][rows].astype(np.float64),
        user_phase_offset=np.r_[0, np.cumsum(counts)], user_row_offset=row_off,
        record_draw=record_draw, record_phase=record_phase,
        phase_len=int(params["phase_len"]), params=params)
    truth.noise_floor_rmse = truth.rmse_floor(inter)
    return truth
