"""Helpers for the course *Deep Learning for Recommender Systems*.

Import the module a chapter needs (``course_utils.data``, ``course_utils.metrics``,
...); this package itself only sets framework hygiene and exposes
:func:`record` and :func:`start`.
"""
from course_utils.hygiene import quiet_frameworks as _quiet

_quiet()

from course_utils.results import record  # noqa: E402
from course_utils.notebook import start  # noqa: E402

__version__ = "0.1.0"
__all__ = ["record", "start", "__version__"]
