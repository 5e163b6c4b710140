"""Turn a public real sample of the CooperUnion ratings into the ``kaggle_cooper`` layout.

No dataset can be downloaded while the course runs, and the full CooperUnion files are
not committed anywhere in plain form. One real sample is: the "Anime" folder of
`caserec/Datasets-for-Recommender-Systems
<https://github.com/caserec/Datasets-for-Recommender-Systems>`_
(``Processed Datasets/Anime/anime.zip``), 5,000 users drawn at random from the
CooperUnion data by its author, with ids renumbered from 1. Its three tab-separated files
are

* ``anime_history.dat`` — every list entry (``User_ID, Anime_ID, Feedback = 1``);
* ``anime_ratings.dat`` — the entries with a score (``User_ID, Anime_ID, Feedback`` 1–10);
* ``anime_info.dat`` — the anime (``anime_ids, name, genre, type, episodes, rating,
  members``), the columns of CooperUnion's ``anime.csv``.

:func:`convert_caserec_anime` writes them as CooperUnion's ``rating.csv`` (an entry
without a score gets ``-1``, "watched, not rated", as in the original) and ``anime.csv``,
so ``DATA_SOURCE = "kaggle_cooper"`` reads them unchanged. The source zip is only read.

Example
-------
>>> from course_tools.real_sample import convert_caserec_anime  # doctest: +SKIP
>>> convert_caserec_anime("anime.zip", "data/kaggle_cooper_caserec")  # doctest: +SKIP
{'users': 5000, 'anime': 7390, 'entries': 520609, 'scored': 419943, 'not_scored': 100666}
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pandas as pd

#: the three members of the zip, as (name inside the folder, expected header)
MEMBERS = {
    "history": ("anime_history.dat", ["User_ID", "Anime_ID", "Feedback"]),
    "ratings": ("anime_ratings.dat", ["User_ID", "Anime_ID", "Feedback"]),
    "info": ("anime_info.dat", ["anime_ids", "name", "genre", "type", "episodes", "rating",
                                "members"]),
}


class SampleFormatError(ValueError):
    """The zip is not the caserec Anime sample; the message names the member and the fix."""


def _read_member(archive: zipfile.ZipFile, zip_path: Path, key: str) -> pd.DataFrame:
    name, header = MEMBERS[key]
    matches = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == name]
    if not matches:
        raise SampleFormatError(f"{zip_path}: no {name} inside; expected the 'Processed "
                                "Datasets/Anime/anime.zip' of caserec/Datasets-for-Recommender-"
                                "Systems")
    with archive.open(matches[0]) as raw:
        frame = pd.read_csv(io.TextIOWrapper(raw, encoding="utf-8"), sep="\t",
                            keep_default_na=False, na_values=[""])
    if list(frame.columns) != header:
        raise SampleFormatError(f"{zip_path}:{matches[0]}: header {list(frame.columns)}, "
                                f"expected {header} (tab-separated)")
    return frame


def _write_atomically(frame: pd.DataFrame, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, target)


def convert_caserec_anime(zip_path: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write ``rating.csv`` and ``anime.csv`` (CooperUnion layout) from the caserec zip.

    Parameters
    ----------
    zip_path
        ``anime.zip`` from caserec/Datasets-for-Recommender-Systems.
    out_dir
        Folder to write into (created); existing ``rating.csv``/``anime.csv`` are replaced
        atomically.

    Returns
    -------
    dict
        Counts: users, anime, entries (list rows), scored and not_scored.
    """
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SampleFormatError(f"{zip_path}: not a readable zip ({exc})") from exc
    with archive:
        history = _read_member(archive, zip_path, "history")
        ratings = _read_member(archive, zip_path, "ratings")
        info = _read_member(archive, zip_path, "info")
    keys = ["User_ID", "Anime_ID"]
    for name, frame in (("anime_history.dat", history), ("anime_ratings.dat", ratings)):
        dup = frame.duplicated(keys)
        if dup.any():
            row = int(dup.to_numpy().nonzero()[0][0])
            raise SampleFormatError(f"{zip_path}:{name}: user/anime pair repeated at data row "
                                    f"{row + 1}")
    lists = history[keys].merge(ratings, on=keys, how="outer", indicator=True)
    orphans = int((lists["_merge"] == "right_only").sum())
    if orphans:
        raise SampleFormatError(f"{zip_path}: {orphans} scores in anime_ratings.dat have no "
                                "entry in anime_history.dat")
    rating = lists["Feedback"].fillna(-1).astype("int64")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rating_csv = pd.DataFrame({"user_id": lists["User_ID"], "anime_id": lists["Anime_ID"],
                               "rating": rating}).sort_values(["user_id", "anime_id"])
    anime_csv = info.rename(columns={"anime_ids": "anime_id"})
    _write_atomically(anime_csv, out / "anime.csv")
    _write_atomically(rating_csv, out / "rating.csv")
    return {"users": int(rating_csv["user_id"].nunique()), "anime": int(len(anime_csv)),
            "entries": int(len(rating_csv)), "scored": int((rating >= 1).sum()),
            "not_scored": int((rating == -1).sum())}
