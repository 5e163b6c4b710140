"""The cleaning rules of the thesis (chapter 2), applied while the lists stream by.

Each rule either removes rows or fixes values, and the cleaning report counts
what every rule did. A row is counted by the *first* rule that removes it, in
the order of :data:`RULES`.

Example
-------
>>> [r for r, _ in RULES][2:5]
['invalid_status_code', 'unknown_user', 'user_not_in_cleaned_list']
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from course_utils.data import schema
from course_utils.data.errors import DataFormatError

CLEANING_VERSION = 2  # bump when a rule changes: the parquet caches are rebuilt

RULES: list[tuple[str, str]] = [
    ("repeated_anime_id", "a second line with an anime_id already in the anime file (removed; "
                          "the first one is kept)"),
    ("repeated_username", "a second line with a username already in the user file (removed; "
                          "the first one is kept)"),
    ("invalid_status_code", "my_status is 0 or 5, codes MyAnimeList gives no meaning (removed)"),
    ("unknown_user", "username not in the user file (removed)"),
    ("user_not_in_cleaned_list", "user not in users_cleaned.csv, the dataset author's cleaned "
                                 "user file, as in the thesis (removed)"),
    ("unknown_anime", "anime_id not in the anime file (removed)"),
    ("status_not_1_or_2", "my_status 3, 4 or 6 (on hold, dropped, plan to watch); the thesis "
                          "keeps 1 and 2 (removed; kept apart in Dataset.other_statuses)"),
    ("missing_last_updated", "my_last_updated empty or 0000-00-00 00:00:00, so the entry has no "
                             "place in the watch order (removed)"),
    ("duplicate_rows", "the same user and anime listed again (the latest update is kept)"),
    ("episodes_beyond_length", "my_watched_episodes larger than the series' episodes "
                               "(fixed: set to the series length)"),
    ("last_online_1900", "users whose last_online year is 1900 (fixed: set to their last list "
                         "update, as the dataset author did)"),
    ("html_entities", "anime titles with HTML entities such as &#039; or &amp; (fixed: "
                      "unescaped for display, Gintama&#039; becomes Gintama')"),
]
_STREAM_RULES = [r for r, _ in RULES[2:8]]


@dataclass
class Report:
    """Counts per rule; :meth:`frame` gives the cleaning report."""

    rows_read: int = 0
    removed: dict[str, int] = field(default_factory=lambda: {r: 0 for r, _ in RULES})
    fixed: dict[str, int] = field(default_factory=lambda: {r: 0 for r, _ in RULES})
    files: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        rules = [(r, d) for r, d in RULES if r in self.files]
        return pd.DataFrame({
            "file": [self.files[r] for r, _ in rules],
            "rule": [r for r, _ in rules],
            "rows_removed": [self.removed[r] for r, _ in rules],
            "rows_fixed": [self.fixed[r] for r, _ in rules],
            "description": [self.notes.get(r, d) for r, d in rules],
        })


@dataclass
class ListArrays:
    """Compact columns of user-list rows (numpy, one entry per row)."""

    user: np.ndarray  # row of the user file
    anime: np.ndarray  # row of the anime file (sorted by anime_id)
    score: np.ndarray
    status: np.ndarray
    episodes: np.ndarray
    rewatching: np.ndarray
    timestamp: np.ndarray  # seconds since 1970, -1 = missing

    @classmethod
    def concat(cls, parts: list["ListArrays"]) -> "ListArrays":
        """One ListArrays from many; the parts are emptied column by column as it goes.

        So the peak is the result plus one column, not twice the rows.
        """
        if not parts:
            return cls(*(np.zeros(0, dt) for dt in _DTYPES))
        columns = []
        for f, dt in zip(_FIELDS, _DTYPES):
            columns.append(np.concatenate([getattr(p, f) for p in parts]).astype(dt, copy=False))
            for p in parts:
                setattr(p, f, np.zeros(0, dt))
            release_freed_memory()
        return cls(*columns)

    def take(self, index: np.ndarray) -> "ListArrays":
        return ListArrays(*(getattr(self, f)[index] for f in _FIELDS))

    def take_in_place(self, index: np.ndarray) -> "ListArrays":
        """Keep (and order) the rows ``index``, one column at a time; returns self."""
        for f in _FIELDS:
            setattr(self, f, getattr(self, f)[index])
        return self

    def __len__(self) -> int:
        return len(self.user)


_FIELDS = ("user", "anime", "score", "status", "episodes", "rewatching", "timestamp")
_DTYPES = (np.int32, np.int32, np.int8, np.int8, np.int32, np.int8, np.int64)


def release_freed_memory() -> None:
    """Give memory freed by many mid-sized arrays back to the system (glibc; else nothing).

    Streaming a list file allocates and frees arrays of a few hundred kB per
    block; glibc keeps those pages, and without this the peak of the sort
    that follows sits on top of them (about 20 bytes per row read). Called after each block
    and each concatenated column.

    Example
    -------
    >>> release_freed_memory()  # safe anywhere
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        pass


def lookup(sorted_ids: np.ndarray, values: np.ndarray, dtype=np.int64) -> np.ndarray:
    """Position of each value in ``sorted_ids`` (unique, sorted), -1 where absent.

    Uses a lookup table when the ids are small integers (MyAnimeList anime ids
    are below 100,000), else a binary search. ``dtype`` is that of the result.

    Example
    -------
    >>> lookup(np.array([3, 7, 9]), np.array([9, 4, 3]), dtype=np.int32)
    array([ 2, -1,  0], dtype=int32)
    """
    values = np.asarray(values)
    if len(sorted_ids) and 0 <= sorted_ids[0] and sorted_ids[-1] < 10_000_000:
        table = np.full(int(sorted_ids[-1]) + 2, -1, dtype)  # the last slot: not found
        table[sorted_ids] = np.arange(len(sorted_ids))
        return table[np.where((values >= 0) & (values <= sorted_ids[-1]), values, len(table) - 1)]
    pos = np.searchsorted(sorted_ids, values)
    found = pos < len(sorted_ids)
    found[found] = sorted_ids[pos[found]] == values[found]
    return np.where(found, pos, -1).astype(dtype, copy=False)


def _np(col: pa.Array, fill: int = 0) -> np.ndarray:
    return col.fill_null(fill).to_numpy(zero_copy_only=False) if col.null_count else col.to_numpy()


def stream_lists(batches: Iterable[tuple[int, pa.RecordBatch]], path: Path,
                 usernames: pa.Array, cleaned: np.ndarray | None, anime_ids: np.ndarray,
                 report: Report) -> tuple[ListArrays, ListArrays]:
    """Apply the row rules to each batch; return (kept rows, rows with status 3/4/6).

    ``usernames`` are the user file's usernames (row order), ``cleaned`` marks
    the rows that are also in users_cleaned.csv (None: no such file), and
    ``anime_ids`` are the anime file's ids, sorted.
    """
    kept: list[ListArrays] = []
    other: list[ListArrays] = []
    name = path.name
    for first_line, batch in batches:
        n = batch.num_rows
        report.rows_read += n
        cols = {c: batch.column(c) for c in batch.schema.names}
        for col in ("anime_id", "my_status", "my_score", "my_watched_episodes"):
            if cols[col].null_count:
                row = int(np.flatnonzero(cols[col].is_null().to_numpy(zero_copy_only=False))[0])
                empty = all(cols[c][row].as_py() in (None, "") for c in cols)
                raise DataFormatError(
                    path, "the line is empty" if empty else f"{col} has no value", line=first_line + row,
                    column=None if empty else col, fix="fill in the value or delete that line")
        status = cols["my_status"].to_numpy()
        bad = ~np.isin(status, (*schema.STATUS_NAMES, *schema.INVALID_STATUSES))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                path, f"unknown status code {int(status[row])} in my_status (known codes: "
                + ", ".join(f"{k} {v}" for k, v in schema.STATUS_NAMES.items())
                + "; 0 and 5 are removed by the cleaning)", line=first_line + row, column="my_status",
                fix="correct the code or delete that line")
        score = cols["my_score"].to_numpy()
        bad = (score < 0) | (score > 10)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(path, f"my_score {int(score[row])} is outside 0–10 (0 means "
                                  "'not scored')", line=first_line + row, column="my_score",
                                  fix="correct the score or delete that line")
        ts_col = cols["my_last_updated"]
        if pa.types.is_timestamp(ts_col.type):
            ts_col = ts_col.cast(pa.int64())
        ts = _np(ts_col, -1).astype(np.int64)
        user = _np(pc.index_in(cols["username"], value_set=usernames), -1).astype(np.int64)
        pos = lookup(anime_ids, cols["anime_id"].to_numpy())
        known_anime = pos >= 0
        rule = np.zeros(n, np.int8)  # 0 kept, else 1 + index in _STREAM_RULES
        checks = [
            np.isin(status, schema.INVALID_STATUSES),
            user < 0,
            (user >= 0) & (~cleaned[np.maximum(user, 0)] if cleaned is not None else False),
            ~known_anime,
            ~np.isin(status, schema.KEPT_STATUSES),
            ts < 0,
        ]
        for code, mask in enumerate(checks, start=1):
            rule[(rule == 0) & mask] = code
        counts = np.bincount(rule, minlength=len(_STREAM_RULES) + 1)
        for code, r in enumerate(_STREAM_RULES, start=1):
            report.removed[r] += int(counts[code])
        rewatch = (_np(cols["my_rewatching"], 0) if "my_rewatching" in cols else np.zeros(n)).astype(np.int8)
        episodes = np.clip(cols["my_watched_episodes"].to_numpy(), 0, np.iinfo(np.int32).max)
        arrays = ListArrays(user.astype(np.int32), np.maximum(pos, 0).astype(np.int32),
                            score.astype(np.int8), status.astype(np.int8), episodes.astype(np.int32),
                            rewatch, ts)
        kept.append(arrays.take(np.flatnonzero(rule == 0)))
        other.append(arrays.take(np.flatnonzero(rule == 5)))
        del arrays, cols, batch
        release_freed_memory()
    for r in _STREAM_RULES:
        report.files[r] = name
    report.files["user_not_in_cleaned_list"] = name
    if cleaned is None:
        report.notes["user_not_in_cleaned_list"] = (
            f"no {schema.USERS_CLEANED_FILE} found: no user was filtered")
    return ListArrays.concat(kept), ListArrays.concat(other)


def drop_repeated_keys(frame: pd.DataFrame, column: str, report: Report, file: str) -> pd.DataFrame:
    """Keep the first line of each ``column`` value of a small file (anime or users)."""
    repeated = frame[column].duplicated()
    rule = "repeated_anime_id" if column == "anime_id" else "repeated_username"
    report.removed[rule] += int(repeated.sum())
    report.files[rule] = file
    return frame[~repeated.to_numpy()]


def _pair_keys(rows: ListArrays, slices: int = 1 << 20) -> Iterable[tuple[slice, np.ndarray]]:
    """(slice, user * n_anime + anime) for consecutive slices of the rows."""
    base = int(rows.anime.max()) + 1
    for start in range(0, len(rows), slices):
        sl = slice(start, start + slices)
        key = rows.user[sl].astype(np.int64)
        key *= base
        key += rows.anime[sl]
        yield sl, key


def drop_duplicates(rows: ListArrays, report: Report, file: str) -> ListArrays:
    """Keep one row per (user, anime): the most recently updated (the last in the file on ties).

    Only the rows of repeated pairs are sorted by time; finding them takes one
    sorted 8-byte key per row (built and searched in slices, no argsort of all rows).
    """
    report.files["duplicate_rows"] = file
    if len(rows) < 2:
        return rows
    key = np.empty(len(rows), np.int64)
    for sl, k in _pair_keys(rows):
        key[sl] = k
    key.sort()
    repeated = np.unique(key[1:][key[1:] == key[:-1]])
    del key
    if len(repeated) == 0:
        return rows
    members, mkey = [], []
    for sl, k in _pair_keys(rows):
        pos = np.minimum(np.searchsorted(repeated, k), len(repeated) - 1)
        hit = np.flatnonzero(repeated[pos] == k)
        members.append(hit + sl.start)  # file order
        mkey.append(k[hit])
    members, mkey = np.concatenate(members), np.concatenate(mkey)
    members = members[np.lexsort((members, rows.timestamp[members], mkey))]
    mk = np.sort(mkey)
    latest = np.r_[mk[1:] != mk[:-1], True]  # the last row of each pair: latest, then last in file
    drop = members[~latest]
    keep = np.ones(len(rows), bool)
    keep[drop] = False
    report.removed["duplicate_rows"] += int(len(drop))
    return rows.take_in_place(np.flatnonzero(keep))


def fix_episodes(rows: ListArrays, series_episodes: np.ndarray, report: Report, file: str) -> None:
    """Clip watched episodes to the series length where the length is known (> 0)."""
    length = np.asarray(series_episodes, np.int32)[rows.anime]
    over = (length > 0) & (rows.episodes > length)
    rows.episodes[over] = length[over]
    report.fixed["episodes_beyond_length"] += int(over.sum())
    report.files["episodes_beyond_length"] = file


def fix_last_online(last_online: pd.Series, last_update: pd.Series, report: Report, file: str) -> pd.Series:
    """Replace last-online dates before 1970 (the 1900 quirk) by the user's last list update."""
    bad = last_online.notna() & (last_online.dt.year < 1970)
    report.fixed["last_online_1900"] += int(bad.sum())
    report.files["last_online_1900"] = file
    return last_online.where(~bad, last_update)
