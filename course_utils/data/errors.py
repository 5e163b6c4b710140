"""The one error type of the data layer, with messages that say how to fix it.

Every problem with an input file (missing, empty, truncated, a malformed line,
a renamed column, a value of the wrong kind) raises :class:`DataFormatError`.
Its message names the file, the line or the column, and what to do about it.

Example
-------
>>> err = DataFormatError("UserAnimeList.csv", "my_score is not a number: 'abc'",
...                       line=7, column="my_score", fix="correct or delete that line")
>>> print(err)
UserAnimeList.csv, line 7, column my_score: my_score is not a number: 'abc'. Fix: correct or delete that line.
>>> isinstance(err, ValueError)
True
"""
from __future__ import annotations

from pathlib import Path

KAGGLE_MAL_INSTRUCTIONS = (
    "download the Kaggle 'MyAnimeList dataset' (azathoth42/myanimelist) with "
    "`kaggle datasets download -d azathoth42/myanimelist` (needs a Kaggle account "
    "and ~/.kaggle/kaggle.json), unzip it and put AnimeList.csv, UserList.csv, "
    "users_cleaned.csv and UserAnimeList.csv into {folder} (see data/README.md); "
    "or use DATA_SOURCE = 'synthetic', which needs no download"
)
KAGGLE_COOPER_INSTRUCTIONS = (
    "download the Kaggle 'Anime Recommendations Database' (CooperUnion/"
    "anime-recommendations-database) with `kaggle datasets download -d "
    "CooperUnion/anime-recommendations-database`, unzip it and put anime.csv and "
    "rating.csv into {folder} (see data/README.md); or use DATA_SOURCE = 'synthetic'"
)


class DataFormatError(ValueError):
    """An input file is missing or malformed.

    Attributes
    ----------
    file, line, column, fix
        Where the problem is (``line`` is 1-based and counts the header line)
        and how to fix it; ``line`` and ``column`` may be ``None``.
    """

    def __init__(self, file: str | Path, reason: str, *, line: int | None = None,
                 column: str | None = None, fix: str | None = None) -> None:
        self.file = str(file)
        self.reason = reason
        self.line = line
        self.column = column
        self.fix = fix
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        message = f"{where}: {reason}"
        if fix:
            message += f". Fix: {fix.rstrip('.')}."
        super().__init__(message)


class DataFilesMissingError(DataFormatError, FileNotFoundError):
    """A file the source needs is not there (also a :class:`FileNotFoundError`)."""


class NoTimestampsError(DataFormatError):
    """The source has no time information, so it has no watch order."""
