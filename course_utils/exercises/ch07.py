"""Checks for chapter 07 (overfitting, dropout, early stopping): inverted dropout.

The student writes ``dropout(x, rate, training, rng) -> array``: during training
each unit is zeroed with probability ``rate`` and the survivors are scaled by
``1 / (1 - rate)`` (so the expected activation is unchanged); at inference the
input passes through untouched. This is what ``keras.layers.Dropout`` does.

Example
-------
>>> import numpy as np
>>> from course_utils.exercises import evaluate
>>> evaluate("07.dropout", lambda x, rate, training, rng: x).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, describe, exercise


def _dropout(x, rate, training, rng):
    x = np.asarray(x, dtype=np.float64)
    if not training or rate == 0:
        return x
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0.0)


# Typical slips, kept as test cases: each must get the hint that names it.
def _no_scaling(x, rate, training, rng):
    x = np.asarray(x, dtype=np.float64)
    return x * (rng.random(x.shape) >= rate) if training else x


def _always_on(x, rate, training, rng):
    return _dropout(x, rate, True, rng)


def _rate_as_keep(x, rate, training, rng):
    return _dropout(x, 1 - rate, training, rng) if training else np.asarray(x, float)


def _scaled_at_inference(x, rate, training, rng):
    x = np.asarray(x, dtype=np.float64)
    return x * (rng.random(x.shape) >= rate) if training else x * (1 - rate)


def _same_mask_everywhere(x, rate, training, rng):
    x = np.asarray(x, dtype=np.float64)
    if not training:
        return x
    keep = rng.random(x.shape[-1]) >= rate  # one mask per column, shared by every row
    return np.where(keep, x / (1 - rate), 0.0)


@exercise("07.dropout", title="inverted dropout at training and inference",
          right=[_dropout],
          wrong=[(_no_scaling, "1 / (1 - rate)"), (_always_on, "inference"),
                 (_rate_as_keep, "share of units dropped"),
                 (_scaled_at_inference, "inverted"), (_same_mask_everywhere, "every unit")])
def check_dropout(answer: Any) -> str:
    x = np.full((400, 50), 2.0)
    out = np.asarray(call(answer, x.copy(), 0.3, False, np.random.default_rng(0)), dtype=float)
    if out.shape != x.shape:
        raise Wrong(f"dropout returned shape {out.shape} for an input of shape {x.shape}",
                    hint="return an array of the same shape as x")
    if not np.allclose(out, x):
        if np.allclose(out, 0.7 * x):
            raise Wrong("at inference (training=False) the output was x * (1 - rate)",
                        hint="this is inverted dropout: the scaling happens during training, "
                             "so inference returns x unchanged")
        raise Wrong("at inference (training=False) the output differs from the input",
                    hint="dropout only acts during training; at inference return x as it is")
    for rate in (0.3, 0.5):
        out = np.asarray(call(answer, x.copy(), rate, True, np.random.default_rng(1)), dtype=float)
        if out.shape != x.shape:
            raise Wrong(f"dropout returned shape {out.shape} for an input of shape {x.shape}",
                        hint="return an array of the same shape as x")
        if np.all(out == out[:1]):
            raise Wrong("every row got the same dropout mask",
                        hint="draw an independent mask for every unit of every example "
                             "(rng.random(x.shape)), not one per column")
        dropped = float(np.mean(out == 0))
        if abs(dropped - (1 - rate)) < 0.03 and rate != 0.5:
            raise Wrong(f"with rate={rate} you zeroed {dropped:.0%} of the units",
                        hint="rate is the share of units dropped (Keras's convention); the "
                             "thesis's p is the share kept, p = 1 - rate")
        if abs(dropped - rate) > 0.03:
            raise Wrong(f"with rate={rate} you zeroed {dropped:.0%} of the units, expected "
                        f"about {rate:.0%}",
                        hint="zero each unit independently with probability rate, e.g. "
                             "rng.random(x.shape) < rate")
        kept = out[out != 0]
        if np.allclose(kept, 2.0):
            raise Wrong(f"with rate={rate} the kept units still equal the input",
                        hint="scale the kept units by 1 / (1 - rate) so that the expected "
                             "output equals the input")
        if not np.allclose(kept, 2.0 / (1 - rate)):
            raise Wrong(f"with rate={rate} the kept units are {describe(np.unique(kept)[:4])}, "
                        f"expected {2.0 / (1 - rate):g}",
                        hint="multiply the kept units by 1 / (1 - rate)")
    return "Keras's Dropout layer does exactly this; model.predict runs with training=False."
