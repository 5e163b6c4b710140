"""Checks for chapter 01 (the dataset).

``01.latest_entry``: keep one list entry per (username, anime_id), the most
recently updated one, as the cleaning rule ``duplicate_rows`` does.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("01.latest_entry", lambda lists: lists).passed
False
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from course_utils.exercises.registry import Wrong, call, describe, exercise

_COLUMNS = ["username", "anime_id", "my_score", "my_last_updated"]


def _case() -> pd.DataFrame:
    """Rows as they come in a file: the file order is not the time order."""
    return pd.DataFrame([
        ("ayu", 20, 9, "2014-05-01 10:00:00"),   # newer, listed first
        ("ayu", 1, 8, "2013-01-01 09:00:00"),
        ("ayu", 20, 6, "2012-03-01 08:00:00"),   # older entry of the same anime, listed later
        ("ben", 20, 3, "2011-02-02 02:00:00"),   # another user, same anime: older, listed first
        ("ben", 20, 7, "2015-07-07 07:00:00"),   # ... and newer, listed later
        ("ben", 5, 10, "2016-01-01 12:00:00"),
        ("ben", 5, 10, "2016-01-01 12:00:00"),   # an exact duplicate line
    ], columns=_COLUMNS).assign(my_last_updated=lambda f: pd.to_datetime(f["my_last_updated"]))


_EXPECTED = {("ayu", 20, 9), ("ayu", 1, 8), ("ben", 20, 7), ("ben", 5, 10)}


def _latest(lists: pd.DataFrame) -> pd.DataFrame:
    """The solution: sort by time (stable), keep the last row of each pair."""
    ordered = lists.sort_values("my_last_updated", kind="stable")
    return ordered.drop_duplicates(["username", "anime_id"], keep="last")


# Typical slips, kept as test cases: each must get the hint that names it.
def _exact_only(lists):
    return lists.drop_duplicates()


def _keep_first(lists):
    return lists.drop_duplicates(["username", "anime_id"])


def _keep_last_unsorted(lists):
    return lists.drop_duplicates(["username", "anime_id"], keep="last")


def _anime_only(lists):
    return lists.sort_values("my_last_updated").drop_duplicates("anime_id", keep="last")


def _count(lists):
    return int(lists.duplicated(["username", "anime_id"]).sum())


def _rows(frame: Any) -> set[tuple]:
    if not isinstance(frame, pd.DataFrame):
        raise Wrong(f"latest_entries returned {describe(frame)}, not a DataFrame",
                    hint="return the de-duplicated frame itself (with its columns), not a count")
    missing = [c for c in ("username", "anime_id", "my_score") if c not in frame.columns]
    if missing:
        raise Wrong(f"the frame you returned has no column {missing[0]!r}",
                    hint="keep the columns of the input; only remove rows")
    return set(zip(frame["username"], frame["anime_id"].astype(int), frame["my_score"].astype(int)))


@exercise("01.latest_entry", title="one entry per user and anime, the latest",
          right=[_latest],
          wrong=[(_exact_only, "username and anime_id"), (_keep_first, "my_last_updated"),
                 (_keep_last_unsorted, "my_last_updated"), (_anime_only, "two users"),
                 (_count, "DataFrame")])
def check_latest_entry(answer: Any) -> str:
    case = _case()
    before = case.copy()
    got_frame = call(answer, case)
    if not case.equals(before):
        raise Wrong("your function changed the frame it was given",
                    hint="work on a copy (sort_values and drop_duplicates return new frames); "
                         "the raw data is never modified")
    got = _rows(got_frame)
    keys = list(zip(got_frame["username"], got_frame["anime_id"].astype(int)))
    if len(keys) != len(set(keys)):
        raise Wrong(f"the result still has {len(keys)} rows for {len(set(keys))} (username, "
                    "anime_id) pairs",
                    hint="rows that differ only in my_score or my_last_updated are still "
                         "duplicates: de-duplicate on username and anime_id")
    if got == _EXPECTED:
        return ("The loader applies the same rule to millions of rows with a stable sort "
                "(course_utils.data.clean.drop_duplicates).")
    if not ({("ben", 20), ("ayu", 20)} <= set(keys)):
        raise Wrong(f"you returned {sorted(got)}; an entry of another user was lost",
                    hint="two users may list the same anime: the key is (username, anime_id), "
                         "not anime_id alone")
    stale = sorted(got - _EXPECTED)
    if stale:
        raise Wrong(f"you kept the older entries {stale}",
                    hint="the file order is not the time order: sort by my_last_updated "
                         "(kind='stable'), then keep the last row of each (username, anime_id)")
    raise Wrong(f"you returned the entries {sorted(got)}; expected {sorted(_EXPECTED)}",
                hint="de-duplicate on username and anime_id and keep the row with the latest "
                     "my_last_updated")
