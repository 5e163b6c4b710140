"""The MyAnimeList data layer: synthetic generator, loader, cleaning and views.

Example
-------
>>> from course_utils.data import load, explicit, split_explicit
>>> ds = load(profile="ci")  # doctest: +SKIP
>>> train, valid, test = split_explicit(explicit(ds), 0.1, 0.1, seed=42)  # doctest: +SKIP

See ``data/README.md`` for the sources and :mod:`course_utils.data.load` for
what a :class:`Dataset` holds.
"""
from course_utils.data.errors import DataFilesMissingError, DataFormatError, NoTimestampsError
from course_utils.data.generate import generate
from course_utils.data.load import Dataset, load
from course_utils.data.schema import STATUS_NAMES
from course_utils.data.truth import Truth
from course_utils.data.views import (PAD, LeaveLastOut, explicit, history_length_percentiles,
                                     leave_last_out, make_windows, sequences, split_explicit)

__all__ = [
    "load", "generate", "Dataset", "Truth", "DataFormatError", "DataFilesMissingError",
    "NoTimestampsError", "STATUS_NAMES", "explicit", "split_explicit", "sequences",
    "leave_last_out", "LeaveLastOut", "make_windows", "history_length_percentiles", "PAD",
]
