"""Writing the synthetic data as the Kaggle MyAnimeList files, quirks included.

:mod:`course_utils.data.generate` draws the world (catalogue, users, watch histories,
scores: the generative model and its truth); this module writes it down the way the
real files are written: ``AnimeList.csv``, ``UserList.csv``, ``users_cleaned.csv`` and
``UserAnimeList.csv`` with their column names and value formats, and the damage the
cleaning rules of chapter 01 exist for (repeated rows, unknown anime, invalid status
codes, more watched episodes than a series has, users last online in 1900, users
missing from the cleaned user file). Only the ``GenParams`` shares decide how much.

Example
-------
>>> import pyarrow as pa
>>> _quote(pa.array(["Kaze, Sora", "Hikari"])).to_pylist()  # quoted only where needed
['"Kaze, Sora"', 'Hikari']
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from course_utils.data import schema

if TYPE_CHECKING:  # pragma: no cover
    from course_utils.data.generate import Catalogue, GenParams, Users


def _quote(arr: pa.Array) -> pa.Array:
    """CSV-quote the strings that need it (as pandas does: minimal quoting)."""
    needs = pc.match_substring_regex(arr, r'[",\n\r]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, arr)


def _write_rows(fh, columns: list[pa.Array]) -> None:
    """Write string columns as CSV lines (vectorised in Arrow, no Python loop)."""
    lines = pc.binary_join_element_wise(*columns, ",")
    lines = pc.binary_join_element_wise(lines, "", "\n")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1,
                            offset=lines.offset * 4)
    fh.write(memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]])


_TAGS = np.array(["favorite", "rewatch later", "masterpiece, classic", "dub", "sub",
                  'my "guilty" pleasure', "名作", "with friends, at school"])


def _list_rows(rng, out, cat: Catalogue, users: Users, prm: GenParams, max_anime_id: int):
    """The chunk's rows as UserAnimeList.csv text columns, with the quirks injected."""
    n = len(out["user"])
    user, item = out["user"], out["item"]
    anime_id = cat.anime_id[item]
    status = out["status"].astype(np.int64)
    watched = out["watched"].copy()
    # quirk: watched episodes beyond the series length
    over = (rng.random(n) < prm.episodes_overflow_share) & (cat.episodes[item] > 0) & (status != 6)
    watched[over] = cat.episodes[item][over] + rng.integers(1, 2 * cat.episodes[item][over] + 5)
    score = out["score"].astype(np.int64)
    ts = out["ts"]
    rewatch = out["rewatch"].astype(np.int64)
    rewatch_ep = out["rewatch_ep"]
    # junk rows: unknown anime ids and invalid status codes
    n_unknown = rng.binomial(n, prm.unknown_anime_share)
    n_invalid = rng.binomial(n, prm.invalid_status_share)
    n_junk = n_unknown + n_invalid
    j_src = rng.integers(0, n, n_junk)
    j_anime = np.r_[max_anime_id + rng.integers(1, 5000, n_unknown),
                    cat.anime_id[rng.integers(0, len(cat.anime_id), n_invalid)]]
    j_status = np.r_[rng.choice([1, 2], n_unknown), rng.choice([0, 5], n_invalid)]
    user = np.r_[user, user[j_src]]
    anime_id = np.r_[anime_id, j_anime]
    status = np.r_[status, j_status]
    watched = np.r_[watched, rng.integers(1, 13, n_junk)]
    score = np.r_[score, rng.integers(0, 11, n_junk)]
    ts = np.r_[ts, ts[j_src] + 1]
    rewatch = np.r_[rewatch, np.zeros(n_junk, np.int64)]
    rewatch_ep = np.r_[rewatch_ep, np.zeros(n_junk, np.int64)]
    # rows of a user sorted by anime id (the file order does not give the watch order)
    order = np.lexsort((anime_id, user))
    # quirk: exact duplicate lines
    dup = rng.random(len(order)) < prm.duplicate_share
    order = np.repeat(order, np.where(dup, 2, 1))
    user, anime_id, status, watched, score, ts, rewatch, rewatch_ep = (
        a[order] for a in (user, anime_id, status, watched, score, ts, rewatch, rewatch_ep))
    m = len(user)
    day = (ts // 86400).astype(np.int64)
    fills = users.fills_dates[user]
    start_day = day - rng.integers(0, 60, m)
    start = pc.if_else(pa.array(fills & (status != 6)), pc.cast(pa.array(start_day.astype(np.int32), pa.date32()), pa.string()), schema.MISSING_DATE)
    finish = pc.if_else(pa.array(fills & (status == 2)), pc.cast(pa.array(day.astype(np.int32), pa.date32()), pa.string()), schema.MISSING_DATE)
    rewatching = pc.if_else(pa.array(users.empty_rewatching[user] & (rewatch == 0)), "",
                            pc.cast(pa.array(rewatch), pa.string()))
    tag_idx = rng.integers(0, len(_TAGS), m)
    tags = np.where(rng.random(m) < 0.02, _TAGS[tag_idx], "")
    s = lambda a: pc.cast(pa.array(a), pa.string())  # noqa: E731
    return [
        pa.array(users.username[user]), s(anime_id), s(watched), start, finish, s(score),
        s(status), rewatching, s(rewatch_ep),
        pc.cast(pa.array(ts, pa.timestamp("s")), pa.string()), _quote(pa.array(tags)),
    ]


def _anime_frame(cat: Catalogue, stats: dict[str, np.ndarray], n_users: int) -> pd.DataFrame:
    """AnimeList.csv: 31 columns, members and score measured on the generated lists."""
    n = len(cat.anime_id)
    scale = 283_044 / max(n_users, 1)  # report members as if there were as many users as on MAL
    members = np.rint(stats["entries"] * scale).astype(np.int64)
    scored_by = np.rint(stats["scored"] * scale).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.round(stats["score_sum"] / stats["scored"], 2)
    rank_order = np.argsort(-np.nan_to_num(score, nan=-1), kind="stable")
    rank = np.empty(n)
    rank[rank_order] = np.arange(1, n + 1)
    rank = np.where(stats["scored"] > 0, rank, np.nan)
    pop_order = np.argsort(-members, kind="stable")
    popularity = np.empty(n, np.int64)
    popularity[pop_order] = np.arange(1, n + 1)
    related = []
    by_fr: dict[int, list[int]] = {}
    for i, f in enumerate(cat.franchise):
        by_fr.setdefault(int(f), []).append(i)
    for i in range(n):
        rel = {}
        fr = by_fr[int(cat.franchise[i])]
        p = int(cat.franchise_pos[i])
        if p > 0:
            j = fr[p - 1]
            rel["Prequel"] = [_rel(cat, j)]
        if p + 1 < len(fr):
            rel["Sequel"] = [_rel(cat, fr[p + 1])]
        if len(fr) > 1 and p > 1:
            rel["Parent story"] = [_rel(cat, fr[0])]
        related.append(str(rel) if rel else "[]")
    e = cat.extra
    frame = pd.DataFrame({
        "anime_id": cat.anime_id, "title": cat.titles,
        "title_english": e["title_english"], "title_japanese": e["title_japanese"],
        "title_synonyms": e["title_synonyms"], "image_url": e["image_url"],
        "type": cat.type, "source": e["source"], "episodes": cat.episodes,
        "status": e["status"], "airing": e["airing"], "aired_string": e["aired_string"],
        "aired": e["aired"], "duration": e["duration"], "rating": e["rating"],
        "score": score, "scored_by": scored_by, "rank": rank, "popularity": popularity,
        "members": members, "favorites": np.rint(members * 0.004).astype(np.int64),
        "background": e["background"], "premiered": e["premiered"],
        "broadcast": e["broadcast"], "related": related, "producer": e["producer"],
        "licensor": e["licensor"], "studio": e["studio"], "genre": e["genre"],
        "opening_theme": e["opening_theme"], "ending_theme": e["ending_theme"],
    })
    assert tuple(frame.columns) == schema.ANIME_COLUMNS
    return frame.sort_values("anime_id", kind="stable")


def _rel(cat: Catalogue, j: int) -> dict:
    slug = cat.titles[j].replace(" ", "_").replace('"', "").replace(",", "").replace(":", "")
    return {"mal_id": int(cat.anime_id[j]), "type": "anime",
            "url": f"https://myanimelist.net/anime/{int(cat.anime_id[j])}/{slug}",
            "title": cat.titles[j]}


def _user_frame(users: Users, stats: dict[str, np.ndarray], rng, prm: GenParams) -> pd.DataFrame:
    """UserList.csv: 17 columns, the counts measured on the generated lists."""
    n = len(users.username)
    last_update = pd.DatetimeIndex(stats["last_update"].astype("datetime64[s]"))
    online = last_update + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s")
    online_s = online.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
    # quirk: users whose last-online year is 1900
    online_s[rng.random(n) < prm.last_online_1900_share] = "1900-01-01 00:00:00"
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.round(stats["score_sum"] / stats["scored"], 2)
    frame = pd.DataFrame({
        "username": users.username, "user_id": users.user_id,
        "user_watching": stats["n1"], "user_completed": stats["n2"],
        "user_onhold": stats["n3"], "user_dropped": stats["n4"],
        "user_plantowatch": stats["n6"],
        "user_days_spent_watching": stats["episodes"] * 23.5 / 1440.0,
        "gender": users.gender, "location": users.location,
        "birth_date": users.birth_date, "access_rank": "",
        "join_date": pd.DatetimeIndex(users.join).strftime("%Y-%m-%d 00:00:00"),
        "last_online": online_s,
        "stats_mean_score": np.nan_to_num(mean_score, nan=0.0),
        "stats_rewatched": stats["rewatched"].astype(np.float64),
        "stats_episodes": stats["episodes"].astype(np.float64),
    })
    assert tuple(frame.columns) == schema.USER_COLUMNS
    return frame.sort_values("user_id", kind="stable")
