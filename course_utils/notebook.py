"""What every chapter's second cell calls: ``cfg = course_utils.start(...)``.

Example
-------
>>> import course_utils
>>> cfg = course_utils.start("ci", seed=1, data_source="synthetic")
>>> cfg.name, cfg.seed
('ci', 1)
"""
from __future__ import annotations

from course_utils.config import Profile, check_source, get_profile
from course_utils.hygiene import plot_style, seed_everything


def start(profile: str | None = None, seed: int = 42,
          data_source: str = "synthetic") -> Profile:
    """Validate the parameters, seed everything, set the plot style.

    Returns the :class:`~course_utils.config.Profile`, with ``data_source``
    available as ``cfg["run"]["data_source"]``.
    """
    cfg = get_profile(profile, seed)
    check_source(data_source)
    cfg.sections["run"] = {"data_source": data_source}
    seed_everything(cfg.seed)
    plot_style()
    return cfg
