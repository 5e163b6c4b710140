"""The ground truth of the synthetic data: what no model can know, but we do.

The generator keeps every number it drew; :func:`course_utils.data.load` maps
them onto the dataset's user and item ids. Chapters use the truth to show

* the **noise floor**: the RMSE of the best possible rating predictor, the
  expected score under the true model. No model can beat it on average;
* an **oracle** for next-item prediction: the generator's own probabilities of
  the next anime, given the user's true taste and the history.

Example
-------
>>> ds = load(profile="ci")  # doctest: +SKIP
>>> round(ds.truth.noise_floor_rmse, 2)  # doctest: +SKIP
0.93
>>> ds.truth.expected_rating([0, 1], [5, 7])  # doctest: +SKIP
array([7.91, 6.52])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DRAW_NAMES = {0: "taste", 1: "franchise", 2: "fallback", 3: "plan"}


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF, Phi(z) = erfc(-z / sqrt 2) / 2, to ~1e-7.

    ``erfc`` is the Chebyshev fit of Numerical Recipes (``erfcc``, fractional
    error below 1.2e-7); written out because importing scipy takes seconds.
    Tested against ``scipy.special.ndtr``.
    """
    x = -np.asarray(z, dtype=float) / np.sqrt(2.0)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(-a * a + poly)
    return 0.5 * np.where(x >= 0, erfc, 2.0 - erfc)


def expected_score(x: np.ndarray, noise_sd: float) -> np.ndarray:
    """``E[clip(round(x + e), 1, 10)]`` for ``e ~ N(0, noise_sd^2)``: ``1 + sum_j P(x + e > j + 0.5)``."""
    x = np.asarray(x, dtype=float)
    thresholds = np.arange(1.5, 10.0, 1.0)
    return 1.0 + normal_cdf((x[..., None] - thresholds) / noise_sd).sum(axis=-1)


@dataclass
class Truth:
    """Everything the generator drew, indexed by the dataset's user and item ids.

    Attributes
    ----------
    mu, noise_sd
        Global offset and noise standard deviation of eq. (1):
        ``r = clip(round(mu + b_u + b_i + p_u . q_i + e), 1, 10)``.
    user_bias, item_bias, user_factors, item_factors
        ``b_u``, ``b_i``, ``p_u``, ``q_i``.
    item_pick_logit, taste_scale
        The item part of the pick probability (log popularity minus the
        sequel penalty) and the weight of the taste term (eq. 2 of the
        generator).
    item_successor
        The next entry of the item's franchise (item id), or -1.
    user_continuation
        Probability that the user goes on to the next franchise entry.
    record_draw, record_phase
        For each row of ``Dataset.interactions``: how the item was drawn
        (see :data:`DRAW_NAMES`) and the taste phase the user was in.
    noise_floor_rmse
        RMSE of :meth:`expected_rating` against all observed scores.
    """

    mu: float
    noise_sd: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    item_pick_logit: np.ndarray
    taste_scale: float
    item_successor: np.ndarray
    item_franchise: np.ndarray
    user_continuation: np.ndarray
    phase_drift: np.ndarray
    user_phase_offset: np.ndarray
    user_row_offset: np.ndarray
    record_draw: np.ndarray | None
    record_phase: np.ndarray | None
    phase_len: int
    params: dict[str, Any] = field(default_factory=dict)
    noise_floor_rmse: float = float("nan")

    # -- ratings -------------------------------------------------------------
    def latent_rating(self, users, items) -> np.ndarray:
        """``mu + b_u + b_i + p_u . q_i``: the true score before noise and rounding."""
        u, i = np.asarray(users), np.asarray(items)
        return (self.mu + self.user_bias[u] + self.item_bias[i]
                + np.einsum("ij,ij->i", self.user_factors[u], self.item_factors[i]))

    def expected_rating(self, users, items) -> np.ndarray:
        """The mean observed score: ``E[clip(round(x + e), 1, 10)]``.

        With ``Y = x + e``, the score is 1 plus the number of thresholds
        1.5, 2.5, …, 9.5 that ``Y`` exceeds, so its mean is
        ``1 + sum_j P(Y > j + 0.5)``. This is the best predictor in squared
        error: its RMSE is the noise floor.
        """
        x = self.latent_rating(users, items)
        if len(x) <= 10_000:
            return expected_score(x, self.noise_sd)
        # many values: interpolate the same smooth function from a fine grid (error < 1e-6)
        grid = np.linspace(-3.0, 14.0, 17_001)
        return np.interp(x, grid, expected_score(grid, self.noise_sd))

    def rmse_floor(self, frame: pd.DataFrame) -> float:
        """The noise-floor RMSE on a frame with ``user``, ``item``, ``rating`` (scores 1–10)."""
        rated = frame[frame["rating"] > 0]
        pred = self.expected_rating(rated["user"].to_numpy(), rated["item"].to_numpy())
        return float(np.sqrt(np.mean((rated["rating"].to_numpy(dtype=float) - pred) ** 2)))

    # -- next items ----------------------------------------------------------
    def draw_shares(self) -> pd.Series:
        """How the kept list entries were drawn (shares of ``taste``, ``franchise``, ...)."""
        if self.record_draw is None:
            raise ValueError("this dataset was generated without per-entry truth")
        counts = np.bincount(self.record_draw, minlength=len(DRAW_NAMES))
        return pd.Series(counts / counts.sum(), index=list(DRAW_NAMES.values()), name="share")

    def _phase(self, user: int, position: int) -> int:
        start, end = self.user_row_offset[user], self.user_row_offset[user + 1]
        if self.record_phase is None or end == start:
            return 0
        return int(self.record_phase[start + min(position, end - start - 1)])

    def next_item_probabilities(self, users, histories, positions=None) -> np.ndarray:
        """The generator's probability of each item being the user's next one.

        Parameters
        ----------
        users
            User ids.
        histories
            For each user, the items already in the list, oldest first.
        positions
            Index of the predicted entry in the user's time-ordered sequence
            (default ``len(history)``, right for prefixes of
            :func:`course_utils.data.sequences`); it selects the taste phase.

        Returns
        -------
        ndarray, shape (len(users), n_items)
            Rows sum to 1; items of the history get 0.

        Notes
        -----
        The walk also skipped anime the user dropped, put on hold or plans to
        watch; those are not in the history, so these probabilities are a
        (very good) approximation of the generator's, not a bit-exact copy.
        """
        users = np.asarray(users)
        n_items = len(self.item_bias)
        out = np.empty((len(users), n_items))
        for row, (u, hist) in enumerate(zip(users, histories)):
            hist = np.asarray(hist, dtype=np.int64)
            pos = len(hist) if positions is None else int(positions[row])
            phase = self._phase(int(u), pos)
            d_lo, d_hi = self.user_phase_offset[u], self.user_phase_offset[u + 1]
            drift = self.phase_drift[d_lo + min(phase, d_hi - d_lo - 1)] if d_hi > d_lo else 0.0
            logit = self.item_pick_logit + self.taste_scale * (self.item_factors @ (self.user_factors[u] + drift))
            logit[hist] = -np.inf
            p = np.exp(logit - logit.max())
            p /= p.sum()
            if len(hist):
                nxt = self.item_successor[hist[-1]]
                if nxt >= 0 and not np.isin(nxt, hist):
                    c = self.user_continuation[u]
                    p *= 1.0 - c
                    p[nxt] += c
            out[row] = p
        return out

    def oracle_recommend(self, users, histories, k: int, positions=None) -> np.ndarray:
        """Top-``k`` items by :meth:`next_item_probabilities` (history excluded)."""
        probs = self.next_item_probabilities(users, histories, positions)
        top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(probs, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1)

    # -- storage -------------------------------------------------------------
    _ARRAYS = ("user_bias", "item_bias", "user_factors", "item_factors", "item_pick_logit",
               "item_successor", "item_franchise", "user_continuation", "phase_drift",
               "user_phase_offset", "user_row_offset", "record_draw", "record_phase")

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {k: getattr(self, k) for k in self._ARRAYS if getattr(self, k) is not None}
        scalars = {"mu": self.mu, "noise_sd": self.noise_sd, "taste_scale": self.taste_scale,
                   "phase_len": self.phase_len, "noise_floor_rmse": self.noise_floor_rmse}
        arrays["scalars"] = np.array([scalars[k] for k in sorted(scalars)], dtype=np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays, params: dict[str, Any]) -> "Truth":
        names = sorted(["mu", "noise_sd", "taste_scale", "phase_len", "noise_floor_rmse"])
        s = dict(zip(names, arrays["scalars"].tolist()))
        kw = {k: (arrays[k] if k in arrays else None) for k in cls._ARRAYS}
        return cls(mu=s["mu"], noise_sd=s["noise_sd"], taste_scale=s["taste_scale"],
                   phase_len=int(s["phase_len"]), noise_floor_rmse=s["noise_floor_rmse"],
                   params=params, **kw)
